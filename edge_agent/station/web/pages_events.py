"""Events pages (police): the archive's search as a form, results as thumbnails; one event with
every thumbnail version (its sha256 checked again), its path on the snapshot, the raw JSON."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import and_, func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edge_agent.station.api.app import SHA, query_from
from edge_agent.station.evidence import auditlog
from edge_agent.station.evidence.cases import CaseError, add_events, list_cases
from edge_agent.station.notify.report import alarm_messages
from edge_agent.station.query.search import QueryError, event_detail, parse_time, search
from edge_agent.station.store.schema import devices, event_messages, picture_uses
from edge_agent.station.web.context import Ctx, actor
from edge_agent.station.web.pages_clips import clips_of
from edge_agent.station.web.pages_fleet import jpeg

FORM_FIELDS = ("device", "camera", "label", "zone", "line", "from", "to", "min_score", "stationary", "cursor")
LABELS = ("person", "bicycle", "motorcycle", "car", "bus", "truck", "motion")  # motion: a motion alarm


def search_params(request: Request, limit: int) -> QueryParams:
    """The form's fields that were filled in, as the JSON API's query parameters."""
    kept = [(k, v.strip()) for k, v in request.query_params.multi_items() if k in FORM_FIELDS and v.strip()]
    return QueryParams([*kept, ("limit", str(limit))])


def path_points(raw: bytes) -> tuple[str, list[float] | None]:
    """The event's path (normalised x,y) as SVG points, and its last box, from a message's JSON."""
    try:
        body = json.loads(raw)
    except ValueError:
        return "", None
    pts = body.get("path") or []
    text = " ".join(
        f"{float(p[0]):.4f},{float(p[1]):.4f}" for p in pts if isinstance(p, list | tuple) and len(p) == 2
    )
    box = body.get("box")
    return text, [float(x) for x in box] if isinstance(box, list) and len(box) == 4 else None


def routes(ctx: Ctx) -> list[Route]:
    def events_page(request: Request) -> Response:
        params = search_params(request, ctx.web.events_per_page)
        error, result = None, None
        with ctx.engine.begin() as conn:
            poles = list(conn.execute(select(devices.c.device).order_by(devices.c.device)).scalars())
            if "all" in request.query_params or any(k != "limit" for k in params):
                try:
                    q = query_from(cast(Request, SimpleNamespace(query_params=params)), ctx.zone)
                    result = search(conn, q)
                    auditlog.append(conn, actor(request), "search", q.describe())
                except QueryError as exc:
                    error = str(exc)
        next_url = None
        if result and result["next_cursor"]:
            kept = [(k, v) for k, v in params.multi_items() if k not in ("cursor", "limit")]
            next_url = "/events?" + urlencode([*kept, ("cursor", result["next_cursor"])])
        return ctx.render(
            request,
            "events.html",
            poles=poles,
            labels=LABELS,
            form=request.query_params,
            chosen=set(request.query_params.getlist("device")),
            chosen_labels=set(request.query_params.getlist("label")),
            error=error,
            results=None if result is None else result["events"],
            next_url=next_url,
        )

    def event_page(request: Request) -> Response:
        device, event_id = request.path_params["device"], request.path_params["event_id"]
        with ctx.engine.begin() as conn:
            detail = event_detail(conn, device, event_id)
            if detail is None:
                return ctx.render(request, "error.html", 404, message=ctx.t(request, "No such event."))
            auditlog.append(conn, actor(request), "view", {"event": f"{device}/{event_id}"})
            raws = conn.execute(
                select(event_messages.c.seq, event_messages.c.raw)
                .where(and_(event_messages.c.device == device, event_messages.c.event_id == event_id))
                .order_by(event_messages.c.seq)
            ).all()
            at = parse_time(detail["received"], "received")
            snap = conn.execute(  # the camera's snapshot nearest the event
                select(picture_uses.c.sha256)
                .where(
                    and_(
                        picture_uses.c.kind == "snapshot",
                        picture_uses.c.device == device,
                        picture_uses.c.event_id == "",
                        picture_uses.c.camera == detail["camera"],
                    )
                )
                .order_by(func.abs(picture_uses.c.received_us - at))
                .limit(1)
            ).scalar()
            cases = [c for c in list_cases(conn)]
            told = alarm_messages(conn, device, event_id)
            clips = clips_of(conn, device, event_id)
        for v in detail["thumbnail_versions"]:
            data = ctx.store.get(v["sha256"])
            v["verified"] = data is not None and hashlib.sha256(data).hexdigest() == v["sha256"]
            v["present"] = data is not None
        messages: list[dict[str, Any]] = []
        for seq, raw in raws:
            try:
                shown = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
            except ValueError:
                shown = bytes(raw).decode("utf-8", "replace")
            messages.append({"seq": seq, "json": shown})
        points, box = path_points(bytes(raws[-1].raw)) if raws else ("", None)
        return ctx.render(
            request,
            "event.html",
            e=detail,
            messages=messages,
            snapshot=snap,
            track=points,
            box=box,
            cases=cases,
            told=told,
            clips=clips,
            added=request.query_params.get("added"),
        )

    async def add_to_case(request: Request) -> Response:
        device, event_id = request.path_params["device"], request.path_params["event_id"]
        form = await request.form()
        name = str(form.get("case", ""))
        try:
            await run_in_threadpool(add_events, ctx.engine, name, [(device, event_id)], actor(request))
        except CaseError as exc:
            return ctx.render(request, "error.html", 400, message=str(exc))
        return RedirectResponse(f"/events/{device}/{event_id}?{urlencode({'added': name})}", 303)

    def picture(request: Request) -> Response:
        sha = request.path_params["sha256"]
        if not SHA.match(sha):
            return Response(b"", status_code=404)
        with ctx.engine.connect() as conn:
            known = conn.execute(
                select(picture_uses.c.id).where(picture_uses.c.sha256 == sha).limit(1)
            ).first()
        return jpeg(ctx.store.get(sha) if known else None)

    return [
        Route("/events", events_page),
        Route("/events/{device}/{event_id}", event_page),
        Route("/events/{device}/{event_id}/case", add_to_case, methods=["POST"]),
        Route("/pictures/{sha256}", picture),
    ]
