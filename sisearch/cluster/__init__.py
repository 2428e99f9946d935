"""Encoding on a Ray cluster: listing and reading files on the workers (`reading`) and the
Ray Data job that writes Parquet shards (`encode`). Needs the `ray` extra."""
