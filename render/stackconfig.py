"""Read a stack's config the way the Pulumi CLI would, from the project and stack files.

Secrets cannot be decrypted here, and pull requests from forks have none: a
secret that is encrypted in the stack file, or declared in Pulumi.yaml and not
set, gets a marked placeholder so the program still runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

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


# Top-level keys of a stack settings file, from Pulumi's stack settings file
# reference (pulumi.com/docs/iac/concepts/projects/stack-settings-file).
STACK_FILE_KEYS = ("config", "encryptedkey", "encryptionsalt", "environment", "secretsprovider")


class StackFileError(Exception):
    """A project or stack file that cannot be read, or whose content is invalid.

    `usage` is true when the file is missing or unreadable, which the command
    line reports as a usage error, and false when its content is wrong.
    """

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def read_yaml(path: Path, missing_fix: str) -> Any:
    """Parse a YAML file, or raise StackFileError naming the file, the problem and the fix."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackFileError(f"{path.name}: file not found; {missing_fix}", usage=True) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise StackFileError(
            f"{path.name}: cannot be read ({reason}); make it a readable UTF-8 file",
            usage=True,
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StackFileError(
            f"{path.name}: invalid YAML{where}: {error.problem or error.context}; "
            "fix the syntax, for example the indentation or a missing colon"
        ) from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name}: invalid YAML: {error}; fix the syntax") from None


def mapping_of(value: Any, where: str, fix: str) -> dict[str, Any]:
    """Return a YAML mapping, treating an empty value as empty, or raise StackFileError."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackFileError(f"{where}: is a {yaml_kind(value)}, not a mapping; {fix}")
    return cast("dict[str, Any]", value)


def yaml_kind(value: Any) -> str:
    """Return the YAML name of a parsed value's type, for messages."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def read_project(root: Path) -> tuple[str, dict[str, Any]]:
    """Return the project name and the `config` mapping of Pulumi.yaml."""
    path = root / "Pulumi.yaml"
    document = mapping_of(
        read_yaml(path, "run the renderer from the project root"),
        path.name,
        "write the project settings as `key: value` lines",
    )
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise StackFileError(f"{path.name}: name: missing or not a string; set the project name")
    config = mapping_of(
        document.get("config"), f"{path.name}: config", "write each key as `key: value`"
    )
    return name, config


def read_stack_file(root: Path, stack: str) -> dict[str, Any]:
    """Return the `config` mapping of Pulumi.<stack>.yaml, rejecting keys Pulumi does not know."""
    path = root / f"Pulumi.{stack}.yaml"
    document = mapping_of(
        read_yaml(path, "restore it from git, or create it with a `config:` mapping"),
        path.name,
        "write the stack settings as `config:` with a mapping under it",
    )
    unknown = sorted(str(key) for key in document if key not in STACK_FILE_KEYS)
    if unknown:
        raise StackFileError(
            f"{path.name}: unknown top-level key {', '.join(repr(key) for key in unknown)}; "
            f"a stack file may contain only {', '.join(STACK_FILE_KEYS)}"
        )
    return mapping_of(
        document.get("config"),
        f"{path.name}: config",
        "write each setting as `namespace:key: value` under `config:`",
    )


def is_secure(value: Any) -> bool:
    """Return whether a stack file value is an encrypted `secure:` value."""
    return isinstance(value, dict) and set(cast("dict[str, Any]", value)) == {"secure"}


def read_stack_config(root: Path, stack: str) -> StackConfig:
    """Merge project defaults and the stack file into the config the program reads.

    Raises StackFileError when either file is missing, unreadable or invalid,
    or when the stack file stores a secret in plain text.
    """
    project, project_config = read_project(root)
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    declared_secrets: list[str] = []

    for key, spec in project_config.items():
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

    # Secrets that the catalogue reads through ${config:KEY} references.
    declared_secrets += [f"{project}:{key}" for key in config_keys()]
    stack_file = f"Pulumi.{stack}.yaml"
    for key, value in read_stack_file(root, stack).items():
        if is_secure(value):
            values[key] = placeholder(key)
            secret_keys.append(key)
        elif (key if ":" in key else f"{project}:{key}") in declared_secrets:
            # The value itself is never part of the message: it is a secret.
            raise StackFileError(
                f"{stack_file}: config: {key}: a secret stored in plain text; remove the line "
                f"and run `pulumi config set --secret {key} --stack {stack}`"
            )
        else:
            values[key] = encode(value)

    for key in declared_secrets:
        if key not in values:
            values[key] = placeholder(key)
        secret_keys.append(key)
    return StackConfig(project, stack, values, sorted(set(secret_keys)))


def stack_names(root: Path) -> list[str]:
    """Return the stacks that have a stack file."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in root.glob("Pulumi.*.yaml"))
