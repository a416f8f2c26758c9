"""Load the model from Pulumi config and the catalogue file, or fail with every problem.

A Pulumi program that registers fewer resources than the last run makes
`pulumi up` delete the rest, so a bad config must stop the program before it
registers anything. `load` collects every problem first and raises one
ConfigError with one line per problem: the key path, what is wrong, the fix.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config import refs
from config.checks import check_edge, check_model, check_ports, service_values
from config.model import Catalogue, Model, Site
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
# Settings that both stacks must agree on, because each stack derives its half
# of the hosts, tunnels and tailnet flows from them. identityHost is left out
# on purpose: while kscloud1 is down, monk alone may switch it.
SHARED_KEYS = ("domain", "ingressMode", "tailnetDomain")
# Config namespaces of the providers this program uses, plus Pulumi's own.
KNOWN_NAMESPACES = ("cloudflare", "command", "docker", "hcloud", "pulumi", "random", "tailscale")


class ConfigError(Exception):
    """A bad config, with one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        # One line per problem, even when a value quoted in a message has a line break.
        self.problems = [problem.replace("\n", "\\n") for problem in problems]
        super().__init__("\n".join(self.problems))

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


def describe_value(value: Any) -> str:
    """Return a value as a problem message quotes it: text in quotes, numbers as they are."""
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value) if isinstance(value, bool | int | float) or value is None else "it"


def describe_kind(value: Any) -> str:
    """Return the YAML kind of a value, for "expected a list, got a mapping" messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else "a value"


def describe_error(item: ErrorDetails) -> str:
    """Return `what is wrong; how to fix it` for one pydantic error.

    Pydantic's own messages name the problem but not the fix, so the common
    error types get a message with a fix. Validators in config/model.py
    raise ValueErrors whose text already has both.
    """
    kind = item["type"]
    value = item["input"]
    context: dict[str, Any] = dict(item.get("ctx") or {})
    quoted = describe_value(value)
    if kind == "value_error":
        return item["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling"
    if kind == "missing":
        return "missing required key; add it"
    if kind in ("less_than_equal", "less_than"):
        limit = context.get("le", context.get("lt"))
        return f"{quoted} is above the maximum {limit}; use a smaller value"
    if kind in ("greater_than_equal", "greater_than"):
        limit = context.get("ge", context.get("gt"))
        return f"{quoted} is below the minimum {limit}; use a larger value"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{quoted} is not a whole number; write an integer such as 8080"
    if kind in ("bool_parsing", "bool_type"):
        return f"{quoted} is not a boolean; write true or false"
    if kind == "string_type":
        return f"expected text, got {describe_kind(value)}; quote the value"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {describe_kind(value)}; write a YAML list such as [a, b]"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {describe_kind(value)}; write `key: value` entries"
    if kind == "too_short":
        return f"needs at least {context.get('min_length')} item(s); add the missing ones"
    if kind == "string_too_short":
        return "must not be empty; set a value"
    if kind == "string_pattern_mismatch":
        return f"{quoted} does not match the pattern {context.get('pattern')}; change it to match"
    if kind == "literal_error":
        return f"invalid value {quoted}; use {context.get('expected')}"
    if kind in ("ip_v4_address", "ip_any_address"):
        return f"{quoted} is not an IPv4 address; write one such as 100.101.10.10"
    return f"{item['msg']}; fix the value"


def describe_errors(error: ValidationError, prefix: str, names: Mapping[str, str]) -> list[str]:
    """Turn pydantic errors into `key: problem; fix` lines, with config key names restored."""
    problems: list[str] = []
    for item in error.errors():
        location = tuple(item["loc"])
        if location and isinstance(location[0], str) and location[0] in names:
            location = (names[location[0]], *location[1:])
        path = format_location(location)
        key = f"{prefix}{path}" if prefix and path else prefix.rstrip(".") or path
        problems.append(f"{key}: {describe_error(item)}")
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


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping that names the same key twice; YAML loaders keep the last silently."""


# libyaml's parser, where PyYAML was built with it, reads a large catalogue
# about ten times faster than the pure Python one, with the same results.
FastSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyCheck:
    """A loader mixin that rejects duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            loader: Any = self
            key: Any = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKeyError(
                    problem=f"duplicate key '{key}'", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class UniqueKeyLoader(UniqueKeyCheck, FastSafeLoader):
    """A safe YAML loader, on libyaml where available, that rejects duplicate keys."""


class DescriptiveUniqueKeyLoader(UniqueKeyCheck, yaml.SafeLoader):
    """The pure Python loader, whose syntax errors name the token it expected."""


def describe_yaml_error(error: yaml.YAMLError, source: str) -> str:
    """Return one problem line for a YAML syntax error, with its line and column."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if isinstance(error, DuplicateKeyError):
            return f"{source}: {error.problem} at {where}; remove or rename one of them"
        return f"{source}: invalid YAML at {where}: {error.problem}; fix the syntax"
    return f"{source}: invalid YAML ({' '.join(str(error).split())}); fix the syntax"


def load_catalogue(text: str, source: str) -> tuple[Catalogue | None, list[str]]:
    """Parse and validate the catalogue YAML."""
    catalogue, problems = validated_catalogue(text, source)
    return catalogue, list(problems)


# The renderer and the tests run several stacks' programs in one process, each
# loading the same catalogue text. The model is frozen and no caller changes
# its mappings, so one copy serves all.
@functools.lru_cache(maxsize=4)
def validated_catalogue(text: str, source: str) -> tuple[Catalogue | None, tuple[str, ...]]:
    """Return the validated catalogue of a YAML text, or None and its problems."""
    try:
        # UniqueKeyLoader is a SafeLoader, so the text cannot construct Python objects.
        data = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError:
        try:
            yaml.load(text, Loader=DescriptiveUniqueKeyLoader)
        except yaml.YAMLError as error:
            return None, (describe_yaml_error(error, source),)
        raise
    if not isinstance(data, dict):
        return None, (
            f"{source}: expected a mapping with `hosts` and `services`, got "
            f"{describe_kind(data)}; write `hosts:` and `services:` at the top level",
        )
    try:
        return Catalogue.model_validate(data), ()
    except ValidationError as error:
        return None, tuple(describe_errors(error, "", {}))


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
    """Return a problem for each secret that a service of this stack reads but is not set."""
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
    if catalogue_text is None:
        path = refs.catalogue_path()
        if not path.is_file():
            raise ConfigError(
                [
                    f"{path}: catalogue file not found; set {refs.CATALOGUE_VARIABLE} to an "
                    "existing file, or unset it to use config/catalogue.yaml"
                ]
            )
        catalogue_text = path.read_text()
    text = catalogue_text
    site, problems = load_site(project, stack, config)
    catalogue, catalogue_problems = load_catalogue(text, "catalogue")
    problems += catalogue_problems
    # Cross-key checks on a partly parsed site would repeat the same problem.
    if site is None or catalogue is None or problems:
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


def shared_settings(site: Site) -> dict[str, str]:
    """Return the settings that every stack must share, by config key."""
    values = site.model_dump()
    return {key: str(values[SITE_KEYS[key]]) for key in SHARED_KEYS}


def settings_mismatches(site: Site, upstream: Mapping[str, object] | None) -> list[str]:
    """Return a problem for each shared setting that differs from the upstream stack's.

    `upstream` is None before the upstream stack has exported its settings, for
    example on the first preview, and then nothing is compared.
    """
    if upstream is None:
        return []
    own = shared_settings(site)
    return [
        f"{site.project}:{key}: '{own[key]}' on {site.stack} but '{upstream[key]}' on the "
        f"upstream stack {site.upstream_host}; set the same value on both stacks (or only in "
        f"Pulumi.yaml), then run `pulumi up` on {site.upstream_host} first"
        for key in SHARED_KEYS
        if key in upstream and str(upstream[key]) != own[key]
    ]


def unknown_keys(project: str, keys: list[str], secret_keys: list[str]) -> list[str]:
    """Return a problem for each config key that nothing reads, with the closest known key.

    The Pulumi CLI checks only the keys a project declares, so a misspelled
    key would otherwise be ignored without a word.
    """
    known = [f"{project}:{key}" for key in (*SITE_KEYS, *secret_keys)]
    namespaces = (project, *KNOWN_NAMESPACES)
    problems: list[str] = []
    for key in sorted(keys):
        namespace, _, name = key.partition(":")
        if namespace == project and key not in known:
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {guess[0]}? " if guess else ""
            problems.append(
                f"{key}: unknown config key; {hint}remove it with "
                f"`pulumi config rm {key}` or fix its spelling"
            )
        elif namespace not in namespaces and name:
            guess = difflib.get_close_matches(namespace, namespaces, n=1)
            hint = f"did you mean {guess[0]}:{name}? " if guess else ""
            problems.append(
                f"{key}: unknown config namespace '{namespace}'; {hint}use one of "
                f"{', '.join(namespaces)}"
            )
    return problems
