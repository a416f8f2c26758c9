"""Load the model from Pulumi config and the catalogue file, or fail with every problem.

A Pulumi program that registers fewer resources than the last run makes
`pulumi up` delete the rest, so a bad config must stop the program before it
registers anything. `load` collects every problem first and raises one
ConfigError with one line per problem: the key path, what is wrong, the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from config import refs
from config.checks import check_edge, check_model, check_ports, service_values
from config.model import Catalogue, Model, Site
from config.refs import CATALOGUE_PATH
from config.topology import derive

# Pulumi config keys (without the project namespace) and the Site field each sets.
SITE_KEYS = {
    "domain": "domain",
    "cloudflareAccountId": "cloudflare_account_id",
    "cloudflareZoneId": "cloudflare_zone_id",
    "ingressMode": "ingress_mode",
    "identityHost": "identity_host",
    "upstreamStack": "upstream_stack",
    "tailnetDomain": "tailnet_domain",
    "adminUsers": "admin_users",
    "adminSshKeys": "admin_ssh_keys",
    "rebuildServer": "rebuild_server",
}
LIST_KEYS = {"adminUsers", "adminSshKeys"}


class ConfigError(Exception):
    """A bad config, with one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def __str__(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"invalid configuration, {count} {noun}:\n{lines}"


def format_location(location: tuple[int | str, ...]) -> str:
    """Join a pydantic error location into a key path such as `services.wiki.hosts[1]`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


def describe_errors(error: ValidationError, prefix: str, names: Mapping[str, str]) -> list[str]:
    """Turn pydantic errors into `key: problem` lines, with config key names restored."""
    problems: list[str] = []
    for item in error.errors():
        location = tuple(item["loc"])
        if location and isinstance(location[0], str) and location[0] in names:
            location = (names[location[0]], *location[1:])
        path = format_location(location)
        key = f"{prefix}{path}" if prefix and path else prefix.rstrip(".") or path
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        elif item["type"] == "missing":
            message = "missing required key; add it"
        problems.append(f"{key}: {message}")
    return problems


def parse_config_value(key: str, raw: str) -> Any:
    """Decode one Pulumi config value; lists arrive as JSON text."""
    if key in LIST_KEYS:
        value: Any = json.loads(raw) if raw else []
        if not isinstance(value, list):
            raise ValueError("expected a list")
        items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return [str(item) for item in items]
    return raw


def load_site(project: str, stack: str, config: Mapping[str, str]) -> tuple[Site | None, list[str]]:
    """Build the Site from `project:key` config values."""
    fields: dict[str, Any] = {"project": project, "stack": stack}
    problems: list[str] = []
    for key, field in SITE_KEYS.items():
        raw = config.get(f"{project}:{key}")
        if raw is None:
            continue
        try:
            fields[field] = parse_config_value(key, raw)
        except ValueError as error:
            problems.append(f"{project}:{key}: invalid value ({error}); set a JSON list")
    names = {field: f"{project}:{key}" for key, field in SITE_KEYS.items()}
    try:
        return Site.model_validate(fields), problems
    except ValidationError as error:
        return None, problems + describe_errors(error, "", names)


def load_catalogue(text: str, source: str) -> tuple[Catalogue | None, list[str]]:
    """Parse and validate the catalogue YAML."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return None, [f"{source}: invalid YAML ({error}); fix the syntax"]
    if not isinstance(data, dict):
        return None, [f"{source}: expected a mapping with `hosts` and `services`"]
    try:
        return Catalogue.model_validate(data), []
    except ValidationError as error:
        return None, describe_errors(error, "", {})


def required_secrets(model: Model) -> dict[str, list[str]]:
    """Map each `${config:KEY}` that this stack's services read to the key paths reading it."""
    readers: dict[str, list[str]] = {}
    for name, service in model.catalogue.services.items():
        if model.site.stack not in model.service_hosts(name):
            continue
        for suffix, value in service_values(service):
            for reference in refs.references(value):
                if reference.kind == "config":
                    key = f"{model.site.project}:{reference.argument}"
                    readers.setdefault(key, []).append(f"services.{name}.{suffix}")
    return readers


def missing_secrets(model: Model, config: Mapping[str, str]) -> list[str]:
    """Return a problem for each secret that a service of this stack reads but nobody set."""
    stack = model.site.stack
    return [
        f"{key}: missing secret, read by {readers[0]}; run "
        f"`pulumi config set --secret {key} <value> --stack {stack}`"
        for key, readers in sorted(required_secrets(model).items())
        if key not in config
    ]


def load(
    project: str,
    stack: str,
    config: Mapping[str, str],
    catalogue_text: str | None = None,
) -> Model:
    """Return the validated model, or raise ConfigError listing every problem.

    `config` maps `project:key` to the values that are set; for secrets, only
    whether they are set matters.
    """
    text = catalogue_text if catalogue_text is not None else CATALOGUE_PATH.read_text()
    site, problems = load_site(project, stack, config)
    catalogue, catalogue_problems = load_catalogue(text, "catalogue")
    problems += catalogue_problems
    if site is None or catalogue is None:
        raise ConfigError(problems)
    model = Model(site=site, catalogue=catalogue)
    problems += check_model(model)
    if not problems:
        topology = derive(model)
        problems += check_ports(topology)
        problems += check_edge(topology)
        problems += missing_secrets(model, config)
    if problems:
        raise ConfigError(problems)
    return model
