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
from render.diff import StackDiff, alias_urn, compare, report_lines, summary_line
from render.document import Rendered
from render.document import summary_line as render_summary_line
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


def with_extra_volume(document: Document, protect: bool, retain: bool) -> Document:
    """Return a copy of a document with one more volume, which the current render lacks."""
    extra = copy.deepcopy(resource_named(document, "kscloud1-volume-bookstack-db-data"))
    extra["urn"] = extra["urn"].replace("bookstack-db-data", "wiki-db-data")
    extra["options"]["protect"] = protect
    extra["options"]["retainOnDelete"] = retain
    before = copy.deepcopy(document)
    before["resources"].append(extra)
    return before


def test_deleted_volume_is_data_loss(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = with_extra_volume(current, protect=False, retain=False)
    urn = before["resources"][-1]["urn"]
    difference = compare(before, current)
    assert [item["urn"] for item in difference.deleted] == [urn]
    assert difference.at_risk == [f"DATA LOSS: {urn} (stateful) would be deleted"]
    assert difference.failing == []


def test_deleted_protected_volume_fails(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = with_extra_volume(current, protect=True, retain=True)
    urn = before["resources"][-1]["urn"]
    difference = compare(before, current)
    assert difference.has_changes
    assert difference.at_risk == []
    assert difference.failing == [
        f"FAIL: {urn} (protected) would be deleted, and Pulumi rejects deleting a protected "
        "resource, so the deployment would fail; keep it in the program, or, if the deletion "
        f"is intended, run `pulumi state unprotect '{urn}'` first (the provider then keeps it, "
        "because retainOnDelete is set)"
    ]


def test_deleted_protected_volume_without_retain(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = with_extra_volume(current, protect=True, retain=False)
    failing = compare(before, current).failing
    assert len(failing) == 1
    assert failing[0].endswith("first (its data is then lost)")


def test_report_prints_failing_deletion(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = with_extra_volume(current, protect=True, retain=True)
    lines = report_lines(compare(before, current), "old/kscloud1.json")
    assert sum(1 for line in lines if line.startswith("FAIL: ")) == 1
    assert lines[-1].endswith(", 1 protected deletion failing the deployment")


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


# --- Renames through aliases ---------------------------------------------------------------------

EDGE = "urn:pulumi:kscloud1::kitestacks::kitestacks:cloudflare:Edge"
TUNNEL_TYPE = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        (f"{EDGE}$x:y:Z::old", f"{EDGE}$x:y:Z::old"),
        ("kitestacks-tunnel", f"{EDGE}${TUNNEL_TYPE}::kitestacks-tunnel"),
        ("cloudflare:index/tunnel:Tunnel", f"{EDGE}$cloudflare:index/tunnel:Tunnel::new"),
        ("cloudflare:index/tunnel:Tunnel::old", f"{EDGE}$cloudflare:index/tunnel:Tunnel::old"),
    ],
)
def test_alias_urn_forms(alias: str, expected: str) -> None:
    assert alias_urn(f"{EDGE}${TUNNEL_TYPE}::new", alias) == expected


def test_alias_urn_without_parent() -> None:
    urn = "urn:pulumi:monk::kitestacks::random:index/randomPassword:RandomPassword::new"
    assert alias_urn(urn, "old") == urn.replace("::new", "::old")


@pytest.fixture(scope="module")
def mode_switch(
    rendered: dict[str, Rendered], rendered_lb: dict[str, Rendered]
) -> dict[str, StackDiff]:
    """Return the diff of switching both stacks from replicas to load_balancer mode.

    The baseline goes through JSON, as `--json` writes it.
    """
    return {
        stack: compare(json.loads(rendered[stack].json_text()), rendered_lb[stack].document)
        for stack in rendered
    }


def test_mode_switch_renames_tunnel(mode_switch: dict[str, StackDiff]) -> None:
    renames = {
        change.renamed_from.rsplit("::", 1)[1]: change.urn.rsplit("::", 1)[1]
        for change in mode_switch["kscloud1"].changed
        if change.renamed_from
    }
    assert renames["kitestacks-tunnel"] == "kitestacks-monk-tunnel"
    assert renames["kitestacks-ingress"] == "kitestacks-monk-ingress"


def test_mode_switch_deletes_no_tunnel(mode_switch: dict[str, StackDiff]) -> None:
    deleted = [item["type"] for item in mode_switch["kscloud1"].deleted]
    assert TUNNEL_TYPE not in deleted


def test_mode_switch_loses_no_data(mode_switch: dict[str, StackDiff]) -> None:
    for difference in mode_switch.values():
        assert difference.at_risk == []
        assert difference.failing == []


def test_rename_keeps_tunnel_id(mode_switch: dict[str, StackDiff]) -> None:
    """DNS records name the tunnel by id, which a rename keeps at the provider."""
    changed_types = {change.type for change in mode_switch["kscloud1"].changed}
    assert "cloudflare:index/dnsRecord:DnsRecord" not in changed_types
    assert "tunnelId" not in mode_switch["kscloud1"].outputs


def test_report_prints_rename(mode_switch: dict[str, StackDiff]) -> None:
    old = f"{EDGE}${TUNNEL_TYPE}::kitestacks-tunnel"
    new = f"{EDGE}${TUNNEL_TYPE}::kitestacks-monk-tunnel"
    lines = report_lines(mode_switch["kscloud1"], "old/kscloud1.json")
    assert f"  ~  rename  {old} -> {new} (inputs.name)" in lines
    assert " 2 to rename, " in lines[-1]


def test_rename_with_replacing_input_is_data_loss(rendered: dict[str, Rendered]) -> None:
    current = rendered["monk"].document
    resource = resource_named(current, "monk-volume-forgejo-data")
    renamed = copy.deepcopy(current)
    moved = resource_named(renamed, "monk-volume-forgejo-data")
    moved["urn"] = resource["urn"].replace("forgejo-data", "git-data")
    moved["options"]["aliases"] = ["monk-volume-forgejo-data"]
    moved["inputs"]["name"] = "git-data"
    difference = compare(current, renamed)
    assert [change.renamed_from for change in difference.changed] == [resource["urn"]]
    assert difference.deleted == []
    assert difference.at_risk == [
        f"DATA LOSS: {moved['urn']} (stateful) would be replaced, because name changed"
    ]


# --- Singular counts -----------------------------------------------------------------------------


def test_diff_summary_counts_one_output(rendered: dict[str, Rendered]) -> None:
    current = rendered["kscloud1"].document
    before = copy.deepcopy(current)
    name = sorted(before["outputs"])[0]
    before["outputs"][name] = "earlier"
    assert " 1 output changed, " in summary_line(compare(before, current))


def test_render_summary_counts_one_output(rendered: dict[str, Rendered]) -> None:
    result = rendered["kscloud1"]
    document = copy.deepcopy(result.document)
    document["outputs"] = {"ingressMode": "replicas"}
    assert render_summary_line(Rendered(result.run, document)).endswith(", 1 output")


def test_cli_counts_one_violation(
    offline_cli: dict[str, Rendered],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    violation = Violation("urn:pulumi:monk::kitestacks::x::y", "port-binding", "binds to 0.0.0.0")
    monkeypatch.setattr(cli, "check_rendered", lambda result, mounts: [violation])
    cli.main(["monk"])
    assert "\n1 rule violation; see docs/safety.md" in capsys.readouterr().out


# --- Invalid baselines and --json paths ----------------------------------------------------------


def set_first_resource(key: str, value: Any) -> Callable[[Document], None]:
    def edit(document: Document) -> None:
        document["resources"][0][key] = value

    return edit


def set_first_option(key: str, value: Any) -> Callable[[Document], None]:
    def edit(document: Document) -> None:
        document["resources"][0]["options"][key] = value

    return edit


def set_outputs(value: Any) -> Callable[[Document], None]:
    def edit(document: Document) -> None:
        document["outputs"] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (set_first_resource("inputs", None), "resources[0].inputs: is null, not an object"),
        (set_first_resource("options", []), "resources[0].options: is an array, not an object"),
        (set_first_resource("urn", 7), "resources[0].urn: is a number, not a string"),
        (set_first_option("aliases", "x"), "resources[0].options.aliases: has the wrong type"),
        (set_first_option("ignoreChanges", [1]), "options.ignoreChanges: is not an array of"),
        (set_outputs(["tunnelId"]), "outputs: is an array, not an object"),
    ],
)
def test_cli_rejects_invalid_baseline(
    offline_cli: dict[str, Rendered],
    documents: dict[str, Document],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Document], None],
    problem: str,
) -> None:
    edit(documents["monk"])
    write_documents(tmp_path, {"monk": documents["monk"]})
    assert cli.main(["monk", "--diff", str(tmp_path)]) == cli.EXIT_USAGE
    message = capsys.readouterr().err
    assert message.startswith(f"error: {tmp_path / 'monk.json'}: ")
    assert problem in message
    assert message.endswith("; write it again with --json\n")


def test_cli_rejects_json_file_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def render_stacks(stacks: list[str] | None = None) -> dict[str, Rendered]:
        raise AssertionError("the --json path must be checked before rendering")

    monkeypatch.setattr(cli, "render_stacks", render_stacks)
    path = tmp_path / "out.json"
    path.write_text("{}")
    assert cli.main(["monk", "--json", str(path)]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {path}: exists and is not a directory; name a directory for --json\n"
    )


def test_cli_rejects_json_directory_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def render_stacks(stacks: list[str] | None = None) -> dict[str, Rendered]:
        raise AssertionError("the --json path must be checked before rendering")

    monkeypatch.setattr(cli, "render_stacks", render_stacks)
    (tmp_path / "monk.json").mkdir()
    assert cli.main(["monk", "--json", str(tmp_path)]) == cli.EXIT_USAGE
    assert "monk.json: exists and is not a file; " in capsys.readouterr().err
