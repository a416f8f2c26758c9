"""Typed, validated model of the KiteStacks site, hosts and service catalogue.

Every model is frozen and rejects unknown keys, so a typo in a stack file or in
the catalogue is an error instead of a silently ignored setting. Checks that
need more than one field (a host that must exist, a hostname that must be
unique) live in config/checks.py.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A DNS label as RFC 1123 allows it: letters, digits and inner hyphens.
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# registry/path:tag with a tag that names a version. "latest" and tags with
# no digit ("stable", "main") move under the same name, so they are rejected.
IMAGE_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(@sha256:[a-f0-9]{64})?$"
)

# Docker's rule for volume names (the daemon rejects any other name).
DOCKER_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]+$")

# Tailscale assigns device addresses from the CGNAT range 100.64.0.0/10.
TAILNET_RANGE = ipaddress.ip_network("100.64.0.0/10")

IDENTITY_PLACEHOLDER = "@identity"
# The stack that owns the shared resources; every other stack reads it.
UPSTREAM_HOST = "kscloud1"

Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    """Base of every model: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSpec(Strict):
    """Hetzner Cloud server of a host whose provider is `hetzner`."""

    server_type: str = Field(min_length=1)
    location: str = Field(min_length=1)
    image: str = "debian-12"
    volume_gb: int = Field(default=20, ge=10, le=10240)
    backups: bool = True


class Host(Strict):
    """A machine that runs containers: the home server or a cloud server."""

    description: str = ""
    provider: Literal["home", "hetzner"]
    tailnet_ip: ipaddress.IPv4Address
    ssh_user: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    data_dir: str = Field(pattern=r"^/")
    server: ServerSpec | None = None

    @field_validator("tailnet_ip")
    @classmethod
    def _inside_tailnet(cls, value: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        if value not in TAILNET_RANGE:
            raise ValueError(
                f"{value} is outside Tailscale's range {TAILNET_RANGE}; use the "
                "address the admin console shows for this machine"
            )
        return value

    @model_validator(mode="after")
    def _server_matches_provider(self) -> Host:
        if self.provider == "hetzner" and self.server is None:
            raise ValueError(
                "a hetzner host needs a `server` block; add one with server_type and location"
            )
        if self.provider == "home" and self.server is not None:
            raise ValueError("a home host has no `server` block; remove it")
        return self


class OriginOptions(Strict):
    """Per-hostname settings of the connection from cloudflared to the app."""

    # Whole seconds that cloudflared waits to open the TCP connection to the
    # app. config/cloudflare_rules.py checks it against Cloudflare's limits.
    # Below Cloudflare's 100 s response limit, which config/cloudflare_rules.py enforces too.
    connect_timeout: int | None = Field(default=None, ge=1, le=99)
    # cloudflared forwards the visitor's Host header unless this replaces it.
    http_host_header: str | None = None
    # The app uses WebSockets, so the edge keeps the zone's WebSockets setting on.
    websockets: bool = False
    no_tls_verify: bool = False


class Public(Strict):
    """The public hostname of a service and how its copies share traffic."""

    hostname: str
    # failover: the first host in `hosts` serves, and the next one takes over
    # while it is unhealthy. spread: every host that runs the service serves.
    # Only load_balancer mode can steer by health. In replicas mode every copy
    # serves the requests that reach its host's connector (docs/edge.md).
    policy: Literal["failover", "spread"] = "spread"
    origin: OriginOptions = OriginOptions()
    # Path that the load balancer's health monitor requests through the tunnel.
    # It should fail when the copy cannot serve, for example when its database
    # is down, so that Cloudflare steers away from it.
    health_path: str = Field(default="/", pattern=r"^/[!-~]*$")

    @field_validator("hostname")
    @classmethod
    def _is_hostname(cls, value: str) -> str:
        # A label (`wiki`) or a full name (`wiki.kitestacks.com`); checks.py
        # checks that a full name lies directly under the zone.
        if not all(DNS_LABEL.match(label) for label in value.split(".")):
            raise ValueError(
                f"'{value}' is not a DNS name; use lowercase letters, digits and "
                "inner hyphens, for example `wiki`"
            )
        return value


class SsoSetup(Strict):
    """A shell script that registers Authentik as a login source inside the container.

    For apps that keep login sources in their database and read none from the
    environment. The script runs with `docker exec` after every (re)creation of
    the container, so it must be idempotent.
    """

    user: str = Field(default="root", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    script: str = Field(min_length=1)


class Sso(Strict):
    """The way a service authenticates its users through Authentik.

    oidc: the app speaks OpenID Connect to Authentik itself.
    proxy: Authentik's proxy provider authenticates requests before the app.
    public: deliberately open (the portal, and Authentik itself).
    """

    mode: Literal["oidc", "proxy", "public"]
    callback: str | None = Field(default=None, pattern=r"^/")
    setup: SsoSetup | None = None

    @model_validator(mode="after")
    def _callback_for_oidc(self) -> Sso:
        if self.mode == "oidc" and self.callback is None:
            raise ValueError(
                "an oidc app needs `callback`; set it to the app's redirect path, "
                "such as /oauth/callback"
            )
        if self.mode != "oidc" and self.callback is not None:
            raise ValueError(
                f"`callback` applies to oidc apps only, not to mode {self.mode}; remove it"
            )
        if self.mode != "oidc" and self.setup is not None:
            raise ValueError(
                f"`setup` applies to oidc apps only, not to mode {self.mode}; remove it"
            )
        return self


class SecretSpec(Strict):
    """A password generated once with RandomPassword and kept in the stack state."""

    length: int = Field(default=32, ge=16, le=128)


class Healthcheck(Strict):
    """Docker health check of a container."""

    test: tuple[str, ...] = Field(min_length=2)
    interval_s: int = Field(default=30, ge=1)
    timeout_s: int = Field(default=5, ge=1)
    retries: int = Field(default=3, ge=1)
    start_period_s: int = Field(default=30, ge=0)

    @field_validator("test")
    @classmethod
    def _docker_form(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value[0] not in ("CMD", "CMD-SHELL"):
            raise ValueError(
                f"'{value[0]}' is neither CMD nor CMD-SHELL; start the test with one of them"
            )
        return no_references(value)


class Metrics(Strict):
    """A Prometheus endpoint that a service exposes."""

    port: Port
    path: str = Field(default="/metrics", pattern=r"^/")


class GeneratedFile(Strict):
    """A file written into the container: a template or a named generator."""

    template: str | None = None
    generator: (
        Literal["prometheus", "grafana-datasources", "portal", "authentik-blueprint"] | None
    ) = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> GeneratedFile:
        if (self.template is None) == (self.generator is None):
            raise ValueError(
                "a file needs one source, not two or none; set exactly one of `template` "
                "and `generator`"
            )
        return self


class Service(Strict):
    """One entry of the catalogue: an app, a database or an agent."""

    description: str = ""
    image: str
    hosts: tuple[str, ...] = Field(min_length=1)
    port: Port | None = None
    # Port published on the host's tailnet address when another host must
    # reach the service; defaults to `port`.
    host_port: Port | None = None
    public: Public | None = None
    sso: Sso | None = None
    command: tuple[str, ...] = ()
    env: dict[str, str] = {}
    secrets: dict[str, SecretSpec] = {}
    volumes: dict[str, str] = {}
    mounts: dict[str, str] = {}
    files: dict[str, GeneratedFile] = {}
    healthcheck: Healthcheck | None = None
    metrics: Metrics | None = None

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        match = IMAGE_REFERENCE.match(value)
        if match is None:
            raise ValueError(
                f"'{value}' is not a full image reference; write "
                "registry/repository:version, for example docker.io/library/nginx:1.28.0"
            )
        tag = match.group("tag")
        if tag == "latest" or not any(char.isdigit() for char in tag):
            raise ValueError(
                f"tag '{tag}' of '{value}' is not pinned to a version; use a "
                "released version such as 1.2.3"
            )
        return value

    @field_validator("command")
    @classmethod
    def _command_literal(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return no_references(value)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(
                    f"'{name}' is not a valid environment variable name; use letters, "
                    "digits and `_`, not starting with a digit"
                )
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretSpec]) -> dict[str, SecretSpec]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(
                    f"'{name}' is not a valid secret name; use lowercase snake_case "
                    "such as admin_password"
                )
        return value

    @field_validator("volumes", "mounts", "files")
    @classmethod
    def _absolute_targets(cls, value: dict[str, object]) -> dict[str, object]:
        for key, target in value.items():
            path = target if isinstance(target, str) else key
            if not path.startswith("/"):
                raise ValueError(
                    f"'{path}' is not an absolute path; write the path inside the "
                    "container, starting with /"
                )
        return value

    @field_validator("volumes")
    @classmethod
    def _volume_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not DOCKER_VOLUME_NAME.match(name):
                raise ValueError(
                    f"'{name}' is not a Docker volume name; use letters, digits, `_`, `.` "
                    "and `-`, starting with a letter or digit"
                )
        return value

    @field_validator("mounts")
    @classmethod
    def _absolute_sources(cls, value: dict[str, str]) -> dict[str, str]:
        for source in value:
            if not source.startswith("/"):
                raise ValueError(
                    f"'{source}' is not an absolute path; write the path on the host, "
                    "starting with /"
                )
        return value

    @model_validator(mode="after")
    def _host_port_needs_port(self) -> Service:
        if self.host_port is not None and self.port is None:
            raise ValueError("`host_port` publishes `port`, which is not set; set `port`")
        return self

    @property
    def published_port(self) -> int | None:
        """Return the port published on the host's tailnet address."""
        return self.host_port if self.host_port is not None else self.port


class Catalogue(Strict):
    """The hosts and services of config/catalogue.yaml."""

    hosts: dict[str, Host] = Field(min_length=1)
    services: dict[str, Service] = Field(min_length=1)

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, Service]) -> dict[str, Service]:
        # A service name becomes a container name, a network alias, a resource
        # name part and an SSO client id, so it must be a DNS label.
        for name in value:
            if not DNS_LABEL.match(name):
                raise ValueError(
                    f"service name '{name}' is not a DNS label; use lowercase letters, "
                    "digits and inner hyphens, for example `my-app`"
                )
        return value


class Site(Strict):
    """Settings of one stack, read from Pulumi config."""

    project: str
    stack: str
    domain: str
    cloudflare_account_id: str = ""
    cloudflare_zone_id: str = ""
    ingress_mode: Literal["replicas", "load_balancer"] = "replicas"
    identity_host: str = "kscloud1"
    upstream_host: str = UPSTREAM_HOST
    upstream_stack: str = "organization/kitestacks/kscloud1"
    tailnet_domain: str = "tailnet.ts.net"
    admin_users: tuple[str, ...] = ()
    admin_ssh_keys: tuple[str, ...] = ()
    # Lifts the cloud server's protection for one deliberate replacement.
    rebuild_server: bool = False

    @field_validator("domain")
    @classmethod
    def _valid_domain(cls, value: str) -> str:
        labels = value.split(".")
        if len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels):
            raise ValueError(f"'{value}' is not a domain name; set a zone such as kitestacks.com")
        return value


def qualified_hostname(hostname: str, domain: str) -> str:
    """Return the full public name of a `public.hostname`, which may omit the domain."""
    return hostname if hostname.endswith(f".{domain}") else f"{hostname}.{domain}"


class Model(Strict):
    """Everything the program derives its resources from."""

    site: Site
    catalogue: Catalogue

    @property
    def is_upstream(self) -> bool:
        """Return whether this stack is the upstream stack (kscloud1)."""
        return self.site.stack == self.site.upstream_host

    def service_hosts(self, name: str) -> tuple[str, ...]:
        """Return the hosts that run a service, with `@identity` resolved."""
        hosts = self.catalogue.services[name].hosts
        return tuple(
            self.site.identity_host if host == IDENTITY_PLACEHOLDER else host for host in hosts
        )


def no_references(value: tuple[str, ...]) -> tuple[str, ...]:
    """Reject `${...}` references where they are not resolved: commands and health checks."""
    for item in value:
        if "${" in item:
            raise ValueError(
                f"'{item}' contains a `${{...}}` reference, which is resolved only in `env` "
                "and `files`; set the value in `env` and read the variable instead"
            )
    return value
