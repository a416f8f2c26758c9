"""The Authentik blueprint that declares every single sign-on client of the catalogue.

Authentik applies the YAML files under /blueprints as blueprints and re-applies
a file when it changes. This one declares, for each app behind single sign-on:

- oidc: an OAuth2/OpenID provider and an application whose slug is the service
  name, so the issuer is https://auth.<domain>/application/o/<service>/;
- proxy: a proxy provider and an application, bound to the embedded outpost
  that runs inside authentik-server.

No client secret is written into the file: each provider reads its secret at
apply time with `!Env`, from a variable that the Authentik containers receive
as a secret (see Topology.env_of). Flows, the signing key and the scope
mappings are looked up with `!Find`, as Authentik's own blueprints do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from config.topology import SsoClient, Topology, sso_secret_env

BLUEPRINT_NAME = "KiteStacks single sign-on"
OAUTH2_PROVIDER_MODEL = "authentik_providers_oauth2.oauth2provider"
PROXY_PROVIDER_MODEL = "authentik_providers_proxy.proxyprovider"
APPLICATION_MODEL = "authentik_core.application"
OUTPOST_MODEL = "authentik_outposts.outpost"
APPLY_BLUEPRINT_MODEL = "authentik_blueprints.metaapplyblueprint"
EMBEDDED_OUTPOST = "goauthentik.io/outposts/embedded"
SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True)
class Find:
    """`!Find [model, [field, value], ...]`: the primary key of an existing object."""

    model: str
    conditions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Env:
    """`!Env NAME`: an environment variable of the Authentik process that applies the file."""

    name: str


@dataclass(frozen=True)
class KeyOf:
    """`!KeyOf ID`: the primary key of the object that another entry of the file created."""

    entry_id: str


# Flows and objects that Authentik creates on first start. The slugs and names
# are those of Authentik's default blueprints.
AUTHORIZATION_FLOW = Find(
    "authentik_flows.flow", (("slug", "default-provider-authorization-implicit-consent"),)
)
INVALIDATION_FLOW = Find("authentik_flows.flow", (("slug", "default-provider-invalidation-flow"),))
SIGNING_KEY = Find(
    "authentik_crypto.certificatekeypair", (("name", "authentik Self-signed Certificate"),)
)
# The blueprints that create the objects above, by their metadata name.
REQUIRED_BLUEPRINTS = (
    "Default - Provider authorization flow (implicit consent)",
    "Default - Provider invalidation flow",
    "System - OAuth2 Provider - Scopes",
)
PROXY_SCOPES_BLUEPRINT = "System - Proxy Provider - Scopes"


def scope_mapping(scope: str) -> Find:
    """Return the lookup of Authentik's built-in mapping of an OpenID scope."""
    return Find(
        "authentik_providers_oauth2.scopemapping",
        (("managed", f"goauthentik.io/providers/oauth2/scope-{scope}"),),
    )


def provider_id(service: str) -> str:
    """Return the blueprint entry id of an app's provider."""
    return f"provider-{service}"


def requirement(name: str) -> dict[str, Any]:
    """Return an entry that applies another blueprint first, and fails if it is missing."""
    return {
        "model": APPLY_BLUEPRINT_MODEL,
        "attrs": {"identifiers": {"name": name}, "required": True},
    }


def oauth2_provider(client: SsoClient) -> dict[str, Any]:
    """Return the OAuth2/OpenID provider entry of an oidc app."""
    return {
        "id": provider_id(client.service),
        "model": OAUTH2_PROVIDER_MODEL,
        "identifiers": {"name": client.service},
        "attrs": {
            "authorization_flow": AUTHORIZATION_FLOW,
            "invalidation_flow": INVALIDATION_FLOW,
            "client_type": "confidential",
            "client_id": client.client_id,
            "client_secret": Env(sso_secret_env(client.service)),
            "redirect_uris": [
                {"matching_mode": "strict", "url": uri} for uri in client.redirect_uris
            ],
            "signing_key": SIGNING_KEY,
            "property_mappings": [scope_mapping(scope) for scope in SCOPES],
            # One issuer per application slug, which Topology.issuer relies on.
            "issuer_mode": "per_provider",
            "sub_mode": "hashed_user_id",
            "include_claims_in_id_token": True,
        },
    }


def proxy_provider(client: SsoClient) -> dict[str, Any]:
    """Return the proxy provider entry of a proxy app.

    Authentik adds the proxy scope mappings to a proxy provider on every save,
    so the entry names none.
    """
    return {
        "id": provider_id(client.service),
        "model": PROXY_PROVIDER_MODEL,
        "identifiers": {"name": client.service},
        "attrs": {
            "authorization_flow": AUTHORIZATION_FLOW,
            "invalidation_flow": INVALIDATION_FLOW,
            "mode": "proxy",
            "external_host": client.launch_url,
            "internal_host": client.internal_url,
        },
    }


def application(client: SsoClient, description: str) -> dict[str, Any]:
    """Return the application entry of an app, whose slug is the service name."""
    return {
        "id": f"application-{client.service}",
        "model": APPLICATION_MODEL,
        "identifiers": {"slug": client.service},
        "attrs": {
            "name": client.service,
            "provider": KeyOf(provider_id(client.service)),
            "meta_launch_url": client.launch_url,
            "meta_description": description,
            "policy_engine_mode": "any",
        },
    }


def embedded_outpost(topology: Topology, proxied: list[SsoClient]) -> dict[str, Any]:
    """Return the entry that binds every proxy provider to the embedded outpost.

    The list replaces the outpost's providers, so a proxy app removed from the
    catalogue is unbound too.
    """
    return {
        "model": OUTPOST_MODEL,
        "identifiers": {"managed": EMBEDDED_OUTPOST},
        "attrs": {
            "providers": [KeyOf(provider_id(client.service)) for client in proxied],
            # The outpost builds its sign-in redirects from this URL.
            "config": {
                "authentik_host": f"{topology.issuer_base}/",
                "authentik_host_insecure": False,
                "log_level": "info",
            },
        },
    }


def blueprint(topology: Topology) -> dict[str, Any]:
    """Return the blueprint document: providers, applications and the outpost binding."""
    clients = list(topology.sso_clients)
    proxied = [client for client in clients if client.mode == "proxy"]
    required = list(REQUIRED_BLUEPRINTS) + ([PROXY_SCOPES_BLUEPRINT] if proxied else [])

    entries: list[dict[str, Any]] = [requirement(name) for name in required]
    for client in clients:
        provider = oauth2_provider(client) if client.mode == "oidc" else proxy_provider(client)
        entries.append(provider)
        entries.append(application(client, topology.service(client.service).description))
    entries.append(embedded_outpost(topology, proxied))

    return {
        "version": 1,
        "metadata": {
            "name": BLUEPRINT_NAME,
            "labels": {
                "blueprints.goauthentik.io/description": (
                    "Providers and applications of every KiteStacks app, generated by Pulumi"
                ),
            },
        },
        "entries": entries,
    }


class BlueprintDumper(yaml.SafeDumper):
    """A YAML dumper that writes Authentik's `!Find`, `!Env` and `!KeyOf` tags."""

    def ignore_aliases(self, data: Any) -> bool:
        # Shared lookups such as the authorization flow would otherwise become
        # YAML anchors and aliases, which are valid but hard to read.
        return True


def represent_find(dumper: BlueprintDumper, data: Find) -> yaml.Node:
    items: list[Any] = [data.model, *[list(condition) for condition in data.conditions]]
    return dumper.represent_sequence("!Find", items, flow_style=True)


def represent_env(dumper: BlueprintDumper, data: Env) -> yaml.Node:
    # The stub leaves the value parameter untyped.
    return dumper.represent_scalar("!Env", data.name)  # pyright: ignore[reportUnknownMemberType]


def represent_key_of(dumper: BlueprintDumper, data: KeyOf) -> yaml.Node:
    return dumper.represent_scalar("!KeyOf", data.entry_id)  # pyright: ignore[reportUnknownMemberType]


BlueprintDumper.add_representer(Find, represent_find)
BlueprintDumper.add_representer(Env, represent_env)
BlueprintDumper.add_representer(KeyOf, represent_key_of)


def dump_blueprint(document: dict[str, Any]) -> str:
    """Return a blueprint document as YAML, keys in the order they were built."""
    text = yaml.dump(
        document, Dumper=BlueprintDumper, sort_keys=False, width=1000, allow_unicode=True
    )
    return "# Generated from config/catalogue.yaml; edit the catalogue, not this file.\n" + text


# The last blueprint written: its topology, its document and its text. Every
# Authentik container gets the same file, and one process renders all stacks
# of a catalogue, so the text is reused while the document is unchanged.
_last_blueprint: list[tuple[Topology, dict[str, Any], str]] = []


def blueprint_file(topology: Topology, host: str) -> str:
    """Return the blueprint file, which is the same on every host."""
    if _last_blueprint and _last_blueprint[0][0] is topology:
        return _last_blueprint[0][2]
    document = blueprint(topology)
    if _last_blueprint and _last_blueprint[0][1] == document:
        text = _last_blueprint[0][2]
    else:
        text = dump_blueprint(document)
    _last_blueprint[:] = [(topology, document, text)]
    return text
