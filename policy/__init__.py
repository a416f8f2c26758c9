"""The safety rules (rules.py) and the Pulumi policy pack that enforces them (__main__.py)."""
