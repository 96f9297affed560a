"""Server-sent events: a page's live part, re-rendered every `live_interval_s` and sent when it
changed. The stream ends after `live_max_s` (the browser's EventSource reconnects), so a server
shutting down never waits on an open page."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from edge_agent.station.config import WebConfig

KEEPALIVE_S = 15.0
# Set when the station is stopping: open streams end at their next turn, so uvicorn's graceful
# shutdown never has to cancel them (a cancelled stream logs a traceback).
STOPPING = threading.Event()


def frame(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def stream(request: Request, web: WebConfig, event: str, render: Callable[[], str]) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        last, last_sent = None, time.monotonic()
        end = time.monotonic() + web.live_max_s
        yield f"retry: {int(web.live_interval_s * 1000)}\n\n"
        while time.monotonic() < end and not STOPPING.is_set():  # a closed page cancels this
            body = await run_in_threadpool(render)
            if body != last:
                last, last_sent = body, time.monotonic()
                yield frame(event, body)
            elif time.monotonic() - last_sent > KEEPALIVE_S:
                last_sent = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(web.live_interval_s)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
