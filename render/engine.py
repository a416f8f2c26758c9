"""Run the real Pulumi program for one stack under a recording mock engine.

The standard mock monitor passes only a resource's inputs to `Mocks`. The
RecordingMonitor here keeps each registration request whole (parent,
provider, dependencies and resource options), which is what the render shows.
Every fake output is derived from the resource's URN, so two renders of the
same input are identical.
"""

from __future__ import annotations

import asyncio
import hashlib
import runpy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime import stack as runtime_stack

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
TUNNEL_TOKEN_FUNCTION = (
    "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken"
)
# Namespace of the fake tunnel UUIDs (uuid5 of the URN inside it).
FAKE_NAMESPACE = uuid.UUID("6f1d2c3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fake_number(text: str, limit: int = 90_000_000) -> int:
    return 10_000_000 + int(digest(text)[:12], 16) % limit


def fake_password(urn: str, length: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    # Each character takes two hex digits. Chained digests cover any length,
    # because RandomPassword allows more than the 64 characters of two digests.
    seed = digest(urn)
    part = 2
    while len(seed) < length * 2:
        seed += digest(f"{urn}#{part}")
        part += 1
    return "".join(
        alphabet[int(seed[i : i + 2], 16) % len(alphabet)] for i in range(0, length * 2, 2)
    )


def plain(value: Any) -> Any:
    """Return a mock input with secret markers removed."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:  # pyright: ignore[reportPrivateUsage]
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def struct_to_dict(struct: Any) -> dict[str, Any]:
    """Convert a protobuf Struct to plain data, keeping each secret marker where it is.

    The SDK's own deserializer moves the secret marker of a list element up to
    the whole list. The engine keeps it on the element, and so does the render.
    Keys that start with "__" are the SDK's internal bookkeeping.
    """
    data: dict[str, Any] = json_format.MessageToDict(struct)
    return {key: integral(value) for key, value in data.items() if not key.startswith("__")}


def integral(value: Any) -> Any:
    """Return a copy with whole floats as ints; protobuf carries every number as a double."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def alias_name(alias: Any) -> str:
    """Return an alias of a registration request as its URN, or its spec's type and name.

    Provider SDKs add aliases of their own for renamed types, which have a type
    and no name.
    """
    if alias.urn:
        return str(alias.urn)
    return "::".join(part for part in (alias.spec.type, alias.spec.name) if part)


@dataclass
class Registration:
    """One resource registration, as the engine receives it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    dependencies: list[str]
    depends_on: list[str]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    delete_before_replace: bool
    additional_secret_outputs: list[str]
    inputs: dict[str, Any]
    # The id the fake cloud assigned; empty for components.
    id: str = ""
    # Former names of the resource (the `aliases` option), as URNs or names.
    aliases: list[str] = field(default_factory=lambda: [])
    # The fake outputs the mock returned; the safety rules read generated secrets here.
    outputs: dict[str, Any] = field(default_factory=lambda: {})


@dataclass
class FakeCloud(pulumi.runtime.Mocks):
    """Deterministic, realistic fake outputs for every resource type the program uses."""

    upstream_outputs: dict[str, Any] = field(default_factory=lambda: {})
    upstream_secret_names: list[str] = field(default_factory=lambda: [])

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        urn = f"{args.typ}::{args.name}"
        state = dict(args.inputs)
        kind = args.typ
        if kind == STACK_REFERENCE_TYPE:
            return args.name, {
                "name": args.name,
                "outputs": self.upstream_outputs,
                "secretOutputNames": self.upstream_secret_names,
            }
        if kind.startswith("pulumi:providers:"):
            return f"provider-{digest(urn)[:12]}", state
        if kind == "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared":
            tunnel_id = str(uuid.uuid5(FAKE_NAMESPACE, urn))
            state.update({"status": "healthy", "tunType": "cfd_tunnel"})
            return tunnel_id, state
        if kind.startswith("cloudflare:"):
            return digest(urn)[:32], state
        if kind.startswith("hcloud:"):
            number = fake_number(urn)
            if kind == "hcloud:index/server:Server":
                octet = 1 + int(digest(urn)[:2], 16) % 254
                state.update(
                    {
                        "ipv4Address": f"203.0.113.{octet}",
                        "ipv6Address": f"2001:db8:{number % 65536:x}::1",
                        "status": "running",
                    }
                )
            return str(number), state
        if kind == "random:index/randomPassword:RandomPassword":
            length = int(plain(args.inputs).get("length", 32))
            state["result"] = fake_password(urn, length)
            return "none", state
        if kind == "tailscale:index/tailnetKey:TailnetKey":
            state["key"] = f"tskey-auth-{digest(urn)[:12]}-{digest(urn + 'key')[:32]}"
            return digest(urn)[:16], state
        if kind == "docker:index/remoteImage:RemoteImage":
            image = str(plain(args.inputs).get("name", ""))
            state["imageId"] = f"sha256:{digest(image)}"
            state["repoDigest"] = f"{image.split(':')[0]}@sha256:{digest(image + '@')}"
            return f"sha256:{digest(image)}{image}", state
        if kind == "command:remote:Command":
            state.update({"stdout": "status: done", "stderr": ""})
            return digest(urn)[:16], state
        return digest(urn)[:24], state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        # The mock monitor accepts a plain dict when there are no check failures.
        if args.token == TUNNEL_TOKEN_FUNCTION:
            tunnel_id = str(plain(args.args).get("tunnelId", ""))
            return {"token": f"eyJ{digest('token' + tunnel_id)}"}
        raise NotImplementedError(f"the render has no fake result for function {args.token}")


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that records every registration request whole."""

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(cloud)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}
        self.component_outputs: dict[str, dict[str, Any]] = {}
        self.stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
        property_dependencies = {
            urn for deps in request.propertyDependencies.values() for urn in deps.urns
        }
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                # A provider reference is "<urn>::<id>"; the URN alone is stable.
                provider=request.provider.rsplit("::", 1)[0],
                dependencies=sorted(set(request.dependencies)),
                depends_on=sorted(set(request.dependencies) - property_dependencies),
                protect=request.protect if request.HasField("protect") else False,
                retain_on_delete=request.retainOnDelete
                if request.HasField("retainOnDelete")
                else False,
                ignore_changes=sorted(request.ignoreChanges),
                delete_before_replace=request.deleteBeforeReplace,
                additional_secret_outputs=sorted(request.additionalSecretOutputs),
                inputs=struct_to_dict(request.object),
                id=response.id,
                aliases=sorted(alias_name(alias) for alias in request.aliases),
                outputs=struct_to_dict(response.object),
            )
        )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        # A StackReference is read, not registered, but it is part of the desired state.
        response = super().ReadResource(request)
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=True,
                provider=request.provider.rsplit("::", 1)[0],
                dependencies=sorted(set(request.dependencies)),
                depends_on=sorted(set(request.dependencies)),
                protect=False,
                retain_on_delete=False,
                ignore_changes=[],
                delete_before_replace=False,
                additional_secret_outputs=sorted(request.additionalSecretOutputs),
                inputs=struct_to_dict(request.properties),
                outputs=struct_to_dict(response.properties),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.urn == self.stack_urn:
            self.stack_outputs = struct_to_dict(request.outputs)
        else:
            self.component_outputs[request.urn] = struct_to_dict(request.outputs)
        return super().RegisterResourceOutputs(request)


@dataclass
class StackRun:
    """The recorded result of running the program for one stack."""

    stack: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=lambda: {})
    # Values of the config keys that are secret, so the safety rules can look for leaks.
    secret_config: list[str] = field(default_factory=lambda: [])


def run_program(
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    upstream_outputs: dict[str, Any] | None = None,
    upstream_secret_names: list[str] | None = None,
    program: Callable[[], None] | None = None,
) -> StackRun:
    """Run a program for one stack under the recording monitor and return what it registered.

    The program is __main__.py unless `program` is given; tests pass a
    function that creates a single component.
    """
    cloud = FakeCloud(upstream_outputs or {}, upstream_secret_names or [])
    monitor = RecordingMonitor(cloud)
    mock_settings = mocks.MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
        engine=mocks.MockEngine(None),
        project=project,
        stack=stack,
        dry_run=False,
        organization="organization",
        callbacks=None,
    )
    settings.configure(mock_settings)
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_all_config(config, secret_keys)

    def main_program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")

    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runtime_stack.run_in_stack(program or main_program))
    except Exception as error:
        # Tests check what a failed program registered before it stopped.
        error.registrations = monitor.registrations  # type: ignore[attr-defined]
        raise
    finally:
        # A failed run leaves outputs pending on this loop. The next run would
        # await them after the loop is closed, so they are cancelled here.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        runtime_settings: Any = settings.SETTINGS
        with runtime_settings.lock:
            runtime_settings.outputs.clear()
        asyncio.set_event_loop(None)
        loop.close()
    secret_config = sorted({config[key] for key in secret_keys if key in config})
    return StackRun(
        stack,
        monitor.registrations,
        monitor.stack_outputs,
        monitor.component_outputs,
        secret_config,
    )
