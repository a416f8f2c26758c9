"""The dependency graph of a rendered stack, and its critical path.

The engine creates a custom resource only after everything it waits for
exists: its dependencies (property and explicit `dependsOn`), its provider and
a custom parent. Components are not created by the engine at all, so they wait
for nothing and take no time. The SDK already expands a dependency on a
component into the component's custom descendants, so every edge here joins
two custom resources.

The critical path is the longest chain of such waits. With every resource
counted as one step, its length is the number of creations that `pulumi up`
must run one after another, whatever its parallelism.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def wait_edges(document: Mapping[str, Any]) -> dict[str, set[str]]:
    """Map the URN of every custom resource to the URNs of the custom resources it waits for."""
    resources = {resource["urn"]: resource for resource in document["resources"]}
    custom = {urn for urn, resource in resources.items() if resource["custom"]}
    edges: dict[str, set[str]] = {}
    for urn in sorted(custom):
        resource = resources[urn]
        waits = set(resource["dependencies"])
        if resource["provider"]:
            waits.add(resource["provider"])
        if resource["parent"] in custom:
            waits.add(resource["parent"])
        edges[urn] = {dependency for dependency in waits if dependency in custom}
    return edges


def critical_path(document: Mapping[str, Any]) -> list[str]:
    """Return the URNs of the longest chain of waits, first creation first.

    Among chains of the same length the one with the smallest URNs wins, so
    the result is stable from run to run.
    """
    edges = wait_edges(document)
    longest: dict[str, list[str]] = {}

    def chain_to(urn: str) -> list[str]:
        if urn in longest:
            return longest[urn]
        best: list[str] = []
        for dependency in sorted(edges[urn]):
            candidate = chain_to(dependency)
            if len(candidate) > len(best):
                best = candidate
        longest[urn] = [*best, urn]
        return longest[urn]

    result: list[str] = []
    for urn in sorted(edges):
        candidate = chain_to(urn)
        if len(candidate) > len(result):
            result = candidate
    return result


def waits_on(edges: Mapping[str, set[str]], urn: str) -> set[str]:
    """Return every resource that `urn` waits for, directly or through others."""
    seen: set[str] = set()
    pending = list(edges.get(urn, ()))
    while pending:
        dependency = pending.pop()
        if dependency not in seen:
            seen.add(dependency)
            pending.extend(edges.get(dependency, ()))
    return seen
