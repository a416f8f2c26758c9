"""The Forgejo Actions workflows: triggers, job order, gates, and logic kept in scripts."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml

from render.engine import ROOT

WORKFLOWS = ROOT / ".forgejo" / "workflows"
CREDENTIALS_GATE = "needs.credentials.outputs.available == 'true'"
# A run line that calls one of the repository's scripts, with arguments.
SCRIPT_CALL = re.compile(r"^(?P<path>(?:scripts/[\w.-]+|\.ci/run))(?P<arguments>(?: .*)?)$")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(document, dict)
    # YAML 1.1 reads the bare key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return document


def all_workflows() -> list[str]:
    return sorted(path.name for path in WORKFLOWS.glob("*.yml"))


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def runs_of(job: dict[str, Any]) -> list[str]:
    return [step["run"].strip() for step in steps_of(job) if "run" in step]


def needs_of(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


@pytest.fixture(scope="module")
def checks() -> dict[str, Any]:
    return load("checks.yml")


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load("deploy.yml")


def test_workflows_exist() -> None:
    assert all_workflows() == ["checks.yml", "deploy.yml"]


def test_checks_run_on_pull_requests(checks: dict[str, Any]) -> None:
    assert "pull_request" in checks["on"]
    assert checks["on"]["push"]["branches"] == ["main"]


def test_test_job_runs_ci_entry_point(checks: dict[str, Any]) -> None:
    assert runs_of(checks["jobs"]["test"]) == [".ci/run"]


def test_render_job_follows_tests(checks: dict[str, Any]) -> None:
    job = checks["jobs"]["render"]
    assert needs_of(job) == ["test"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert 'scripts/pr_render.sh "$BASE_BRANCH"' in runs_of(job)
    render_step = next(step for step in steps_of(job) if "pr_render.sh" in step.get("run", ""))
    assert render_step["env"]["BASE_BRANCH"] == "${{ github.base_ref }}"


def test_credentials_job_exposes_output(checks: dict[str, Any]) -> None:
    job = checks["jobs"]["credentials"]
    check = next(step for step in steps_of(job) if step.get("id") == "check")
    assert check["run"].strip() == "scripts/pulumi_credentials.sh"
    assert job["outputs"]["available"] == "${{ steps.check.outputs.available }}"


@pytest.mark.parametrize("stack", ["kscloud1", "monk"])
def test_preview_gated_on_credentials(checks: dict[str, Any], stack: str) -> None:
    job = checks["jobs"][f"preview-{stack}"]
    assert "credentials" in needs_of(job)
    assert job["if"] == CREDENTIALS_GATE
    assert f"scripts/pulumi_stack.sh preview {stack}" in runs_of(job)


def test_preview_job_per_stack(checks: dict[str, Any]) -> None:
    previews = sorted(
        name
        for name, job in checks["jobs"].items()
        if any("pulumi_stack.sh preview" in line for line in runs_of(job))
    )
    stacks = sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))
    assert previews == [f"preview-{stack}" for stack in stacks]


def test_deploy_only_by_hand(deploy: dict[str, Any]) -> None:
    assert list(deploy["on"]) == ["workflow_dispatch"]
    commit = deploy["on"]["workflow_dispatch"]["inputs"]["commit"]
    assert commit["required"] is True


def test_deploy_order_kscloud1_then_monk(deploy: dict[str, Any]) -> None:
    jobs = deploy["jobs"]
    assert needs_of(jobs["up-kscloud1"]) == ["approve"]
    assert needs_of(jobs["up-monk"]) == ["up-kscloud1"]
    assert "scripts/pulumi_stack.sh up kscloud1" in runs_of(jobs["up-kscloud1"])
    assert "scripts/pulumi_stack.sh up monk" in runs_of(jobs["up-monk"])


def test_deploy_waits_for_approval(deploy: dict[str, Any]) -> None:
    approve = deploy["jobs"]["approve"]
    assert runs_of(approve) == ["scripts/deploy_gate.sh"]
    gate = next(step for step in steps_of(approve) if "run" in step)
    assert gate["env"]["DEPLOY_COMMIT"] == "${{ inputs.commit }}"
    ups = [name for name, job in deploy["jobs"].items() if "pulumi_stack.sh up" in str(job)]
    assert sorted(ups) == ["up-kscloud1", "up-monk"]


def test_deploys_never_overlap(deploy: dict[str, Any]) -> None:
    assert deploy["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", all_workflows())
def test_runs_call_repository_scripts(name: str) -> None:
    for job_name, job in load(name)["jobs"].items():
        for line in runs_of(job):
            match = SCRIPT_CALL.match(line)
            assert match, f"{name}: job {job_name} runs `{line}`; move the logic into scripts/"
            path = ROOT / match.group("path")
            assert path.is_file(), f"{name}: {path.relative_to(ROOT)} does not exist"
            assert os.access(path, os.X_OK), f"{path.relative_to(ROOT)} is not executable"


@pytest.mark.parametrize("name", all_workflows())
def test_no_expressions_in_run_lines(name: str) -> None:
    # The runner pastes an expression into the script text before the shell
    # runs it, so a branch name or an input could inject commands. A value
    # passed through env reaches the script as a quoted variable instead.
    for job_name, job in load(name)["jobs"].items():
        for line in runs_of(job):
            assert "${{" not in line, f"{name}: job {job_name} expands an expression in `{line}`"


@pytest.mark.parametrize("name", all_workflows())
def test_secrets_only_in_step_env(name: str) -> None:
    for job_name, job in load(name)["jobs"].items():
        outside = {key: value for key, value in job.items() if key != "steps"}
        assert "secrets." not in str(outside), f"{name}: job {job_name} reads a secret outside env"
        for step in steps_of(job):
            without_env = {key: value for key, value in step.items() if key != "env"}
            assert "secrets." not in str(without_env), f"{name}: {job_name} step {step}"


@pytest.mark.parametrize("name", all_workflows())
def test_actions_use_full_urls(name: str) -> None:
    for job in load(name)["jobs"].values():
        for step in steps_of(job):
            if "uses" in step:
                assert step["uses"].startswith("https://"), step["uses"]


def test_scripts_named_in_workflows_exist() -> None:
    text = "\n".join(path.read_text() for path in WORKFLOWS.glob("*.yml"))
    for reference in sorted(set(re.findall(r"scripts/[\w.-]+", text))):
        assert (ROOT / reference).is_file(), f"{reference} is named in a workflow but missing"


def test_jobs_run_on_known_label() -> None:
    for name in all_workflows():
        for job_name, job in load(name)["jobs"].items():
            assert job["runs-on"] == "docker", f"{name}: {job_name}"


def test_needs_name_existing_jobs() -> None:
    for name in all_workflows():
        jobs = load(name)["jobs"]
        for job_name, job in jobs.items():
            for need in needs_of(job):
                assert need in jobs, f"{name}: {job_name} needs unknown job {need}"
