"""Walk the whole render of both stacks and look for every secret value outside a secret.

The secret values are the render's own: every generated password and auth
key, the tunnel token, and the placeholders of the config secrets. The walk
covers the printed output (JSON documents, tree, summary lines), the names
and URNs, the unredacted inputs as the engine receives them, command lines,
labels and the stack exports.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy.data_rules import COMMAND_LINE_INPUTS
from policy.resources import RANDOM_PASSWORD, TAILNET_KEY, leaves
from render.document import Rendered, summary_line, tree_lines
from render.safety import secret_values

STACKS = ("kscloud1", "monk")


@pytest.fixture(scope="module")
def secrets(rendered: dict[str, Rendered]) -> dict[str, frozenset[str]]:
    """Return the secret values of each stack; monk's include kscloud1's, which it reads."""
    upstream = secret_values(rendered["kscloud1"])
    return {
        "kscloud1": upstream,
        "monk": secret_values(rendered["monk"]) | upstream,
    }


def found_in(text: str, values: frozenset[str]) -> list[str]:
    return sorted(value for value in values if value in text)


def generated_passwords(rendered: dict[str, Rendered]) -> dict[str, str]:
    """Return the fake result of every RandomPassword of kscloud1, by resource name."""
    return {
        registration.name: registration.outputs["result"]
        for registration in rendered["kscloud1"].run.registrations
        if registration.type == RANDOM_PASSWORD
    }


def test_walk_knows_every_generated_secret(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]]
) -> None:
    passwords = generated_passwords(rendered)
    keys = {
        registration.outputs["key"]
        for registration in rendered["kscloud1"].run.registrations
        if registration.type == TAILNET_KEY
    }
    assert len(set(passwords.values())) == len(passwords)
    assert set(passwords.values()) <= secrets["kscloud1"]
    assert len(keys) == 1
    assert keys <= secrets["kscloud1"]
    assert set(passwords.values()) <= secrets["monk"]


@pytest.mark.parametrize(
    ("stack", "container"),
    [
        ("kscloud1", "kscloud1-authentik-postgres-container"),
        ("monk", "monk-authentik-server-container"),
    ],
)
def test_walk_sees_secret_inside_marker(
    rendered: dict[str, Rendered], stack: str, container: str
) -> None:
    """Guard against a vacuous walk: the database password reaches both hosts, marked."""
    password = generated_passwords(rendered)["kitestacks-secrets-authentik-postgres-password"]
    registration = next(
        item for item in rendered[stack].run.registrations if item.name == container
    )
    marked = [
        path
        for path, value, secret in leaves(registration.inputs)
        if secret and isinstance(value, str) and password in value
    ]
    assert marked != []


@pytest.mark.parametrize("stack", STACKS)
def test_json_document_has_no_secret(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]], stack: str
) -> None:
    assert found_in(rendered[stack].json_text(), secrets[stack]) == []


@pytest.mark.parametrize("stack", STACKS)
def test_tree_and_summary_have_no_secret(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]], stack: str
) -> None:
    text = "\n".join([*tree_lines(rendered[stack]), summary_line(rendered[stack])])
    assert found_in(text, secrets[stack]) == []


@pytest.mark.parametrize("stack", STACKS)
def test_names_have_no_secret(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]], stack: str
) -> None:
    run = rendered[stack].run
    names = [item.urn for item in run.registrations]
    assert [name for name in names if found_in(name, secrets[stack])] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_input_with_a_secret_is_secret(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]], stack: str
) -> None:
    plain = [
        f"{registration.name}: {path}"
        for registration in rendered[stack].run.registrations
        for path, value, secret in leaves(registration.inputs)
        if not secret and isinstance(value, str) and found_in(value, secrets[stack])
    ]
    assert plain == []


@pytest.mark.parametrize("stack", STACKS)
def test_command_lines_and_labels_hold_no_secret(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]], stack: str
) -> None:
    exposed: list[str] = []
    for registration in rendered[stack].run.registrations:
        names = (*COMMAND_LINE_INPUTS.get(registration.type, ()), "labels")
        for name in names:
            for path, value, secret in leaves(registration.inputs.get(name), name):
                if secret or (isinstance(value, str) and found_in(value, secrets[stack])):
                    exposed.append(f"{registration.name}: {path}")
    assert exposed == []


@pytest.mark.parametrize("stack", STACKS)
def test_exports_hold_secrets_only_as_secrets(
    rendered: dict[str, Rendered], secrets: dict[str, frozenset[str]], stack: str
) -> None:
    outputs: dict[str, Any] = rendered[stack].run.outputs
    plain = [
        path
        for path, value, secret in leaves(outputs)
        if not secret and isinstance(value, str) and found_in(value, secrets[stack])
    ]
    assert plain == []


def test_upstream_exports_every_password_as_secret(rendered: dict[str, Rendered]) -> None:
    outputs = rendered["kscloud1"].run.outputs
    exported = {value: secret for _, value, secret in leaves(outputs["secrets"])}
    passwords = set(generated_passwords(rendered).values())
    assert set(exported) == passwords
    assert all(exported.values())
