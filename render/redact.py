"""Replace secret values in recorded inputs and outputs, at the finest safe grain."""

from __future__ import annotations

import re
from typing import Any

from pulumi.runtime import rpc

from render.stackconfig import UNSET_MARK

SECRET = "[secret]"
# An environment entry or similar KEY=value string: the key is not secret.
ASSIGNMENT = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)=")
UNSET = re.compile(re.escape(UNSET_MARK) + r"(?P<key>[^>]+)>")


def is_secret(value: Any) -> bool:
    return (
        isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]
    )


def mask(value: Any) -> Any:
    """Return the redacted form of a value that the engine marks secret."""
    if isinstance(value, str):
        unset = sorted({match.group("key") for match in UNSET.finditer(value)})
        marker = f"[secret, unset: {', '.join(unset)}]" if unset else SECRET
        assignment = ASSIGNMENT.match(value)
        if assignment:
            return f"{assignment.group('key')}={marker}"
        return marker
    return SECRET


def redact(value: Any) -> Any:
    """Return a copy of a value with every secret replaced by a marker."""
    if is_secret(value):
        return mask(value["value"])
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def contains_secret(value: Any) -> bool:
    """Return whether a value contains a secret anywhere inside it."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


def unwrap(value: Any) -> Any:
    """Return a copy of a value with secret markers removed, keeping the plain values."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value
