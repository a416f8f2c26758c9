"""Compare a render with an earlier `--json` render: what would be created, changed, deleted.

Both sides are redacted documents, so secret values are never compared or
printed: a changed password shows no difference. A change to an input that
the provider cannot update in place replaces the resource, and a stateful
resource that would be deleted or replaced is named on a `DATA LOSS:` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policy.resources import (
    DOCKER_VOLUME,
    HCLOUD_SERVER,
    HCLOUD_VOLUME,
    RANDOM_PASSWORD,
    STATEFUL_TYPES,
    TUNNEL,
)

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

    @property
    def has_changes(self) -> bool:
        return bool(self.created or self.deleted or self.changed or self.outputs)


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
        # The engine asks the provider's DiffConfig whether a provider change
        # replaces the resource (pulumi/pulumi#18509). The render cannot ask,
        # so it assumes a replacement, which is the loud and safe answer.
        fields.append("provider")
        replaced_by.append("provider")
    if not fields:
        return None
    return Change(after["urn"], after["type"], fields, replaced_by)


def is_at_risk(resource: dict[str, Any]) -> bool:
    """Return whether losing a resource loses data: stateful types and protected resources."""
    return resource["type"] in AT_RISK_TYPES or bool(resource["options"].get("protect"))


def compare(before: dict[str, Any], after: dict[str, Any]) -> StackDiff:
    """Return the differences between an earlier document and the current one."""
    old = {resource["urn"]: resource for resource in before["resources"]}
    new = {resource["urn"]: resource for resource in after["resources"]}
    result = StackDiff(after["stack"])
    result.created = sorted(set(new) - set(old))
    result.deleted = [old[urn] for urn in sorted(set(old) - set(new))]
    for urn in sorted(set(old) & set(new)):
        change = compare_resource(old[urn], new[urn])
        if change is None:
            result.unchanged += 1
        else:
            result.changed.append(change)
    old_outputs, new_outputs = before.get("outputs", {}), after.get("outputs", {})
    result.outputs = sorted(
        name
        for name in set(old_outputs) | set(new_outputs)
        if old_outputs.get(name) != new_outputs.get(name)
    )
    result.at_risk = data_loss_lines(result, old)
    return result


def data_loss_lines(result: StackDiff, old: dict[str, dict[str, Any]]) -> list[str]:
    """Return a `DATA LOSS:` line for each at-risk resource that would go away."""
    lines = [
        f"DATA LOSS: {resource['urn']} (stateful) would be deleted"
        for resource in result.deleted
        if is_at_risk(resource)
    ]
    lines += [
        f"DATA LOSS: {change.urn} (stateful) would be replaced, because "
        f"{', '.join(change.replaced_by)} changed"
        for change in result.changed
        if change.replaces and is_at_risk(old[change.urn])
    ]
    return lines


def report_lines(result: StackDiff, baseline: str) -> list[str]:
    """Return the printed report of one stack's diff, ending with its summary line."""
    lines = [f"{result.stack}: compared with {baseline}"]
    lines += [f"  +  create  {urn}" for urn in result.created]
    for change in result.changed:
        step = "+- replace" if change.replaces else "~  update "
        lines.append(f"  {step} {change.urn} ({', '.join(change.fields)})")
    lines += [f"  -  delete  {resource['urn']}" for resource in result.deleted]
    lines += [f"  ~  output  {name}" for name in result.outputs]
    lines += result.at_risk
    lines.append(summary_line(result))
    return lines


def summary_line(result: StackDiff) -> str:
    """Return the count line of one stack's diff."""
    if not result.has_changes:
        return f"{result.stack}: no changes ({result.unchanged} unchanged)"
    replaced = sum(1 for change in result.changed if change.replaces)
    return (
        f"{result.stack}: {len(result.created)} to create, "
        f"{len(result.changed) - replaced} to update, {replaced} to replace, "
        f"{len(result.deleted)} to delete, {len(result.outputs)} outputs changed, "
        f"{result.unchanged} unchanged, {len(result.at_risk)} at risk of data loss"
    )
