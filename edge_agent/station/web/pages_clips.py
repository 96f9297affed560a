"""Footage on the pages (police): "Lấy video" on an event, where each request stands, the clip played;
and (admin) trusting a pole's new signing key after a reinstall (`POST /poles/{device}/key`).

`POST /events/{device}/{event_id}/footage` asks for the event's clip (audited) and goes back to
the event page, whose "Video" section (`clips_of`) lists the event's requests: waiting for the
pole, uploading n of m, done, or not available with each reason, and the stretches no segment
covers. `GET /clips/{id}` is the same as JSON for the page to follow without reloading;
`GET /clips/{id}.mp4` the verified segments remuxed into one MP4 (byte ranges, so the browser
can seek; only verified segments, never one that does not match its record).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from edge_agent.station.evidence import auditlog
from edge_agent.station.footage.keys import accept_key
from edge_agent.station.footage.playback import PlaybackError, clip_mp4
from edge_agent.station.footage.requests import ClipError, ask_event, requests_for, status
from edge_agent.station.web.context import Ctx, actor
from edge_agent.station.web.i18n import N_

STATES = (N_("waiting"), N_("uploading"), N_("done"), N_("partial"), N_("unavailable"))
# the sentences `footage.requests` says of a request waiting, shown in the page's language
WAITING = (
    N_("the pole is offline: the request is kept and sent when it is back"),
    N_("asked the pole; waiting for its first bytes"),
)


def clips_of(conn: Connection, device: str, event_id: str) -> list[dict[str, Any]]:
    """The event's clip requests for its page, newest first."""
    return [s.as_dict() for s in requests_for(conn, device=device, event_id=event_id, limit=10)]


def routes(ctx: Ctx) -> list[Route]:
    def ask(device: str, event_id: str, who: str) -> int:
        with ctx.engine.begin() as conn:
            rid = ask_event(conn, device, event_id, who, ctx.footage.pre_s, ctx.footage.post_s)
            auditlog.append(conn, who, "clip", {"request": rid, "target": f"{device}/{event_id}"})
        return rid

    async def get_footage(request: Request) -> Response:
        device, event_id = request.path_params["device"], request.path_params["event_id"]
        try:
            await run_in_threadpool(ask, device, event_id, actor(request))
        except ClipError as exc:
            return ctx.render(request, "error.html", 404, message=str(exc))
        return RedirectResponse(f"/events/{device}/{event_id}#footage", 303)

    def clip_json(request: Request) -> Response:
        with ctx.engine.connect() as conn:
            st = status(conn, int(request.path_params["id"]))
        if st is None:
            return JSONResponse({"error": "no such clip request"}, 404)
        return JSONResponse(st.as_dict(), headers={"Cache-Control": "no-store"})

    def make(rid: int, who: str, first: bool) -> Any:
        with ctx.engine.begin() as conn:
            st = status(conn, rid)
            if st is None or ctx.footage_files is None:
                return None
            if first:  # the player's first request, not each range it asks while seeking
                auditlog.append(conn, who, "play", {"clip": rid, "segments": st.verified})
        return clip_mp4(st, ctx.footage_files, ctx.footage_files.root / "clips")

    async def clip_video(request: Request) -> Response:
        first = request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-")
        try:
            path = await run_in_threadpool(make, int(request.path_params["id"]), actor(request), first)
        except PlaybackError as exc:
            return Response(str(exc).encode(), status_code=409, media_type="text/plain; charset=utf-8")
        if path is None:
            return Response(b"", status_code=404)
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, no-store"})

    def trust(device: str, who: str) -> None:
        with ctx.engine.begin() as conn:
            fingerprint, again = accept_key(conn, device)
            auditlog.append(conn, who, "pole-key", {"pole": device, "key": fingerprint, "heads": again})

    async def trust_key(request: Request) -> Response:
        device = request.path_params["device"]
        try:
            await run_in_threadpool(trust, device, actor(request))
        except ClipError as exc:
            return ctx.render(request, "error.html", 400, message=str(exc))
        return RedirectResponse(f"/poles/{device}#footage", 303)

    return [
        Route("/poles/{device}/key", trust_key, methods=["POST"]),
        Route("/events/{device}/{event_id}/footage", get_footage, methods=["POST"]),
        Route("/clips/{id:int}", clip_json),
        Route("/clips/{id:int}.mp4", clip_video),
    ]
