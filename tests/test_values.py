"""Catalogue values as Pulumi inputs: literal text stays plain, secret parts stay secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi

from components.values import shared, to_input
from config.topology import SecretPart
from render.engine import run_program
from render.redact import is_secret, unwrap


def fake_secret(part: SecretPart) -> pulumi.Output[str]:
    return pulumi.Output.secret(f"value-of-{part.key}")


def exported(make: Callable[[], Any]) -> Any:
    """Export the value `make` returns from a program under the recording engine, as recorded."""
    run = run_program("kitestacks", "kscloud1", {}, [], program=lambda: pulumi.export("v", make()))
    return run.outputs["v"]


def test_literal_parts_stay_plain_text() -> None:
    assert to_input(("KEY=", "plain"), fake_secret) == "KEY=plain"


def test_secret_parts_joined_in_order() -> None:
    parts = ("postgres://app:", SecretPart("secret", "a"), "@db/", SecretPart("secret", "b"))
    value = exported(lambda: to_input(parts, fake_secret))
    assert unwrap(value) == "postgres://app:value-of-a@db/value-of-b"


def test_value_with_secret_part_is_secret() -> None:
    value = exported(lambda: to_input(("KEY=", SecretPart("config", "k")), fake_secret))
    assert is_secret(value)


def test_shared_lookup_reads_each_secret_once() -> None:
    calls: list[SecretPart] = []

    def counting(part: SecretPart) -> pulumi.Output[str]:
        calls.append(part)
        return cast("pulumi.Output[str]", object())

    lookup = shared(counting)
    first = lookup(SecretPart("secret", "a"))
    lookup(SecretPart("secret", "a"))
    lookup(SecretPart("secret", "b"))
    assert calls == [SecretPart("secret", "a"), SecretPart("secret", "b")]
    assert lookup(SecretPart("secret", "a")) is first
