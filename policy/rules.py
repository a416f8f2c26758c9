"""The safety rules of the KiteStacks stacks, checked on plain resource data.

Three callers share these rules: the tests, the offline renderer
(render/safety.py) and the Pulumi policy pack (policy/__main__.py). So the
rules import only the standard library, and each takes a `Resource` with the
type, name and URN, the inputs in the engine's camelCase form, the resource
options and the URN of its provider.

A resource check returns one message per problem; a stack check looks at
every resource of a stack at once and returns `Violation`s. Each message states
what is wrong and how to fix it. docs/safety.md explains every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy.container_rules import (
    check_docker_provider,
    check_host_mount,
    check_host_namespace,
    check_image_pinned,
    check_port_binding,
    check_privileged,
)
from policy.data_rules import (
    check_data_protected,
    check_random_password,
    check_secret_exposure,
    check_secret_marked,
    check_server_ignore_changes,
    check_unique_urns,
    check_user_data_size,
)
from policy.network_rules import (
    check_firewall,
    check_tailnet_key_tags,
    check_tailnet_tags_owned,
    check_tailnet_tests,
    check_tailnet_wildcard,
    check_tunnel_catch_all,
    check_tunnel_config_source,
)
from policy.resources import Context, Resource, Violation, as_mapping

ResourceCheck = Callable[[Resource, Context], list[str]]
StackCheck = Callable[[Sequence[Resource], Context], list[Violation]]


@dataclass(frozen=True)
class Rule:
    """A rule: its id, the reason it exists, and its resource or stack check."""

    id: str
    reason: str
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


RULES: tuple[Rule, ...] = (
    Rule(
        "port-binding",
        "A published container port binds to 127.0.0.1 or the host's tailnet address, so no "
        "app is reachable from the LAN or the internet by accident.",
        check=check_port_binding,
    ),
    Rule(
        "image-pinned",
        "Images name a released version or a digest, so a redeploy runs the tested image, "
        "not whatever `latest` points to that day.",
        check=check_image_pinned,
    ),
    Rule(
        "no-privileged",
        "No container runs privileged, adds a root-equivalent capability or turns off "
        "seccomp or AppArmor, because each of these hands it the host.",
        check=check_privileged,
    ),
    Rule(
        "no-host-namespace",
        "No container shares the host's network, process, IPC or user namespace. Host "
        "networking would bypass the port bindings.",
        check=check_host_namespace,
    ),
    Rule(
        "host-mount-declared",
        "A container mounts a host path (such as the Docker socket) only where its catalogue "
        "entry declares the need under `mounts`.",
        check=check_host_mount,
    ),
    Rule(
        "docker-explicit-provider",
        "Every Docker resource names its host's provider, so nothing lands on the Docker "
        "engine of the machine that runs Pulumi.",
        check=check_docker_provider,
    ),
    Rule(
        "random-password",
        "Secrets are generated with RandomPassword, whose result Pulumi treats as secret. "
        "RandomString stores its result in plain text.",
        check=check_random_password,
    ),
    Rule(
        "data-protected",
        "Volumes and the server are protected, retained on delete and, at Hetzner, "
        "delete-protected, so no edit or destroy loses their data.",
        check=check_data_protected,
    ),
    Rule(
        "server-ignore-changes",
        "The server ignores changes to userData and sshKeys, because Hetzner replaces a "
        "server (and wipes its disk) when either changes.",
        check=check_server_ignore_changes,
    ),
    Rule(
        "user-data-size",
        "The server's user data fits Hetzner's 32 KiB limit, or the create fails.",
        check=check_user_data_size,
    ),
    Rule(
        "firewall-no-public-tcp",
        "The Hetzner firewall opens no inbound TCP port to the internet, because SSH and "
        "every app are reached over the tailnet or the tunnel.",
        check=check_firewall,
    ),
    Rule(
        "tunnel-catch-all",
        "The tunnel's ingress rules end with exactly one catch-all rule, which Cloudflare "
        "requires.",
        check=check_tunnel_catch_all,
    ),
    Rule(
        "tunnel-config-source",
        "The tunnel is managed from Cloudflare (config_src cloudflare) from the start, "
        "because changing it later replaces the tunnel, its id and its token.",
        check=check_tunnel_config_source,
    ),
    Rule(
        "tailnet-no-wildcard",
        "The tailnet policy grants named groups and tags only, never `*`, so a new device "
        "gets no access by default.",
        check=check_tailnet_wildcard,
    ),
    Rule(
        "tailnet-tags-owned",
        "Every tag that the tailnet policy or an auth key uses is declared in tagOwners, "
        "which Tailscale requires.",
        check=check_tailnet_tags_owned,
        stack_check=check_tailnet_key_tags,
    ),
    Rule(
        "tailnet-policy-tests",
        "The tailnet policy carries tests, so the control server rejects a policy that "
        "breaks a required flow.",
        check=check_tailnet_tests,
    ),
    Rule(
        "unique-urn",
        "No two resources share a URN. The engine rejects a duplicate only at deploy time.",
        stack_check=check_unique_urns,
    ),
    Rule(
        "secret-exposed",
        "No secret value appears in a resource name, a command line, a label or a plain "
        "stack export, where logs and tools show it.",
        stack_check=check_secret_exposure,
    ),
    Rule(
        "secret-marked",
        "Every input that carries a secret value is secret in the engine's eyes, so the "
        "state encrypts it and the preview hides it.",
        stack_check=check_secret_marked,
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def declared_mounts(catalogue: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Return the host paths each service declares under `mounts` in a parsed catalogue."""
    return {
        str(name): frozenset(str(path) for path in as_mapping(as_mapping(service).get("mounts")))
        for name, service in as_mapping(catalogue.get("services")).items()
    }


def check_resource(resource: Resource, context: Context) -> list[Violation]:
    """Run every resource check on one resource."""
    return [
        Violation(resource.urn, rule.id, message)
        for rule in RULES
        if rule.check is not None
        for message in rule.check(resource, context)
    ]


def check_stack(resources: Sequence[Resource], context: Context) -> list[Violation]:
    """Run every rule on the resources of one stack and return the violations, sorted."""
    violations: list[Violation] = []
    for resource in resources:
        violations += check_resource(resource, context)
    for rule in RULES:
        if rule.stack_check is not None:
            violations += rule.stack_check(resources, context)
    return sorted(set(violations))
