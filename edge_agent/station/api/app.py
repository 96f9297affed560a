"""The station's JSON HTTP API (Starlette): search, events, pictures, fleet, cases, counters.

Every search, event view, picture view and case change is written to the audit trail with the
user named by the `X-Station-User` header (the web page issue replaces it with a login). Listens
on 127.0.0.1 by default. Errors are JSON: {"error": "..."} with 400/404.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge_agent.station.evidence import auditlog
from edge_agent.station.evidence.cases import (
    CaseError,
    add_events,
    case_info,
    list_cases,
    open_case,
    set_hold,
)
from edge_agent.station.fleet.state import fleet
from edge_agent.station.query.search import Query, QueryError, event_detail, parse_time, search
from edge_agent.station.store.ops import now_us, read_counters
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import pictures

SHA = re.compile(r"^[0-9a-f]{64}$")


def _actor(request: Request) -> str:
    return (request.headers.get("x-station-user") or "api").strip()[:128] or "api"


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _list(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for v in request.query_params.getlist(name):
        out.extend(x for x in v.split(",") if x)
    return out


def query_from(params: Request, zone: tzinfo | None = None) -> Query:
    p = params.query_params
    allowed = {
        "device",
        "camera",
        "label",
        "zone",
        "line",
        "from",
        "to",
        "min_score",
        "stationary",
        "limit",
        "cursor",
    }
    unknown = sorted(set(p) - allowed)
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    try:
        limit = int(p.get("limit", "100"))
        min_score = float(p["min_score"]) if "min_score" in p else None
    except ValueError:
        raise QueryError("limit must be an integer and min_score a number") from None
    stationary = p.get("stationary")
    if stationary not in (None, "true", "false"):
        raise QueryError("stationary must be true or false")
    return Query(
        devices=_list(params, "device"),
        cameras=_list(params, "camera"),
        labels=_list(params, "label"),
        zones=_list(params, "zone"),
        lines=_list(params, "line"),
        from_us=parse_time(p["from"], "from", zone) if "from" in p else None,
        to_us=parse_time(p["to"], "to", zone) if "to" in p else None,
        min_score=min_score,
        stationary=None if stationary is None else stationary == "true",
        limit=limit,
        cursor=p.get("cursor"),
    ).check()


def create_app(
    engine: Engine, store: PictureStore, stale_after_s: float = 180.0, zone: tzinfo | None = None
) -> Starlette:
    """The JSON API; `zone` is the station's, for a `from`/`to` given without an offset."""

    def events_search(request: Request) -> Response:
        try:
            q = query_from(request, zone)
        except QueryError as exc:
            return _error(str(exc))
        with engine.begin() as conn:
            result = search(conn, q)
            auditlog.append(conn, _actor(request), "search", q.describe())
        return JSONResponse(result)

    def event_view(request: Request) -> Response:
        device, event_id = request.path_params["device"], request.path_params["event_id"]
        with engine.begin() as conn:
            detail = event_detail(conn, device, event_id)
            if detail is None:
                return _error(f"no event {device}/{event_id}", 404)
            auditlog.append(conn, _actor(request), "view", {"event": f"{device}/{event_id}"})
        return JSONResponse(detail)

    def picture(request: Request) -> Response:
        sha = request.path_params["sha256"]
        if not SHA.match(sha):
            return _error("a picture is named by its sha256 (64 hex digits)")
        with engine.begin() as conn:
            if conn.execute(select(pictures.c.sha256).where(pictures.c.sha256 == sha)).first() is None:
                return _error("no such picture", 404)
            auditlog.append(conn, _actor(request), "view", {"picture": sha})
        data = store.get(sha)
        if data is None:
            return _error("the picture's file is gone (retention or disk)", 404)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    def fleet_view(_request: Request) -> Response:
        with engine.connect() as conn:
            return JSONResponse({"poles": fleet(conn, now_us(), stale_after_s)})

    def counters_view(_request: Request) -> Response:
        with engine.connect() as conn:
            return JSONResponse(read_counters(conn))

    async def cases_view(request: Request) -> Response:
        if request.method == "GET":
            with engine.connect() as conn:
                return JSONResponse({"cases": list_cases(conn)})
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _error('send {"name": "...", "reason": "...", "held": true}')
        try:
            open_case(
                engine,
                body["name"],
                str(body.get("reason", "")),
                _actor(request),
                bool(body.get("held", True)),
            )
        except CaseError as exc:
            return _error(str(exc))
        return JSONResponse({"ok": True}, status_code=201)

    async def case_view(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            if request.method == "GET":
                with engine.connect() as conn:
                    return JSONResponse(case_info(conn, name))
            body = await _json(request)
            if not isinstance(body, dict):
                return _error('send {"events": ["pole/event-id", ...]} or {"held": true|false}')
            if "events" in body:
                refs = [tuple(str(r).split("/", 1)) for r in body["events"]]
                if any(len(r) != 2 for r in refs):
                    return _error("events are named device/event-id")
                await run_in_threadpool(add_events, engine, name, refs, _actor(request))  # type: ignore[arg-type]
            if "held" in body:
                await run_in_threadpool(set_hold, engine, name, bool(body["held"]), _actor(request))
        except CaseError as exc:
            return _error(str(exc), 404 if "no case" in str(exc) else 400)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/api/events", events_search),
            Route("/api/events/{device}/{event_id}", event_view),
            Route("/api/pictures/{sha256}", picture),
            Route("/api/fleet", fleet_view),
            Route("/api/counters", counters_view),
            Route("/api/cases", cases_view, methods=["GET", "POST"]),
            Route("/api/cases/{name}", case_view, methods=["GET", "POST"]),
        ]
    )


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None
