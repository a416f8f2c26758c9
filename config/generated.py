"""Config files generated from the topology and written into containers."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable

import yaml

from config.authentik import blueprint_file
from config.topology import BLUEPRINT_GENERATOR, SCRAPER_SERVICE, Topology

SCRAPE_INTERVAL = "15s"


def prometheus_config(topology: Topology, host: str) -> str:
    """Return prometheus.yml: one job per service with metrics, one target per copy.

    A copy on another host is scraped at that host's tailnet address and the
    port its container publishes there. A copy on the scraper's own host is
    scraped by container name on the target's Docker network, which the
    scraper joins, so nothing is published for it. The file uses only
    settings that both Prometheus 2.x (whose promtool the tests run) and 3.x
    (the container) accept.
    """
    jobs: dict[str, list[dict[str, object]]] = defaultdict(list)
    for target in topology.scrape_targets:
        jobs[target.service].append({"targets": [target.address], "labels": {"host": target.host}})
    scrape_configs: list[dict[str, object]] = [
        {
            "job_name": SCRAPER_SERVICE,
            "static_configs": [{"targets": ["localhost:9090"], "labels": {"host": host}}],
        }
    ]
    for service in sorted(jobs):
        metrics = topology.service(service).metrics
        assert metrics is not None
        scrape_configs.append(
            {"job_name": service, "metrics_path": metrics.path, "static_configs": jobs[service]}
        )
    document = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": scrape_configs,
    }
    return "# Generated from config/catalogue.yaml; edit the catalogue, not this file.\n" + (
        yaml.safe_dump(document, sort_keys=False)
    )


def grafana_datasources(topology: Topology, host: str) -> str:
    """Return Grafana's provisioning file with Prometheus as the default data source."""
    scraper = topology.service(SCRAPER_SERVICE)
    if host in topology.hosts_of(SCRAPER_SERVICE):
        address, port = SCRAPER_SERVICE, scraper.port
    else:
        # Reached over the tailnet at the port Prometheus publishes for this flow.
        address = topology.tailnet_ip(topology.hosts_of(SCRAPER_SERVICE)[0])
        port = scraper.published_port
    document = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": "prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://{address}:{port}",
                "isDefault": True,
                "editable": False,
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


def portal_page(topology: Topology, host: str) -> str:
    """Return the portal's index.html: a link to every public app, from the catalogue."""
    items: list[str] = []
    for route in topology.routes:
        if route.service == "portal":
            continue
        spec = topology.service(route.service)
        items.append(
            f'      <li><a href="https://{html.escape(route.fqdn)}">{html.escape(route.fqdn)}</a>'
            f" {html.escape(spec.description)}</li>"
        )
    links = "\n".join(items)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>KiteStacks</title>
  </head>
  <body>
    <h1>KiteStacks</h1>
    <p>Served from {html.escape(host)}. Sign in once at the identity provider to use every app.</p>
    <ul>
{links}
    </ul>
  </body>
</html>
"""


GENERATORS: dict[str, Callable[[Topology, str], str]] = {
    "prometheus": prometheus_config,
    "grafana-datasources": grafana_datasources,
    "portal": portal_page,
    BLUEPRINT_GENERATOR: blueprint_file,
}


def generate(name: str, topology: Topology, host: str) -> str:
    """Return the content of a generated file for one host."""
    return GENERATORS[name](topology, host)
