"""Type tokens and child names shared by every component."""

PACKAGE = "kitestacks"


def type_token(module: str, type_name: str) -> str:
    """Return the type token `kitestacks:<module>:<Type>` of a component."""
    return f"{PACKAGE}:{module}:{type_name}"


def child(parent: str, *parts: str) -> str:
    """Return a child resource name derived from its component's name."""
    return "-".join((parent, *parts))
