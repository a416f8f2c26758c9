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
    # Output.concat would make an Output of every literal part too. One Output
    # per secret part saves an asyncio task per literal part.
    secrets = [lookup(part) for part in parts if not isinstance(part, str)]

    def join(values: list[str]) -> str:
        found = iter(values)
        return "".join(part if isinstance(part, str) else next(found) for part in parts)

    return pulumi.Output.secret(pulumi.Output.all(*secrets).apply(join))


def shared(lookup: SecretLookup) -> SecretLookup:
    """Return a lookup that gives every use of one secret the same Output.

    Authentik's containers and each app read the same client secret. With one
    Output per secret instead of one per use, the number of pending asyncio
    tasks grows with the secrets, not with their readers.
    """
    outputs: dict[SecretPart, pulumi.Output[str]] = {}

    def lookup_once(part: SecretPart) -> pulumi.Output[str]:
        if part not in outputs:
            outputs[part] = lookup(part)
        return outputs[part]

    return lookup_once


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
