"""Read a stack's config the way the Pulumi CLI would, from the project and stack files.

Secrets cannot be decrypted here, and pull requests from forks have none: a
secret that is encrypted in the stack file, or declared in Pulumi.yaml and not
set, gets a marked placeholder so the program still runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.refs import config_keys

UNSET_MARK = "<unset:"


def placeholder(key: str) -> str:
    """Return the placeholder value of a secret config key that is not available."""
    return f"{UNSET_MARK}{key}>"


@dataclass
class StackConfig:
    """Config values of one stack, as `namespace:key` to string."""

    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str]


def encode(value: Any) -> str:
    """Encode a YAML config value as the string the Pulumi runtime hands to programs."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def read_stack_config(root: Path, stack: str) -> StackConfig:
    """Merge project defaults and the stack file into the config the program sees."""
    project_document = yaml.safe_load((root / "Pulumi.yaml").read_text())
    project = str(project_document["name"])
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    declared_secrets: list[str] = []

    for key, spec in (project_document.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict):
            if "value" in spec:
                values[full_key] = encode(spec["value"])
            elif "default" in spec:
                values[full_key] = encode(spec["default"])
            if spec.get("secret") is True:
                declared_secrets.append(full_key)
        else:
            values[full_key] = encode(spec)

    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(
            f"{stack_file.name} not found; create it or name one of the stacks that exist"
        )
    stack_document = yaml.safe_load(stack_file.read_text()) or {}
    for key, value in (stack_document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = placeholder(key)
            secret_keys.append(key)
        else:
            values[key] = encode(value)

    # Secrets that the catalogue reads through ${config:KEY} references.
    declared_secrets += [f"{project}:{key}" for key in config_keys()]
    for key in declared_secrets:
        if key not in values:
            values[key] = placeholder(key)
        secret_keys.append(key)
    return StackConfig(project, stack, values, sorted(set(secret_keys)))


def stack_names(root: Path) -> list[str]:
    """Return the stacks that have a stack file."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in root.glob("Pulumi.*.yaml"))
