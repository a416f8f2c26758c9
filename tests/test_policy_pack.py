"""The policy pack enforces the same rules as the render, through the Pulumi policy SDK.

The policies come from policy/pack.py. The entry point, policy/__main__.py,
is never imported: it starts the pack's gRPC server, which one test runs in a
subprocess on the loopback address and calls the way the Pulumi CLI does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy import resources as kinds
from policy.pack import PACK_NAME, RENDER_ONLY_RULES, policies
from policy.rules import RULES
from render.document import Rendered
from render.engine import ROOT, Registration

PRIVILEGED_URN = "urn:pulumi:monk::kitestacks::docker:index/container:Container::bad"
MONK_DOCKER = (
    "urn:pulumi:monk::kitestacks::kitestacks:docker:DockerHost$pulumi:providers:docker::monk-docker"
)
# Built once: each build reads the catalogue for the declared host mounts.
POLICIES = policies()


def sdk_props(inputs: dict[str, Any]) -> Any:
    """Return inputs the way the policy SDK hands them to a policy: unmarked and proxied."""
    return unknown_checking_proxy(deserialize_properties(inputs))


def sdk_options(registration: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        registration.protect,
        registration.ignore_changes,
        registration.delete_before_replace,
        [],
        PolicyCustomTimeouts(0, 0, 0),
        registration.additional_secret_outputs,
        registration.parent or None,
    )


def sdk_provider(urn: str) -> PolicyProviderResource | None:
    if not urn:
        return None
    return PolicyProviderResource(
        urn.split("::")[2].rsplit("$", 1)[-1], {}, urn, urn.split("::")[-1]
    )


def resource_args(registration: Registration) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        registration.type,
        sdk_props(registration.inputs),
        registration.urn,
        registration.name,
        sdk_options(registration),
        sdk_provider(registration.provider),
    )


def stack_resource(registration: Registration) -> PolicyResource:
    # A stack validation gets one property map per resource: its outputs, inputs included.
    props = sdk_props({**registration.inputs, **registration.outputs})
    return PolicyResource(
        registration.type,
        props,
        registration.urn,
        registration.name,
        sdk_options(registration),
        sdk_provider(registration.provider),
        None,
        [],
        {},
    )


def privileged_container() -> Registration:
    return Registration(
        urn=PRIVILEGED_URN,
        type=kinds.DOCKER_CONTAINER,
        name="bad",
        parent="",
        custom=True,
        provider=MONK_DOCKER,
        dependencies=[],
        depends_on=[],
        protect=False,
        retain_on_delete=False,
        ignore_changes=[],
        delete_before_replace=False,
        additional_secret_outputs=[],
        inputs={"name": "grafana", "image": "sha256:" + "c" * 64, "privileged": True},
    )


def run_resource_policies(registration: Registration) -> list[tuple[str, str]]:
    """Return (policy name, message) of every resource policy the registration breaks."""
    reported: list[tuple[str, str]] = []
    for policy in POLICIES:
        if isinstance(policy, ResourceValidationPolicy):

            def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
                reported.append((name, message))

            policy.validate(resource_args(registration), report)
    return reported


def run_stack_policies(registrations: list[Registration]) -> list[tuple[str, str]]:
    reported: list[tuple[str, str]] = []
    args = StackValidationArgs([stack_resource(item) for item in registrations])
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):

            def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
                reported.append((name, message))

            policy.validate(args, report)
    return reported


def test_pack_has_a_policy_per_rule() -> None:
    names = {policy.name for policy in POLICIES}
    expected = {rule.id for rule in RULES if rule.id not in RENDER_ONLY_RULES}
    assert names == expected | {"tailnet-tags-owned-stack"}


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_pack_accepts_render(rendered: dict[str, Rendered], stack: str) -> None:
    run = rendered[stack].run
    reported = [
        item for registration in run.registrations for item in run_resource_policies(registration)
    ]
    assert reported == []


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_pack_stack_policies_accept_render(rendered: dict[str, Rendered], stack: str) -> None:
    run = rendered[stack].run
    assert run_stack_policies(run.registrations) == []


def test_pack_rejects_privileged_container() -> None:
    assert [name for name, _ in run_resource_policies(privileged_container())] == ["no-privileged"]


def test_pack_skips_unknown_values() -> None:
    registration = privileged_container()
    registration.type = kinds.DOCKER_IMAGE
    registration.inputs = {"name": UNKNOWN_STRING_VALUE, "keepLocally": True}
    assert run_resource_policies(registration) == []


def test_pack_finds_generated_secret_in_label(rendered: dict[str, Rendered]) -> None:
    run = rendered["kscloud1"].run
    password = next(item for item in run.registrations if item.type == kinds.RANDOM_PASSWORD)
    leaky = privileged_container()
    leaky.inputs = {
        "name": "grafana",
        "labels": [{"label": "pw", "value": password.outputs["result"]}],
    }
    names = [name for name, _ in run_stack_policies([password, leaky])]
    assert names == ["secret-exposed"]


# --- The entry point, served over gRPC as the Pulumi CLI runs it ------------------------------


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start the pack the way the CLI does and return a client of its gRPC server."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=ROOT / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else "no output"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_served_pack_lists_policies(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert {policy.name for policy in info.policies} == {policy.name for policy in POLICIES}


def test_served_pack_rejects_privileged_container(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    registration = privileged_container()
    properties = struct_pb2.Struct()
    json_format.ParseDict(registration.inputs, properties)
    request = analyzer_pb2.AnalyzeRequest(
        type=registration.type,
        properties=properties,
        urn=registration.urn,
        name=registration.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=False),
        provider=analyzer_pb2.AnalyzerProviderResource(
            type=kinds.DOCKER_PROVIDER, urn=MONK_DOCKER, name="monk-docker"
        ),
    )
    diagnostics = analyzer.Analyze(request).diagnostics
    assert [item.policyName for item in diagnostics] == ["no-privileged"]
    assert diagnostics[0].enforcementLevel == analyzer_pb2.MANDATORY
