"""Measuring and improving meaning: retrieval metrics (`evaluation`), STS files and
scores (`sts`), fine-tuning (`training`) and their plots (`plots`)."""
