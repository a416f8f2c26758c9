"""Shared fixtures: the render of both stacks is built once per session.

Importing the provider SDKs and running the program costs seconds, so tests
assert on this recorded, plain data instead of building the program again.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from hypothesis import settings

from config.load import load
from config.model import Model
from config.topology import Topology, derive
from render import render_stacks
from render.document import Rendered
from render.engine import ROOT
from render.stackconfig import read_stack_config

# CI must give the same verdict on every run of the same commit, so it replays
# a fixed set of generated examples. Local runs explore new ones each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

STACKS = ("kscloud1", "monk")
# The Debian package of each validator whose name differs from its command.
DEBIAN_PACKAGES = {"promtool": "prometheus"}


@pytest.fixture(scope="session")
def rendered() -> dict[str, Rendered]:
    """Return the render of both real stacks."""
    return render_stacks(list(STACKS))


# Switching the ingress mode is this one config value, the same on both stacks.
LOAD_BALANCER_MODE = {"kitestacks:ingressMode": "load_balancer"}


@pytest.fixture(scope="session")
def rendered_lb() -> dict[str, Rendered]:
    """Return the render of both real stacks in load_balancer mode."""
    return render_stacks(list(STACKS), overrides={stack: LOAD_BALANCER_MODE for stack in STACKS})


def load_model(stack: str = "kscloud1", overrides: dict[str, str] | None = None) -> Model:
    """Return the validated model of a real stack, with config values replaced."""
    config = read_stack_config(ROOT, stack)
    values = {key: value for key, value in config.values.items()}
    values.update(overrides or {})
    return load(config.project, stack, values)


def topology_of(stack: str = "kscloud1", overrides: dict[str, str] | None = None) -> Topology:
    """Return the topology of a real stack, with config values replaced."""
    return derive(load_model(stack, overrides))


def resources_of(render: Rendered, type_: str | None = None) -> list[dict[str, Any]]:
    """Return the rendered resources, optionally of one type."""
    return [
        resource
        for resource in render.document["resources"]
        if type_ is None or resource["type"] == type_
    ]


def by_name(render: Rendered, name: str) -> dict[str, Any]:
    """Return the rendered resource with this name."""
    matches = [item for item in render.document["resources"] if item["name"] == name]
    assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
    return matches[0]


def require_tool(name: str) -> str:
    """Return the path of a validator, or skip; CI sets KITESTACKS_REQUIRE_VALIDATORS to fail."""
    path = shutil.which(name)
    if path is None:
        package = DEBIAN_PACKAGES.get(name, name)
        message = (
            f"{name} is not installed; install it (apt-get install {package}) to run this test"
        )
        if os.environ.get("KITESTACKS_REQUIRE_VALIDATORS"):
            pytest.fail(message)
        pytest.skip(message)
    return path
