"""Parse the `${kind:argument}` references in catalogue values."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
# Environment variable that points the program, the renderer and the policy
# pack at another catalogue file, for tests and for trying out a change.
CATALOGUE_VARIABLE = "KITESTACKS_CATALOGUE"
REFERENCE = re.compile(r"\$\{(?P<kind>[a-z]+)(?::(?P<argument>[^}]*))?\}")

# Reference kinds and whether each takes an argument.
KINDS = {
    "secret": True,
    "config": True,
    "host": True,
    "port": True,
    "url": True,
    "domain": False,
    "tunnel": True,
    "sso": True,
}

SSO_FIELDS = ("client_id", "client_secret", "issuer")


@dataclass(frozen=True)
class Reference:
    """One `${kind:argument}` occurrence."""

    kind: str
    argument: str

    def __str__(self) -> str:
        return f"${{{self.kind}:{self.argument}}}" if self.argument else f"${{{self.kind}}}"


def split(value: str) -> list[str | Reference]:
    """Split a value into literal text and references, in order."""
    parts: list[str | Reference] = []
    position = 0
    for match in REFERENCE.finditer(value):
        if match.start() > position:
            parts.append(value[position : match.start()])
        parts.append(Reference(match.group("kind"), match.group("argument") or ""))
        position = match.end()
    if position < len(value):
        parts.append(value[position:])
    return parts


def references(value: str) -> list[Reference]:
    """Return the references in a value."""
    return [part for part in split(value) if isinstance(part, Reference)]


def unterminated(value: str) -> bool:
    """Return whether a value contains a `${` that no reference consumed."""
    return "${" in REFERENCE.sub("", value)


def catalogue_path() -> Path:
    """Return the catalogue file: $KITESTACKS_CATALOGUE when set, else config/catalogue.yaml."""
    override = os.environ.get(CATALOGUE_VARIABLE)
    return Path(override) if override else CATALOGUE_PATH


def config_keys(catalogue_text: str | None = None) -> list[str]:
    """Return every key named by a `${config:KEY}` reference in the catalogue's values.

    Comments are not values: the catalogue's header documents `${config:KEY}`
    itself. A catalogue file that is missing, or not valid YAML, names no
    keys, so that load() reports the problem with its own message.
    """
    if catalogue_text is None:
        path = catalogue_path()
        if not path.is_file():
            return []
        catalogue_text = path.read_text()
    return list(keys_in(catalogue_text))


# The program and the renderer read the keys of the same text several times
# per stack, and parsing a large catalogue is the costly part.
@functools.lru_cache(maxsize=4)
def keys_in(catalogue_text: str) -> tuple[str, ...]:
    """Return the sorted `${config:KEY}` keys of a catalogue text, or none if it is invalid."""
    # libyaml's loader, where PyYAML has it, parses several times faster.
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data: Any = yaml.load(catalogue_text, Loader=loader)
    except yaml.YAMLError:
        return ()
    return tuple(
        sorted(
            {
                reference.argument
                for value in strings_in(data)
                for reference in references(value)
                if reference.kind == "config" and reference.argument
            }
        )
    )


def strings_in(data: Any) -> Iterator[str]:
    """Yield every string inside parsed YAML data."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for item in cast("dict[Any, Any]", data).values():
            yield from strings_in(item)
    elif isinstance(data, list):
        for item in cast("list[Any]", data):
            yield from strings_in(item)
