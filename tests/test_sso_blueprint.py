"""The Authentik blueprint, parsed back and checked against the vendor's API models.

The authentik-client package is generated from Authentik's OpenAPI schema, so
its `*Request` models describe what Authentik's serializers accept. Blueprint
tags resolve to values only inside Authentik, so the checks below substitute a
value of the type each tag yields there: `!Find` and `!KeyOf` return the
primary key of an object (a UUID for flows, keys and scope mappings; an integer
for providers), and `!Env` returns a string.

requirements-dev.txt pins authentik-client to the Authentik release that the
catalogue runs, so the models are those of the server (a test below keeps the
two in step). Newer releases add fields, such as `grant_types`, that this
server would ignore.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from authentik_client.models.application_request import ApplicationRequest
from authentik_client.models.o_auth2_provider_request import OAuth2ProviderRequest
from authentik_client.models.patched_outpost_request import PatchedOutpostRequest
from authentik_client.models.proxy_provider_request import ProxyProviderRequest
from pydantic import BaseModel

from config.authentik import blueprint_file
from config.topology import IDENTITY_SERVICE, Topology, sso_secret_env
from render.engine import ROOT
from tests.conftest import topology_of

# The embedded outpost exists before any blueprint runs, so Authentik updates
# it with a partial serializer; providers and applications are created whole.
MODELS: dict[str, type[BaseModel]] = {
    "authentik_providers_oauth2.oauth2provider": OAuth2ProviderRequest,
    "authentik_providers_proxy.proxyprovider": ProxyProviderRequest,
    "authentik_core.application": ApplicationRequest,
    "authentik_outposts.outpost": PatchedOutpostRequest,
}
# Entries that trigger another blueprint; they map to no API object.
META_MODELS = {"authentik_blueprints.metaapplyblueprint"}
# Length of the generated client secrets (SecretSpec's default).
SECRET_LENGTH = 32
NAMESPACE = uuid.UUID("0b4d6c2e-8f1a-4e3b-9c5d-7a6e2f1b3c4d")


@dataclass
class Tag:
    """A YAML value with a local tag such as !Find, as written in the file."""

    name: str
    value: Any


class TagLoader(yaml.SafeLoader):
    """A safe loader that keeps every `!` tag as a Tag instead of failing."""


def construct_tag(loader: TagLoader, suffix: str, node: yaml.Node) -> Tag:
    if isinstance(node, yaml.ScalarNode):
        return Tag(f"!{suffix}", loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tag(f"!{suffix}", loader.construct_sequence(node, deep=True))
    raise AssertionError(f"unexpected mapping under !{suffix}")


TagLoader.add_multi_constructor("!", construct_tag)


def substitute(value: Any) -> Any:
    """Return a value with each tag replaced by a value of the type it resolves to."""
    if isinstance(value, Tag):
        if value.name == "!Find":
            return uuid.uuid5(NAMESPACE, json.dumps(value.value))
        if value.name == "!KeyOf":
            return 1 + uuid.uuid5(NAMESPACE, value.value).int % 10_000
        if value.name == "!Env":
            return "x" * SECRET_LENGTH
        raise AssertionError(f"unexpected tag {value.name}")
    if isinstance(value, dict):
        return {key: substitute(item) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [substitute(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def tags_in(value: Any) -> list[Tag]:
    """Return every tag inside a value."""
    if isinstance(value, Tag):
        return [value]
    if isinstance(value, dict):
        return [tag for item in value.values() for tag in tags_in(item)]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [tag for item in value for tag in tags_in(item)]  # pyright: ignore[reportUnknownVariableType]
    return []


@pytest.fixture(scope="module")
def topology() -> Topology:
    return topology_of("kscloud1")


@pytest.fixture(scope="module")
def text(topology: Topology) -> str:
    return blueprint_file(topology, "monk")


@pytest.fixture(scope="module")
def document(text: str) -> dict[str, Any]:
    # TagLoader derives from SafeLoader, so loading constructs no Python objects.
    return yaml.load(text, Loader=TagLoader)


@pytest.fixture(scope="module")
def entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["entries"]


def entry_name(entry: dict[str, Any]) -> str:
    return entry.get("id") or entry["model"]


def api_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["model"] not in META_MODELS]


def providers(entries: list[dict[str, Any]], model: str) -> dict[str, dict[str, Any]]:
    """Map each provider's name to its attributes."""
    return {
        entry["identifiers"]["name"]: entry["attrs"] for entry in entries if entry["model"] == model
    }


def test_blueprint_version(document: dict[str, Any]) -> None:
    assert document["version"] == 1


def test_blueprint_has_name(document: dict[str, Any]) -> None:
    assert document["metadata"]["name"]


def test_entries_use_known_models(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        assert entry["model"] in MODELS.keys() | META_MODELS, entry_name(entry)


def test_entries_validate_against_client_models(entries: list[dict[str, Any]]) -> None:
    for entry in api_entries(entries):
        # Authentik merges the identifiers into the attributes before validating.
        data = substitute({**entry["attrs"], **entry["identifiers"]})
        MODELS[entry["model"]].model_validate(data)


def test_entries_set_only_model_fields(entries: list[dict[str, Any]]) -> None:
    # The generated models ignore unknown keys, so a misspelled attribute would
    # pass validation; Authentik would then silently ignore it too.
    for entry in api_entries(entries):
        fields = MODELS[entry["model"]].model_fields
        unknown = set(entry["attrs"]) - set(fields)
        assert unknown == set(), entry_name(entry)


def test_meta_entries_require_blueprints(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        if entry["model"] in META_MODELS:
            assert entry["attrs"]["required"] is True


def test_one_provider_per_client(topology: Topology, entries: list[dict[str, Any]]) -> None:
    oidc = providers(entries, "authentik_providers_oauth2.oauth2provider")
    proxy = providers(entries, "authentik_providers_proxy.proxyprovider")
    expected_oidc = {c.service for c in topology.sso_clients if c.mode == "oidc"}
    expected_proxy = {c.service for c in topology.sso_clients if c.mode == "proxy"}
    assert (set(oidc), set(proxy)) == (expected_oidc, expected_proxy)


def test_one_application_per_client(topology: Topology, entries: list[dict[str, Any]]) -> None:
    slugs = [
        e["identifiers"]["slug"] for e in entries if e["model"] == "authentik_core.application"
    ]
    assert sorted(slugs) == [client.service for client in topology.sso_clients]


def test_application_points_at_own_provider(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        if entry["model"] == "authentik_core.application":
            slug = entry["identifiers"]["slug"]
            assert entry["attrs"]["provider"] == Tag("!KeyOf", f"provider-{slug}")


def test_key_of_names_earlier_entry(entries: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for entry in entries:
        for tag in tags_in(entry["attrs"]):
            if tag.name == "!KeyOf":
                assert tag.value in seen, entry_name(entry)
        if "id" in entry:
            seen.add(entry["id"])


def test_client_secret_read_from_env(entries: list[dict[str, Any]]) -> None:
    for name, attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").items():
        assert attrs["client_secret"] == Tag("!Env", sso_secret_env(name))


def test_client_id_is_service(entries: list[dict[str, Any]]) -> None:
    for name, attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").items():
        assert attrs["client_id"] == name


def test_redirect_uris_match_topology(topology: Topology, entries: list[dict[str, Any]]) -> None:
    clients = {client.service: client for client in topology.sso_clients}
    for name, attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").items():
        urls = tuple(uri["url"] for uri in attrs["redirect_uris"])
        assert urls == clients[name].redirect_uris


def test_redirect_uris_on_public_hostnames(
    topology: Topology, entries: list[dict[str, Any]]
) -> None:
    fqdns = {route.service: route.fqdn for route in topology.routes}
    for name, attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").items():
        for uri in attrs["redirect_uris"]:
            parts = urlsplit(uri["url"])
            assert (parts.scheme, parts.hostname) == ("https", fqdns[name])


def test_redirect_uris_match_strictly(entries: list[dict[str, Any]]) -> None:
    for attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").values():
        assert {uri["matching_mode"] for uri in attrs["redirect_uris"]} == {"strict"}


def test_issuer_per_provider(entries: list[dict[str, Any]]) -> None:
    # Topology.issuer builds /application/o/<slug>/, which holds only in this mode.
    for attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").values():
        assert attrs["issuer_mode"] == "per_provider"


def test_providers_sign_with_key(entries: list[dict[str, Any]]) -> None:
    expected = Tag(
        "!Find",
        ["authentik_crypto.certificatekeypair", ["name", "authentik Self-signed Certificate"]],
    )
    for attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").values():
        assert attrs["signing_key"] == expected


def test_providers_map_openid_scopes(entries: list[dict[str, Any]]) -> None:
    for attrs in providers(entries, "authentik_providers_oauth2.oauth2provider").values():
        scopes = {tag.value[1][1].rsplit("-", 1)[-1] for tag in attrs["property_mappings"]}
        assert scopes == {"openid", "email", "profile"}


def test_proxy_hosts_match_topology(topology: Topology, entries: list[dict[str, Any]]) -> None:
    clients = {client.service: client for client in topology.sso_clients}
    for name, attrs in providers(entries, "authentik_providers_proxy.proxyprovider").items():
        hosts = (attrs["external_host"], attrs["internal_host"])
        assert hosts == (topology.url(name), clients[name].internal_url)


def test_outpost_binds_proxy_providers(topology: Topology, entries: list[dict[str, Any]]) -> None:
    outpost = next(e for e in entries if e["model"] == "authentik_outposts.outpost")
    proxied = [f"provider-{c.service}" for c in topology.sso_clients if c.mode == "proxy"]
    assert outpost["attrs"]["providers"] == [Tag("!KeyOf", item) for item in proxied]


def test_outpost_is_embedded(entries: list[dict[str, Any]]) -> None:
    outpost = next(e for e in entries if e["model"] == "authentik_outposts.outpost")
    assert outpost["identifiers"] == {"managed": "goauthentik.io/outposts/embedded"}


def test_outpost_host_is_identity_url(topology: Topology, entries: list[dict[str, Any]]) -> None:
    outpost = next(e for e in entries if e["model"] == "authentik_outposts.outpost")
    assert outpost["attrs"]["config"]["authentik_host"] == f"{topology.url(IDENTITY_SERVICE)}/"


def test_blueprint_has_no_aliases(text: str) -> None:
    assert "&id" not in text


def test_blueprint_same_on_every_host(topology: Topology) -> None:
    assert blueprint_file(topology, "monk") == blueprint_file(topology, "kscloud1")


def test_client_pin_matches_server_image(topology: Topology) -> None:
    tag = topology.service(IDENTITY_SERVICE).image.rsplit(":", 1)[1]
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    pins = [line.split("==", 1)[1] for line in lines if line.startswith("authentik-client==")]
    assert pins == [tag]


def test_worker_runs_server_image(topology: Topology) -> None:
    server = topology.service(IDENTITY_SERVICE).image
    assert topology.service("authentik-worker").image == server


def test_blueprint_file_follows_topology() -> None:
    first = topology_of("kscloud1")
    second = topology_of("kscloud1", {"kitestacks:domain": "example.org"})
    assert blueprint_file(first, "monk") is blueprint_file(first, "monk")
    assert "auth.example.org" in blueprint_file(second, "monk")
    assert "auth.example.org" not in blueprint_file(first, "monk")


def test_blueprint_text_reused_across_stacks() -> None:
    # Each stack derives its own topology from the same catalogue, so only
    # an equal document, not the same topology, lets the text be reused.
    monk = blueprint_file(topology_of("monk"), "monk")
    assert blueprint_file(topology_of("kscloud1"), "kscloud1") is monk
