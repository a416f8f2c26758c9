"""Build the render of one stack: the JSON document and the preview-like tree."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from render.engine import Registration, StackRun
from render.redact import contains_secret, redact


@dataclass
class Rendered:
    """One stack's desired state, with secrets redacted in `document`."""

    run: StackRun
    document: dict[str, Any]

    @property
    def stack(self) -> str:
        return self.run.stack

    def json_text(self) -> str:
        return json.dumps(self.document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def resource_document(registration: Registration, stack_urn: str) -> dict[str, Any]:
    """Return the JSON form of one registration."""
    return {
        "urn": registration.urn,
        "id": registration.id,
        "type": registration.type,
        "name": registration.name,
        "custom": registration.custom,
        "parent": registration.parent or stack_urn,
        "provider": registration.provider,
        "dependencies": registration.dependencies,
        "options": {
            "protect": registration.protect,
            "retainOnDelete": registration.retain_on_delete,
            "ignoreChanges": registration.ignore_changes,
            "deleteBeforeReplace": registration.delete_before_replace,
            "dependsOn": registration.depends_on,
            "aliases": registration.aliases,
        },
        "inputs": redact(registration.inputs),
        "secretInputs": sorted(
            key for key, value in registration.inputs.items() if contains_secret(value)
        ),
    }


def build(run: StackRun, project: str) -> Rendered:
    """Return the render of a recorded stack run."""
    stack_urn = f"urn:pulumi:{run.stack}::{project}::pulumi:pulumi:Stack::{project}-{run.stack}"
    resources = sorted(
        (resource_document(item, stack_urn) for item in run.registrations),
        key=lambda resource: resource["urn"],
    )
    document = {
        "stack": run.stack,
        "resources": resources,
        "outputs": redact(run.outputs),
    }
    return Rendered(run, document)


def tree_lines(rendered: Rendered) -> list[str]:
    """Return the preview-like tree: the stack, each component, then its children."""
    resources = rendered.document["resources"]
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    urns = {resource["urn"] for resource in resources}
    root = ""
    for resource in resources:
        parent = resource["parent"] if resource["parent"] in urns else ""
        root = root or (resource["parent"] if not parent else "")
        children[parent].append(resource)

    lines = [f"{rendered.stack}  pulumi:pulumi:Stack"]

    def walk(parent: str, prefix: str) -> None:
        items = sorted(children.get(parent, []), key=lambda item: (item["type"], item["name"]))
        for index, item in enumerate(items):
            last = index == len(items) - 1
            branch = "└─ " if last else "├─ "
            marks = []
            if item["options"]["protect"]:
                marks.append("protected")
            if item["secretInputs"]:
                marks.append(f"secret: {', '.join(item['secretInputs'])}")
            suffix = f"  [{'; '.join(marks)}]" if marks else ""
            lines.append(f"{prefix}{branch}{item['type']}  {item['name']}{suffix}")
            walk(item["urn"], prefix + ("   " if last else "│  "))

    walk("", "")
    return lines


def counted(count: int, noun: str) -> str:
    """Return a count with its noun, in the singular for exactly one: `1 output`, `2 outputs`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_line(rendered: Rendered) -> str:
    """Return the per-stack count line."""
    resources = rendered.document["resources"]
    components = sum(1 for resource in resources if not resource["custom"])
    protected = sum(1 for resource in resources if resource["options"]["protect"])
    secret_inputs = sum(len(resource["secretInputs"]) for resource in resources)
    return (
        f"{rendered.stack}: {counted(len(resources), 'resource')} "
        f"({counted(components, 'component')}, {len(resources) - components} custom), "
        f"{protected} protected, {counted(secret_inputs, 'secret input')} redacted, "
        f"{counted(len(rendered.document['outputs']), 'output')}"
    )
