"""Rules that keep secrets secret and data alive."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy.resources import (
    DOCKER_CONTAINER,
    HCLOUD_SERVER,
    HCLOUD_VOLUME,
    LOCAL_COMMAND,
    RANDOM_PASSWORD,
    RANDOM_STRING,
    REMOTE_COMMAND,
    STACK_REFERENCE,
    STATEFUL_TYPES,
    TAILNET_KEY,
    Context,
    Resource,
    Violation,
    as_list,
    as_mapping,
    leaves,
    reveal,
)

# Outputs that carry a generated secret, per resource type.
SECRET_OUTPUTS = {
    RANDOM_PASSWORD: ("result", "bcryptHash"),
    RANDOM_STRING: ("result",),
    TAILNET_KEY: ("key",),
}
# Inputs that end up on a process command line, where `ps` and `docker
# inspect` show them.
COMMAND_LINE_INPUTS = {
    DOCKER_CONTAINER: ("command", "entrypoints", "healthcheck"),
    REMOTE_COMMAND: ("create", "update", "delete"),
    LOCAL_COMMAND: ("create", "update", "delete"),
}
# Shorter values could match ordinary text by chance. Every generated secret
# has at least 16 characters (SecretSpec in config/model.py).
MIN_SECRET_LENGTH = 8
# Hetzner's limit on the user data of a server.
USER_DATA_LIMIT_BYTES = 32 * 1024


def check_random_password(resource: Resource, context: Context) -> list[str]:
    """Check that generated secrets come from RandomPassword."""
    if resource.type != RANDOM_STRING:
        return []
    return [
        "is a RandomString, whose result Pulumi stores and shows in plain text; generate "
        "secrets with RandomPassword"
    ]


def check_data_protected(resource: Resource, context: Context) -> list[str]:
    """Check that stateful resources are protected and kept when deleted."""
    if resource.type not in STATEFUL_TYPES:
        return []
    what = STATEFUL_TYPES[resource.type]
    messages: list[str] = []
    if not resource.protect:
        messages.append(
            f"is a {what} but not protected, so Pulumi deletes it when it leaves the "
            "program; set protect=True"
        )
    if resource.retain_on_delete is False:
        messages.append(
            f"is a {what} but not retained on delete, so a deletion destroys the data; "
            "set retain_on_delete=True"
        )
    if resource.type not in (HCLOUD_SERVER, HCLOUD_VOLUME):
        return messages
    inputs = as_mapping(reveal(resource.inputs))
    if inputs.get("deleteProtection") is not True:
        messages.append(
            "has no Hetzner delete protection, so the console or the API can delete it; "
            "set delete_protection=True"
        )
    if resource.type == HCLOUD_SERVER and inputs.get("rebuildProtection") != inputs.get(
        "deleteProtection"
    ):
        messages.append(
            "has rebuild_protection different from delete_protection, which Hetzner "
            "rejects; set both to True"
        )
    return messages


def check_server_ignore_changes(resource: Resource, context: Context) -> list[str]:
    """Check that a server ignores the inputs whose change makes Hetzner replace it."""
    if resource.type != HCLOUD_SERVER:
        return []
    return [
        f"does not ignore changes to {name}, and a change to it replaces the server and "
        f"its disk; add {name} to ignore_changes"
        for name in ("userData", "sshKeys")
        if name not in resource.ignore_changes
    ]


def check_user_data_size(resource: Resource, context: Context) -> list[str]:
    """Check that the user data of a server fits Hetzner's limit."""
    if resource.type != HCLOUD_SERVER:
        return []
    user_data = reveal(resource.inputs.get("userData"))
    if not isinstance(user_data, str):
        return []
    size = len(user_data.encode())
    if size <= USER_DATA_LIMIT_BYTES:
        return []
    return [
        f"has {size} bytes of user data, above Hetzner's limit of {USER_DATA_LIMIT_BYTES}; "
        "move files out of cloud-init"
    ]


def check_unique_urns(resources: Sequence[Resource], context: Context) -> list[Violation]:
    """Check that no two resources share a URN, which the engine rejects."""
    counts = Counter(resource.urn for resource in resources)
    return [
        Violation(
            urn,
            "unique-urn",
            f"{count} resources share this URN, and the engine rejects the deployment; "
            "give them different names",
        )
        for urn, count in sorted(counts.items())
        if count > 1
    ]


def string_leaves(value: Any) -> set[str]:
    """Return every string inside a value, markers removed."""
    return {item for _, item, _ in leaves(value) if isinstance(item, str)}


def generated_secrets(resources: Sequence[Resource], outputs: Mapping[str, Any]) -> frozenset[str]:
    """Return every secret value that the resources and the stack exports reveal.

    These are the outputs of secret generators, the secret outputs of stack
    references, and every value inside a secret marker of the stack's exports.
    """
    found: set[str] = set()
    for resource in resources:
        for name in SECRET_OUTPUTS.get(resource.type, ()):
            found |= string_leaves(resource.outputs.get(name))
        if resource.type == STACK_REFERENCE:
            exported = as_mapping(resource.outputs.get("outputs"))
            for name in as_list(resource.outputs.get("secretOutputNames")):
                found |= string_leaves(exported.get(str(name)))
    found |= {value for _, value, secret in leaves(outputs) if secret and isinstance(value, str)}
    return frozenset(value for value in found if len(value) >= MIN_SECRET_LENGTH)


def all_secrets(resources: Sequence[Resource], context: Context) -> frozenset[str]:
    """Return the generated secrets and the context's known secrets that are long enough."""
    known = {value for value in context.secret_values if len(value) >= MIN_SECRET_LENGTH}
    return generated_secrets(resources, context.outputs) | known


def contains_secret(text: Any, secrets: frozenset[str]) -> bool:
    """Return whether a value is a string that contains any of the secrets."""
    # map() keeps the scan in C: a generator here made this check the largest
    # cost of rendering a 25 times larger catalogue.
    return isinstance(text, str) and any(map(text.__contains__, secrets))


def exposed_inputs(resource: Resource) -> Iterator[tuple[str, str]]:
    """Yield (input name, kind of place) of the inputs that people and tools can read."""
    for name in COMMAND_LINE_INPUTS.get(resource.type, ()):
        yield name, "command line"
    yield "labels", "label"


def check_secret_exposure(resources: Sequence[Resource], context: Context) -> list[Violation]:
    """Check that no secret value appears in a name, a command line, a label or a plain export.

    A secret marker in a command line or a label is a violation too: the
    engine hides it in the state, but the process list and the label do not.
    """
    secrets = all_secrets(resources, context)
    violations: list[Violation] = []
    for resource in resources:
        if contains_secret(resource.name, secrets) or contains_secret(resource.urn, secrets):
            violations.append(
                Violation(
                    resource.urn,
                    "secret-exposed",
                    "the resource name contains a secret value; build names from keys, "
                    "never from values",
                )
            )
        for name, place in exposed_inputs(resource):
            for path, value, secret in leaves(resource.inputs.get(name), name):
                if (secret and context.secret_markers) or contains_secret(value, secrets):
                    violations.append(
                        Violation(
                            resource.urn,
                            "secret-exposed",
                            f"input {path} puts a secret in a {place}, where anyone who can "
                            "inspect the host or the container reads it; pass it in an "
                            "environment variable or a file",
                        )
                    )
    if not context.secret_markers:
        return violations
    for path, value, secret in leaves(context.outputs):
        if not secret and contains_secret(value, secrets):
            violations.append(
                Violation(
                    f"output {path}",
                    "secret-exposed",
                    "the stack exports a secret value in plain text; export it with "
                    "pulumi.Output.secret",
                )
            )
    return violations


def check_secret_marked(resources: Sequence[Resource], context: Context) -> list[Violation]:
    """Check that every input carrying a secret value is secret in the engine's eyes."""
    if not context.secret_markers:
        return []
    secrets = all_secrets(resources, context)
    return [
        Violation(
            resource.urn,
            "secret-marked",
            f"input {path} carries a secret value but is not secret, so the state and the "
            "preview show it; wrap it with pulumi.Output.secret",
        )
        for resource in resources
        for path, value, secret in leaves(resource.inputs)
        if not secret and contains_secret(value, secrets)
    ]
