"""The Hetzner server, its volume, firewall, auth key and readiness, on the render."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from config.cloud_init import AUTH_KEY_PATH, BOOTSTRAP_PATH
from config.model import Host
from render import render_stacks
from render.document import Rendered
from render.engine import Registration, plain
from tests.conftest import by_name, load_model, resources_of

SERVER = "kscloud1-server"
VOLUME = "kscloud1-data"
READY = "kscloud1-cloud-init-done"
AUTH_KEY = "kitestacks-tailnet-kscloud1-auth-key"
POLICY = "kitestacks-tailnet-policy"
DOCKER_PROVIDER = "kscloud1-docker"


@pytest.fixture(scope="session")
def cloud(rendered: dict[str, Rendered]) -> Rendered:
    return rendered["kscloud1"]


@pytest.fixture(scope="session")
def rebuild() -> Rendered:
    """Return kscloud1 rendered with the deliberate rebuild switched on."""
    overrides = {"kscloud1": {"kitestacks:rebuildServer": "true"}}
    return render_stacks(["kscloud1"], overrides)["kscloud1"]


@pytest.fixture(scope="session")
def host() -> Host:
    return load_model("kscloud1").catalogue.hosts["kscloud1"]


def raw(render: Rendered, name: str) -> Registration:
    """Return the unredacted registration of a resource."""
    matches = [item for item in render.run.registrations if item.name == name]
    assert len(matches) == 1
    return matches[0]


def raw_user_data(render: Rendered) -> dict[str, Any]:
    text = plain(raw(render, SERVER).inputs)["userData"]
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def auth_key_value(render: Rendered) -> str:
    """Return the fake auth key that the render's cloud returned for the TailnetKey."""
    files = raw_user_data(render)["write_files"]
    key = next(item["content"] for item in files if item["path"] == AUTH_KEY_PATH)
    assert key.startswith("tskey-auth-")
    return key


def test_server_is_protected(cloud: Rendered) -> None:
    assert by_name(cloud, SERVER)["options"]["protect"] is True


def test_server_retained_on_delete(cloud: Rendered) -> None:
    # A deliberate rebuild lifts this in a run of its own before replacing.
    assert by_name(cloud, SERVER)["options"]["retainOnDelete"] is True


def test_server_ignores_create_only_changes(cloud: Rendered) -> None:
    assert by_name(cloud, SERVER)["options"]["ignoreChanges"] == ["sshKeys", "userData"]


def test_server_replaced_delete_first(cloud: Rendered) -> None:
    assert by_name(cloud, SERVER)["options"]["deleteBeforeReplace"] is True


@pytest.mark.parametrize("field", ["deleteProtection", "rebuildProtection", "backups"])
def test_server_protection_flags(cloud: Rendered, field: str) -> None:
    assert by_name(cloud, SERVER)["inputs"][field] is True


def test_server_from_catalogue(cloud: Rendered, host: Host) -> None:
    inputs = by_name(cloud, SERVER)["inputs"]
    assert host.server is not None
    assert inputs["serverType"] == host.server.server_type
    assert inputs["location"] == host.server.location
    assert inputs["image"] == host.server.image


def test_server_image_is_debian(cloud: Rendered) -> None:
    assert by_name(cloud, SERVER)["inputs"]["image"].startswith("debian-")


def test_user_data_is_secret(cloud: Rendered) -> None:
    assert by_name(cloud, SERVER)["secretInputs"] == ["userData"]


def test_volume_is_protected(cloud: Rendered) -> None:
    volume = by_name(cloud, VOLUME)
    assert volume["options"]["protect"] is True
    assert volume["options"]["retainOnDelete"] is True
    assert volume["inputs"]["deleteProtection"] is True


def test_volume_beside_server(cloud: Rendered) -> None:
    assert (
        by_name(cloud, VOLUME)["inputs"]["location"] == by_name(cloud, SERVER)["inputs"]["location"]
    )


def test_firewall_opens_no_tcp(cloud: Rendered) -> None:
    (firewall,) = resources_of(cloud, "hcloud:index/firewall:Firewall")
    inbound = [rule for rule in firewall["inputs"]["rules"] if rule["direction"] == "in"]
    assert [rule for rule in inbound if rule["protocol"] == "tcp"] == []


def test_firewall_opens_only_tailscale_udp(cloud: Rendered) -> None:
    (firewall,) = resources_of(cloud, "hcloud:index/firewall:Firewall")
    udp = [rule["port"] for rule in firewall["inputs"]["rules"] if rule["protocol"] == "udp"]
    assert udp == ["41641"]


def test_server_uses_firewall(cloud: Rendered) -> None:
    (firewall,) = resources_of(cloud, "hcloud:index/firewall:Firewall")
    assert firewall["urn"] in by_name(cloud, SERVER)["dependencies"]


def test_auth_key_created_after_policy(cloud: Rendered) -> None:
    assert by_name(cloud, POLICY)["urn"] in by_name(cloud, AUTH_KEY)["dependencies"]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("reusable", False),
        ("ephemeral", False),
        ("preauthorized", True),
        ("tags", ["tag:kscloud1"]),
        ("recreateIfInvalid", "never"),
    ],
)
def test_auth_key_settings(cloud: Rendered, field: str, expected: object) -> None:
    assert by_name(cloud, AUTH_KEY)["inputs"][field] == expected


def test_auth_key_expires_within_a_day(cloud: Rendered) -> None:
    assert 0 < by_name(cloud, AUTH_KEY)["inputs"]["expiry"] <= 24 * 3600


def test_auth_key_feeds_server(cloud: Rendered) -> None:
    assert by_name(cloud, AUTH_KEY)["urn"] in by_name(cloud, SERVER)["dependencies"]


def test_auth_key_absent_from_document(cloud: Rendered) -> None:
    assert auth_key_value(cloud) not in cloud.json_text()


def test_auth_key_only_in_secret_inputs(cloud: Rendered) -> None:
    key = auth_key_value(cloud)
    leaks = [
        f"{item.name}.{name}"
        for item in cloud.run.registrations
        for name, value in item.inputs.items()
        if key in json.dumps(value) and name not in by_name(cloud, item.name)["secretInputs"]
    ]
    assert leaks == []


def test_auth_key_absent_from_outputs(cloud: Rendered) -> None:
    assert auth_key_value(cloud) not in json.dumps(cloud.run.outputs)


def test_auth_key_only_in_key_file(cloud: Rendered) -> None:
    document = raw_user_data(cloud)
    key = auth_key_value(cloud)
    holders = [item["path"] for item in document["write_files"] if key in item["content"]]
    assert holders == [AUTH_KEY_PATH]
    assert key not in json.dumps(document["runcmd"])


def test_key_file_is_private(cloud: Rendered) -> None:
    files = raw_user_data(cloud)["write_files"]
    (entry,) = [item for item in files if item["path"] == AUTH_KEY_PATH]
    assert entry["permissions"] == "0600"


def test_user_data_mounts_created_volume(cloud: Rendered) -> None:
    volume_id = by_name(cloud, "kscloud1-data-attachment")["inputs"]["volumeId"]
    (mount,) = raw_user_data(cloud)["mounts"]
    assert mount[0] == f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}"


def test_runcmd_runs_bootstrap_only(cloud: Rendered) -> None:
    assert raw_user_data(cloud)["runcmd"] == [[BOOTSTRAP_PATH]]


def test_docker_provider_waits_for_cloud_init(cloud: Rendered) -> None:
    provider = by_name(cloud, DOCKER_PROVIDER)
    assert by_name(cloud, READY)["urn"] in provider["dependencies"]


def test_docker_provider_uses_tailnet(cloud: Rendered, host: Host) -> None:
    provider = by_name(cloud, DOCKER_PROVIDER)
    assert provider["inputs"]["host"] == f"ssh://{host.ssh_user}@{host.tailnet_ip}"


def test_kscloud1_containers_use_its_provider(cloud: Rendered) -> None:
    provider = by_name(cloud, DOCKER_PROVIDER)["urn"]
    containers = resources_of(cloud, "docker:index/container:Container")
    assert containers
    assert {item["provider"] for item in containers} == {provider}


def test_ready_waits_for_volume(cloud: Rendered) -> None:
    attachment = by_name(cloud, "kscloud1-data-attachment")["urn"]
    assert attachment in by_name(cloud, READY)["options"]["dependsOn"]


def test_ready_reruns_for_new_server(cloud: Rendered) -> None:
    server_id = by_name(cloud, "kscloud1-data-attachment")["inputs"]["serverId"]
    assert by_name(cloud, READY)["inputs"]["triggers"] == [str(server_id)]


def test_ready_dials_magicdns_name(cloud: Rendered) -> None:
    connection = plain(raw(cloud, READY).inputs)["connection"]
    site = load_model("kscloud1").site
    assert connection["host"] == f"kscloud1.{site.tailnet_domain}"
    assert connection["user"] == load_model("kscloud1").catalogue.hosts["kscloud1"].ssh_user


def test_ready_script_is_valid_shell(cloud: Rendered, tmp_path: Any) -> None:
    script = tmp_path / "ready.sh"
    script.write_text(by_name(cloud, READY)["inputs"]["create"])
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ready_checks_catalogue_address(cloud: Rendered, host: Host) -> None:
    assert f'!= "{host.tailnet_ip}"' in by_name(cloud, READY)["inputs"]["create"]


def test_rebuild_lifts_server_protection(rebuild: Rendered) -> None:
    options = by_name(rebuild, SERVER)["options"]
    assert options["protect"] is False
    assert options["retainOnDelete"] is False
    assert options["ignoreChanges"] == []


def test_rebuild_keeps_volume_protected(rebuild: Rendered) -> None:
    assert by_name(rebuild, VOLUME)["options"]["protect"] is True


def test_rebuild_lifts_hetzner_protection(rebuild: Rendered) -> None:
    # The provider does not reliably lift Hetzner's lock before deleting.
    assert by_name(rebuild, SERVER)["inputs"]["deleteProtection"] is False
    assert by_name(rebuild, SERVER)["inputs"]["rebuildProtection"] is False
