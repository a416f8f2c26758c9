"""Waits between resources: each explicit dependsOn has a reason, and nothing waits needlessly."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from config.topology import SecretPart, Topology, values_of
from render.document import Rendered
from render.graph import critical_path, wait_edges, waits_on
from tests.conftest import by_name, resources_of, topology_of

STACK_REFERENCE = "pulumi:pulumi:StackReference"
CONTAINER = "docker:index/container:Container"
DOCKER_PROVIDER = "pulumi:providers:docker"
CLOUD_INIT = "command:remote:Command"

# Every explicit dependsOn between custom resources, as (waiting type, awaited
# type), with the reason the wait is needed. Inputs that carry an Output make
# their own dependencies; only waits that no input expresses belong here.
JUSTIFIED = {
    (DOCKER_PROVIDER, CLOUD_INIT): (
        "the cloud host's Docker daemon exists once cloud-init has finished"
    ),
    (CLOUD_INIT, "hcloud:index/volumeAttachment:VolumeAttachment"): (
        "cloud-init mounts the data volume, so waiting for it starts after the attachment"
    ),
    ("tailscale:index/tailnetKey:TailnetKey", "tailscale:index/acl:Acl"): (
        "a key's tags must be owned in the tailnet policy before the key can carry them"
    ),
}


def explicit_waits(rendered: dict[str, Rendered]) -> list[tuple[str, dict[str, Any], str]]:
    """Return (stack, waiting resource, awaited type) for every explicit dependsOn."""
    waits: list[tuple[str, dict[str, Any], str]] = []
    for stack, render in rendered.items():
        types = {resource["urn"]: resource["type"] for resource in resources_of(render)}
        for resource in resources_of(render):
            # A component is not created by the engine, so its dependsOn delays nothing.
            if not resource["custom"]:
                continue
            for dependency in resource["options"]["dependsOn"]:
                waits.append((stack, resource, types[dependency]))
    return waits


def reads_upstream(topology: Topology, service: str, host: str) -> bool:
    """Return whether a container reads a generated secret or a tunnel token from kscloud1."""
    return any(
        isinstance(part, SecretPart) and part.kind in ("secret", "tunnel")
        for value in values_of(topology.service(service))
        for part in topology.resolve(value, service, host)
    )


def stack_reference_urn(render: Rendered) -> str:
    """Return the URN of the one stack reference that the render's resources depend on."""
    urns = {
        dependency
        for resource in resources_of(render)
        for dependency in resource["dependencies"]
        if f"${STACK_REFERENCE}::" in dependency
    }
    assert len(urns) == 1, f"expected one stack reference, found {sorted(urns)}"
    return urns.pop()


def test_explicit_waits_are_justified(rendered: dict[str, Rendered]) -> None:
    for stack, resource, awaited in explicit_waits(rendered):
        key = (resource["type"], awaited)
        assert key in JUSTIFIED, (
            f"{stack}: {resource['name']} ({resource['type']}) waits on a {awaited} with "
            "dependsOn for no recorded reason; remove the wait or add its reason to JUSTIFIED"
        )


def test_justified_waits_are_present(rendered: dict[str, Rendered]) -> None:
    present = {(resource["type"], awaited) for _, resource, awaited in explicit_waits(rendered)}
    for key, reason in JUSTIFIED.items():
        assert key in present, f"no {key[0]} waits on a {key[1]} any more ({reason})"


def test_cloud_docker_provider_waits_for_cloud_init(rendered: dict[str, Rendered]) -> None:
    render = rendered["kscloud1"]
    provider = by_name(render, "kscloud1-docker")
    command = by_name(render, "kscloud1-cloud-init-done")
    assert command["urn"] in provider["options"]["dependsOn"]


def test_cloud_docker_resources_wait_for_cloud_init(rendered: dict[str, Rendered]) -> None:
    render = rendered["kscloud1"]
    edges = wait_edges(render.document)
    command = by_name(render, "kscloud1-cloud-init-done")["urn"]
    docker = [item for item in resources_of(render) if item["type"].startswith("docker:")]
    assert docker, "kscloud1 renders no Docker resource"
    for resource in docker:
        assert command in waits_on(edges, resource["urn"]), resource["name"]


def test_home_docker_provider_waits_for_nothing(rendered: dict[str, Rendered]) -> None:
    provider = by_name(rendered["monk"], "monk-docker")
    assert provider["dependencies"] == []


def test_containers_wait_for_upstream_only_when_reading(
    rendered: dict[str, Rendered],
) -> None:
    render = rendered["monk"]
    topology = topology_of("monk")
    # The SDK reads a stack reference instead of registering it, so it shows
    # up only as a dependency.
    reference = stack_reference_urn(render)
    containers = resources_of(render, CONTAINER)
    assert len(containers) == len(topology.placements["monk"])
    for container in containers:
        service = container["inputs"]["name"]
        waits = reference in container["dependencies"]
        expected = reads_upstream(topology, service, "monk")
        assert waits == expected, f"{service}: waits on the stack reference: {waits}"


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_critical_path_is_a_chain(rendered: dict[str, Rendered], stack: str) -> None:
    document = rendered[stack].document
    edges = wait_edges(document)
    path = critical_path(document)
    assert path, f"{stack} has no custom resource"
    assert edges[path[0]] == set()
    for before, after in pairwise(path):
        assert before in edges[after], f"{after} does not wait on {before}"


def test_cloud_critical_path_runs_through_cloud_init(rendered: dict[str, Rendered]) -> None:
    render = rendered["kscloud1"]
    path = critical_path(render.document)
    command = by_name(render, "kscloud1-cloud-init-done")["urn"]
    assert command in path


def document_of(*resources: dict[str, Any]) -> dict[str, Any]:
    """Return a minimal render document with these resources."""
    defaults = {"custom": True, "parent": "stack", "provider": "", "dependencies": []}
    return {"resources": [{**defaults, **resource} for resource in resources]}


def test_critical_path_picks_longest_chain() -> None:
    document = document_of(
        {"urn": "a"},
        {"urn": "b", "dependencies": ["a"]},
        {"urn": "c", "dependencies": ["b"]},
        {"urn": "d"},
        {"urn": "e", "dependencies": ["d", "c"]},
        {"urn": "f", "dependencies": ["d"]},
    )
    assert critical_path(document) == ["a", "b", "c", "e"]


def test_wait_edges_follow_providers() -> None:
    document = document_of(
        {"urn": "command"},
        {"urn": "provider", "dependencies": ["command"]},
        {"urn": "image", "provider": "provider"},
    )
    assert critical_path(document) == ["command", "provider", "image"]


def test_components_wait_for_nothing() -> None:
    document = document_of(
        {"urn": "server"},
        {"urn": "component", "custom": False, "dependencies": ["server"]},
        {"urn": "child", "parent": "component"},
    )
    edges = wait_edges(document)
    assert "component" not in edges
    assert edges["child"] == set()


def test_custom_parent_is_awaited() -> None:
    document = document_of({"urn": "parent"}, {"urn": "child", "parent": "parent"})
    assert wait_edges(document)["child"] == {"parent"}
