"""The config model: the real catalogue is valid and typos are errors."""

from __future__ import annotations

import pytest
import yaml

from config.load import ConfigError, load, load_catalogue
from config.model import IMAGE_REFERENCE
from config.refs import CATALOGUE_PATH, config_keys
from render.engine import ROOT
from render.stackconfig import read_stack_config
from tests.conftest import load_model

ARCHITECTURE_SERVICES = {
    "monk": {
        "authentik-server",
        "authentik-worker",
        "cloudflared",
        "portainer",
        "forgejo",
        "uptime-kuma",
        "prometheus",
        "grafana",
        "node-exporter",
        "bookstack",
        "bookstack-db",
        "karakeep",
        "kavita",
        "osticket",
        "osticket-db",
        "open-webui",
        "litellm",
        "portal",
    },
    "kscloud1": {
        "authentik-postgres",
        "authentik-redis",
        "bookstack",
        "bookstack-db",
        "cloudflared",
        "node-exporter",
        "portal",
    },
}


def catalogue_data() -> dict[str, object]:
    return yaml.safe_load(CATALOGUE_PATH.read_text())


def load_with(data: dict[str, object], stack: str = "kscloud1") -> None:
    config = read_stack_config(ROOT, stack).values
    load("kitestacks", stack, config, yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_real_catalogue_is_valid(stack: str) -> None:
    model = load_model(stack, {"kitestacks:openaiApiKey": "x", "kitestacks:anthropicApiKey": "x"})
    assert model.site.stack == stack


@pytest.mark.parametrize("host", sorted(ARCHITECTURE_SERVICES))
def test_catalogue_places_architecture_services(host: str) -> None:
    model = load_model()
    placed = {name for name in model.catalogue.services if host in model.service_hosts(name)}
    assert ARCHITECTURE_SERVICES[host] <= placed


def test_every_image_is_pinned() -> None:
    model = load_model()
    for name, service in model.catalogue.services.items():
        match = IMAGE_REFERENCE.match(service.image)
        assert match is not None, name
        assert match.group("tag") != "latest", name


def test_unknown_service_key_rejected() -> None:
    data = catalogue_data()
    services = data["services"]
    assert isinstance(services, dict)
    services["bookstack"]["imagee"] = "typo"
    with pytest.raises(ConfigError) as error:
        load_with(data)
    assert error.value.problems == [
        "services.bookstack.imagee: unknown key; remove it or check its spelling"
    ]


def test_unknown_host_key_rejected() -> None:
    data = catalogue_data()
    hosts = data["hosts"]
    assert isinstance(hosts, dict)
    hosts["monk"]["tailnet_address"] = "100.101.10.10"
    with pytest.raises(ConfigError) as error:
        load_with(data)
    assert error.value.problems == [
        "hosts.monk.tailnet_address: unknown key; remove it or check its spelling"
    ]


def test_unknown_placement_host_rejected() -> None:
    data = catalogue_data()
    services = data["services"]
    assert isinstance(services, dict)
    services["bookstack"]["hosts"] = ["monk", "kscloud2"]
    with pytest.raises(ConfigError) as error:
        load_with(data)
    assert error.value.problems == [
        "services.bookstack.hosts[1]: unknown host 'kscloud2'; known hosts are monk, kscloud1"
    ]


def test_config_error_lists_every_problem() -> None:
    data = catalogue_data()
    services = data["services"]
    assert isinstance(services, dict)
    services["portal"]["image"] = "nginx:latest"
    services["grafana"]["port"] = 70000
    with pytest.raises(ConfigError) as error:
        load_with(data)
    assert len(error.value.problems) == 2
    assert "2 problems" in str(error.value)


def test_unset_config_secret_reported() -> None:
    with pytest.raises(ConfigError) as error:
        load(
            "kitestacks",
            "monk",
            {"kitestacks:domain": "kitestacks.com", "kitestacks:anthropicApiKey": "x"},
        )
    assert error.value.problems == [
        "kitestacks:openaiApiKey: missing secret, read by services.litellm.env.OPENAI_API_KEY; "
        "run `pulumi config set --secret kitestacks:openaiApiKey <value> --stack monk`"
    ]


def test_catalogue_validated_once_per_text() -> None:
    text = CATALOGUE_PATH.read_text()
    first, _ = load_catalogue(text, "catalogue")
    second, _ = load_catalogue(text, "catalogue")
    assert first is not None
    assert second is first


def test_catalogue_problems_are_a_fresh_list() -> None:
    problems = load_catalogue("hosts: [", "catalogue")[1]
    problems.append("changed by the caller")
    assert load_catalogue("hosts: [", "catalogue")[1] == problems[:1]


def test_config_keys_are_a_fresh_list() -> None:
    keys = config_keys(CATALOGUE_PATH.read_text())
    keys.clear()
    assert config_keys(CATALOGUE_PATH.read_text())
