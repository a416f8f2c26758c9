"""One ComponentResource per concept; see each module's docstring."""
