"""Real receivers for the alert tests: an SMTP server (aiosmtpd) and an HTTP server that stands
in for a webhook, ntfy's publish API or Telegram's Bot API, scripted to fail on purpose."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.broker import free_port


def arrived(items: list[Any], n: int, timeout: float) -> bool:
    """Whether `items` (filled by a server thread) holds `n` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(items) < n:
        time.sleep(0.05)
    return len(items) >= n


class SmtpReceiver:
    """A real SMTP server on a free loopback port; `messages` are parsed back as sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived: list[float] = []  # time.time() of each message, for the benchmark
        self.port = free_port()
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.arrived.append(time.time())
                outer.messages.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
                )
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def url(self, to: str = "officer@ward.example") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=station@ward.example&to={to}&mode=insecure"

    def wait(self, n: int, timeout: float = 15.0) -> bool:
        return arrived(self.messages, n, timeout)

    def close(self) -> None:
        self._controller.stop()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.time() when it came

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Answers each request by the next scripted behaviour (`ok`, an HTTP status, `hang`), then
    `ok`; `refuse()` closes the port so that connections are refused until `resume()`."""

    script: list[int | str] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True, "result": {"message_id": 1}})
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self._server: http.server.ThreadingHTTPServer | None = None
        self.resume()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                behaviour = outer.script.pop(0) if outer.script else "ok"
                if behaviour == "hang":
                    time.sleep(4)
                    return
                outer.requests.append(
                    Request(self.command, self.path, dict(self.headers.items()), body, time.time())
                )
                status = 200 if behaviour == "ok" else int(behaviour)
                data = json.dumps(outer.answer if status == 200 else {"ok": False, "description": "boom"})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

            do_POST = do_PUT = do_GET = _any

        return Handler

    def resume(self) -> None:
        if self._server is None:
            self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def refuse(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait(self, n: int, timeout: float = 15.0) -> bool:
        return arrived(self.requests, n, timeout)

    def close(self) -> None:
        self.refuse()
