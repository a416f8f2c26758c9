"""Single sign-on in the rendered stacks: each app's settings, the blueprint, the secrets.

The expected setting names are the ones each app documents; the expected values
come from the topology, and each client secret is compared with the one that
Authentik receives, so a test fails when the two ends disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config.authentik import blueprint_file
from config.topology import IDENTITY_SERVICE, SsoClient, Topology, sso_secret_env
from render import render_stacks
from render.document import Rendered
from render.engine import ROOT, Registration
from render.redact import SECRET, contains_secret, unwrap
from tests.conftest import STACKS, by_name, resources_of, topology_of

IDENTITY_ON_MONK = {"kitestacks:identityHost": "monk"}
CONTAINER = "docker:index/container:Container"
BLUEPRINT_PATH = "/blueprints/custom/kitestacks.yaml"

# Each oidc app's settings, by the names the app reads, and how to compute the
# expected value. Values marked SECRET must be the client secret itself.
Expected = Callable[[Topology, SsoClient], str]


def client_id(topology: Topology, client: SsoClient) -> str:
    return client.client_id


def issuer(topology: Topology, client: SsoClient) -> str:
    return topology.issuer(client.service)


def discovery(topology: Topology, client: SsoClient) -> str:
    return topology.issuer(client.service) + ".well-known/openid-configuration"


def end_session(topology: Topology, client: SsoClient) -> str:
    return topology.issuer(client.service) + "end-session/"


# Authentik serves these endpoints once for every application.
def authorize(topology: Topology, client: SsoClient) -> str:
    return topology.issuer_base + "/application/o/authorize/"


def token(topology: Topology, client: SsoClient) -> str:
    return topology.issuer_base + "/application/o/token/"


def userinfo(topology: Topology, client: SsoClient) -> str:
    return topology.issuer_base + "/application/o/userinfo/"


def redirect(topology: Topology, client: SsoClient) -> str:
    return client.redirect_uris[0]


def app_url(topology: Topology, client: SsoClient) -> str:
    return client.launch_url


APP_SETTINGS: dict[str, dict[str, Expected | str]] = {
    "bookstack": {
        "AUTH_METHOD": "oidc",
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": SECRET,
        "OIDC_ISSUER": issuer,
        "OIDC_ISSUER_DISCOVER": "true",
        "OIDC_END_SESSION_ENDPOINT": end_session,
    },
    "grafana": {
        "GF_AUTH_GENERIC_OAUTH_ENABLED": "true",
        "GF_AUTH_GENERIC_OAUTH_CLIENT_ID": client_id,
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": SECRET,
        "GF_AUTH_GENERIC_OAUTH_AUTH_URL": authorize,
        "GF_AUTH_GENERIC_OAUTH_TOKEN_URL": token,
        "GF_AUTH_GENERIC_OAUTH_API_URL": userinfo,
        "GF_AUTH_SIGNOUT_REDIRECT_URL": end_session,
    },
    "forgejo": {"SSO_CLIENT_SECRET": SECRET},
    "open-webui": {
        "OAUTH_CLIENT_ID": client_id,
        "OAUTH_CLIENT_SECRET": SECRET,
        "OPENID_PROVIDER_URL": discovery,
        "OPENID_REDIRECT_URI": redirect,
        "ENABLE_OAUTH_SIGNUP": "true",
        "ENABLE_OAUTH_PERSISTENT_CONFIG": "false",
    },
    "karakeep": {
        "OAUTH_WELLKNOWN_URL": discovery,
        "OAUTH_CLIENT_ID": client_id,
        "OAUTH_CLIENT_SECRET": SECRET,
    },
    "litellm": {
        "PROXY_BASE_URL": app_url,
        "GENERIC_CLIENT_ID": client_id,
        "GENERIC_CLIENT_SECRET": SECRET,
        "GENERIC_AUTHORIZATION_ENDPOINT": authorize,
        "GENERIC_TOKEN_ENDPOINT": token,
        "GENERIC_USERINFO_ENDPOINT": userinfo,
    },
}
# Apps configured by a generated file, and apps configured by hand (docs/sso.md).
FILE_CONFIGURED = {"kavita"}
MANUAL = {"portainer"}


def registration(render: Rendered, name: str) -> Registration:
    matches = [item for item in render.run.registrations if item.name == name]
    assert len(matches) == 1, f"expected one registration named {name}"
    return matches[0]


def raw_env(render: Rendered, name: str) -> dict[str, str]:
    """Return a container's environment with the secret values in clear."""
    entries: list[str] = unwrap(registration(render, name).inputs.get("envs", []))
    return dict(entry.split("=", 1) for entry in entries)


def shown_env(render: Rendered, name: str) -> dict[str, str]:
    """Return a container's environment as the redacted render shows it."""
    entries: list[str] = by_name(render, name)["inputs"].get("envs", [])
    return dict(entry.split("=", 1) for entry in entries)


def raw_upload(render: Rendered, name: str, path: str) -> str:
    uploads: list[dict[str, Any]] = unwrap(registration(render, name).inputs["uploads"])
    return next(upload["content"] for upload in uploads if upload["file"] == path)


def settings_cases() -> list[tuple[str, str]]:
    return [(app, key) for app, settings in APP_SETTINGS.items() for key in settings]


@pytest.fixture(scope="module")
def topology() -> Topology:
    return topology_of("monk")


@pytest.fixture(scope="module")
def clients(topology: Topology) -> dict[str, SsoClient]:
    return {client.service: client for client in topology.sso_clients}


@pytest.fixture(scope="module")
def monk(rendered: dict[str, Rendered]) -> Rendered:
    return rendered["monk"]


@pytest.fixture(scope="module")
def authentik_env(monk: Rendered) -> dict[str, str]:
    return raw_env(monk, f"monk-{IDENTITY_SERVICE}-container")


@pytest.fixture(scope="session")
def identity_on_monk() -> dict[str, Rendered]:
    """Return both stacks rendered with Authentik's database and Redis on monk."""
    return render_stacks(list(STACKS), overrides={stack: IDENTITY_ON_MONK for stack in STACKS})


@pytest.fixture(scope="session")
def monk_switched_alone() -> dict[str, Rendered]:
    """Return the stacks with only monk switched, as while kscloud1 is down."""
    return render_stacks(list(STACKS), overrides={"monk": IDENTITY_ON_MONK})


def test_every_oidc_app_has_settings_test(clients: dict[str, SsoClient]) -> None:
    oidc = {name for name, client in clients.items() if client.mode == "oidc"}
    assert oidc == set(APP_SETTINGS) | FILE_CONFIGURED | MANUAL


@pytest.mark.parametrize(("app", "key"), settings_cases())
def test_app_setting_value(
    monk: Rendered,
    topology: Topology,
    clients: dict[str, SsoClient],
    authentik_env: dict[str, str],
    app: str,
    key: str,
) -> None:
    expected = APP_SETTINGS[app][key]
    if expected == SECRET:
        value = authentik_env[sso_secret_env(app)]
    elif isinstance(expected, str):
        value = expected
    else:
        value = expected(topology, clients[app])
    assert raw_env(monk, f"monk-{app}-container")[key] == value


@pytest.mark.parametrize(("app", "key"), settings_cases())
def test_app_setting_redaction(monk: Rendered, app: str, key: str) -> None:
    shown = shown_env(monk, f"monk-{app}-container")[key]
    assert (shown == SECRET) == (APP_SETTINGS[app][key] == SECRET)


def test_backup_wiki_uses_same_client(rendered: dict[str, Rendered], monk: Rendered) -> None:
    backup = raw_env(rendered["kscloud1"], "kscloud1-bookstack-container")
    primary = raw_env(monk, "monk-bookstack-container")
    keys = ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_ISSUER")
    assert [backup[key] for key in keys] == [primary[key] for key in keys]


def test_client_secret_is_generated_upstream(
    rendered: dict[str, Rendered], authentik_env: dict[str, str]
) -> None:
    secrets = unwrap(rendered["kscloud1"].run.outputs["secrets"])
    for app in APP_SETTINGS:
        assert authentik_env[sso_secret_env(app)] == secrets[f"{app}.sso_client_secret"]


def test_client_secrets_are_random_passwords(rendered: dict[str, Rendered]) -> None:
    names = {
        resource["name"]
        for resource in resources_of(
            rendered["kscloud1"], "random:index/randomPassword:RandomPassword"
        )
    }
    for app in (*APP_SETTINGS, *FILE_CONFIGURED, *MANUAL):
        assert f"kitestacks-secrets-{app}-sso-client-secret" in names


def test_client_secrets_differ(authentik_env: dict[str, str]) -> None:
    secrets = [value for name, value in authentik_env.items() if name.startswith("KITESTACKS_SSO_")]
    assert len(set(secrets)) == len(secrets)


@pytest.mark.parametrize("loader", [IDENTITY_SERVICE, "authentik-worker"])
def test_blueprint_delivered(monk: Rendered, topology: Topology, loader: str) -> None:
    content = raw_upload(monk, f"monk-{loader}-container", BLUEPRINT_PATH)
    assert content == blueprint_file(topology, "monk")


@pytest.mark.parametrize("loader", [IDENTITY_SERVICE, "authentik-worker"])
def test_blueprint_shown_in_clear(monk: Rendered, loader: str) -> None:
    uploads = by_name(monk, f"monk-{loader}-container")["inputs"]["uploads"]
    content = next(upload["content"] for upload in uploads if upload["file"] == BLUEPRINT_PATH)
    assert "client_secret: !Env" in content


@pytest.mark.parametrize("loader", [IDENTITY_SERVICE, "authentik-worker"])
def test_blueprint_env_present(monk: Rendered, topology: Topology, loader: str) -> None:
    env = shown_env(monk, f"monk-{loader}-container")
    for client in topology.sso_clients:
        if client.mode == "oidc":
            assert env[sso_secret_env(client.service)] == SECRET


def test_blueprint_holds_no_secret(monk: Rendered, authentik_env: dict[str, str]) -> None:
    content = raw_upload(monk, f"monk-{IDENTITY_SERVICE}-container", BLUEPRINT_PATH)
    for name, value in authentik_env.items():
        if name.startswith("KITESTACKS_SSO_"):
            assert value not in content, name


def kavita_settings(monk: Rendered) -> dict[str, Any]:
    return json.loads(raw_upload(monk, "monk-kavita-container", "/kavita/config/appsettings.json"))


def test_kavita_authority_is_issuer(monk: Rendered, topology: Topology) -> None:
    oidc = kavita_settings(monk)["OpenIdConnectSettings"]
    assert oidc["Authority"] == topology.issuer("kavita")


def test_kavita_client_id(monk: Rendered, clients: dict[str, SsoClient]) -> None:
    assert kavita_settings(monk)["OpenIdConnectSettings"]["ClientId"] == clients["kavita"].client_id


def test_kavita_secret_matches_authentik(monk: Rendered, authentik_env: dict[str, str]) -> None:
    secret = kavita_settings(monk)["OpenIdConnectSettings"]["Secret"]
    assert secret == authentik_env[sso_secret_env("kavita")]


def test_kavita_token_key_long_enough(monk: Rendered) -> None:
    # Kavita signs with HMAC-SHA512, whose key must be longer than 64 bytes.
    assert len(kavita_settings(monk)["TokenKey"]) > 64


def test_kavita_settings_redacted(monk: Rendered) -> None:
    uploads = by_name(monk, "monk-kavita-container")["inputs"]["uploads"]
    assert [upload["content"] for upload in uploads] == [SECRET]


def test_kavita_settings_preview(monk: Rendered, topology: Topology) -> None:
    preview = by_name(monk, "monk-kavita")["inputs"]["redactedFiles"]
    settings = json.loads(preview["/kavita/config/appsettings.json"])
    oidc = settings["OpenIdConnectSettings"]
    assert (oidc["Authority"], oidc["ClientId"], oidc["Secret"]) == (
        topology.issuer("kavita"),
        "kavita",
        SECRET,
    )


def test_forgejo_setup_runs_in_container(monk: Rendered) -> None:
    command = by_name(monk, "monk-forgejo-sso-setup")["inputs"]
    assert command["create"] == "docker exec --interactive --user git forgejo sh -s"


def test_forgejo_setup_follows_container(monk: Rendered) -> None:
    command = by_name(monk, "monk-forgejo-sso-setup")
    container = by_name(monk, "monk-forgejo-container")
    assert command["dependencies"] == [container["urn"]]


def test_forgejo_setup_reads_secret_from_env(monk: Rendered) -> None:
    script = by_name(monk, "monk-forgejo-sso-setup")["inputs"]["stdin"]
    assert '--secret "$SSO_CLIENT_SECRET"' in script


def test_forgejo_setup_holds_no_secret(monk: Rendered, authentik_env: dict[str, str]) -> None:
    raw = registration(monk, "monk-forgejo-sso-setup").inputs
    assert authentik_env[sso_secret_env("forgejo")] not in json.dumps(unwrap(raw))


def test_forgejo_setup_discovers_issuer(monk: Rendered, topology: Topology) -> None:
    script = by_name(monk, "monk-forgejo-sso-setup")["inputs"]["stdin"]
    assert f"--auto-discover-url {topology.issuer('forgejo')}.well-known/openid-configuration" in (
        script
    )


def test_forgejo_source_name_matches_callback(
    monk: Rendered, clients: dict[str, SsoClient]
) -> None:
    script = by_name(monk, "monk-forgejo-sso-setup")["inputs"]["stdin"]
    name = clients["forgejo"].redirect_uris[0].split("/")[-2]
    assert f"--name {name} " in script


def test_authentik_urls_on_identity_hostname(monk: Rendered, topology: Topology) -> None:
    # Every Authentik URL an app reads must point at the public identity
    # hostname, and a per-application URL at the app's own slug.
    for resource in resources_of(monk, CONTAINER):
        service = resource["inputs"]["name"]
        for entry in resource["inputs"].get("envs", []):
            value = entry.split("=", 1)[1]
            if "/application/o/" not in value:
                continue
            assert value.startswith(f"{topology.issuer_base}/application/o/"), entry
            slug = value.removeprefix(f"{topology.issuer_base}/application/o/").split("/")[0]
            assert slug in ("authorize", "token", "userinfo", service), entry


def test_no_secret_value_in_document(rendered: dict[str, Rendered]) -> None:
    secrets = unwrap(rendered["kscloud1"].run.outputs["secrets"])
    for render in rendered.values():
        text = render.json_text()
        leaked = [name for name, value in secrets.items() if value in text]
        assert leaked == [], render.stack


def test_proxy_apps_behind_outpost(rendered: dict[str, Rendered], topology: Topology) -> None:
    config = resources_of(
        rendered["kscloud1"],
        "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
    )[0]
    services = {
        rule.get("hostname"): rule["service"] for rule in config["inputs"]["config"]["ingresses"]
    }
    identity = services[topology.fqdn(IDENTITY_SERVICE)]
    for client in topology.sso_clients:
        if client.mode == "proxy":
            assert services[topology.fqdn(client.service)] == identity


def test_docs_cover_every_sso_app(topology: Topology) -> None:
    text = Path(ROOT, "docs", "sso.md").read_text()
    for client in topology.sso_clients:
        assert f"### {client.service}" in text


def containers_of(render: Rendered) -> set[str]:
    return {resource["inputs"]["name"] for resource in resources_of(render, CONTAINER)}


@pytest.mark.parametrize("service", ["authentik-postgres", "authentik-redis"])
def test_identity_store_on_kscloud1(rendered: dict[str, Rendered], service: str) -> None:
    placed = [stack for stack, render in rendered.items() if service in containers_of(render)]
    assert placed == ["kscloud1"]


@pytest.mark.parametrize("service", ["authentik-postgres", "authentik-redis"])
def test_identity_store_switched_to_monk(
    identity_on_monk: dict[str, Rendered], service: str
) -> None:
    placed = [
        stack for stack, render in identity_on_monk.items() if service in containers_of(render)
    ]
    assert placed == ["monk"]


def test_authentik_reaches_kscloud1_by_default(rendered: dict[str, Rendered]) -> None:
    topology = topology_of("monk")
    env = raw_env(rendered["monk"], f"monk-{IDENTITY_SERVICE}-container")
    hosts = (env["AUTHENTIK_POSTGRESQL__HOST"], env["AUTHENTIK_REDIS__HOST"])
    assert hosts == (topology.tailnet_ip("kscloud1"),) * 2


def test_authentik_reaches_local_store(identity_on_monk: dict[str, Rendered]) -> None:
    env = raw_env(identity_on_monk["monk"], f"monk-{IDENTITY_SERVICE}-container")
    hosts = (env["AUTHENTIK_POSTGRESQL__HOST"], env["AUTHENTIK_REDIS__HOST"])
    assert hosts == ("authentik-postgres", "authentik-redis")


def no_container_reaches(render: Rendered, address: str) -> list[str]:
    """Return the env entries of a stack's containers that name an address."""
    return [
        f"{resource['name']}: {entry}"
        for resource in resources_of(render, CONTAINER)
        for entry in resource["inputs"].get("envs", [])
        if address in entry
    ]


def test_monk_needs_no_kscloud1_for_logins(identity_on_monk: dict[str, Rendered]) -> None:
    kscloud1_ip = topology_of("monk").tailnet_ip("kscloud1")
    assert no_container_reaches(identity_on_monk["monk"], kscloud1_ip) == []


def test_switched_policy_drops_identity_ports(identity_on_monk: dict[str, Rendered]) -> None:
    acl = resources_of(identity_on_monk["kscloud1"], "tailscale:index/acl:Acl")[0]
    grants = json.loads(acl["inputs"]["acl"])["grants"]
    to_kscloud1 = [g for g in grants if g["src"] == ["tag:monk"] and g["dst"] == ["tag:kscloud1"]]
    ports = {port for grant in to_kscloud1 for port in grant["ip"]}
    assert ports & {"tcp:5432", "tcp:6379"} == set()


def test_switched_store_keeps_upstream_password(identity_on_monk: dict[str, Rendered]) -> None:
    secrets = unwrap(identity_on_monk["kscloud1"].run.outputs["secrets"])
    env = raw_env(identity_on_monk["monk"], "monk-authentik-postgres-container")
    assert env["POSTGRES_PASSWORD"] == secrets["authentik-postgres.password"]


def test_switched_store_password_redacted(identity_on_monk: dict[str, Rendered]) -> None:
    env = shown_env(identity_on_monk["monk"], "monk-authentik-postgres-container")
    assert env["POSTGRES_PASSWORD"] == SECRET


def test_switched_store_volume_protected(identity_on_monk: dict[str, Rendered]) -> None:
    volume = by_name(identity_on_monk["monk"], "monk-volume-authentik-postgres-data")
    assert (volume["options"]["protect"], volume["options"]["retainOnDelete"]) == (True, True)


def test_emergency_switch_of_monk_alone(monk_switched_alone: dict[str, Rendered]) -> None:
    # While kscloud1 is down only monk can be deployed; its stack reference
    # still reads the passwords from kscloud1's last saved state.
    kscloud1_ip = topology_of("monk").tailnet_ip("kscloud1")
    assert no_container_reaches(monk_switched_alone["monk"], kscloud1_ip) == []


def test_emergency_switch_keeps_passwords(monk_switched_alone: dict[str, Rendered]) -> None:
    secrets = unwrap(monk_switched_alone["kscloud1"].run.outputs["secrets"])
    env = raw_env(monk_switched_alone["monk"], f"monk-{IDENTITY_SERVICE}-container")
    assert env["AUTHENTIK_POSTGRESQL__PASSWORD"] == secrets["authentik-postgres.password"]


def test_secret_inputs_marked(monk: Rendered) -> None:
    for resource in resources_of(monk, CONTAINER):
        raw = registration(monk, resource["name"]).inputs
        assert resource["secretInputs"] == sorted(k for k, v in raw.items() if contains_secret(v))


def test_litellm_database_url_matches_database(rendered: dict[str, Rendered]) -> None:
    litellm = raw_env(rendered["monk"], "monk-litellm-container")
    database = raw_env(rendered["monk"], "monk-litellm-db-container")
    password = database["POSTGRES_PASSWORD"]
    assert litellm["DATABASE_URL"] == f"postgresql://litellm:{password}@litellm-db:5432/litellm"


def test_litellm_database_url_redacted(rendered: dict[str, Rendered]) -> None:
    assert shown_env(rendered["monk"], "monk-litellm-container")["DATABASE_URL"] == "[secret]"
