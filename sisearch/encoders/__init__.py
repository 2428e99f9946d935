"""Sentence encoders: loading a model by name or folder and fingerprinting it (`encoder`),
the ONNX Runtime engine and its export cache (`onnx`, `export_cache`), the short names
sisearch can install (`known_models`, `e5_small`), the one owner of an index's engine
(`slot`), and the local stand-in model (`devmodel`)."""
