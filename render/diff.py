"""Compare a render with an earlier `--json` render: what would be created, changed, deleted.

Both sides are redacted documents, so secret values are never compared or
printed: a changed password shows no difference. A change to an input that
the provider cannot update in place replaces the resource, and a stateful
resource that would be deleted or replaced is named on a `DATA LOSS:` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

from policy.resources import (
    DOCKER_VOLUME,
    HCLOUD_SERVER,
    HCLOUD_VOLUME,
    RANDOM_PASSWORD,
    STATEFUL_TYPES,
    TUNNEL,
)
from render.document import counted

EVERY_INPUT = frozenset({"*"})

# Inputs whose change makes the provider replace the resource instead of
# updating it, for the types whose replacement loses something. Sources:
# - Docker volume: every input is ForceNew and there is no update function
#   (terraform-provider-docker, internal/provider/resource_docker_volume.go).
# - Hetzner volume: location is ForceNew; name, size and labels update in place
#   (terraform-provider-hcloud, internal/volume/resource.go).
# - Hetzner server: image, location, datacenter, user_data and ssh_keys are
#   ForceNew; server_type is changed in place by a resize with a power cycle
#   (terraform-provider-hcloud, internal/server/resource.go).
# - RandomPassword: every input has RequiresReplace, so a new length or
#   character set generates a new password
#   (terraform-provider-random, internal/provider/resource_password.go).
# - Tunnel: account_id and config_src have RequiresReplace
#   (terraform-provider-cloudflare, internal/services/zero_trust_tunnel_cloudflared/schema.go).
REPLACING_INPUTS: dict[str, frozenset[str]] = {
    DOCKER_VOLUME: EVERY_INPUT,
    HCLOUD_VOLUME: frozenset({"location"}),
    HCLOUD_SERVER: frozenset({"image", "location", "datacenter", "userData", "sshKeys"}),
    RANDOM_PASSWORD: EVERY_INPUT,
    TUNNEL: frozenset({"accountId", "configSrc"}),
}
# Types whose deletion or replacement loses data or breaks what depends on them.
AT_RISK_TYPES = {
    **STATEFUL_TYPES,
    RANDOM_PASSWORD: "generated secret that services on retained volumes still expect",
}
# Resource options whose change the engine records, and so the diff shows.
COMPARED_OPTIONS = ("protect", "retainOnDelete", "ignoreChanges", "deleteBeforeReplace")


@dataclass
class Change:
    """One resource that exists in both renders but differs."""

    urn: str
    type: str
    fields: list[str]
    replaced_by: list[str]
    # The earlier URN of a resource that one of its aliases renamed, else "".
    renamed_from: str = ""

    @property
    def replaces(self) -> bool:
        return bool(self.replaced_by)


@dataclass
class StackDiff:
    """The differences of one stack between an earlier render and the current one."""

    stack: str
    created: list[str] = field(default_factory=lambda: [])
    deleted: list[dict[str, Any]] = field(default_factory=lambda: [])
    changed: list[Change] = field(default_factory=lambda: [])
    outputs: list[str] = field(default_factory=lambda: [])
    unchanged: int = 0
    at_risk: list[str] = field(default_factory=lambda: [])
    # Deletions of protected resources, which make the deployment fail.
    failing: list[str] = field(default_factory=lambda: [])

    @property
    def has_changes(self) -> bool:
        return bool(self.created or self.deleted or self.changed or self.outputs)


# The fields of each resource that the diff reads, with their JSON types.
RESOURCE_FIELDS = {"urn": str, "type": str, "provider": str, "options": dict, "inputs": dict}
# The options that the diff reads, with their JSON types; a missing one is the default.
OPTION_FIELDS: dict[str, tuple[type, ...]] = {
    "protect": (bool,),
    "retainOnDelete": (bool,),
    "ignoreChanges": (list, type(None)),
    "deleteBeforeReplace": (bool,),
    "aliases": (list, type(None)),
}


def json_type(value: Any) -> str:
    """Return the JSON name of a parsed value's type, for messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def baseline_problem(document: dict[str, Any]) -> str | None:
    """Return the first field of an earlier render that the diff cannot read, or None.

    A hand-edited baseline would otherwise stop the diff with a TypeError.
    """
    resources = document.get("resources")
    if not isinstance(resources, list):
        return f"resources: is {json_type(resources)}, not an array of resources"
    for index, item in enumerate(cast("list[Any]", resources)):
        where = f"resources[{index}]"
        if not isinstance(item, dict):
            return f"{where}: is {json_type(item)}, not an object"
        resource = cast("dict[str, Any]", item)
        for key, expected in RESOURCE_FIELDS.items():
            if key not in resource:
                return f"{where}.{key}: missing"
            if not isinstance(resource[key], expected):
                expected_name = "an object" if expected is dict else "a string"
                return f"{where}.{key}: is {json_type(resource[key])}, not {expected_name}"
        options = cast("dict[str, Any]", resource["options"])
        for key, expected_types in OPTION_FIELDS.items():
            value = options.get(key)
            if key in options and not isinstance(value, expected_types):
                return f"{where}.options.{key}: has the wrong type ({json_type(value)})"
            if isinstance(value, list) and not all(
                isinstance(entry, str) for entry in cast("list[Any]", value)
            ):
                return f"{where}.options.{key}: is not an array of strings"
    outputs = document.get("outputs", {})
    if not isinstance(outputs, dict):
        return f"outputs: is {json_type(outputs)}, not an object"
    return None


def changed_inputs(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return the names of the inputs that differ, except those the resource ignores."""
    ignored = set(after["options"].get("ignoreChanges") or [])
    names = set(before["inputs"]) | set(after["inputs"])
    return sorted(
        name
        for name in names
        if name not in ignored and before["inputs"].get(name) != after["inputs"].get(name)
    )


def replacing(resource_type: str, inputs: list[str]) -> list[str]:
    """Return the changed inputs that force the provider to replace a resource."""
    replacing_inputs = REPLACING_INPUTS.get(resource_type, frozenset())
    if replacing_inputs == EVERY_INPUT:
        return inputs
    return [name for name in inputs if name in replacing_inputs]


def compare_resource(before: dict[str, Any], after: dict[str, Any]) -> Change | None:
    """Return how a resource changed between two renders, or None when it did not."""
    inputs = changed_inputs(before, after)
    fields = [f"inputs.{name}" for name in inputs]
    fields += [
        f"options.{name}"
        for name in COMPARED_OPTIONS
        if before["options"].get(name) != after["options"].get(name)
    ]
    replaced_by = replacing(after["type"], inputs)
    if before["provider"] != after["provider"]:
        # The engine calls the provider's DiffConfig to learn whether a provider change
        # replaces the resource (pulumi/pulumi#18509). The render has no provider to call,
        # so it assumes a replacement, which is the loud and safe answer.
        fields.append("provider")
        replaced_by.append("provider")
    if not fields:
        return None
    return Change(after["urn"], after["type"], fields, replaced_by)


def is_at_risk(resource: dict[str, Any]) -> bool:
    """Return whether losing a resource loses data: stateful types and protected resources."""
    return resource["type"] in AT_RISK_TYPES or bool(resource["options"].get("protect"))


# A type token such as `cloudflare:index/tunnel:Tunnel`, which an alias that
# names no URN carries alone when only the type changed.
# NOTE: the recorded alias does not say whether it is a name or a type, so an
# alias name shaped like `a:b:c` is read as a type.
TYPE_TOKEN = re.compile(r"^[\w.-]+:[\w./-]*:[\w.-]+$")
# Fake ids shorter than this are not replaced inside other values, because
# they would match unrelated text.
MIN_REPLACED_ID_LENGTH = 8


def alias_urn(urn: str, alias: str) -> str:
    """Return the earlier URN that one recorded alias of a resource names.

    The render records an alias as a full URN, or as `type::name`, a name or
    a type (see render.engine.alias_name). As in the engine, the parts that
    an alias leaves out are the resource's current ones.
    """
    if alias.startswith("urn:pulumi:"):
        return alias
    stack, project, qualified_type, name = urn.removeprefix("urn:pulumi:").split("::", 3)
    parts = alias.split("::", 1)
    if len(parts) == 2:
        alias_type, alias_name = parts
    elif TYPE_TOKEN.match(alias):
        alias_type, alias_name = alias, name
    else:
        alias_type, alias_name = "", alias
    if alias_type:
        parents, _, _ = qualified_type.rpartition("$")
        qualified_type = f"{parents}${alias_type}" if parents else alias_type
    return f"urn:pulumi:{stack}::{project}::{qualified_type}::{alias_name}"


def match_renames(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """Return the earlier URN of each new resource that one of its aliases renamed.

    An alias matches only a resource that the earlier render has and the
    current one lacks, and each earlier resource is matched at most once.

    NOTE: the engine also carries a parent's aliases to its children, and an
    alias may name another stack, project or parent; the render records none
    of these, so such renames still show as a delete and a create.
    """
    renames: dict[str, str] = {}
    for urn in sorted(set(new) - set(old)):
        for alias in new[urn]["options"].get("aliases") or []:
            earlier = alias_urn(urn, alias)
            if earlier in old and earlier not in new and earlier not in renames.values():
                renames[urn] = earlier
                break
    return renames


def restore_ids(value: Any, ids: dict[str, str]) -> Any:
    """Return a value with each fake id of a renamed resource replaced by its earlier id.

    A renamed resource keeps its id at the provider, but the fake cloud
    derives ids from the name, so inputs that contain the id (a DNS record
    pointing at `<tunnel id>.cfargotunnel.com`) would differ for no reason.
    """
    if isinstance(value, str):
        for new_id, old_id in ids.items():
            value = value.replace(new_id, old_id)
        return value
    if isinstance(value, dict):
        return {key: restore_ids(item, ids) for key, item in cast("dict[str, Any]", value).items()}
    if isinstance(value, list):
        return [restore_ids(item, ids) for item in cast("list[Any]", value)]
    return value


def renamed_ids(
    old: dict[str, Any], new: dict[str, Any], renames: dict[str, str]
) -> dict[str, str]:
    """Return the earlier id of each renamed resource, keyed by its current fake id."""
    ids: dict[str, str] = {}
    for urn, earlier in renames.items():
        new_id, old_id = new[urn].get("id"), old[earlier].get("id")
        if (
            isinstance(new_id, str)
            and isinstance(old_id, str)
            and len(new_id) >= MIN_REPLACED_ID_LENGTH
            and new_id != old_id
        ):
            ids[new_id] = old_id
    return ids


def compare(before: dict[str, Any], after: dict[str, Any]) -> StackDiff:
    """Return the differences between an earlier document and the current one."""
    old = {resource["urn"]: resource for resource in before["resources"]}
    new = {resource["urn"]: resource for resource in after["resources"]}
    renames = match_renames(old, new)
    ids = renamed_ids(old, new, renames)
    if ids:
        new = {
            urn: {**resource, "inputs": restore_ids(resource["inputs"], ids)}
            for urn, resource in new.items()
        }

    result = StackDiff(after["stack"])
    result.created = sorted(set(new) - set(old) - set(renames))
    result.deleted = [old[urn] for urn in sorted(set(old) - set(new) - set(renames.values()))]
    pairs = [(urn, urn) for urn in set(old) & set(new)] + list(renames.items())
    for urn, earlier in sorted(pairs):
        change = compare_resource(old[earlier], new[urn])
        if earlier != urn:
            change = change or Change(urn, new[urn]["type"], [], [])
            change.renamed_from = earlier
        if change is None:
            result.unchanged += 1
        else:
            result.changed.append(change)

    old_outputs = before.get("outputs", {})
    new_outputs = restore_ids(after.get("outputs", {}), ids)
    result.outputs = sorted(
        name
        for name in set(old_outputs) | set(new_outputs)
        if old_outputs.get(name) != new_outputs.get(name)
    )
    result.at_risk = data_loss_lines(result, old)
    result.failing = protected_deletion_lines(result)
    return result


def data_loss_lines(result: StackDiff, old: dict[str, dict[str, Any]]) -> list[str]:
    """Return a `DATA LOSS:` line for each at-risk resource that would go away.

    A protected resource that would be deleted gets a `FAIL:` line from
    protected_deletion_lines instead, because Pulumi does not delete it.
    """
    lines = [
        f"DATA LOSS: {resource['urn']} (stateful) would be deleted"
        for resource in result.deleted
        if is_at_risk(resource) and not is_protected(resource)
    ]
    lines += [
        f"DATA LOSS: {change.urn} (stateful) would be replaced, because "
        f"{', '.join(change.replaced_by)} changed"
        for change in result.changed
        if change.replaces and is_at_risk(old[change.renamed_from or change.urn])
    ]
    return lines


def is_protected(resource: dict[str, Any]) -> bool:
    return resource["options"].get("protect") is True


def protected_deletion_lines(result: StackDiff) -> list[str]:
    """Return a `FAIL:` line for each protected resource that would be deleted.

    Pulumi rejects the deletion of a protected resource, so `pulumi up` fails
    until the resource is unprotected. With retainOnDelete the deletion that
    follows only removes it from the state, and the provider keeps it.
    """
    lines: list[str] = []
    for resource in result.deleted:
        if not is_protected(resource):
            continue
        urn = resource["urn"]
        if resource["options"].get("retainOnDelete") is True:
            afterwards = "the provider then keeps it, because retainOnDelete is set"
        elif is_at_risk(resource):
            afterwards = "its data is then lost"
        else:
            afterwards = "the provider then deletes it"
        lines.append(
            f"FAIL: {urn} (protected) would be deleted, and Pulumi rejects deleting a "
            "protected resource, so the deployment would fail; keep it in the program, or, "
            f"if the deletion is intended, run `pulumi state unprotect '{urn}'` first "
            f"({afterwards})"
        )
    return lines


def report_lines(result: StackDiff, baseline: str) -> list[str]:
    """Return the printed report of one stack's diff, ending with its summary line."""
    lines = [f"{result.stack}: compared with {baseline}"]
    lines += [f"  +  create  {urn}" for urn in result.created]
    for change in result.changed:
        lines.append(f"  {change_step(change)} {change_subject(change)}")
    lines += [f"  -  delete  {resource['urn']}" for resource in result.deleted]
    lines += [f"  ~  output  {name}" for name in result.outputs]
    lines += result.at_risk
    lines += result.failing
    lines.append(summary_line(result))
    return lines


def change_step(change: Change) -> str:
    """Return the step column of a change: replace, rename or update."""
    if change.replaces:
        return "+- replace"
    if change.renamed_from:
        return "~  rename "
    return "~  update "


def change_subject(change: Change) -> str:
    """Return the URN of a change, after its earlier URN when renamed, then its changed fields."""
    subject = f"{change.renamed_from} -> {change.urn}" if change.renamed_from else change.urn
    return f"{subject} ({', '.join(change.fields)})" if change.fields else subject


def summary_line(result: StackDiff) -> str:
    """Return the count line of one stack's diff."""
    if not result.has_changes:
        return f"{result.stack}: no changes ({result.unchanged} unchanged)"
    replaced = sum(1 for change in result.changed if change.replaces)
    renamed = sum(1 for change in result.changed if change.renamed_from and not change.replaces)
    counts = [
        f"{len(result.created)} to create",
        f"{len(result.changed) - replaced - renamed} to update",
        f"{replaced} to replace",
    ]
    if renamed:
        counts.append(f"{renamed} to rename")
    counts += [
        f"{len(result.deleted)} to delete",
        f"{counted(len(result.outputs), 'output')} changed",
        f"{result.unchanged} unchanged",
        f"{len(result.at_risk)} at risk of data loss",
    ]
    if result.failing:
        counts.append(
            f"{counted(len(result.failing), 'protected deletion')} failing the deployment"
        )
    return f"{result.stack}: {', '.join(counts)}"
