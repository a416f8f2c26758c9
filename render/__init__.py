"""Offline render of the KiteStacks stacks: the real program under a recording mock engine."""

from __future__ import annotations

from typing import Any

from config.model import UPSTREAM_HOST
from render.document import Rendered, build
from render.engine import ROOT, run_program
from render.redact import contains_secret, unwrap
from render.stackconfig import read_stack_config, stack_names


def ordered(stacks: list[str]) -> list[str]:
    """Return the stacks in deploy order: the upstream stack first."""
    return sorted(set(stacks), key=lambda stack: (stack != UPSTREAM_HOST, stack))


def render_stacks(
    stacks: list[str] | None = None, overrides: dict[str, dict[str, str]] | None = None
) -> dict[str, Rendered]:
    """Render the named stacks (all of them when None) in deploy order.

    A downstream stack reads the upstream stack's outputs, so the upstream
    stack is always rendered first, even when it is not requested. `overrides`
    replaces config values per stack, for tests. Raises StackFileError when
    a project or stack file is missing or invalid.
    """
    requested = ordered(stacks or stack_names(ROOT))
    to_run = (
        ordered([UPSTREAM_HOST, *requested])
        if any(s != UPSTREAM_HOST for s in requested)
        else requested
    )
    # Every stack file is read before any program runs, so an error in the
    # downstream stack's file fails at once, not after the upstream render.
    configs = {stack: read_stack_config(ROOT, stack) for stack in to_run}
    results: dict[str, Rendered] = {}
    upstream_outputs: dict[str, Any] = {}
    upstream_secrets: list[str] = []
    for stack in to_run:
        config = configs[stack]
        values = dict(config.values)
        values.update((overrides or {}).get(stack, {}))
        run = run_program(
            config.project, stack, values, config.secret_keys, upstream_outputs, upstream_secrets
        )
        if stack == UPSTREAM_HOST:
            upstream_outputs = {key: unwrap(value) for key, value in run.outputs.items()}
            upstream_secrets = sorted(
                key for key, value in run.outputs.items() if contains_secret(value)
            )
        results[stack] = build(run, config.project)
    return {stack: results[stack] for stack in requested}
