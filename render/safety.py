"""Check the safety rules on a render, as the policy pack checks them on a real preview.

The render has more data than the pack: the secret markers of every input,
the stack's exports and the retain-on-delete option, so it runs every rule.
"""

from __future__ import annotations

from typing import Any

import yaml

from config.load import FastSafeLoader
from config.refs import catalogue_path
from policy.data_rules import all_secrets
from policy.resources import Context, Resource, Violation, as_mapping
from policy.rules import check_stack, declared_mounts
from render.document import Rendered
from render.engine import StackRun


def catalogue_mounts() -> dict[str, frozenset[str]]:
    """Return the host mounts each service of the catalogue declares."""
    data: Any = yaml.load(catalogue_path().read_text(), Loader=FastSafeLoader)
    return declared_mounts(as_mapping(data))


def resources_of(run: StackRun) -> list[Resource]:
    """Return the recorded registrations of a stack as plain rule resources."""
    return [
        Resource(
            type=registration.type,
            name=registration.name,
            urn=registration.urn,
            inputs=registration.inputs,
            protect=registration.protect,
            retain_on_delete=registration.retain_on_delete,
            ignore_changes=tuple(registration.ignore_changes),
            provider=registration.provider,
            outputs=registration.outputs,
        )
        for registration in run.registrations
    ]


def context_of(run: StackRun, mounts: dict[str, frozenset[str]]) -> Context:
    """Return the rule context of a recorded stack: its exports and its config secrets."""
    return Context(
        declared_mounts=mounts,
        secret_markers=True,
        secret_values=frozenset(run.secret_config),
        outputs=run.outputs,
    )


def check_rendered(rendered: Rendered, mounts: dict[str, frozenset[str]]) -> list[Violation]:
    """Return every rule violation of one rendered stack, sorted."""
    return check_stack(resources_of(rendered.run), context_of(rendered.run, mounts))


def secret_values(rendered: Rendered) -> frozenset[str]:
    """Return the secret values of a rendered stack: generated ones and config secrets."""
    run = rendered.run
    return all_secrets(resources_of(run), context_of(run, {}))
