"""Documentation generated from the model; see docs/generate.py."""
