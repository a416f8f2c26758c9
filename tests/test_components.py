"""Each component under the recording mock engine, one program per component.

The engine records every registration request whole, so these tests check
parenting, providers and resource options, which `Mocks.new_resource` alone
never receives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.cloud_server import CloudServer
from components.docker_host import DockerHost, image_slug
from components.edge import Edge
from components.secrets import GeneratedSecrets
from components.service import Service
from components.tailnet import Tailnet
from config.edge_plan import CATCH_ALL_SERVICE
from config.topology import SecretPart, Topology
from render.engine import Registration, StackRun, run_program
from render.redact import is_secret
from tests.conftest import topology_of


def run(stack: str, program: Callable[[], None]) -> StackRun:
    return run_program("kitestacks", stack, {}, [], program=program)


def named(run_result: StackRun, name: str) -> Registration:
    matches = [item for item in run_result.registrations if item.name == name]
    assert len(matches) == 1, name
    return matches[0]


def of_type(run_result: StackRun, type_: str) -> list[Registration]:
    return [item for item in run_result.registrations if item.type == type_]


def fake_secret(part: SecretPart) -> pulumi.Output[str]:
    return pulumi.Output.secret(f"value-of-{part.key}")


@pytest.fixture(scope="module")
def topology() -> Topology:
    return topology_of()


@pytest.fixture(scope="module")
def service_run(topology: Topology) -> StackRun:
    def program() -> None:
        host = DockerHost("monk", "kite", "100.101.10.10")
        Service("monk-litellm", "litellm", "monk", host, topology, fake_secret)

    return run("monk", program)


def test_docker_host_type_tokens(service_run: StackRun) -> None:
    assert named(service_run, "monk").type == "kitestacks:docker:DockerHost"
    assert named(service_run, "monk-litellm").type == "kitestacks:docker:Service"


def test_service_children_parented(service_run: StackRun) -> None:
    container = named(service_run, "monk-litellm-container")
    assert container.parent == named(service_run, "monk-litellm").urn


def test_docker_resources_use_host_provider(service_run: StackRun) -> None:
    provider = named(service_run, "monk-docker")
    for item in service_run.registrations:
        if item.type.startswith("docker:"):
            assert item.provider == provider.urn, item.name


def test_docker_provider_reaches_host_over_ssh(service_run: StackRun) -> None:
    provider = named(service_run, "monk-docker")
    assert provider.inputs["host"] == "ssh://kite@100.101.10.10"


def test_container_env_secret_per_entry(service_run: StackRun) -> None:
    envs: list[Any] = named(service_run, "monk-litellm-container").inputs["envs"]
    secret_names = {entry["value"].split("=")[0] for entry in envs if is_secret(entry)}
    plain_entries = [entry for entry in envs if not is_secret(entry)]
    assert {"ANTHROPIC_API_KEY", "LITELLM_MASTER_KEY", "OPENAI_API_KEY"} <= secret_names
    assert plain_entries
    assert not any("value-of-" in entry for entry in plain_entries)


def test_container_port_bound_to_tailnet(service_run: StackRun) -> None:
    ports = named(service_run, "monk-litellm-container").inputs["ports"]
    assert ports == [{"external": 4000, "internal": 4000, "ip": "100.101.10.10"}]


def test_volumes_protected_and_retained(topology: Topology) -> None:
    def program() -> None:
        host = DockerHost("monk", "kite", "100.101.10.10")
        Service("monk-grafana", "grafana", "monk", host, topology, fake_secret)

    result = run("monk", program)
    volume = named(result, "monk-volume-grafana-data")
    assert volume.protect
    assert volume.retain_on_delete


def test_component_outputs_registered(service_run: StackRun) -> None:
    component = named(service_run, "monk-litellm")
    assert "container" in service_run.component_outputs[component.urn]


def test_generated_secrets_are_random_passwords() -> None:
    def program() -> None:
        topology = topology_of()
        GeneratedSecrets("secrets", topology.secrets, {})

    result = run("kscloud1", program)
    passwords = of_type(result, "random:index/randomPassword:RandomPassword")
    assert len(passwords) == len(topology_of().secrets)
    assert of_type(result, "random:index/randomString:RandomString") == []
    component = named(result, "secrets")
    assert all(item.parent == component.urn for item in passwords)


def test_edge_ingress_ends_with_catch_all(topology: Topology) -> None:
    result = run("kscloud1", lambda: Edge("edge", topology) and None)
    config = named(result, "edge-ingress").inputs["config"]
    rules = config["ingresses"]
    assert rules[-1] == {"service": CATCH_ALL_SERVICE}
    assert len(rules) == len(topology.routes) + 1


def test_edge_tunnel_remote_managed(topology: Topology) -> None:
    result = run("kscloud1", lambda: Edge("edge", topology) and None)
    tunnel = named(result, "edge-tunnel")
    assert tunnel.inputs["configSrc"] == "cloudflare"


def test_edge_dns_record_per_route(topology: Topology) -> None:
    result = run("kscloud1", lambda: Edge("edge", topology) and None)
    records = of_type(result, "cloudflare:index/dnsRecord:DnsRecord")
    assert sorted(item.inputs["name"] for item in records) == [r.fqdn for r in topology.routes]
    assert all(item.inputs["proxied"] for item in records)


def test_tailnet_key_after_policy(topology: Topology) -> None:
    result = run("kscloud1", lambda: Tailnet("tailnet", topology, ("kscloud1",)) and None)
    acl = named(result, "tailnet-policy")
    key = named(result, "tailnet-kscloud1-auth-key")
    assert acl.urn in key.depends_on
    assert key.inputs["tags"] == ["tag:kscloud1"]
    assert key.inputs["reusable"] is False
    assert key.inputs["preauthorized"] is True


def test_cloud_server_protected(topology: Topology) -> None:
    host = topology.model.catalogue.hosts["kscloud1"]

    def program() -> None:
        CloudServer(
            "kscloud1",
            "kscloud1",
            host,
            ("ssh-ed25519 AAAA test",),
            pulumi.Output.secret("k"),
            tailnet_domain="tail4f2a9.ts.net",
        )

    result = run("kscloud1", program)
    server = named(result, "kscloud1-server")
    assert server.protect
    assert server.retain_on_delete
    assert server.ignore_changes == ["sshKeys", "userData"]
    assert server.inputs["deleteProtection"] is True
    assert server.inputs["rebuildProtection"] is True
    assert is_secret(server.inputs["userData"])


def test_image_slug_keeps_owner() -> None:
    assert image_slug("ghcr.io/goauthentik/server:2025.8.4") == "goauthentik-server-2025-8-4"
    assert image_slug("docker.io/library/mariadb:11.4.5") == "library-mariadb-11-4-5"


def test_image_slugs_differ_by_owner() -> None:
    first = image_slug("ghcr.io/one/server:1.0")
    second = image_slug("ghcr.io/two/server:1.0")
    assert first != second
