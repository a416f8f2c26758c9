#!/usr/bin/env python3
"""Post the render diff of a pull request as one comment that later runs update.

The comment starts with a hidden marker. Each run lists the pull request's
comments, edits the one that starts with the marker, and creates it only when
there is none, so a pull request carries one render comment however often its
checks run. Standard library only, so it runs before any virtualenv exists.

Forgejo API endpoints (Gitea-compatible; GitHub's have the same paths):
  GET   /repos/{owner}/{repo}/issues/{index}/comments
  POST  /repos/{owner}/{repo}/issues/{index}/comments
  PATCH /repos/{owner}/{repo}/issues/comments/{id}

Environment: FORGEJO_API_URL or GITHUB_API_URL (for example
https://git.example.com/api/v1), FORGEJO_REPOSITORY or GITHUB_REPOSITORY
(owner/name), FORGEJO_TOKEN or GITHUB_TOKEN, and FORGEJO_EVENT_PATH or
GITHUB_EVENT_PATH for the pull request number. Forgejo Actions sets all of
them in every step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- kitestacks-render -->"
# GitHub rejects comment bodies over 65,536 characters. Forgejo's API states no
# limit, so the lower one keeps the script portable and the comment readable.
MAX_BODY_CHARS = 65_536
DATA_LOSS_PREFIX = "DATA LOSS:"
HEADLINES = {
    0: "No change to the desired state",
    3: "The desired state changes",
    1: "The render failed: rule violations or config errors",
    2: "The render failed: invalid command line",
}
REQUEST_TIMEOUT_SECONDS = 30
# Forgejo returns every comment of an issue in one page; GitHub pages them.
MAX_PAGES = 50


def headline(exit_code: int, data_loss: bool) -> str:
    """Return the first line of the comment for the renderer's exit code."""
    text = HEADLINES.get(exit_code, f"The render failed with exit code {exit_code}")
    if exit_code == 3 and data_loss:
        text += ", with DATA LOSS"
    return text


def fence_for(text: str) -> str:
    """Return a code fence longer than any run of backticks in the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def code_block(text: str) -> str:
    fence = fence_for(text)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def build_body(output: str, exit_code: int, base: str = "", head: str = "", note: str = "") -> str:
    """Return the comment: marker, headline, data-loss lines, then the render output.

    The data-loss lines are repeated above the output, so truncating a long
    output never hides them. The result is at most MAX_BODY_CHARS long.
    """
    loss = [line for line in output.splitlines() if line.lstrip().startswith(DATA_LOSS_PREFIX)]
    parts = [MARKER, f"### Render: {headline(exit_code, bool(loss))}"]
    context = []
    if head:
        context.append(f"head `{head[:12]}`")
    if base:
        context.append(f"target branch `{base}`")
    if context:
        parts.append(f"Rendered {' against '.join(context)}; every run edits this comment.")
    if note:
        parts.append(note)
    if loss:
        parts.append(
            f"**{len(loss)} resource(s) would lose data:**\n\n" + code_block("\n".join(loss))
        )

    lines = output.rstrip().splitlines()
    shown = len(lines)
    while True:
        text = "\n".join(lines[:shown])
        tail = "" if shown == len(lines) else truncation_note(shown, len(lines))
        body = "\n\n".join([*parts, code_block(text) + tail]) + "\n"
        if len(body) <= MAX_BODY_CHARS or shown == 0:
            break
        # Drop lines in proportion to the excess, and at least one each round.
        excess = len(body) - MAX_BODY_CHARS
        average = max(1, len(text) // max(shown, 1))
        shown = max(0, shown - max(1, excess // average + 1))
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 1] + "\n"
    return body


def truncation_note(shown: int, total: int) -> str:
    return (
        f"\n\nOutput truncated: the first {shown} of {total} lines are shown. "
        "The job log has the whole output."
    )


@dataclass(frozen=True)
class Forgejo:
    """The few API calls the comment needs, authenticated with the workflow's token."""

    api_url: str
    repository: str
    token: str

    def request(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> tuple[Any, str]:
        """Send one request; return the decoded JSON and the Link header."""
        url = path if path.startswith("http") else f"{self.api_url.rstrip('/')}{path}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            text = response.read().decode()
            link = response.headers.get("Link", "")
        return (json.loads(text) if text else None), link

    def comments(self, index: int) -> list[dict[str, Any]]:
        """Return every comment of a pull request, following pagination links."""
        path = f"/repos/{self.repository}/issues/{index}/comments"
        result: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page, link = self.request("GET", path)
            if not isinstance(page, list):
                raise ValueError(
                    f"expected a list of comments from {path}, got {type(page).__name__}"
                )
            result += page
            following = next_link(link)
            if following is None:
                break
            path = following
        return result

    def upsert(self, index: int, body: str) -> str:
        """Edit the comment that starts with MARKER, or create it; return what was done."""
        for comment in self.comments(index):
            if str(comment.get("body", "")).lstrip().startswith(MARKER):
                path = f"/repos/{self.repository}/issues/comments/{comment['id']}"
                self.request("PATCH", path, {"body": body})
                return f"updated comment {comment['id']}"
        path = f"/repos/{self.repository}/issues/{index}/comments"
        created, _ = self.request("POST", path, {"body": body})
        identifier = created.get("id") if isinstance(created, dict) else None
        return f"created comment {identifier}"


def next_link(header: str) -> str | None:
    """Return the URL of rel="next" in an RFC 8288 Link header, or None."""
    for part in header.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if match:
            return match.group(1)
    return None


def first_env(*names: str) -> str:
    for name in names:
        value = os.environ.get(name, "")
        if value:
            return value
    return ""


def pull_request_number(explicit: int | None) -> int | None:
    """Return the pull request number from the option, else from the event payload."""
    if explicit is not None:
        return explicit
    event_path = first_env("FORGEJO_EVENT_PATH", "GITHUB_EVENT_PATH")
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text())
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/pr_comment.py",
        description="Post or update the render diff comment of a pull request.",
    )
    parser.add_argument("--output", type=Path, required=True, help="file with the render output")
    parser.add_argument(
        "--exit-code", type=int, required=True, help="exit code of `python -m render --diff`"
    )
    parser.add_argument("--base", default="", help="target branch of the pull request")
    parser.add_argument("--head", default="", help="commit that was rendered")
    parser.add_argument("--note", default="", help="extra paragraph to show above the output")
    parser.add_argument("--pr", type=int, help="pull request number; default: from the event")
    parser.add_argument(
        "--print-only", action="store_true", help="print the comment instead of posting it"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    output = arguments.output.read_text(encoding="utf-8", errors="replace")
    body = build_body(output, arguments.exit_code, arguments.base, arguments.head, arguments.note)
    if arguments.print_only:
        print(body, end="")
        return 0

    api_url = first_env("FORGEJO_API_URL", "GITHUB_API_URL")
    repository = first_env("FORGEJO_REPOSITORY", "GITHUB_REPOSITORY")
    token = first_env("FORGEJO_TOKEN", "GITHUB_TOKEN")
    index = pull_request_number(arguments.pr)
    missing = [
        name
        for name, value in (
            ("FORGEJO_API_URL", api_url),
            ("FORGEJO_REPOSITORY", repository),
            ("FORGEJO_TOKEN", token),
            ("the pull request number (--pr or the event payload)", index),
        )
        if not value
    ]
    if missing or index is None:
        print(
            f"error: missing {', '.join(missing)}; run inside a pull request job", file=sys.stderr
        )
        return 2

    forgejo = Forgejo(api_url, repository, token)
    try:
        print(forgejo.upsert(index, body) + f" on pull request {index}")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        if error.code == 403:
            # A pull request from a fork runs with a read-only token.
            print(
                f"warning: the token may not comment on pull request {index} (403 Forbidden); "
                "the render output is in this log",
                file=sys.stderr,
            )
            return 0
        print(f"error: {error.url} failed: {error.code} {error.reason}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, TimeoutError) as error:
        print(f"error: cannot reach {api_url}: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"error: unexpected response from {api_url}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
