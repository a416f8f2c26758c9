"""docs/sso.md's move of Authentik's database lifts the protection of every volume it drops."""

from __future__ import annotations

import re

import pytest

from render import render_stacks
from render.diff import compare
from render.document import Rendered
from render.engine import ROOT
from tests.conftest import STACKS

DOC = ROOT / "docs" / "sso.md"
ON_MONK = {"kitestacks:identityHost": "monk"}
UNPROTECT = re.compile(r"pulumi state unprotect --stack (?P<stack>\S+) '(?P<urn>urn:pulumi:[^']+)'")


@pytest.fixture(scope="module")
def rendered_on_monk() -> dict[str, Rendered]:
    return render_stacks(list(STACKS), overrides={stack: ON_MONK for stack in STACKS})


def unprotected() -> set[tuple[str, str]]:
    """Return (stack, URN) of each `pulumi state unprotect` command in the doc."""
    return {(m.group("stack"), m.group("urn")) for m in UNPROTECT.finditer(DOC.read_text())}


def dropped_protected(before: Rendered, after: Rendered) -> set[str]:
    """Return the URNs of protected resources that `after` no longer declares."""
    result = compare(before.document, after.document)
    return {resource["urn"] for resource in result.deleted if resource["options"].get("protect")}


def test_move_to_monk_unprotects_dropped_volumes(
    rendered: dict[str, Rendered], rendered_on_monk: dict[str, Rendered]
) -> None:
    dropped = dropped_protected(rendered["kscloud1"], rendered_on_monk["kscloud1"])
    assert dropped
    for urn in dropped:
        assert ("kscloud1", urn) in unprotected(), f"docs/sso.md does not unprotect {urn}"


def test_move_back_unprotects_dropped_volumes(
    rendered: dict[str, Rendered], rendered_on_monk: dict[str, Rendered]
) -> None:
    dropped = dropped_protected(rendered_on_monk["monk"], rendered["monk"])
    assert dropped
    for urn in dropped:
        assert ("monk", urn) in unprotected(), f"docs/sso.md does not unprotect {urn}"


def test_unprotected_urns_exist(
    rendered: dict[str, Rendered], rendered_on_monk: dict[str, Rendered]
) -> None:
    known = {
        (stack, resource["urn"])
        for render in (rendered, rendered_on_monk)
        for stack in STACKS
        for resource in render[stack].document["resources"]
    }
    assert unprotected()
    assert unprotected() - known == set()


def test_store_removal_follows_unprotect() -> None:
    # A `pulumi up` that removes a store must come after the unprotect
    # commands for its stack, in the same code block.
    blocks = DOC.read_text().split("```sh")[1:]
    removals = 0
    for block in blocks:
        lines = block.split("```")[0].splitlines()
        for index, line in enumerate(lines):
            match = re.match(r"pulumi up --stack (\S+) .*# .*removes", line)
            if match is None:
                continue
            removals += 1
            before = "\n".join(lines[:index])
            assert f"pulumi state unprotect --stack {match.group(1)} " in before, line
    assert removals >= 3
