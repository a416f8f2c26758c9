"""Plain-data view of resources that every safety rule works on.

Standard library only, because the Pulumi policy pack imports it too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

# Pulumi's wire form of a secret value: {SIGNATURE_KEY: SECRET_SIGNATURE, "value": ...}.
# The same constants are in pulumi.runtime.rpc and pulumi_policy/deserialize.py.
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"

DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_VOLUME = "docker:index/volume:Volume"
DOCKER_PROVIDER = "pulumi:providers:docker"
HCLOUD_FIREWALL = "hcloud:index/firewall:Firewall"
HCLOUD_SERVER = "hcloud:index/server:Server"
HCLOUD_VOLUME = "hcloud:index/volume:Volume"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_STRING = "random:index/randomString:RandomString"
TAILNET_POLICY = "tailscale:index/acl:Acl"
TAILNET_KEY = "tailscale:index/tailnetKey:TailnetKey"
TUNNEL = "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared"
TUNNEL_CONFIG = "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig"
REMOTE_COMMAND = "command:remote:Command"
LOCAL_COMMAND = "command:local:Command"
STACK_REFERENCE = "pulumi:pulumi:StackReference"

# Resources whose deletion or replacement loses data, and what is lost.
STATEFUL_TYPES = {
    DOCKER_VOLUME: "Docker volume with a service's data",
    HCLOUD_VOLUME: "Hetzner volume with the cloud host's Docker data",
    HCLOUD_SERVER: "Hetzner server with its disk and public addresses",
}


class Unknown:
    """A value that the engine cannot know before the deployment, as during a preview."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class Resource:
    """One resource as the engine receives it, in plain data.

    `inputs` hold secret markers in the render, and none in the policy pack,
    because the policy SDK removes them. `retain_on_delete` is None when the caller cannot
    see that option. `provider` is the URN of the explicit provider, or "".
    `outputs` are the resource's outputs, where the caller knows them.
    """

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any] = field(default_factory=lambda: {})
    protect: bool = False
    retain_on_delete: bool | None = None
    ignore_changes: tuple[str, ...] = ()
    provider: str = ""
    outputs: Mapping[str, Any] = field(default_factory=lambda: {})


@dataclass(frozen=True)
class Context:
    """What the rules need besides the resources.

    `declared_mounts` maps a container name (the service name) to the host
    paths its catalogue entry declares under `mounts`. `secret_markers` is
    whether inputs still carry Pulumi's secret markers, without which the rule
    that every secret input is marked cannot run. `secret_values` are values
    known to be secret besides the generated ones, such as config secrets.
    `outputs` are the stack's exports, with their markers.
    """

    declared_mounts: Mapping[str, frozenset[str]] = field(default_factory=lambda: {})
    secret_markers: bool = True
    secret_values: frozenset[str] = frozenset()
    outputs: Mapping[str, Any] = field(default_factory=lambda: {})


@dataclass(frozen=True, order=True)
class Violation:
    """One broken rule: the resource URN (or an output), the rule id and the message."""

    subject: str
    rule: str
    message: str

    def line(self, stack: str) -> str:
        """Return the violation as `<stack> <subject>: <rule>: <message>`."""
        return f"{stack} {self.subject}: {self.rule}: {self.message}"


def as_mapping(value: Any) -> Mapping[str, Any]:
    """Return a value when it is a mapping, else an empty mapping."""
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """Return a value when it is a list, else an empty list."""
    return list(cast("Sequence[Any]", value)) if isinstance(value, list | tuple) else []


def is_secret(value: Any) -> bool:
    """Return whether a value is a Pulumi secret marker."""
    return as_mapping(value).get(SIGNATURE_KEY) == SECRET_SIGNATURE


def reveal(value: Any) -> Any:
    """Return a copy of a value with every secret marker replaced by its content."""
    if is_secret(value):
        return reveal(as_mapping(value)["value"])
    if isinstance(value, Mapping):
        return {key: reveal(item) for key, item in as_mapping(value).items()}
    if isinstance(value, list | tuple):
        return [reveal(item) for item in as_list(value)]
    return value


def leaves(value: Any, path: str = "", secret: bool = False) -> Iterator[tuple[str, Any, bool]]:
    """Yield (path, value, inside a secret) for every scalar inside a value."""
    if is_secret(value):
        yield from leaves(as_mapping(value)["value"], path, True)
    elif isinstance(value, Mapping):
        for key, item in as_mapping(value).items():
            yield from leaves(item, f"{path}.{key}" if path else key, secret)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(as_list(value)):
            yield from leaves(item, f"{path}[{index}]", secret)
    else:
        yield path, value, secret


def items_of(value: Any) -> list[Mapping[str, Any]]:
    """Return the mappings in a list input, revealed; anything else gives an empty list."""
    return [as_mapping(item) for item in as_list(reveal(value)) if isinstance(item, Mapping)]


def strings_of(value: Any) -> list[str]:
    """Return the strings in a list input, revealed; anything else gives an empty list."""
    return [item for item in as_list(reveal(value)) if isinstance(item, str)]


def urn_type_and_name(urn: str) -> tuple[str, str]:
    """Return the resource type and name of a URN `urn:pulumi:stack::project::type::name`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", ""
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])
