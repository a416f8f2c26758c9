"""Bad config fails before any resource exists, with one `key: problem; fix` line per problem.

Each test edits one thing in the real catalogue or stack config and asserts
the complete list of messages that load() reports for it.
"""

from __future__ import annotations

import copy
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from config.checks import service_values
from config.load import ConfigError, load
from config.refs import CATALOGUE_PATH, CATALOGUE_VARIABLE, config_keys, references
from render.engine import PROGRAM, ROOT, run_program
from render.stackconfig import read_stack_config

CATALOGUE: dict[str, Any] = yaml.safe_load(CATALOGUE_PATH.read_text())

Edit = Callable[[dict[str, Any]], None]


def key_parts(path: str | tuple[str, ...]) -> tuple[str, ...]:
    """Split a dotted key path; a tuple path is for keys that contain dots, like file paths."""
    return tuple(path.split(".")) if isinstance(path, str) else path


def set_key(path: str | tuple[str, ...], value: Any) -> Edit:
    """Return an edit that sets a key path such as `services.grafana.port`."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = key_parts(path)
        for part in parents:
            data = data.setdefault(part, {})
        data[last] = value

    return edit


def delete_key(path: str | tuple[str, ...]) -> Edit:
    """Return an edit that removes a key path."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = key_parts(path)
        for part in parents:
            data = data[part]
        del data[last]

    return edit


def catalogue_text(*edits: Edit) -> str:
    data = copy.deepcopy(CATALOGUE)
    for edit in edits:
        edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def stack_config(stack: str, overrides: dict[str, str], removed: tuple[str, ...]) -> dict[str, str]:
    values = dict(read_stack_config(ROOT, stack).values)
    values.update(overrides)
    for key in removed:
        del values[key]
    return values


def problems(
    *edits: Edit,
    stack: str = "kscloud1",
    config: dict[str, str] | None = None,
    removed: tuple[str, ...] = (),
    text: str | None = None,
) -> list[str]:
    """Return the problems that load() reports for an edited catalogue and config.

    A stack without a stack file gets the config of kscloud1.
    """
    config_stack = stack if (ROOT / f"Pulumi.{stack}.yaml").exists() else "kscloud1"
    values = stack_config(config_stack, config or {}, removed)
    with pytest.raises(ConfigError) as raised:
        load("kitestacks", stack, values, text if text is not None else catalogue_text(*edits))
    return raised.value.problems


def test_real_config_loads() -> None:
    for stack in ("kscloud1", "monk"):
        values = stack_config(stack, {}, ())
        assert load("kitestacks", stack, values, catalogue_text()).site.stack == stack


# --- Unknown and misspelled keys -----------------------------------------------


def test_rejects_unknown_service_key() -> None:
    assert problems(set_key("services.grafana.imagee", "x")) == [
        "services.grafana.imagee: unknown key; remove it or check its spelling"
    ]


def test_rejects_unknown_top_level_key() -> None:
    assert problems(set_key("service", {})) == [
        "service: unknown key; remove it or check its spelling"
    ]


def test_rejects_duplicate_yaml_key() -> None:
    original = CATALOGUE_PATH.read_text()
    lines = original.splitlines()
    port_line = lines.index("    port: 3000", lines.index("  grafana:")) + 1
    text = original.replace("  grafana:\n", "  grafana:\n    port: 3000\n", 1)
    # The inserted line comes first, so the original one, one line lower, is the duplicate.
    assert problems(text=text) == [
        f"catalogue: duplicate key 'port' at line {port_line + 1}, column 5; "
        "remove or rename one of them"
    ]


def test_rejects_invalid_yaml() -> None:
    assert problems(text="services: [\n") == [
        "catalogue: invalid YAML at line 2, column 1: expected the node content, but found "
        "'<stream end>'; fix the syntax"
    ]


def test_rejects_catalogue_that_is_a_list() -> None:
    assert problems(text="- monk\n") == [
        "catalogue: expected a mapping with `hosts` and `services`, got a list; write "
        "`hosts:` and `services:` at the top level"
    ]


# --- Hosts ------------------------------------------------------------------------


def test_rejects_misspelled_host() -> None:
    assert problems(set_key("services.bookstack.hosts", ["monk", "kscloud2"])) == [
        "services.bookstack.hosts[1]: unknown host 'kscloud2'; known hosts are monk, kscloud1"
    ]


def test_rejects_service_on_undefined_host() -> None:
    assert problems(set_key("services.kavita.hosts", ["nas"])) == [
        "services.kavita.hosts[0]: unknown host 'nas'; known hosts are monk, kscloud1"
    ]


def test_rejects_host_listed_twice() -> None:
    assert problems(set_key("services.bookstack.hosts", ["monk", "monk"])) == [
        "services.bookstack.hosts[1]: 'monk' is listed twice; remove one"
    ]


def test_rejects_identity_placeholder_twice() -> None:
    # `@identity` is kscloud1 by default, so this names kscloud1 twice.
    assert problems(set_key("services.authentik-server.hosts", ["kscloud1", "@identity"])) == [
        "services.authentik-server.hosts[1]: '@identity (kscloud1)' is listed twice; remove one"
    ]


def test_rejects_service_without_hosts() -> None:
    assert problems(set_key("services.kavita.hosts", [])) == [
        "services.kavita.hosts: needs at least 1 item(s); add the missing ones"
    ]


def test_rejects_unknown_identity_host() -> None:
    assert problems(config={"kitestacks:identityHost": "nas"}) == [
        "kitestacks:identityHost: unknown host 'nas'; known hosts are monk, kscloud1"
    ]


def test_rejects_stack_without_host() -> None:
    assert problems(stack="kscloud9") == [
        "stack: no host is named 'kscloud9'; name the stack after a host (monk, kscloud1)"
    ]


def test_rejects_tailnet_address_outside_tailscale_range() -> None:
    assert problems(set_key("hosts.monk.tailnet_ip", "10.0.0.5")) == [
        "hosts.monk.tailnet_ip: 10.0.0.5 is outside Tailscale's range 100.64.0.0/10; use the "
        "address the admin console shows for this machine"
    ]


def test_rejects_malformed_tailnet_address() -> None:
    assert problems(set_key("hosts.monk.tailnet_ip", "100.101.10.300")) == [
        "hosts.monk.tailnet_ip: '100.101.10.300' is not an IPv4 address; write one such as "
        "100.101.10.10"
    ]


def test_rejects_hetzner_host_without_server() -> None:
    assert problems(delete_key("hosts.kscloud1.server")) == [
        "hosts.kscloud1: a hetzner host needs a `server` block; add one with server_type "
        "and location"
    ]


def test_rejects_home_host_with_server() -> None:
    server = {"server_type": "cx22", "location": "nbg1"}
    assert problems(set_key("hosts.monk.server", server)) == [
        "hosts.monk: a home host has no `server` block; remove it"
    ]


# --- Public hostnames ---------------------------------------------------------------


def test_rejects_duplicate_hostname() -> None:
    assert problems(set_key("services.karakeep.public.hostname", "wiki")) == [
        "services.karakeep.public.hostname: wiki.kitestacks.com is already used by bookstack; "
        "choose another hostname"
    ]


def test_rejects_duplicate_hostname_written_in_full() -> None:
    assert problems(set_key("services.karakeep.public.hostname", "wiki.kitestacks.com")) == [
        "services.karakeep.public.hostname: wiki.kitestacks.com is already used by bookstack; "
        "choose another hostname"
    ]


def test_rejects_hostname_outside_zone() -> None:
    assert problems(set_key("services.karakeep.public.hostname", "bookmarks.example.org")) == [
        "services.karakeep.public.hostname: 'bookmarks.example.org' is outside the zone "
        "kitestacks.com; use a name under it, such as bookmarks"
    ]


def test_rejects_hostname_two_levels_below_zone() -> None:
    hostname = "saved.bookmarks.kitestacks.com"
    assert problems(set_key("services.karakeep.public.hostname", hostname)) == [
        f"services.karakeep.public.hostname: '{hostname}' is more than one level below "
        "kitestacks.com, which Cloudflare's Universal SSL certificate does not cover; use a "
        "single label such as saved-bookmarks"
    ]


def test_rejects_hostname_that_is_not_dns() -> None:
    assert problems(set_key("services.karakeep.public.hostname", "Book_Marks")) == [
        "services.karakeep.public.hostname: 'Book_Marks' is not a DNS name; use lowercase "
        "letters, digits and inner hyphens, for example `wiki`"
    ]


def test_rejects_bad_domain() -> None:
    assert problems(config={"kitestacks:domain": "kitestacks"}) == [
        "kitestacks:domain: 'kitestacks' is not a domain name; set a zone such as kitestacks.com"
    ]


# --- Ports ------------------------------------------------------------------------------


def test_rejects_two_services_on_one_host_port() -> None:
    assert problems(set_key("services.grafana.host_port", 9010)) == [
        "services.portainer.host_port: port 9010 on monk is already published by grafana; "
        "set a free host_port"
    ]


def test_rejects_port_above_range() -> None:
    assert problems(set_key("services.grafana.port", 70000)) == [
        "services.grafana.port: 70000 is above the maximum 65535; use a smaller value"
    ]


def test_rejects_port_zero() -> None:
    assert problems(set_key("services.grafana.host_port", 0)) == [
        "services.grafana.host_port: 0 is below the minimum 1; use a larger value"
    ]


def test_rejects_port_that_is_not_a_number() -> None:
    assert problems(set_key("services.kavita.port", "http")) == [
        "services.kavita.port: 'http' is not a whole number; write an integer such as 8080"
    ]


def test_rejects_host_port_without_port() -> None:
    assert problems(
        set_key("services.karakeep-chrome.host_port", 9223),
        delete_key("services.karakeep-chrome.port"),
    ) == ["services.karakeep-chrome: `host_port` publishes `port`, which is not set; set `port`"]


def test_rejects_public_service_without_port() -> None:
    assert problems(delete_key("services.kavita.port")) == [
        "services.kavita.public: a public service needs `port`, the port its app listens on; "
        "set `port` or remove `public`"
    ]


# --- Images -------------------------------------------------------------------------------


def test_rejects_latest_image() -> None:
    assert problems(set_key("services.grafana.image", "docker.io/grafana/grafana:latest")) == [
        "services.grafana.image: tag 'latest' of 'docker.io/grafana/grafana:latest' is not "
        "pinned to a version; use a released version such as 1.2.3"
    ]


def test_rejects_bare_image_name() -> None:
    assert problems(set_key("services.grafana.image", "grafana")) == [
        "services.grafana.image: 'grafana' is not a full image reference; write "
        "registry/repository:version, for example docker.io/library/nginx:1.28.0"
    ]


def test_rejects_image_tag_without_digit() -> None:
    assert problems(set_key("services.grafana.image", "docker.io/grafana/grafana:stable")) == [
        "services.grafana.image: tag 'stable' of 'docker.io/grafana/grafana:stable' is not "
        "pinned to a version; use a released version such as 1.2.3"
    ]


def test_rejects_malformed_image() -> None:
    image = "docker.io/grafana/grafana:12.0.0:1"
    assert problems(set_key("services.grafana.image", image)) == [
        f"services.grafana.image: '{image}' is not a full image reference; write "
        "registry/repository:version, for example docker.io/library/nginx:1.28.0"
    ]


# --- References and dependencies ---------------------------------------------------------


def test_rejects_dependency_cycle() -> None:
    assert problems(
        set_key("services.authentik-postgres.env.PEER", "${host:authentik-server}")
    ) == [
        "services.authentik-postgres.env: dependency cycle authentik-postgres -> "
        "authentik-server -> authentik-postgres; remove one of these references"
    ]


def test_rejects_undeclared_secret() -> None:
    value = "${secret:bookstack-db.passwd}"
    assert problems(set_key("services.bookstack.env.DB_PASSWORD", value)) == [
        f"services.bookstack.env.DB_PASSWORD: {value}: service 'bookstack-db' declares no "
        "secret 'passwd'; add it under secrets"
    ]


def test_rejects_secret_of_unknown_service() -> None:
    value = "${secret:bookstack-database.password}"
    assert problems(set_key("services.bookstack.env.DB_PASSWORD", value)) == [
        f"services.bookstack.env.DB_PASSWORD: {value} names unknown service "
        f"'bookstack-database'; name one of the {len(CATALOGUE['services'])} services under "
        "`services`"
    ]


def test_rejects_unknown_reference_kind() -> None:
    assert problems(set_key("services.bookstack.env.APP_KEY", "${secrets:app_key}")) == [
        "services.bookstack.env.APP_KEY: unknown reference kind 'secrets' in "
        "${secrets:app_key}; use one of secret, config, host, port, url, domain, tunnel, sso"
    ]


def test_rejects_unterminated_reference() -> None:
    assert problems(set_key("services.bookstack.env.APP_KEY", "${secret:app_key")) == [
        "services.bookstack.env.APP_KEY: unterminated or malformed `${`; write ${kind:argument}"
    ]


def test_rejects_url_of_private_service() -> None:
    value = "${url:prometheus}"
    assert problems(set_key("services.forgejo.env.FORGEJO__server__ROOT_URL", value)) == [
        f"services.forgejo.env.FORGEJO__server__ROOT_URL: {value}: service 'prometheus' has "
        "no public hostname; add `public.hostname` to it, or use ${host:prometheus} for a "
        "private address"
    ]


def test_rejects_host_of_service_without_port() -> None:
    value = "${host:authentik-worker}"
    assert problems(set_key("services.grafana.env.WORKER", value)) == [
        f"services.grafana.env.WORKER: {value}: service 'authentik-worker' declares no port; "
        "add `port` to it"
    ]


def test_rejects_reference_to_itself() -> None:
    assert problems(set_key("services.grafana.env.SELF", "${host:grafana}")) == [
        "services.grafana.env.SELF: ${host:grafana} refers to the service itself; use localhost"
    ]


def test_rejects_malformed_config_reference() -> None:
    value = "${config:openai-key}"
    assert problems(set_key("services.litellm.env.OPENAI_API_KEY", value)) == [
        f"services.litellm.env.OPENAI_API_KEY: {value}: 'openai-key' is not a config key; "
        "use camelCase such as openaiApiKey"
    ]


def test_rejects_tunnel_token_on_host_without_connector() -> None:
    assert problems(
        set_key("services.cloudflared.hosts", ["monk"]),
        set_key("services.authentik-redis.env.TOKEN", "${tunnel:token}"),
    ) == [
        "services.authentik-redis.env.TOKEN: ${tunnel:token}: kscloud1 runs no cloudflared, "
        "so it has no tunnel token; run authentik-redis only where cloudflared runs"
    ]


def test_rejects_sso_reference_of_proxy_app() -> None:
    value = "${sso:client_id}"
    assert problems(set_key("services.uptime-kuma.env.CLIENT", value)) == [
        f"services.uptime-kuma.env.CLIENT: {value}: the service is not an oidc app; set "
        "sso.mode to oidc"
    ]


def test_rejects_invalid_environment_name() -> None:
    assert problems(set_key("services.grafana.env.1_PASSWORD", "x")) == [
        "services.grafana.env: '1_PASSWORD' is not a valid environment variable name; use "
        "letters, digits and `_`, not starting with a digit"
    ]


def test_rejects_environment_value_that_is_not_text() -> None:
    assert problems(set_key("services.grafana.env.GF_ANALYTICS_REPORTING_ENABLED", False)) == [
        "services.grafana.env.GF_ANALYTICS_REPORTING_ENABLED: expected text, got a boolean; "
        "quote the value"
    ]


# --- Single sign-on and serving ---------------------------------------------------------------


def test_rejects_sso_app_without_hostname() -> None:
    assert problems(delete_key("services.kavita.public")) == [
        "services.kavita.sso: an app behind single sign-on needs a public hostname; add "
        "`public.hostname` or remove `sso`"
    ]


def test_rejects_oidc_app_without_callback() -> None:
    assert problems(delete_key("services.grafana.sso.callback")) == [
        "services.grafana.sso: an oidc app needs `callback`; set it to the app's redirect "
        "path, such as /oauth/callback"
    ]


def test_rejects_callback_of_proxy_app() -> None:
    assert problems(set_key("services.uptime-kuma.sso.callback", "/callback")) == [
        "services.uptime-kuma.sso: `callback` applies to oidc apps only, not to mode proxy; "
        "remove it"
    ]


def test_rejects_unknown_sso_mode() -> None:
    assert problems(set_key("services.grafana.sso.mode", "saml")) == [
        "services.grafana.sso.mode: invalid value 'saml'; use 'oidc', 'proxy' or 'public'"
    ]


def test_rejects_sso_without_identity_provider() -> None:
    reported = problems(delete_key("services.authentik-server.public"))
    assert (
        "services.portainer.sso: single sign-on needs authentik-server with a public "
        "hostname, which is missing; declare authentik-server with `public.hostname`"
    ) in reported
    # Apps that link to Authentik's public URL report each reference too.
    assert (
        "services.grafana.env.GF_AUTH_GENERIC_OAUTH_AUTH_URL: ${url:authentik-server}: "
        "service 'authentik-server' has no public hostname; add `public.hostname` to it, "
        "or use ${host:authentik-server} for a private address"
    ) in reported


def test_rejects_catalogue_without_connector() -> None:
    assert problems(delete_key("services.cloudflared")) == [
        "services.cloudflared: missing; the tunnel needs a connector, add a cloudflared "
        "service on every host that should receive traffic"
    ]


def test_rejects_failover_on_single_host() -> None:
    assert problems(set_key("services.grafana.public.policy", "failover")) == [
        "services.grafana.public.policy: failover needs copies on two hosts, but grafana runs "
        "on monk only; add a second host or use spread"
    ]


def test_rejects_replica_without_tunnel() -> None:
    assert problems(
        set_key("services.cloudflared.hosts", ["monk"]),
        config={"kitestacks:ingressMode": "load_balancer"},
    ) == [
        f"services.{name}.hosts[1]: load_balancer mode reaches each copy of a public "
        "service through its host's own tunnel, but kscloud1 runs no cloudflared; add "
        f"kscloud1 to services.cloudflared.hosts or remove it here"
        for name in ("bookstack", "portal")
    ]


def test_rejects_unknown_ingress_mode() -> None:
    assert problems(config={"kitestacks:ingressMode": "tunnel"}) == [
        "kitestacks:ingressMode: invalid value 'tunnel'; use 'replicas' or 'load_balancer'"
    ]


def test_rejects_datasource_without_prometheus() -> None:
    path = "/etc/grafana/provisioning/datasources/prometheus.yaml"
    assert problems(delete_key("services.prometheus")) == [
        f"services.grafana.files.{path}.generator: grafana-datasources points Grafana at "
        "prometheus, which is not declared with a port; add the prometheus service or "
        "remove this file"
    ]


# --- Secrets, volumes, files, health checks ------------------------------------------------------


def test_rejects_missing_required_secret() -> None:
    assert problems(stack="monk", removed=("kitestacks:openaiApiKey",)) == [
        "kitestacks:openaiApiKey: missing secret, read by services.litellm.env.OPENAI_API_KEY; "
        "run `pulumi config set --secret kitestacks:openaiApiKey <value> --stack monk`"
    ]


def test_rejects_short_secret() -> None:
    assert problems(set_key("services.grafana.secrets.admin_password.length", 8)) == [
        "services.grafana.secrets.admin_password.length: 8 is below the minimum 16; use a "
        "larger value"
    ]


def test_rejects_secret_name_not_snake_case() -> None:
    assert problems(set_key("services.grafana.secrets.AdminToken", {})) == [
        "services.grafana.secrets: 'AdminToken' is not a valid secret name; use lowercase "
        "snake_case such as admin_password"
    ]


def test_rejects_relative_volume_target() -> None:
    assert problems(set_key("services.grafana.volumes.grafana-data", "var/lib/grafana")) == [
        "services.grafana.volumes: 'var/lib/grafana' is not an absolute path; write the path "
        "inside the container, starting with /"
    ]


def test_rejects_invalid_volume_name() -> None:
    assert problems(set_key("services.grafana.volumes.-data", "/data")) == [
        "services.grafana.volumes: '-data' is not a Docker volume name; use letters, digits, "
        "`_`, `.` and `-`, starting with a letter or digit"
    ]


def test_rejects_relative_mount_source() -> None:
    mounts = {"var/run/docker.sock": "/var/run/docker.sock"}
    assert problems(set_key("services.portainer.mounts", mounts)) == [
        "services.portainer.mounts: 'var/run/docker.sock' is not an absolute path; write the "
        "path on the host, starting with /"
    ]


def test_rejects_file_with_two_sources() -> None:
    spec = {"template": "x", "generator": "portal"}
    path = ("services", "portal", "files", "/usr/share/nginx/html/index.html")
    assert problems(set_key(path, spec)) == [
        "services.portal.files./usr/share/nginx/html/index.html: a file needs one source, not "
        "two or none; set exactly one of `template` and `generator`"
    ]


def test_rejects_healthcheck_without_cmd() -> None:
    assert problems(
        set_key("services.authentik-worker.healthcheck.test", ["ak", "healthcheck"])
    ) == [
        "services.authentik-worker.healthcheck.test: 'ak' is neither CMD nor CMD-SHELL; start "
        "the test with one of them"
    ]


def test_rejects_admin_users_not_a_list() -> None:
    assert problems(config={"kitestacks:adminUsers": '"kenpat@github"'}) == [
        "kitestacks:adminUsers: invalid value (expected a list); set a JSON list"
    ]


def test_reports_every_invalid_value_at_once() -> None:
    found = problems(
        set_key("services.grafana.port", 70000),
        set_key("services.grafana.image", "grafana"),
        config={"kitestacks:domain": "kitestacks"},
    )
    assert len(found) == 3


def test_reports_every_cross_key_problem_at_once() -> None:
    found = problems(
        set_key("services.bookstack.hosts", ["monk", "kscloud2"]),
        set_key("services.karakeep.public.hostname", "books"),
        set_key("services.grafana.public.policy", "failover"),
    )
    assert len(found) == 3


# --- Nothing is registered ----------------------------------------------------------------


def test_bad_config_registers_no_resource(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(catalogue_text(set_key("services.bookstack.hosts", ["monk", "kscloud2"])))
    monkeypatch.setenv(CATALOGUE_VARIABLE, str(catalogue))
    errors: list[pulumi.RunError] = []

    def program() -> None:
        try:
            runpy.run_path(str(PROGRAM), run_name="__main__")
        except pulumi.RunError as error:
            errors.append(error)

    config = read_stack_config(ROOT, "kscloud1")
    run = run_program(
        config.project, "kscloud1", config.values, config.secret_keys, program=program
    )
    assert run.registrations == []
    assert len(errors) == 1
    assert "services.bookstack.hosts[1]: unknown host 'kscloud2'" in str(errors[0])


def test_missing_catalogue_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nothing.yaml"
    values = stack_config("kscloud1", {}, ())
    monkeypatch.setenv(CATALOGUE_VARIABLE, str(missing))
    with pytest.raises(ConfigError) as raised:
        load("kitestacks", "kscloud1", values)
    assert raised.value.problems == [
        f"{missing}: catalogue file not found; set {CATALOGUE_VARIABLE} to an existing file, "
        "or unset it to use config/catalogue.yaml"
    ]


def test_config_keys_come_from_values_only() -> None:
    """The catalogue's header comment documents `${config:KEY}`, which is no key."""
    model = load("kitestacks", "monk", stack_config("monk", {}, ()), catalogue_text())
    expected = sorted(
        {
            reference.argument
            for service in model.catalogue.services.values()
            for _, value in service_values(service)
            for reference in references(value)
            if reference.kind == "config"
        }
    )
    assert config_keys() == expected
    assert "KEY" not in config_keys()


def test_rejects_duplicate_tailnet_address() -> None:
    assert problems(set_key("hosts.kscloud1.tailnet_ip", "100.101.10.10")) == [
        "hosts.kscloud1.tailnet_ip: 100.101.10.10 is already the address of monk; use the "
        "address the Tailscale admin console shows for kscloud1"
    ]


def test_rejects_host_port_of_ssh() -> None:
    assert problems(set_key("services.portainer.host_port", 22)) == [
        "services.portainer.host_port: port 22 on monk is SSH of the host itself; "
        "set another host_port"
    ]


def test_rejects_empty_cloudflare_account() -> None:
    assert problems(config={"kitestacks:cloudflareAccountId": ""}) == [
        "kitestacks:cloudflareAccountId: '' is not a Cloudflare id (32 hexadecimal "
        "characters); copy it from the dashboard's Overview page and run `pulumi config set "
        "kitestacks:cloudflareAccountId <id> --stack kscloud1`"
    ]


def test_rejects_zone_name_as_zone_id() -> None:
    assert problems(config={"kitestacks:cloudflareZoneId": "kitestacks.com"}) == [
        "kitestacks:cloudflareZoneId: 'kitestacks.com' is not a Cloudflare id (32 hexadecimal "
        "characters); copy it from the dashboard's Overview page and run `pulumi config set "
        "kitestacks:cloudflareZoneId <id> --stack kscloud1`"
    ]


def rename_service(old: str, new: str) -> Edit:
    """Return an edit that renames a service, keeping its entry."""

    def edit(data: dict[str, Any]) -> None:
        data["services"][new] = data["services"].pop(old)

    return edit


def test_rejects_service_name_with_space() -> None:
    assert problems(rename_service("kavita", "My App")) == [
        "services: service name 'My App' is not a DNS label; use lowercase letters, digits "
        "and inner hyphens, for example `my-app`"
    ]


def test_rejects_reference_in_command() -> None:
    assert problems(
        set_key("services.bookstack-db.command", ["--password=${secret:password}"])
    ) == [
        "services.bookstack-db.command: '--password=${secret:password}' contains a `${...}` "
        "reference, which is resolved only in `env` and `files`; set the value in `env` and "
        "read the variable instead"
    ]


def test_rejects_identity_server_on_two_hosts() -> None:
    assert problems(set_key("services.authentik-server.hosts", ["monk", "kscloud1"])) == [
        "services.authentik-server.hosts: Authentik's server runs on one host, whose embedded "
        "outpost serves the proxy-mode apps, but it lists monk, kscloud1; keep one host"
    ]
