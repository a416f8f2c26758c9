"""Rules for Docker containers, images and providers."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from policy.resources import (
    DOCKER_CONTAINER,
    DOCKER_IMAGE,
    DOCKER_PROVIDER,
    Context,
    Resource,
    as_mapping,
    items_of,
    reveal,
    strings_of,
    urn_type_and_name,
)

# Addresses a published container port may bind to besides loopback: Tailscale's.
TAILNET_RANGES = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)
# Capabilities that give a container root-equivalent control of the host.
DANGEROUS_CAPABILITIES = {"ALL", "SYS_ADMIN", "CAP_SYS_ADMIN", "SYS_MODULE", "CAP_SYS_MODULE"}
UNCONFINED_OPTIONS = {
    "seccomp=unconfined",
    "seccomp:unconfined",
    "apparmor=unconfined",
    "apparmor:unconfined",
}


def check_port_binding(resource: Resource, context: Context) -> list[str]:
    """Check that each published port binds to loopback or a tailnet address."""
    if resource.type != DOCKER_CONTAINER:
        return []
    fix = "bind it to 127.0.0.1 or the host's tailnet address with `ip`"
    messages: list[str] = []
    for index, port in enumerate(items_of(resource.inputs.get("ports"))):
        where = f"ports[{index}] ({port.get('external', '?')}->{port.get('internal', '?')})"
        address = port.get("ip")
        if address is None or address == "":
            messages.append(f"{where} has no `ip`, so Docker publishes it on 0.0.0.0; {fix}")
            continue
        if not isinstance(address, str):
            continue
        try:
            parsed = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            messages.append(f"{where} binds to '{address}', which is not an IP address; {fix}")
            continue
        if parsed.is_unspecified:
            messages.append(f"{where} binds to {address}, every interface of the host; {fix}")
        elif not parsed.is_loopback and not any(parsed in net for net in TAILNET_RANGES):
            messages.append(
                f"{where} binds to {address}, which is neither loopback nor a tailnet "
                f"address; {fix}"
            )
    return messages


def image_problem(reference: str) -> str | None:
    """Return why an image reference is not pinned to a version, or None when it is."""
    name, _, digest = reference.partition("@")
    if digest.startswith("sha256:"):
        return None
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image '{reference}' has no tag, so Docker pulls latest; pin a released version"
    tag = last.split(":", 1)[1]
    if tag == "latest":
        return f"image '{reference}' uses the tag latest, which moves; pin a released version"
    if not any(char.isdigit() for char in tag):
        return (
            f"image '{reference}' uses the tag '{tag}', which names no version and moves; "
            "pin a released version"
        )
    return None


def check_image_pinned(resource: Resource, context: Context) -> list[str]:
    """Check that pulled images and container images name a version or a digest."""
    if resource.type == DOCKER_IMAGE:
        reference = reveal(resource.inputs.get("name"))
    elif resource.type == DOCKER_CONTAINER:
        reference = reveal(resource.inputs.get("image"))
        # A container usually runs the image id of a RemoteImage, which is pinned.
        if isinstance(reference, str) and reference.startswith("sha256:"):
            return []
    else:
        return []
    if not isinstance(reference, str):
        return []
    problem = image_problem(reference)
    return [problem] if problem else []


def check_privileged(resource: Resource, context: Context) -> list[str]:
    """Check that no container runs privileged or with root-equivalent capabilities."""
    if resource.type != DOCKER_CONTAINER:
        return []
    inputs = as_mapping(reveal(resource.inputs))
    messages: list[str] = []
    if inputs.get("privileged") is True:
        messages.append(
            "runs privileged, with every capability and device of the host; remove "
            "`privileged` and add only the capabilities the app needs"
        )
    added = strings_of(as_mapping(inputs.get("capabilities")).get("adds"))
    for capability in sorted(added):
        if capability.upper() in DANGEROUS_CAPABILITIES:
            messages.append(
                f"adds the capability {capability}, which gives root control of the host; remove it"
            )
    for option in strings_of(inputs.get("securityOpts")):
        if option.replace(" ", "") in UNCONFINED_OPTIONS:
            messages.append(f"turns off confinement with security option '{option}'; remove it")
    return messages


def check_host_namespace(resource: Resource, context: Context) -> list[str]:
    """Check that no container shares a namespace of the host."""
    if resource.type != DOCKER_CONTAINER:
        return []
    inputs = as_mapping(reveal(resource.inputs))
    messages: list[str] = []
    if inputs.get("networkMode") == "host":
        messages.append(
            "uses the host's network, which publishes every port it listens on to every "
            "interface; remove network_mode and publish ports with `ip`"
        )
    for key, name in (("pidMode", "process"), ("ipcMode", "IPC"), ("usernsMode", "user")):
        if inputs.get(key) == "host":
            messages.append(f"shares the host's {name} namespace ({key}: host); remove {key}")
    return messages


def host_paths(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (input path, host path) of every bind mount, host volume and device."""
    paths: list[tuple[str, str]] = []
    for index, volume in enumerate(items_of(inputs.get("volumes"))):
        if isinstance(volume.get("hostPath"), str):
            paths.append((f"volumes[{index}]", volume["hostPath"]))
    for index, mount in enumerate(items_of(inputs.get("mounts"))):
        if mount.get("type") == "bind" and isinstance(mount.get("source"), str):
            paths.append((f"mounts[{index}]", mount["source"]))
    for index, device in enumerate(items_of(inputs.get("devices"))):
        if isinstance(device.get("hostPath"), str):
            paths.append((f"devices[{index}]", device["hostPath"]))
    return paths


def check_host_mount(resource: Resource, context: Context) -> list[str]:
    """Check that a container mounts only the host paths its service declares."""
    if resource.type != DOCKER_CONTAINER:
        return []
    name = reveal(resource.inputs.get("name"))
    declared = context.declared_mounts.get(name, frozenset()) if isinstance(name, str) else ()
    return [
        f"{where} mounts the host path {path}, which services.{name}.mounts does not "
        "declare; declare the need in the catalogue or remove the mount"
        for where, path in host_paths(resource.inputs)
        if path not in declared
    ]


def check_docker_provider(resource: Resource, context: Context) -> list[str]:
    """Check that every Docker resource names its host's provider, never the default one."""
    if not resource.type.startswith("docker:"):
        return []
    fix = "pass the host's Docker provider in the resource options"
    if not resource.provider:
        return [
            "uses the default Docker provider, which talks to the Docker engine of the "
            f"machine that runs Pulumi; {fix}"
        ]
    provider_type, provider_name = urn_type_and_name(resource.provider)
    if provider_type != DOCKER_PROVIDER:
        return [f"uses provider {resource.provider}, which is not a Docker provider; {fix}"]
    if provider_name == "default" or provider_name.startswith("default_"):
        return [f"uses the default Docker provider {provider_name}; {fix}"]
    return []
