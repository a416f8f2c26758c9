"""The policies of the policy pack: the safety rules, wrapped for the Pulumi policy SDK.

policy/__main__.py passes these policies to `PolicyPack`, whose constructor
starts a gRPC server and blocks, so tests import this module instead.

The policy SDK passes less data than the render has, so two checks run only
in the render. The rule that every secret input is marked needs the secret
markers, which the SDK removes from inputs. The retain-on-delete check needs
that option, which the analyzer protocol of pulumi 3.272 does not send.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import yaml
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.resources import UNKNOWN, Context, Resource, as_mapping
from policy.rules import RULES, ResourceCheck, Rule, StackCheck, declared_mounts

PACK_NAME = "kitestacks-safety"
ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_VARIABLE = "KITESTACKS_CATALOGUE"
# Rules that need what only the render has: the secret markers of inputs.
RENDER_ONLY_RULES = frozenset({"secret-marked"})


class PolicyResourceLike(Protocol):
    """The attributes that ResourceValidationArgs and PolicyResource share."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str
    name: str
    opts: Any
    provider: Any


def catalogue_file() -> Path:
    """Return the catalogue the program reads: $KITESTACKS_CATALOGUE or config/catalogue.yaml.

    The program runs in the project root and the pack in policy/, so a
    relative path in the variable is taken from the project root.
    """
    override = os.environ.get(CATALOGUE_VARIABLE)
    if not override:
        return ROOT / "config" / "catalogue.yaml"
    path = Path(override)
    return path if path.is_absolute() else ROOT / path


def pack_context() -> Context:
    """Return the rule context of the pack: declared mounts, and no secret markers."""
    data: Any = yaml.safe_load(catalogue_file().read_text())
    return Context(declared_mounts=declared_mounts(as_mapping(data)), secret_markers=False)


def plain(value: Any) -> Any:
    """Return the SDK's property proxies as plain data, with UNKNOWN for unknown values.

    The SDK raises UnknownValueError when a rule reads a value that a preview
    cannot know yet; the rules skip UNKNOWN instead of failing the policy.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        mapping = cast("Mapping[str, Any]", value)
        result: dict[str, Any] = {}
        for key in mapping:
            try:
                result[key] = plain(mapping[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        sequence = cast("Sequence[Any]", value)
        items: list[Any] = []
        for index in range(len(sequence)):
            try:
                items.append(plain(sequence[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def resource_of(item: PolicyResourceLike) -> Resource:
    """Return a policy SDK resource as a rule resource.

    The SDK passes one property map per resource, so it serves as both the
    inputs and the outputs (where the generated secrets are).
    """
    properties = plain(item.props)
    provider = item.provider
    return Resource(
        type=item.resource_type,
        name=item.name,
        urn=item.urn,
        inputs=properties,
        protect=bool(item.opts.protect),
        retain_on_delete=None,
        ignore_changes=tuple(item.opts.ignore_changes or ()),
        provider=provider.urn if provider is not None else "",
        outputs=properties,
    )


def resource_policy(rule: Rule, check: ResourceCheck, context: Context) -> ResourceValidationPolicy:
    """Return a policy that runs one resource check on each resource."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(resource_of(args), context):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.id,
        description=rule.reason,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def stack_policy(
    name: str, rule: Rule, check: StackCheck, context: Context
) -> StackValidationPolicy:
    """Return a policy that runs one stack check on all resources of the stack."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [resource_of(item) for item in args.resources]
        for violation in check(resources, context):
            urn = violation.subject if violation.subject.startswith("urn:") else None
            report_violation(violation.message, urn)

    return StackValidationPolicy(
        name=name,
        description=rule.reason,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def policies(
    context: Context | None = None,
) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Return one policy per rule check, named after the rule.

    A rule with both a resource and a stack check gets a second policy named
    `<rule>-stack`, because policy names must be unique within a pack.
    """
    context = context or pack_context()
    result: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in RULES:
        if rule.id in RENDER_ONLY_RULES:
            continue
        if rule.check is not None:
            result.append(resource_policy(rule, rule.check, context))
        if rule.stack_check is not None:
            name = f"{rule.id}-stack" if rule.check is not None else rule.id
            result.append(stack_policy(name, rule, rule.stack_check, context))
    return result
