"""The Prometheus scrape config and Grafana's data source, as deployed on monk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.generated import grafana_datasources
from config.load import load
from config.refs import CATALOGUE_PATH
from config.tailnet_eval import PolicyEvaluator
from config.tailnet_policy import host_tag
from config.topology import SCRAPER_SERVICE, Topology, derive
from render.document import Rendered
from render.engine import ROOT
from render.stackconfig import read_stack_config
from tests.conftest import by_name, require_tool, topology_of

PROMETHEUS_FILE = "/etc/prometheus/prometheus.yml"
GRAFANA_FILE = "/etc/grafana/provisioning/datasources/prometheus.yaml"


def upload(render: Rendered, container: str, path: str) -> str:
    """Return the content of a file that a rendered container receives."""
    uploads = by_name(render, container)["inputs"]["uploads"]
    (entry,) = [item for item in uploads if item["file"] == path]
    return entry["content"]


@pytest.fixture(scope="session")
def prometheus_text(rendered: dict[str, Rendered]) -> str:
    return upload(rendered["monk"], "monk-prometheus-container", PROMETHEUS_FILE)


@pytest.fixture(scope="session")
def scrape(prometheus_text: str) -> dict[str, Any]:
    return yaml.safe_load(prometheus_text)


@pytest.fixture(scope="session")
def topology() -> Topology:
    return topology_of("monk")


def targets(scrape: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Map (job, host label) to the target address."""
    found: dict[tuple[str, str], str] = {}
    for job in scrape["scrape_configs"]:
        for group in job["static_configs"]:
            for address in group["targets"]:
                found[(job["job_name"], group["labels"]["host"])] = address
    return found


def test_promtool_accepts_config(prometheus_text: str, tmp_path: Path) -> None:
    tool = require_tool("promtool")
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_text)
    result = subprocess.run([tool, "check", "config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_broken_config(tmp_path: Path) -> None:
    tool = require_tool("promtool")
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs:\n- job_name: x\n  scrape_everything: true\n")
    result = subprocess.run([tool, "check", "config", str(path)], capture_output=True, text=True)
    assert result.returncode != 0


def test_every_metrics_endpoint_scraped(scrape: dict[str, Any], topology: Topology) -> None:
    expected = {
        (name, host)
        for name, service in topology.model.catalogue.services.items()
        if service.metrics is not None
        for host in topology.hosts_of(name)
    }
    assert expected <= set(targets(scrape))


def test_node_exporter_on_every_host(scrape: dict[str, Any], topology: Topology) -> None:
    hosts = {host for job, host in targets(scrape) if job == "node-exporter"}
    assert hosts == set(topology.model.catalogue.hosts)


def test_remote_targets_use_tailnet(scrape: dict[str, Any], topology: Topology) -> None:
    scrapers = topology.hosts_of(SCRAPER_SERVICE)
    wrong = [
        (job, host, address)
        for (job, host), address in targets(scrape).items()
        if host not in scrapers
        and address != f"{topology.tailnet_ip(host)}:{topology.metrics_host_port(job)}"
    ]
    assert wrong == []


def test_remote_targets_are_published(
    scrape: dict[str, Any], rendered: dict[str, Rendered], topology: Topology
) -> None:
    scrapers = topology.hosts_of(SCRAPER_SERVICE)
    unpublished = []
    for (job, host), address in targets(scrape).items():
        if host in scrapers:
            continue
        ports = by_name(rendered[host], f"{host}-{job}-container")["inputs"].get("ports", [])
        published = {f"{port['ip']}:{port['external']}" for port in ports}
        if address not in published:
            unpublished.append(address)
    assert unpublished == []


def test_remote_targets_allowed_by_policy(
    scrape: dict[str, Any], rendered: dict[str, Rendered], topology: Topology
) -> None:
    acl = by_name(rendered["kscloud1"], "kitestacks-tailnet-policy")["inputs"]["acl"]
    evaluator = PolicyEvaluator(json.loads(acl))
    (scraper,) = topology.hosts_of(SCRAPER_SERVICE)
    blocked = [
        (job, host)
        for (job, host), address in targets(scrape).items()
        if host != scraper
        and not evaluator.allows(host_tag(scraper), host_tag(host), int(address.rpartition(":")[2]))
    ]
    assert blocked == []


def test_scrape_interval(scrape: dict[str, Any]) -> None:
    assert scrape["global"]["scrape_interval"] == "15s"


@pytest.fixture(scope="session")
def datasources(rendered: dict[str, Rendered]) -> list[dict[str, Any]]:
    text = upload(rendered["monk"], "monk-grafana-container", GRAFANA_FILE)
    return yaml.safe_load(text)["datasources"]


def test_grafana_uses_prometheus(datasources: list[dict[str, Any]], topology: Topology) -> None:
    (source,) = datasources
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://{SCRAPER_SERVICE}:{topology.service(SCRAPER_SERVICE).port}"


def test_grafana_prometheus_is_default(datasources: list[dict[str, Any]]) -> None:
    assert datasources[0]["isDefault"] is True


@pytest.fixture(scope="module")
def grafana_on_kscloud1() -> Topology:
    """Return the topology with Grafana moved to kscloud1, away from Prometheus on monk."""
    data = yaml.safe_load(CATALOGUE_PATH.read_text())
    data["services"]["grafana"]["hosts"] = ["kscloud1"]
    config = read_stack_config(ROOT, "kscloud1")
    return derive(load(config.project, "kscloud1", config.values, yaml.safe_dump(data)))


def test_remote_grafana_flow_to_prometheus(grafana_on_kscloud1: Topology) -> None:
    port = grafana_on_kscloud1.service(SCRAPER_SERVICE).published_port
    flows = {(flow.source, flow.destination, flow.port) for flow in grafana_on_kscloud1.flows}
    assert ("kscloud1", "monk", port) in flows


def test_remote_grafana_prometheus_published(grafana_on_kscloud1: Topology) -> None:
    published = grafana_on_kscloud1.published_for("monk", SCRAPER_SERVICE)
    assert [item.host_port for item in published] == [
        grafana_on_kscloud1.service(SCRAPER_SERVICE).published_port
    ]


def test_remote_grafana_uses_tailnet_address(grafana_on_kscloud1: Topology) -> None:
    document = yaml.safe_load(grafana_datasources(grafana_on_kscloud1, "kscloud1"))
    port = grafana_on_kscloud1.service(SCRAPER_SERVICE).published_port
    monk = grafana_on_kscloud1.tailnet_ip("monk")
    assert document["datasources"][0]["url"] == f"http://{monk}:{port}"
