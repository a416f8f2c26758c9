"""The scripts the CI workflows run, against fake renders, a fake Pulumi CLI and a fake Forgejo."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from render.engine import ROOT
from tests.conftest import require_tool
from tests.fake_forgejo import FakeForgejo

SCRIPTS = ROOT / "scripts"
MARKER = "<!-- kitestacks-render -->"
PULUMI_VERSION = next(
    line.split("==")[1]
    for line in (ROOT / "requirements.txt").read_text().splitlines()
    if line.startswith("pulumi==")
)

# A stand-in for `python -m render` that follows its command-line contract:
# `--json DIR` writes DIR/<stack>.json, `--diff DIR` compares with them and
# exits 0 (no change), 3 (changes) or 1 (rule violations), printing loud
# DATA LOSS lines for deleted volumes. The desired state is state.json.
FAKE_RENDER = """
import json, pathlib, sys
state = json.loads(pathlib.Path("state.json").read_text())
if state.get("violation"):
    print("rule violation: " + state["violation"])
    sys.exit(1)
args = sys.argv[1:]
if "--json" in args:
    out = pathlib.Path(args[args.index("--json") + 1])
    out.mkdir(parents=True, exist_ok=True)
    for stack, resources in state["stacks"].items():
        (out / f"{stack}.json").write_text(json.dumps(resources))
    print("wrote", ", ".join(state["stacks"]))
    sys.exit(0)
if "--diff" in args:
    base = pathlib.Path(args[args.index("--diff") + 1])
    changed = False
    for stack, resources in state["stacks"].items():
        old = json.loads((base / f"{stack}.json").read_text())
        for name in sorted(set(resources) - set(old)):
            print(f"{stack}: + create {name}"); changed = True
        for name in sorted(set(old) - set(resources)):
            print(f"{stack}: - delete {name}"); changed = True
            if name.startswith("volume"):
                print(f"DATA LOSS: {stack}: delete {name}")
    if not changed:
        print("no changes")
    sys.exit(3 if changed else 0)
for stack, resources in state["stacks"].items():
    print(stack, "resources:", ", ".join(sorted(resources)))
"""


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def git(cwd: Path, *args: str) -> str:
    result = run(["git", *args], cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def commit_state(work: Path, state: dict[str, object], message: str) -> None:
    (work / "state.json").write_text(json.dumps(state))
    git(work, "add", "state.json")
    git(work, "commit", "-q", "-m", message)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """Return a clone whose origin has main; the clone has a pull request branch checked out."""
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "config", "user.email", "ci@example.invalid")
    git(work, "config", "user.name", "CI")
    git(work, "checkout", "-q", "-b", "main")
    (work / "fake_render.py").write_text(FAKE_RENDER)
    git(work, "add", "fake_render.py")
    commit_state(work, {"stacks": {"kscloud1": ["server", "volume-data"], "monk": ["app"]}}, "base")
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "feature")
    return work


@pytest.fixture
def forgejo(tmp_path: Path) -> Iterator[FakeForgejo]:
    with FakeForgejo() as server:
        yield server


def comment_env(forgejo: FakeForgejo, tmp_path: Path, number: int = 5) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    return {
        "KITESTACKS_RENDER": "python3 fake_render.py",
        "FORGEJO_API_URL": forgejo.api_url,
        "FORGEJO_REPOSITORY": forgejo.state.repository,
        "FORGEJO_TOKEN": forgejo.state.token,
        "FORGEJO_EVENT_PATH": str(event),
    }


def pr_render(work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([str(SCRIPTS / "pr_render.sh"), "main", str(work / "out")], work, env)


def test_pr_render_comments_changes(repository: Path, forgejo: FakeForgejo, tmp_path: Path) -> None:
    commit_state(repository, {"stacks": {"kscloud1": ["server"], "monk": ["app", "wiki"]}}, "pr")
    result = pr_render(repository, comment_env(forgejo, tmp_path))
    assert result.returncode == 0, result.stderr
    comments = forgejo.state.comments[5]
    assert len(comments) == 1
    body = comments[0]["body"]
    assert body.startswith(MARKER)
    assert "### Render: The desired state changes, with DATA LOSS" in body
    assert "monk: + create wiki" in body
    assert "DATA LOSS: kscloud1: delete volume-data" in body
    assert "target branch `main`" in body


def test_pr_render_rerun_edits_comment(
    repository: Path, forgejo: FakeForgejo, tmp_path: Path
) -> None:
    env = comment_env(forgejo, tmp_path)
    commit_state(repository, {"stacks": {"kscloud1": ["server", "volume-data"], "monk": []}}, "a")
    assert pr_render(repository, env).returncode == 0
    commit_state(
        repository, {"stacks": {"kscloud1": ["server", "volume-data"], "monk": ["app"]}}, "b"
    )
    assert pr_render(repository, env).returncode == 0
    comments = forgejo.state.comments[5]
    assert len(comments) == 1
    assert "### Render: No change to the desired state" in comments[0]["body"]


def test_pr_render_fails_on_violation(
    repository: Path, forgejo: FakeForgejo, tmp_path: Path
) -> None:
    commit_state(repository, {"violation": "port published on 0.0.0.0"}, "bad")
    result = pr_render(repository, comment_env(forgejo, tmp_path))
    assert result.returncode == 1
    body = forgejo.state.comments[5][0]["body"]
    assert "### Render: The render failed: rule violations or config errors" in body
    assert "rule violation: port published on 0.0.0.0" in body


def test_pr_render_without_base_render(
    repository: Path, forgejo: FakeForgejo, tmp_path: Path
) -> None:
    git(repository, "checkout", "-q", "main")
    commit_state(repository, {"violation": "broken on main"}, "broken main")
    git(repository, "push", "-q", "origin", "main")
    git(repository, "checkout", "-q", "feature")
    commit_state(repository, {"stacks": {"kscloud1": ["server"], "monk": ["app"]}}, "fixed")
    result = pr_render(repository, comment_env(forgejo, tmp_path))
    assert result.returncode == 0, result.stderr
    body = forgejo.state.comments[5][0]["body"]
    assert "did not render (exit status 1)" in body
    assert "kscloud1 resources: server" in body


def test_pr_render_removes_worktree(repository: Path, forgejo: FakeForgejo, tmp_path: Path) -> None:
    pr_render(repository, comment_env(forgejo, tmp_path))
    worktrees = git(repository, "worktree", "list", "--porcelain")
    assert worktrees.count("worktree ") == 1


def test_pr_render_prints_when_asked(repository: Path, tmp_path: Path) -> None:
    env = {"KITESTACKS_RENDER": "python3 fake_render.py", "KITESTACKS_PR_COMMENT": "print"}
    result = pr_render(repository, env)
    assert result.returncode == 0, result.stderr
    assert MARKER in result.stdout


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> dict[str, str]:
    """Return an environment whose PATH starts with a fake `pulumi` that logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pulumi.log"
    write_executable(
        bin_dir / "pulumi",
        '#!/bin/sh\nif [ "$1" = version ]; then echo "v$FAKE_PULUMI_VERSION"; exit 0; fi\n'
        f'echo "$*" >> {log}\n',
    )
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(home),
        "FAKE_PULUMI_VERSION": PULUMI_VERSION,
        "PULUMI_LOG": str(log),
        "PULUMI_ACCESS_TOKEN": "pul-test",
    }


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def pulumi_calls(env: dict[str, str]) -> list[str]:
    return Path(env["PULUMI_LOG"]).read_text().splitlines()


def test_stack_preview_logs_in_and_previews(fake_pulumi: dict[str, str]) -> None:
    result = run([str(SCRIPTS / "pulumi_stack.sh"), "preview", "kscloud1"], ROOT, fake_pulumi)
    assert result.returncode == 0, result.stderr
    assert pulumi_calls(fake_pulumi) == [
        "login --non-interactive",
        "preview --stack kscloud1 --non-interactive --diff",
    ]


def test_stack_up_uses_organization(fake_pulumi: dict[str, str]) -> None:
    env = {**fake_pulumi, "PULUMI_ORGANIZATION": "kitestacks-org"}
    result = run([str(SCRIPTS / "pulumi_stack.sh"), "up", "monk"], ROOT, env)
    assert result.returncode == 0, result.stderr
    assert pulumi_calls(env)[-1] == "up --stack kitestacks-org/monk --non-interactive --diff --yes"


def test_stack_logs_in_to_backend_url(fake_pulumi: dict[str, str]) -> None:
    env = {**fake_pulumi, "PULUMI_BACKEND_URL": "s3://kitestacks-state"}
    result = run([str(SCRIPTS / "pulumi_stack.sh"), "preview", "monk"], ROOT, env)
    assert result.returncode == 0, result.stderr
    assert pulumi_calls(env)[0] == "login --non-interactive s3://kitestacks-state"


@pytest.mark.parametrize(("action", "stack"), [("destroy", "monk"), ("up", "kscloud2")])
def test_stack_rejects_bad_arguments(fake_pulumi: dict[str, str], action: str, stack: str) -> None:
    result = run([str(SCRIPTS / "pulumi_stack.sh"), action, stack], ROOT, fake_pulumi)
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert not Path(fake_pulumi["PULUMI_LOG"]).exists()


def test_stack_installs_pinned_cli(fake_pulumi: dict[str, str], tmp_path: Path) -> None:
    env = {**fake_pulumi, "FAKE_PULUMI_VERSION": "3.1.0"}
    curl_log = tmp_path / "curl.log"
    installer_log = tmp_path / "installer.log"
    # The fake curl prints an installer that records its arguments and puts a
    # fake CLI of the requested version into ~/.pulumi/bin.
    write_executable(
        Path(env["PATH"].split(":")[0]) / "curl",
        f'#!/bin/sh\necho "$*" > {curl_log}\n'
        "cat <<'INSTALLER'\n"
        f'echo "$*" > {installer_log}\n'
        'mkdir -p "$HOME/.pulumi/bin"\n'
        'printf \'#!/bin/sh\\nif [ "$1" = version ]; then echo v%s; else echo "$*" >> %s; fi\\n\' '
        f'"$2" "{env["PULUMI_LOG"]}" > "$HOME/.pulumi/bin/pulumi"\n'
        'chmod +x "$HOME/.pulumi/bin/pulumi"\n'
        "INSTALLER\n",
    )
    result = run([str(SCRIPTS / "pulumi_stack.sh"), "preview", "monk"], ROOT, env)
    assert result.returncode == 0, result.stderr
    assert curl_log.read_text().split() == ["-fsSL", "https://get.pulumi.com"]
    assert installer_log.read_text().split() == ["--version", PULUMI_VERSION]
    assert pulumi_calls(env)[-1] == "preview --stack monk --non-interactive --diff"


def test_stack_needs_known_hosts_with_key(fake_pulumi: dict[str, str]) -> None:
    env = {**fake_pulumi, "DEPLOY_SSH_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----"}
    result = run([str(SCRIPTS / "pulumi_stack.sh"), "preview", "monk"], ROOT, env)
    assert result.returncode == 1
    assert "DEPLOY_KNOWN_HOSTS" in result.stderr
    assert "BEGIN OPENSSH" not in result.stdout + result.stderr


def credentials(tmp_path: Path, **variables: str) -> tuple[str, str]:
    output = tmp_path / "output"
    output.write_text("")
    names = ("PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
    env = {name: "" for name in names} | {"DEPLOY_SSH_KEY": ""}
    env |= {"FORGEJO_OUTPUT": str(output), **variables}
    result = run([str(SCRIPTS / "pulumi_credentials.sh")], ROOT, env)
    assert result.returncode == 0, result.stderr
    return output.read_text(), result.stdout


@pytest.mark.parametrize(
    ("variables", "available"),
    [
        ({}, "false"),
        ({"PULUMI_ACCESS_TOKEN": "pul-secret-value"}, "true"),
        ({"PULUMI_BACKEND_URL": "s3://state"}, "false"),
        ({"PULUMI_BACKEND_URL": "s3://state", "PULUMI_CONFIG_PASSPHRASE": "pass-value"}, "true"),
    ],
)
def test_credentials_output(tmp_path: Path, variables: dict[str, str], available: str) -> None:
    output, log = credentials(tmp_path, **variables)
    assert output == f"available={available}\n"
    for value in variables.values():
        if value.startswith(("pul-", "pass-")):
            assert value not in log


def gate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"FORGEJO_REF": "refs/heads/main", "FORGEJO_SHA": "0123456789abcdef" * 2 + "01234567"}
    return run([str(SCRIPTS / "deploy_gate.sh")], ROOT, {**base, **env})


def test_gate_approves_reviewed_commit() -> None:
    result = gate({"DEPLOY_COMMIT": " 0123456 "})
    assert result.returncode == 0, result.stderr
    assert "deploying 0123456789ab from main" in result.stdout


def test_gate_accepts_uppercase_commit() -> None:
    assert gate({"DEPLOY_COMMIT": "0123456789ABCDEF"}).returncode == 0


def test_gate_rejects_moved_branch() -> None:
    result = gate({"DEPLOY_COMMIT": "fedcba9"})
    assert result.returncode == 1
    assert "not at the reviewed commit fedcba9" in result.stderr


def test_gate_rejects_other_branch() -> None:
    result = gate({"DEPLOY_COMMIT": "0123456", "FORGEJO_REF": "refs/heads/feature"})
    assert result.returncode == 1
    assert "deployments run from refs/heads/main" in result.stderr


@pytest.mark.parametrize("commit", ["", "012345", "deploy", "0123456; rm -rf /"])
def test_gate_rejects_non_commit(commit: str) -> None:
    result = gate({"DEPLOY_COMMIT": commit})
    assert result.returncode == 1
    assert "is not a commit id" in result.stderr


def test_gate_accepts_listed_approver() -> None:
    env = {
        "DEPLOY_COMMIT": "0123456",
        "DEPLOY_APPROVERS": "alice, kenpat",
        "FORGEJO_ACTOR": "kenpat",
    }
    result = gate(env)
    assert result.returncode == 0, result.stderr
    assert "approved by kenpat" in result.stdout


def test_gate_rejects_unlisted_actor() -> None:
    env = {
        "DEPLOY_COMMIT": "0123456",
        "DEPLOY_APPROVERS": "alice,kenpat",
        "FORGEJO_ACTOR": "mallory",
    }
    result = gate(env)
    assert result.returncode == 1
    assert "'mallory' may not approve deployments" in result.stderr


def test_scripts_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck")
    files = [*sorted(str(path) for path in SCRIPTS.glob("*.sh")), str(ROOT / ".ci" / "run")]
    result = run([shellcheck, *files], ROOT)
    assert result.returncode == 0, result.stdout
