"""Errors in Pulumi.yaml and Pulumi.<stack>.yaml: one message line each, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import render
import render.__main__ as cli
from config.load import ConfigError, load
from config.refs import CATALOGUE_VARIABLE, config_keys
from render.engine import ROOT
from render.stackconfig import StackFileError, read_stack_config, stack_names

STACK_FILES = ("Pulumi.yaml", "Pulumi.kscloud1.yaml", "Pulumi.monk.yaml")
CATALOGUE_SECRET_KEY = "kitestacks:openaiApiKey"
PLAINTEXT_VALUE = "sk-plaintext-value-1234"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a copy of the project and stack files that the renderer and CLI read."""
    for name in STACK_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.setattr(render, "ROOT", tmp_path)
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    return tmp_path


def stack_file_error(root: Path, stack: str = "monk") -> StackFileError:
    with pytest.raises(StackFileError) as caught:
        read_stack_config(root, stack)
    return caught.value


def test_rejects_stack_file_syntax_error(project: Path) -> None:
    (project / "Pulumi.monk.yaml").write_text("config:\n  kitestacks:domain: [a\n")
    error = stack_file_error(project)
    assert str(error).startswith("Pulumi.monk.yaml: invalid YAML at line 3, column 1: ")
    assert "<unicode string>" not in str(error)
    assert not error.usage


def test_rejects_project_file_syntax_error(project: Path) -> None:
    (project / "Pulumi.yaml").write_text("name: kitestacks\nconfig:\n  domain: : x\n")
    error = stack_file_error(project)
    assert str(error).startswith("Pulumi.yaml: invalid YAML at line 3")
    assert str(error).endswith("fix the syntax, for example the indentation or a missing colon")


def test_rejects_stack_config_list(project: Path) -> None:
    (project / "Pulumi.monk.yaml").write_text("config:\n  - kitestacks:domain: a.org\n")
    assert str(stack_file_error(project)) == (
        "Pulumi.monk.yaml: config: is a list, not a mapping; "
        "write each setting as `namespace:key: value` under `config:`"
    )


def test_rejects_stack_file_string(project: Path) -> None:
    (project / "Pulumi.monk.yaml").write_text("just text\n")
    assert str(stack_file_error(project)).startswith(
        "Pulumi.monk.yaml: is a string, not a mapping; "
    )


def test_rejects_unknown_top_level_key(project: Path) -> None:
    (project / "Pulumi.monk.yaml").write_text("confg:\n  kitestacks:domain: a.org\n")
    assert str(stack_file_error(project)) == (
        "Pulumi.monk.yaml: unknown top-level key 'confg'; a stack file may contain only "
        "config, encryptedkey, encryptionsalt, environment, secretsprovider"
    )


def test_accepts_every_stack_file_key(project: Path) -> None:
    (project / "Pulumi.monk.yaml").write_text(
        "secretsprovider: passphrase\n"
        "encryptionsalt: v1:c2FsdA==:v1:aXY=:dGFn\n"
        "encryptedkey: a2V5\n"
        "environment:\n  - kitestacks/monk\n"
        "config:\n  kitestacks:tailnetDomain: tail4f2a9.ts.net\n"
    )
    config = read_stack_config(project, "monk")
    assert config.values["kitestacks:tailnetDomain"] == "tail4f2a9.ts.net"


def test_rejects_plaintext_catalogue_secret(project: Path) -> None:
    path = project / "Pulumi.monk.yaml"
    path.write_text(f"{path.read_text()}  {CATALOGUE_SECRET_KEY}: {PLAINTEXT_VALUE}\n")
    error = stack_file_error(project)
    assert str(error) == (
        f"Pulumi.monk.yaml: config: {CATALOGUE_SECRET_KEY}: a secret stored in plain text; "
        f"remove the line and run `pulumi config set --secret {CATALOGUE_SECRET_KEY} "
        "--stack monk`"
    )
    assert PLAINTEXT_VALUE not in str(error)


def test_rejects_plaintext_declared_secret(project: Path) -> None:
    project_file = project / "Pulumi.yaml"
    project_file.write_text(
        f"{project_file.read_text()}  adminToken:\n    type: string\n    secret: true\n"
    )
    stack_file = project / "Pulumi.monk.yaml"
    stack_file.write_text(f"{stack_file.read_text()}  adminToken: {PLAINTEXT_VALUE}\n")
    assert "config: adminToken: a secret stored in plain text" in str(stack_file_error(project))


def test_accepts_encrypted_catalogue_secret(project: Path) -> None:
    path = project / "Pulumi.monk.yaml"
    path.write_text(f"{path.read_text()}  {CATALOGUE_SECRET_KEY}:\n    secure: v1:AAAA\n")
    assert CATALOGUE_SECRET_KEY in read_stack_config(project, "monk").secret_keys


def test_missing_stack_file_is_usage_error(project: Path) -> None:
    (project / "Pulumi.kscloud1.yaml").unlink()
    error = stack_file_error(project, "kscloud1")
    assert str(error).startswith("Pulumi.kscloud1.yaml: file not found; ")
    assert error.usage


def test_cli_missing_upstream_stack_exits_two(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "Pulumi.kscloud1.yaml").unlink()
    assert cli.main(["monk"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "error: Pulumi.kscloud1.yaml: file not found; "
        "restore it from git, or create it with a `config:` mapping\n"
    )


def test_cli_stack_file_syntax_error_exits_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "Pulumi.monk.yaml").write_text("config: [\n")
    assert cli.main(["monk"]) == cli.EXIT_FAILED
    message = capsys.readouterr().err
    assert message.startswith("error: Pulumi.monk.yaml: invalid YAML at line 2")
    assert message.count("\n") == 1


def test_config_keys_of_missing_catalogue_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CATALOGUE_VARIABLE, str(tmp_path / "nonexistent.yaml"))
    assert config_keys() == []


def test_missing_catalogue_reported_by_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nonexistent.yaml"
    monkeypatch.setenv(CATALOGUE_VARIABLE, str(missing))
    config = read_stack_config(ROOT, "monk")
    with pytest.raises(ConfigError) as caught:
        load(config.project, "monk", config.values)
    assert f"{missing}: catalogue file not found; " in str(caught.value)


def test_cli_missing_catalogue_exits_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nonexistent.yaml"
    monkeypatch.setenv(CATALOGUE_VARIABLE, str(missing))
    assert cli.main(["kscloud1"]) == cli.EXIT_FAILED
    assert f"{missing}: catalogue file not found; " in capsys.readouterr().err


@pytest.fixture()
def catalogue_with_nas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the program at a catalogue with a host `nas` that has no stack file."""
    data = yaml.safe_load((ROOT / "config" / "catalogue.yaml").read_text())
    data["hosts"]["nas"] = {**data["hosts"]["monk"], "tailnet_ip": "100.101.10.30"}
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv(CATALOGUE_VARIABLE, str(path))
    return path


def test_real_hosts_all_have_stack_files() -> None:
    assert cli.hosts_without_stack(stack_names(ROOT)) == []


@pytest.mark.usefixtures("catalogue_with_nas")
def test_host_without_stack_file_listed() -> None:
    assert cli.hosts_without_stack(stack_names(ROOT)) == ["nas"]


@pytest.mark.usefixtures("catalogue_with_nas")
def test_cli_notes_host_without_stack_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_OK
    assert capsys.readouterr().err == (
        "note: host nas of the catalogue has no stack file Pulumi.nas.yaml, so it was not "
        "rendered; create it with `pulumi stack init nas`\n"
    )
