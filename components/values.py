"""Turn resolved catalogue values into Pulumi inputs, keeping secret parts secret."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi

from config.topology import SecretPart, ValuePart

SecretLookup = Callable[[SecretPart], pulumi.Output[str]]
# The marker the offline render uses for a redacted secret.
SECRET_MARK = "[secret]"


def to_input(parts: tuple[ValuePart, ...], lookup: SecretLookup) -> pulumi.Input[str]:
    """Return a plain string when every part is literal, else a secret Output."""
    if all(isinstance(part, str) for part in parts):
        return "".join(part for part in parts if isinstance(part, str))
    pieces: list[pulumi.Input[str]] = [
        part if isinstance(part, str) else lookup(part) for part in parts
    ]
    return pulumi.Output.secret(pulumi.Output.concat(*pieces))


def secret_from_map(source: pulumi.Output[Mapping[str, str]], key: str) -> pulumi.Output[str]:
    """Return one value of a secret map output, failing loudly when the key is missing."""

    def pick(values: Mapping[str, str]) -> str:
        if key not in values:
            raise KeyError(
                f"'{key}' is missing from the upstream stack's outputs; run `pulumi up` "
                "on the kscloud1 stack first so it generates the value"
            )
        return values[key]

    return pulumi.Output.secret(source.apply(pick))


def redacted(parts: tuple[ValuePart, ...]) -> str:
    """Return a value for display, with each secret part replaced by [secret]."""
    return "".join(part if isinstance(part, str) else SECRET_MARK for part in parts)
