"""The benchmark's generated catalogues, and the variable that points the program at one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from config.load import load
from config.topology import derive
from render.engine import ROOT
from render.stackconfig import read_stack_config

SCRIPT = ROOT / "scripts" / "benchmark.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark"] = module
    spec.loader.exec_module(module)
    return module


benchmark = load_script()


def run_with_catalogue(
    arguments: list[str], directory: Path, catalogue: Path
) -> subprocess.CompletedProcess[str]:
    """Run Python with `arguments` in `directory`, pointing the program at `catalogue`."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=directory,
        env={**os.environ, "KITESTACKS_CATALOGUE": str(catalogue)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


REAL: dict[str, Any] = yaml.safe_load((ROOT / "config" / "catalogue.yaml").read_text())


def test_scale_one_is_real_catalogue() -> None:
    assert benchmark.scaled_catalogue(REAL, 1) == REAL


def test_scaled_catalogue_passes_checks() -> None:
    scaled = benchmark.scaled_catalogue(REAL, 3)
    config = read_stack_config(ROOT, "kscloud1")
    model = load(config.project, "kscloud1", config.values, yaml.safe_dump(scaled))
    cloned = [name for name in REAL["services"] if name not in benchmark.SINGLETONS]
    assert len(model.catalogue.services) == len(REAL["services"]) + 2 * len(cloned)


def test_clones_reference_their_own_copy() -> None:
    scaled = benchmark.scaled_catalogue(REAL, 2)
    env = scaled["services"]["authentik-server-x2"]["env"]
    assert env["AUTHENTIK_POSTGRESQL__HOST"] == "${host:authentik-postgres-x2}"
    assert env["AUTHENTIK_POSTGRESQL__PASSWORD"] == "${secret:authentik-postgres-x2.password}"
    assert env["AUTHENTIK_SECRET_KEY"] == "${secret:secret_key}"


def test_scaled_routes_grow_with_factor() -> None:
    config = read_stack_config(ROOT, "kscloud1")
    real = derive(load(config.project, "kscloud1", config.values))
    scaled_text = yaml.safe_dump(benchmark.scaled_catalogue(REAL, 4))
    scaled = derive(load(config.project, "kscloud1", config.values, scaled_text))
    assert len(scaled.routes) == 4 * len(real.routes)


def test_singletons_are_not_cloned() -> None:
    scaled = benchmark.scaled_catalogue(REAL, 3)
    for name in benchmark.SINGLETONS:
        assert f"{name}-x2" not in scaled["services"]


def test_catalogue_variable_names_file(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(REAL))
    result = run_with_catalogue(
        ["-c", "from config.refs import catalogue_path; print(catalogue_path())"], ROOT, catalogue
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(catalogue)


def test_home_host_copied_per_factor() -> None:
    scaled = benchmark.scaled_catalogue(REAL, 3)
    assert sorted(scaled["hosts"]) == ["kscloud1", "monk", "monk-x2", "monk-x3"]


def test_host_copies_get_own_addresses() -> None:
    hosts = benchmark.scaled_catalogue(REAL, 25)["hosts"]
    addresses = [host["tailnet_ip"] for host in hosts.values()]
    assert len(set(addresses)) == len(hosts)


def test_copy_follows_home_host() -> None:
    services = benchmark.scaled_catalogue(REAL, 2)["services"]
    assert services["forgejo-x2"]["hosts"] == ["monk-x2"]


def test_copy_keeps_upstream_hosts() -> None:
    services = benchmark.scaled_catalogue(REAL, 2)["services"]
    assert services["bookstack-x2"]["hosts"] == REAL["services"]["bookstack"]["hosts"]


def test_copied_host_names_original() -> None:
    assert benchmark.copied_host("monk-x12") == "monk"
    assert benchmark.copied_host("monk") is None


def test_scaled_project_adds_stack_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    stacks = benchmark.scaled_project(project, benchmark.scaled_catalogue(REAL, 3))
    assert stacks == ["kscloud1", "monk", "monk-x2", "monk-x3"]
    monk = (ROOT / "Pulumi.monk.yaml").read_text()
    assert (project / "Pulumi.monk-x3.yaml").read_text() == monk
    assert not (project / ".git").exists()


def test_scaled_project_renders_every_stack(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yaml"
    scaled = benchmark.scaled_catalogue(REAL, 2)
    catalogue.write_text(yaml.safe_dump(scaled))
    project = tmp_path / "project"
    benchmark.scaled_project(project, scaled)
    result = run_with_catalogue(
        ["-m", "render", "--json", str(tmp_path / "out")], project, catalogue
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "kscloud1.json",
        "monk-x2.json",
        "monk.json",
    ]


def test_scales_always_include_baseline() -> None:
    assert benchmark.scale_sizes("25,5") == [1, 5, 25]


def test_write_to_missing_directory_exits_two(tmp_path: Path) -> None:
    # Checked before any measurement, so a wrong path costs no benchmark run.
    assert benchmark.main(["--write", str(tmp_path / "missing" / "report.md")]) == 2
