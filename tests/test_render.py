"""Both real stacks rendered end to end: the JSON contract, placement and redaction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from pulumi.errors import RunError

from render import render_stacks
from render.document import Rendered
from render.engine import ROOT, run_program
from render.redact import unwrap
from tests.conftest import by_name, resources_of
from tests.test_model import ARCHITECTURE_SERVICES

CONTAINER = "docker:index/container:Container"
RESOURCE_KEYS = {
    "urn",
    "id",
    "type",
    "name",
    "custom",
    "parent",
    "provider",
    "dependencies",
    "options",
    "inputs",
    "secretInputs",
}
OPTION_KEYS = {
    "protect",
    "retainOnDelete",
    "ignoreChanges",
    "deleteBeforeReplace",
    "dependsOn",
    "aliases",
}


def generated_secret_values(render: Rendered) -> set[str]:
    values: set[str] = set()
    secrets = unwrap(render.run.outputs.get("secrets", {}))
    values |= {str(value) for value in secrets.values()}
    tokens = unwrap(render.run.outputs.get("tunnelTokens", {}))
    values |= {str(value) for value in tokens.values()}
    return values


@pytest.mark.parametrize("stack", sorted(ARCHITECTURE_SERVICES))
def test_containers_on_their_hosts(rendered: dict[str, Rendered], stack: str) -> None:
    containers = {item["inputs"]["name"] for item in resources_of(rendered[stack], CONTAINER)}
    # Karakeep's helpers and LiteLLM's database are parts of apps the
    # architecture names, which need them to run.
    assert containers == ARCHITECTURE_SERVICES[stack] | (
        {"karakeep-meilisearch", "karakeep-chrome", "litellm-db"} if stack == "monk" else set()
    )


def test_document_top_level_keys(rendered: dict[str, Rendered]) -> None:
    for stack, render in rendered.items():
        assert set(render.document) == {"stack", "resources", "outputs"}
        assert render.document["stack"] == stack


def test_resources_sorted_by_urn(rendered: dict[str, Rendered]) -> None:
    for render in rendered.values():
        urns = [item["urn"] for item in render.document["resources"]]
        assert urns == sorted(urns)


def test_resource_fields_complete(rendered: dict[str, Rendered]) -> None:
    for render in rendered.values():
        for item in render.document["resources"]:
            assert set(item) == RESOURCE_KEYS, item["urn"]
            assert set(item["options"]) == OPTION_KEYS, item["urn"]


def test_render_is_byte_identical(rendered: dict[str, Rendered]) -> None:
    again = render_stacks(["kscloud1", "monk"])
    for stack, render in rendered.items():
        assert again[stack].json_text() == render.json_text(), stack


def test_no_generated_secret_in_json(rendered: dict[str, Rendered]) -> None:
    values = generated_secret_values(rendered["kscloud1"])
    assert len(values) > 10
    for render in rendered.values():
        text = render.json_text()
        leaked = sorted(value for value in values if value in text)
        assert leaked == [], render.stack


def test_env_redacted_per_entry(rendered: dict[str, Rendered]) -> None:
    container = by_name(rendered["monk"], "monk-bookstack-container")
    envs = container["inputs"]["envs"]
    assert "DB_PASSWORD=[secret]" in envs
    assert "DB_DATABASE=bookstack" in envs
    assert container["secretInputs"] == ["envs"]


def test_unset_user_secret_marked(rendered: dict[str, Rendered]) -> None:
    envs = by_name(rendered["monk"], "monk-litellm-container")["inputs"]["envs"]
    assert "OPENAI_API_KEY=[secret, unset: kitestacks:openaiApiKey]" in envs


def test_outputs_redacted(rendered: dict[str, Rendered]) -> None:
    outputs = rendered["kscloud1"].document["outputs"]
    assert set(outputs["secrets"].values()) == {"[secret]"}
    assert set(outputs["tunnelTokens"]) == {"monk", "kscloud1"}


def test_monk_reads_kscloud1_by_reference(rendered: dict[str, Rendered]) -> None:
    references = resources_of(rendered["monk"], "pulumi:pulumi:StackReference")
    assert [item["name"] for item in references] == ["organization/kitestacks/kscloud1"]


def test_kscloud1_reads_no_stack(rendered: dict[str, Rendered]) -> None:
    assert resources_of(rendered["kscloud1"], "pulumi:pulumi:StackReference") == []


def test_cloud_resources_only_upstream(rendered: dict[str, Rendered]) -> None:
    monk_types = {item["type"] for item in rendered["monk"].document["resources"]}
    cloud = {t for t in monk_types if t.split(":")[0] in ("cloudflare", "hcloud", "tailscale")}
    assert cloud == set()


def test_cli_writes_json(tmp_path: Path, rendered: dict[str, Rendered]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "render", "monk", "--json", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "monk: " in result.stdout
    written = json.loads((tmp_path / "monk.json").read_text())
    assert written == rendered["monk"].document
    assert not (tmp_path / "kscloud1.json").exists()


def test_cli_rejects_unknown_stack() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "render", "kscloud2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown stack kscloud2" in result.stderr


def test_failed_run_leaves_no_pending_work() -> None:
    def failing() -> None:
        def explode(value: str) -> str:
            raise ValueError(f"bad value {value}")

        pulumi.export("broken", pulumi.Output.from_input("x").apply(explode))

    with pytest.raises(ValueError, match="bad value x"):
        run_program("kitestacks", "kscloud1", {}, [], program=failing)
    result = run_program("kitestacks", "kscloud1", {}, [], program=lambda: None)
    assert result.registrations == []


def test_monk_rejects_other_domain() -> None:
    with pytest.raises(RunError) as raised:
        render_stacks(["monk"], overrides={"monk": {"kitestacks:domain": "example.org"}})
    assert str(raised.value) == (
        "invalid configuration, 1 problem:\n"
        "  - kitestacks:domain: 'example.org' on monk but 'kitestacks.com' on the upstream "
        "stack kscloud1; set the same value on both stacks (or only in Pulumi.yaml), then run "
        "`pulumi up` on kscloud1 first"
    )


def test_rejects_misspelled_config_key() -> None:
    with pytest.raises(RunError) as raised:
        render_stacks(["kscloud1"], overrides={"kscloud1": {"kitestacks:ingresMode": "replicas"}})
    assert str(raised.value) == (
        "invalid configuration, 1 problem:\n"
        "  - kitestacks:ingresMode: unknown config key; did you mean kitestacks:ingressMode? "
        "remove it with `pulumi config rm kitestacks:ingresMode` or fix its spelling"
    )
    assert raised.value.registrations == []  # type: ignore[attr-defined]


def test_rejects_unknown_config_namespace() -> None:
    with pytest.raises(RunError) as raised:
        render_stacks(["kscloud1"], overrides={"kscloud1": {"kitestack:domain": "x.org"}})
    assert "kitestack:domain: unknown config namespace 'kitestack'; did you mean " in str(
        raised.value
    )
