"""`python -m render --diff DIR`: changes against an earlier `--json DIR` render."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi.errors import RunError

import render.__main__ as cli
from policy.resources import Violation
from render.diff import compare, report_lines
from render.document import Rendered
from render.engine import ROOT

Document = dict[str, Any]


@pytest.fixture()
def documents(rendered: dict[str, Rendered]) -> dict[str, Document]:
    """Return a copy of each stack's current document, free to edit."""
    return {stack: copy.deepcopy(result.document) for stack, result in rendered.items()}


def resource_named(document: Document, name: str) -> dict[str, Any]:
    matches = [item for item in document["resources"] if item["name"] == name]
    assert len(matches) == 1, f"expected one resource named {name}"
    return matches[0]


def edited(document: Document, name: str, edit: Callable[[dict[str, Any]], None]) -> Document:
    """Return a copy of a document with one resource edited, as an earlier render."""
    result = copy.deepcopy(document)
    edit(resource_named(result, name))
    return result


def set_input(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(resource: dict[str, Any]) -> None:
        resource["inputs"][key] = value

    return edit


def test_same_render_has_no_changes(rendered: dict[str, Rendered]) -> None:
    for result in rendered.values():
        difference = compare(copy.deepcopy(result.document), result.document)
        assert not difference.has_changes
        assert difference.unchanged == len(result.document["resources"])


def test_volume_rename_is_data_loss(rendered: dict[str, Rendered]) -> None:
    current = rendered["monk"].document
    name = "monk-volume-forgejo-data"
    before = edited(current, name, set_input("name", "forgejo-old"))
    urn = resource_named(current, name)["urn"]
    difference = compare(before, current)
    assert [change.urn for change in difference.changed] == [urn]
    assert difference.changed[0].replaced_by == ["name"]
    assert difference.at_risk == [
        f"DATA LOSS: {urn} (stateful) would be replaced, because name changed"
    ]


def test_deleted_volume_is_data_loss(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    extra = copy.deepcopy(resource_named(current, "kscloud1-volume-bookstack-db-data"))
    extra["urn"] = extra["urn"].replace("bookstack-db-data", "wiki-db-data")
    before = copy.deepcopy(current)
    before["resources"].append(extra)
    difference = compare(before, current)
    assert [item["urn"] for item in difference.deleted] == [extra["urn"]]
    assert difference.at_risk == [f"DATA LOSS: {extra['urn']} (stateful) would be deleted"]


def test_server_location_replaces_server(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = edited(current, "kscloud1-server", set_input("location", "fsn1"))
    difference = compare(before, current)
    assert difference.changed[0].replaced_by == ["location"]
    assert len(difference.at_risk) == 1


def test_server_type_resizes_in_place(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = edited(current, "kscloud1-server", set_input("serverType", "cx11"))
    difference = compare(before, current)
    assert difference.changed[0].fields == ["inputs.serverType"]
    assert not difference.changed[0].replaces
    assert difference.at_risk == []


def test_ignored_server_input_is_unchanged(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = edited(current, "kscloud1-server", set_input("sshKeys", ["1", "2"]))
    assert not compare(before, current).has_changes


def test_password_length_regenerates_secret(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    name = "kitestacks-secrets-bookstack-db-password"
    before = edited(current, name, set_input("length", 20))
    difference = compare(before, current)
    assert difference.changed[0].replaces
    assert len(difference.at_risk) == 1


def test_protected_tunnel_replacement_is_data_loss(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = edited(current, "kitestacks-tunnel", set_input("configSrc", "local"))
    difference = compare(before, current)
    assert difference.changed[0].replaced_by == ["configSrc"]
    assert len(difference.at_risk) == 1


def test_dns_change_is_update(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = edited(current, "kitestacks-dns-wiki", set_input("ttl", 300))
    difference = compare(before, current)
    assert [change.fields for change in difference.changed] == [["inputs.ttl"]]
    assert difference.at_risk == []


def test_unprotecting_is_an_option_change(rendered: dict[str, Rendered]) -> None:
    current = rendered["monk"].document

    def unprotect(resource: dict[str, Any]) -> None:
        resource["options"]["protect"] = False

    before = edited(current, "monk-volume-grafana-data", unprotect)
    assert compare(before, current).changed[0].fields == ["options.protect"]


def test_report_names_inputs_not_secret_values(rendered: dict[str, Rendered]) -> None:
    current = rendered["monk"].document
    before = edited(current, "monk-grafana-container", set_input("envs", ["OLD=value"]))
    lines = report_lines(compare(before, current), "old/monk.json")
    assert lines[1].endswith("monk-grafana-container (inputs.envs)")
    assert not any("[secret]" in line or "OLD=value" in line for line in lines)


def test_summary_counts_each_kind(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = edited(current, "kitestacks-dns-wiki", set_input("ttl", 300))
    before["resources"] = [
        item for item in before["resources"] if item["name"] != "kitestacks-dns-git"
    ]
    lines = report_lines(compare(before, current), "old/kscloud1.json")
    count = len(current["resources"]) - 2
    assert lines[-1] == (
        "kscloud1: 1 to create, 1 to update, 0 to replace, 0 to delete, 0 outputs changed, "
        f"{count} unchanged, 0 at risk of data loss"
    )


# --- The command line --------------------------------------------------------------------------


@pytest.fixture()
def offline_cli(
    rendered: dict[str, Rendered], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Rendered]:
    """Make the command line reuse the session's render instead of rendering again."""

    def render_stacks(stacks: list[str] | None = None) -> dict[str, Rendered]:
        return {stack: rendered[stack] for stack in stacks or sorted(rendered)}

    monkeypatch.setattr(cli, "render_stacks", render_stacks)
    return rendered


def write_documents(directory: Path, documents: dict[str, Document]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stack, document in documents.items():
        (directory / f"{stack}.json").write_text(json.dumps(document))


def test_cli_diff_without_change_exits_zero(
    offline_cli: dict[str, Rendered], documents: dict[str, Document], tmp_path: Path
) -> None:
    write_documents(tmp_path, documents)
    assert cli.main(["--diff", str(tmp_path)]) == cli.EXIT_OK


def test_cli_diff_with_change_exits_three(
    offline_cli: dict[str, Rendered],
    documents: dict[str, Document],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    documents["monk"] = edited(
        documents["monk"], "monk-volume-forgejo-data", set_input("name", "x")
    )
    write_documents(tmp_path, documents)
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_CHANGED
    assert "DATA LOSS: " in capsys.readouterr().out


def test_cli_diff_missing_file_exits_two(offline_cli: dict[str, Rendered], tmp_path: Path) -> None:
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_USAGE


def test_cli_diff_invalid_file_exits_two(offline_cli: dict[str, Rendered], tmp_path: Path) -> None:
    (tmp_path / "monk.json").write_text("{not json")
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_USAGE


def test_cli_diff_other_stack_file_exits_two(
    offline_cli: dict[str, Rendered], documents: dict[str, Document], tmp_path: Path
) -> None:
    (tmp_path / "monk.json").write_text(json.dumps(documents["kscloud1"]))
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_USAGE


def test_cli_diff_file_without_resources_exits_two(
    offline_cli: dict[str, Rendered], tmp_path: Path
) -> None:
    (tmp_path / "monk.json").write_text(json.dumps({"stack": "monk", "resources": [{}]}))
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_USAGE


def test_cli_unknown_stack_exits_two(offline_cli: dict[str, Rendered]) -> None:
    assert cli.main(["kscloud2"]) == cli.EXIT_USAGE


def test_cli_config_error_exits_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def render_stacks(stacks: list[str] | None = None) -> dict[str, Rendered]:
        raise RunError("invalid configuration, 1 problem")

    monkeypatch.setattr(cli, "render_stacks", render_stacks)
    assert cli.main([]) == cli.EXIT_FAILED


def test_cli_violation_exits_one(
    offline_cli: dict[str, Rendered],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    violation = Violation("urn:pulumi:monk::kitestacks::x::y", "port-binding", "binds to 0.0.0.0")
    monkeypatch.setattr(cli, "check_rendered", lambda result, mounts: [violation])
    assert cli.main(["monk"]) == cli.EXIT_FAILED
    assert "monk urn:pulumi:monk::kitestacks::x::y: port-binding: binds to 0.0.0.0" in (
        capsys.readouterr().out
    )


def test_cli_violation_outranks_changes(
    offline_cli: dict[str, Rendered],
    documents: dict[str, Document],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    documents["monk"]["resources"] = documents["monk"]["resources"][1:]
    write_documents(tmp_path, documents)
    violation = Violation("urn:pulumi:monk::kitestacks::x::y", "unique-urn", "duplicate")
    monkeypatch.setattr(cli, "check_rendered", lambda result, mounts: [violation])
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_FAILED


def test_json_then_diff_in_one_run(documents: dict[str, Document], tmp_path: Path) -> None:
    """Run the real command line: --diff reads DIR before --json rewrites it."""
    write_documents(tmp_path, {"kscloud1": documents["kscloud1"]})
    command = ["kscloud1", "--json", str(tmp_path), "--diff", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "render", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == cli.EXIT_OK, result.stdout + result.stderr
    assert "kscloud1: no changes" in result.stdout
    assert json.loads((tmp_path / "kscloud1.json").read_text()) == documents["kscloud1"]
