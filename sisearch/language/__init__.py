"""Rules for Sinhala text, with no knowledge of indexes: normalization and repair
(`text`), keyword keys, FTS5 literals and snippets (`lexical`), and reading romanized
Sinhala (`romanized`)."""
