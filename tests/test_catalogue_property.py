"""Property: any catalogue either fails with `key: problem; fix` lines or renders safely.

Hypothesis edits the real catalogue and stack config: placements, images,
ports, hostnames, sharing policies, single sign-on, references between
services, host mounts, ingress mode and identity host. Each result must
either fail in load() with one well-formed line per problem, or derive a
topology and render both stacks with every safety rule holding. A crash is a
failure either way.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from config.generated import generate
from config.load import ConfigError, load
from config.refs import CATALOGUE_PATH, CATALOGUE_VARIABLE
from config.tailnet_policy import policy_json
from config.topology import Topology, derive
from render import render_stacks
from render.engine import ROOT
from render.safety import catalogue_mounts, check_rendered
from render.stackconfig import read_stack_config

CATALOGUE: dict[str, Any] = yaml.safe_load(CATALOGUE_PATH.read_text())
SERVICES = sorted(CATALOGUE["services"])
STACKS = ("kscloud1", "monk")
# A key path without spaces, what is wrong, and after a semicolon how to fix it.
PROBLEM_LINE = re.compile(r"^\S+: [^\n]+; [^\n]+$")

Edit = Callable[[dict[str, Any]], None]
service_names = st.sampled_from(SERVICES)


def edit_service(name: str, change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        if name in data["services"]:
            change(data["services"][name])

    return edit


def set_field(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(service: dict[str, Any]) -> None:
        if value is None:
            service.pop(key, None)
        else:
            service[key] = value

    return change


def set_public(hostname: str | None, policy: str) -> Callable[[dict[str, Any]], None]:
    def change(service: dict[str, Any]) -> None:
        if hostname is None:
            service.pop("public", None)
        else:
            service["public"] = {"hostname": hostname, "policy": policy}

    return change


def add_env(variable: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(service: dict[str, Any]) -> None:
        service.setdefault("env", {})[variable] = value

    return change


def add_mount(source: str) -> Callable[[dict[str, Any]], None]:
    def change(service: dict[str, Any]) -> None:
        service.setdefault("mounts", {})[source] = f"/host{source}"

    return change


def remove_service(name: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["services"].pop(name, None)

    return edit


hosts = st.lists(st.sampled_from(["monk", "kscloud1", "@identity", "nas"]), max_size=3)
images = st.sampled_from(
    [
        "docker.io/library/nginx:1.28.0-alpine",
        "ghcr.io/example/app:2.4.1",
        "docker.io/library/nginx:latest",
        "docker.io/library/nginx:stable",
        "nginx",
        "docker.io/library/nginx:1.2:3",
    ]
)
ports = st.sampled_from([None, 0, 80, 3000, 9010, 70000])
host_ports = st.sampled_from([None, 3001, 8081, 9010, 9100])
hostnames = st.sampled_from(
    [None, "wiki", "www", "new", "extra.kitestacks.com", "a.b.kitestacks.com", "x.example.org"]
)
sso = st.sampled_from(
    [
        None,
        {"mode": "oidc", "callback": "/callback"},
        {"mode": "proxy"},
        {"mode": "public"},
        {"mode": "oidc"},
    ]
)


@st.composite
def references(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["host", "port", "url", "secret", "config", "tunnel", "sso"]))
    target = draw(service_names)
    argument = {
        "secret": f"{target}.password",
        "config": "openaiApiKey",
        "tunnel": "token",
        "sso": "client_id",
    }.get(kind, target)
    return f"${{{kind}:{argument}}}"


edits = st.one_of(
    st.builds(
        lambda name, value: edit_service(name, set_field("hosts", value)), service_names, hosts
    ),
    st.builds(
        lambda name, value: edit_service(name, set_field("image", value)), service_names, images
    ),
    st.builds(
        lambda name, value: edit_service(name, set_field("port", value)), service_names, ports
    ),
    st.builds(
        lambda name, value: edit_service(name, set_field("host_port", value)),
        service_names,
        host_ports,
    ),
    st.builds(
        lambda name, hostname, policy: edit_service(name, set_public(hostname, policy)),
        service_names,
        hostnames,
        st.sampled_from(["spread", "failover"]),
    ),
    st.builds(lambda name, value: edit_service(name, set_field("sso", value)), service_names, sso),
    st.builds(
        lambda name, value: edit_service(name, add_env("PEER", value)), service_names, references()
    ),
    st.builds(
        lambda name, source: edit_service(name, add_mount(source)),
        service_names,
        st.sampled_from(["/var/run/docker.sock", "/etc"]),
    ),
    st.builds(remove_service, service_names),
)
configs = st.fixed_dictionaries(
    {},
    optional={
        "kitestacks:ingressMode": st.sampled_from(["replicas", "load_balancer"]),
        "kitestacks:identityHost": st.sampled_from(["kscloud1", "monk"]),
    },
)


@contextmanager
def catalogue_file(data: dict[str, Any]) -> Iterator[Path]:
    """Write a catalogue to a temporary file and point KITESTACKS_CATALOGUE at it."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "catalogue.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        previous = os.environ.get(CATALOGUE_VARIABLE)
        os.environ[CATALOGUE_VARIABLE] = str(path)
        try:
            yield path
        finally:
            if previous is None:
                del os.environ[CATALOGUE_VARIABLE]
            else:
                os.environ[CATALOGUE_VARIABLE] = previous


# The stack files do not change between examples, so they are read once.
STACK_CONFIGS = {stack: read_stack_config(ROOT, stack) for stack in STACKS}


def config_problems(stack: str, overrides: dict[str, str]) -> list[str]:
    """Return the problems load() reports for one stack, or [] when the config is valid."""
    config = STACK_CONFIGS[stack]
    values = {**config.values, **overrides}
    try:
        topology = derive(load(config.project, stack, values))
    except ConfigError as error:
        return error.problems
    exercise(topology)
    return []


def exercise(topology: Topology) -> None:
    """Derive everything the components read from a topology, as the program would."""
    assert topology.flows is not None
    assert topology.sso_clients is not None
    assert topology.secrets is not None
    for route in topology.routes:
        assert topology.replicas_origin_url(route).startswith("http://")
    for host, services in topology.placements.items():
        assert topology.published[host] is not None
        for name in services:
            spec = topology.service(name)
            for value in spec.env.values():
                topology.resolve(value, name, host)
            for file in spec.files.values():
                text = (
                    file.template
                    if file.template is not None
                    else generate(file.generator or "", topology, host)
                )
                topology.resolve(text, name, host)
    assert policy_json(topology).startswith("{")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(edits, min_size=1, max_size=3), overrides=configs)
def test_catalogue_loads_or_fails_clearly(changes: list[Edit], overrides: dict[str, str]) -> None:
    data = copy.deepcopy(CATALOGUE)
    for change in changes:
        change(data)
    with catalogue_file(data):
        problems = [problem for stack in STACKS for problem in config_problems(stack, overrides)]
    assert [problem for problem in problems if not PROBLEM_LINE.match(problem)] == []


# Rendering both stacks takes over a second per catalogue, so this test renders
# only a few catalogues that load. The test above checks many more for crashes.
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(changes=st.lists(edits, min_size=1, max_size=3), overrides=configs)
def test_valid_catalogue_renders_safely(changes: list[Edit], overrides: dict[str, str]) -> None:
    data = copy.deepcopy(CATALOGUE)
    for change in changes:
        change(data)
    with catalogue_file(data):
        assume(not any(config_problems(stack, overrides) for stack in STACKS))
        rendered = render_stacks(list(STACKS), {stack: overrides for stack in STACKS})
        mounts = catalogue_mounts()
        violations = [
            violation.line(stack)
            for stack, result in rendered.items()
            for violation in check_rendered(result, mounts)
        ]
    assert violations == []
