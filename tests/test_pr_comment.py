"""The pull request render comment: its body, and one comment per pull request however often."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from render.engine import ROOT
from tests.fake_forgejo import FakeForgejo

SCRIPT = ROOT / "scripts" / "pr_comment.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pr_comment", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pr_comment"] = module
    spec.loader.exec_module(module)
    return module


pr_comment = load_script()
MARKER = pr_comment.MARKER
MAX_BODY_CHARS = pr_comment.MAX_BODY_CHARS


@pytest.fixture
def forgejo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeForgejo]:
    with FakeForgejo() as server:
        monkeypatch.setenv("FORGEJO_API_URL", server.api_url)
        monkeypatch.setenv("FORGEJO_REPOSITORY", server.state.repository)
        monkeypatch.setenv("FORGEJO_TOKEN", server.state.token)
        for name in ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_EVENT_PATH"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("FORGEJO_EVENT_PATH", raising=False)
        yield server


def headline_of(body: str) -> str:
    """Return the first heading of a comment body."""
    return next(line for line in body.splitlines() if line.startswith("#"))


def write_output(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "diff.txt"
    path.write_text(text)
    return path


def test_body_starts_with_marker() -> None:
    body = pr_comment.build_body("+ create x\n", 3)
    assert body.startswith(MARKER + "\n")


@pytest.mark.parametrize(
    ("exit_code", "expected"),
    [
        (0, "No change to the desired state"),
        (3, "The desired state changes"),
        (1, "The render failed: rule violations or config errors"),
        (2, "The render failed: invalid command line"),
        (9, "The render failed with exit code 9"),
    ],
)
def test_headline_follows_exit_code(exit_code: int, expected: str) -> None:
    body = pr_comment.build_body("output\n", exit_code)
    assert headline_of(body) == f"### Render: {expected}"


def test_data_loss_in_headline() -> None:
    output = "~ update a\nDATA LOSS: replace kscloud1-data (volume)\n"
    body = pr_comment.build_body(output, 3)
    assert headline_of(body) == "### Render: The desired state changes, with DATA LOSS"


def test_data_loss_lines_come_first() -> None:
    output = "~ update a\nDATA LOSS: replace kscloud1-data (volume)\n"
    body = pr_comment.build_body(output, 3)
    summary = body.index("**1 resource(s) would lose data:**")
    assert summary < body.index("~ update a")
    assert body.count("DATA LOSS: replace kscloud1-data") == 2


def test_long_output_is_truncated() -> None:
    lines = [f"~ update resource-{number:05d}: " + "x" * 80 for number in range(5000)]
    body = pr_comment.build_body("\n".join(lines) + "\n", 3)
    assert len(body) <= MAX_BODY_CHARS
    assert "Output truncated: the first " in body
    assert "of 5000 lines are shown" in body
    assert "resource-00000" in body


def test_truncation_keeps_data_loss_lines() -> None:
    lines = ["~ update " + "y" * 100 for _ in range(3000)]
    lines.append("DATA LOSS: delete monk-volume-forgejo-data")
    body = pr_comment.build_body("\n".join(lines), 3)
    assert len(body) <= MAX_BODY_CHARS
    assert "DATA LOSS: delete monk-volume-forgejo-data" in body


def test_short_output_is_whole() -> None:
    output = "+ create a\n- delete b\n"
    body = pr_comment.build_body(output, 3)
    assert "+ create a\n- delete b" in body
    assert "truncated" not in body


def test_fence_outlasts_backticks() -> None:
    output = "label ```quoted``` text\n"
    body = pr_comment.build_body(output, 3)
    assert "````text\n" in body


def test_context_names_head_and_base() -> None:
    body = pr_comment.build_body("x\n", 0, base="main", head="0123456789abcdef")
    assert "Rendered head `0123456789ab` against target branch `main`" in body


def test_next_link_parsing() -> None:
    header = '<https://git.example/api/v1/x?page=2>; rel="next", <https://g/x?page=9>; rel="last"'
    assert pr_comment.next_link(header) == "https://git.example/api/v1/x?page=2"
    assert pr_comment.next_link('<https://g/x?page=9>; rel="last"') is None
    assert pr_comment.next_link("") is None


def test_creates_comment_when_none(forgejo: FakeForgejo, tmp_path: Path) -> None:
    output = write_output(tmp_path, "+ create a\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "3", "--pr", "7"]) == 0
    comments = forgejo.state.comments[7]
    assert len(comments) == 1
    assert comments[0]["body"].startswith(MARKER)


def test_rerun_updates_not_duplicates(forgejo: FakeForgejo, tmp_path: Path) -> None:
    forgejo.state.add(7, "Looks good to me")
    first = write_output(tmp_path, "+ create a\n")
    assert pr_comment.main(["--output", str(first), "--exit-code", "3", "--pr", "7"]) == 0
    second = write_output(tmp_path, "no change\n")
    assert pr_comment.main(["--output", str(second), "--exit-code", "0", "--pr", "7"]) == 0
    comments = forgejo.state.comments[7]
    assert len(comments) == 2
    assert comments[0]["body"] == "Looks good to me"
    assert "No change to the desired state" in comments[1]["body"]
    methods = [request.method for request in forgejo.state.requests]
    assert methods == ["GET", "POST", "GET", "PATCH"]


def test_quoted_marker_is_not_ours(forgejo: FakeForgejo, tmp_path: Path) -> None:
    forgejo.state.add(7, f"> {MARKER}\n> quoted render comment")
    output = write_output(tmp_path, "x\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "0", "--pr", "7"]) == 0
    assert len(forgejo.state.comments[7]) == 2
    assert forgejo.state.comments[7][0]["body"].startswith("> ")


def test_finds_marker_on_later_page(forgejo: FakeForgejo, tmp_path: Path) -> None:
    forgejo.state.page_size = 2
    for number in range(5):
        forgejo.state.add(7, f"comment {number}")
    ours = forgejo.state.add(7, f"{MARKER}\nold render")
    output = write_output(tmp_path, "+ create a\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "3", "--pr", "7"]) == 0
    assert len(forgejo.state.comments[7]) == 6
    assert "The desired state changes" in ours["body"]
    patches = [request for request in forgejo.state.requests if request.method == "PATCH"]
    assert [request.path for request in patches] == [
        f"/api/v1/repos/{forgejo.state.repository}/issues/comments/{ours['id']}"
    ]


def test_sends_token_header(forgejo: FakeForgejo, tmp_path: Path) -> None:
    output = write_output(tmp_path, "x\n")
    pr_comment.main(["--output", str(output), "--exit-code", "0", "--pr", "7"])
    assert forgejo.state.requests
    for request in forgejo.state.requests:
        assert request.authorization == f"token {forgejo.state.token}"


def test_number_from_event_payload(
    forgejo: FakeForgejo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 12}}))
    monkeypatch.setenv("FORGEJO_EVENT_PATH", str(event))
    output = write_output(tmp_path, "x\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "0"]) == 0
    assert len(forgejo.state.comments[12]) == 1


def test_forbidden_write_only_warns(
    forgejo: FakeForgejo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forgejo.state.fail_writes_with = 403
    output = write_output(tmp_path, "x\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "3", "--pr", "7"]) == 0
    assert "403 Forbidden" in capsys.readouterr().err


def test_server_error_fails(
    forgejo: FakeForgejo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forgejo.state.fail_writes_with = 500
    output = write_output(tmp_path, "x\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "3", "--pr", "7"]) == 1
    assert "500" in capsys.readouterr().err


def test_wrong_token_fails(
    forgejo: FakeForgejo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGEJO_TOKEN", "wrong")
    output = write_output(tmp_path, "x\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "3", "--pr", "7"]) == 1
    assert 7 not in forgejo.state.comments


def test_missing_environment_is_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("FORGEJO_API_URL", "GITHUB_API_URL", "FORGEJO_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    output = write_output(tmp_path, "x\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "0", "--pr", "1"]) == 2
    error = capsys.readouterr().err
    assert "FORGEJO_API_URL" in error
    assert "FORGEJO_TOKEN" in error


def test_print_only_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORGEJO_API_URL", "http://127.0.0.1:9/api/v1")
    output = write_output(tmp_path, "+ create a\n")
    assert pr_comment.main(["--output", str(output), "--exit-code", "3", "--print-only"]) == 0
    assert capsys.readouterr().out.startswith(MARKER)
