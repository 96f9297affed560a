"""The one gate every request passes: a route table says which roles may use each path.

A path missing from the table is 404 for everyone (deny by default). A page asked for without a
session redirects to the login page, an API call gets 401; a role not in the rule gets 403. Every
POST must carry the session's CSRF token (form field `csrf` or header `X-CSRF-Token`) and, when
the browser names an Origin, come from this site. The JSON API's `X-Station-User` header, which
names the actor in the audit trail, is replaced by the logged-in account's name.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge_agent.station.auth import sessions
from edge_agent.station.auth.accounts import User
from edge_agent.station.auth.roles import Role

PRE_COOKIE = "edge_station_pre"  # the login form's CSRF token, before there is a session
SAFE = frozenset({"GET", "HEAD"})
MAX_BODY = 1 << 20
ANYONE: frozenset[Role] | None = None


@dataclass(frozen=True)
class Rule:
    path: str
    roles: frozenset[Role] | None  # None: anyone, logged in or not
    methods: frozenset[str] = frozenset({"GET"})
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_path(self.path)[0])


def rule(path: str, *roles: Role, methods: tuple[str, ...] = ("GET",)) -> Rule:
    """`roles` may use `path` with `methods` (none named: anyone, even logged out)."""
    allowed = frozenset(methods) | ({"HEAD"} if "GET" in methods else set())
    return Rule(path, frozenset(roles) if roles else None, allowed)


def cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for k, v in scope.get("headers", []):
        if k == b"cookie":
            try:
                jar.load(v.decode("latin-1"))
            except Exception:
                continue
    return {k: m.value for k, m in jar.items()}


Deny = Callable[[Request, User | None, int], Awaitable[Response] | Response]


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        engine: Engine,
        rules: list[Rule],
        deny: Deny | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.app, self.engine, self.rules, self.deny = app, engine, rules, deny
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    def match(self, path: str) -> Rule | None:
        return next((r for r in self.rules if r.regex.match(path)), None)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, user: User | None, status: int
    ) -> None:
        request = Request(scope, receive)
        response: Response
        if self.deny is not None and not scope["path"].startswith("/api/"):
            out = self.deny(request, user, status)
            response = await out if isinstance(out, Awaitable) else out
        elif status == 401:
            response = JSONResponse({"error": "log in first (POST /login)"}, status_code=401)
        elif status == 403:
            response = JSONResponse({"error": "your role may not use this"}, status_code=403)
        else:
            response = JSONResponse({"error": "not found"}, status_code=status)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.headers:
            send = self._with_headers(send)
        await self._gate(scope, receive, send)

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return sending

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        found = self.match(path)
        if found is None:
            await self._refuse(scope, receive, send, None, 404)
            return
        if method not in found.methods:
            await PlainTextResponse("method not allowed", 405)(scope, receive, send)
            return
        if found.roles is None and method in SAFE and path.startswith("/static/"):
            await self.app(scope, receive, send)  # the stylesheet and script: no session needed
            return
        jar = cookies(scope)
        token = jar.get(sessions.COOKIE)
        sess = await run_in_threadpool(sessions.lookup, self.engine, token) if token else None
        user, csrf = sess if sess else (None, jar.get(PRE_COOKIE))
        state = scope.setdefault("state", {})
        state["user"], state["csrf"], state["session_token"] = user, csrf, token if sess else None
        if found.roles is not None:
            if user is None:
                if path.startswith("/api/") or method not in SAFE:
                    await self._refuse(scope, receive, send, None, 401)
                else:
                    await RedirectResponse(f"/login?next={quote(path)}", 303)(scope, receive, send)
                return
            if user.role not in found.roles:
                await self._refuse(scope, receive, send, user, 403)
                return
        if method not in SAFE:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("request too large", 413)(scope, receive, send)
                return
            if not _same_origin(scope) or not _csrf_ok(scope, body, csrf):
                await PlainTextResponse(
                    "this form is out of date or came from another site: reload the page and try again",
                    403,
                )(scope, receive, send)
                return
            receive = _replay(body, receive)
        headers = [(k, v) for k, v in scope["headers"] if k != b"x-station-user"]
        if user is not None:
            headers.append((b"x-station-user", user.name.encode()))
        scope["headers"] = headers
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read for the CSRF check, once; then the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return str(v.decode("latin-1"))
    return None


def _same_origin(scope: Scope) -> bool:
    origin = _header(scope, b"origin")
    if origin is None or origin == "null":
        return origin is None
    host = _header(scope, b"host") or ""
    return urlsplit(origin).netloc == host


def _csrf_ok(scope: Scope, body: bytes, expected: str | None) -> bool:
    if not expected:
        return False
    given = _header(scope, b"x-csrf-token")
    if given is None and (_header(scope, b"content-type") or "").startswith("application/x-www-form"):
        values = parse_qs(body.decode("utf-8", "replace")).get("csrf", [])
        given = values[0] if values else None
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def user_of(request: Request) -> User | None:
    u: Any = getattr(request.state, "user", None)
    return u if isinstance(u, User) else None
