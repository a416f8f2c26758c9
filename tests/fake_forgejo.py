"""A tiny stand-in for the Forgejo issue-comment API, served on 127.0.0.1 for tests.

It implements the three endpoints scripts/pr_comment.py uses, keeps the
comments in memory and records every request. It listens on loopback only,
serves at most MAX_REQUESTS requests and shuts itself down after
LIFETIME_SECONDS even when a test does not stop it.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_REQUESTS = 200
LIFETIME_SECONDS = 60
LIST = re.compile(r"^/api/v1/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<index>\d+)/comments$")
EDIT = re.compile(r"^/api/v1/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    authorization: str
    body: dict[str, Any] | None


@dataclass
class State:
    """Comments per issue, the settings of a test, and the requests received."""

    repository: str = "owner/homelab"
    token: str = "test-token"
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: {})
    page_size: int = 0
    fail_writes_with: int = 0
    requests: list[Recorded] = field(default_factory=lambda: [])
    next_id: int = 100

    def add(self, index: int, body: str, user: str = "someone") -> dict[str, Any]:
        comment = {"id": self.next_id, "body": body, "user": {"login": user}}
        self.next_id += 1
        self.comments.setdefault(index, []).append(comment)
        return comment


class FakeForgejo:
    """The server and its state; use as a context manager."""

    def __init__(self) -> None:
        self.state = State()
        state = self.state
        fake = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def log_message(self, format: str, *args: Any) -> None:
                return

            def reply(self, status: int, payload: Any, headers: dict[str, str] | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def handle_request(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: dict[str, Any] = json.loads(raw) if raw else {}
                path, _, query = self.path.partition("?")
                state.requests.append(
                    Recorded(method, self.path, self.headers.get("Authorization", ""), body or None)
                )
                if len(state.requests) > MAX_REQUESTS:
                    self.reply(503, {"message": "request limit of the fake server reached"})
                    return
                if self.headers.get("Authorization") != f"token {state.token}":
                    self.reply(401, {"message": "token is required"})
                    return
                listing = LIST.match(path)
                editing = EDIT.match(path)
                if listing and listing.group("repo") == state.repository:
                    index = int(listing.group("index"))
                    if method == "GET":
                        self.list_comments(path, index, query)
                        return
                    if method == "POST":
                        if state.fail_writes_with:
                            self.reply(state.fail_writes_with, {"message": "write failed"})
                            return
                        self.reply(201, state.add(index, body["body"], "forgejo-actions"))
                        return
                if editing and editing.group("repo") == state.repository and method == "PATCH":
                    if state.fail_writes_with:
                        self.reply(state.fail_writes_with, {"message": "write failed"})
                        return
                    identifier = int(editing.group("id"))
                    for comments in state.comments.values():
                        for comment in comments:
                            if comment["id"] == identifier:
                                comment["body"] = body["body"]
                                self.reply(200, comment)
                                return
                self.reply(404, {"message": "not found"})

            def list_comments(self, path: str, index: int, query: str) -> None:
                comments = state.comments.get(index, [])
                if not state.page_size:
                    self.reply(200, comments)
                    return
                page = int(query.removeprefix("page=") or 1) if query.startswith("page=") else 1
                start = (page - 1) * state.page_size
                chunk = comments[start : start + state.page_size]
                headers = {}
                if start + state.page_size < len(comments):
                    port = fake.port
                    headers["Link"] = f'<http://127.0.0.1:{port}{path}?page={page + 1}>; rel="next"'
                self.reply(200, chunk, headers)

            def do_GET(self) -> None:
                self.handle_request("GET")

            def do_POST(self) -> None:
                self.handle_request("POST")

            def do_PATCH(self) -> None:
                self.handle_request("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.deadline = threading.Timer(LIFETIME_SECONDS, self.server.shutdown)
        self.deadline.daemon = True

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def __enter__(self) -> FakeForgejo:
        self.thread.start()
        self.deadline.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deadline.cancel()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
