"""Fleet pages (volunteers, police, admins): every pole trouble first, live; a page per pole."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import and_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edge_agent.station.fleet.maintenance import set_maintenance
from edge_agent.station.fleet.state import known
from edge_agent.station.footage.keys import summary as footage_summary
from edge_agent.station.notify.snooze import snoozes
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.schema import cameras, device_messages
from edge_agent.station.store.web_tables import maintenance
from edge_agent.station.web.charts import chart
from edge_agent.station.web.context import Ctx, actor
from edge_agent.station.web.fleetview import pole_views
from edge_agent.station.web.i18n import N_
from edge_agent.station.web.live import stream

DAY_US = 86400 * 1_000_000
SERIES = (
    ("fps_processed", N_("Frames per second"), "fps"),
    ("temperature_c", N_("CPU temperature"), "°C"),
    ("outbox_depth", N_("Outbox depth"), ""),
    ("inference_ms", N_("Inference time"), "ms"),
)


def jpeg(data: bytes | None) -> Response:
    if data is None:
        return Response(b"", status_code=404)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})


def routes(ctx: Ctx) -> list[Route]:
    shared: dict[str, tuple[float, str]] = {}  # language → (when, fragment), for the live pages

    def fleet_html(request: Request) -> str:
        with ctx.engine.connect() as conn:
            poles = pole_views(conn, now_us(), ctx.stale_after_s)
        return ctx.render_text(request, "_fleet_list.html", poles=poles)

    def fleet_live_html(request: Request) -> str:
        """Every open fleet page shares one render per language per half interval."""
        lang = ctx.lang(request)
        at, html = shared.get(lang, (0.0, ""))
        if time.monotonic() - at > ctx.web.live_interval_s / 2:
            html = fleet_html(request)
            shared[lang] = (time.monotonic(), html)
        return html

    async def fleet_page(request: Request) -> Response:
        body = await run_in_threadpool(fleet_html, request)
        return ctx.render(request, "fleet.html", fleet_list=body)

    async def fleet_live(request: Request) -> Response:
        return stream(request, ctx.web, "fleet", lambda: fleet_live_html(request))

    def pole_page(request: Request) -> Response:
        device = request.path_params["device"]
        now = now_us()
        with ctx.engine.connect() as conn:
            view = next((p for p in pole_views(conn, now, ctx.stale_after_s) if p.device == device), None)
            if view is None:
                return ctx.render(request, "error.html", 404, message=ctx.t(request, "No such pole."))
            stats = conn.execute(
                select(device_messages.c.received_us, device_messages.c.raw)
                .where(
                    and_(
                        device_messages.c.device == device,
                        device_messages.c.kind == "stats",
                        device_messages.c.received_us >= now - DAY_US,
                    )
                )
                .order_by(device_messages.c.received_us)
            ).all()
            history = conn.execute(
                select(device_messages.c.received_us, device_messages.c.kind, device_messages.c.raw)
                .where(
                    and_(
                        device_messages.c.device == device,
                        device_messages.c.kind.in_(("health", "status", "alarm")),
                    )
                )
                .order_by(device_messages.c.received_us.desc())
                .limit(50)
            ).all()
            muted = conn.execute(select(maintenance).where(maintenance.c.device == device)).first()
            snoozed = [z for z in snoozes(conn, now) if z.device == device]
            footage = footage_summary(conn, device)
        parsed: list[tuple[int, dict[str, Any]]] = []
        for t, raw in stats:
            try:
                body = json.loads(raw)
            except ValueError:
                continue
            if isinstance(body, dict):
                parsed.append((t, body))
        charts = [
            chart(
                title,
                unit,
                [
                    (t, float(b[key]))
                    for t, b in parsed
                    if isinstance(b.get(key), int | float) and not isinstance(b.get(key), bool)
                ],
                now - DAY_US,
                now,
            )
            for key, title, unit in SERIES
        ]
        rows = [
            {"at": to_iso(t), "kind": kind, "text": bytes(raw).decode("utf-8", "replace")[:300]}
            for t, kind, raw in history
        ]
        return ctx.render(
            request,
            "pole.html",
            pole=view,
            charts=charts,
            history=rows,
            snoozes=snoozed,
            footage=footage,
            maintenance=None
            if muted is None
            else {"by": muted.by, "since": to_iso(muted.since_us), "note": muted.note},
        )

    async def maintenance_switch(request: Request) -> Response:
        device = request.path_params["device"]
        form = await request.form()
        on = form.get("on") == "1"
        note = str(form.get("note", ""))

        def work() -> bool:
            with ctx.engine.connect() as conn:
                exists = known(conn, device)
            if exists:
                set_maintenance(ctx.engine, device, on, actor(request), note)
            return exists

        if not await run_in_threadpool(work):
            return ctx.render(request, "error.html", 404, message=ctx.t(request, "No such pole."))
        return RedirectResponse(f"/poles/{device}", 303)

    def look_json(device: str) -> str:
        """Ask the watched pole for a picture (at most once a second, whoever watches), and say
        which snapshot each camera has now: the page loads a camera's picture when it changed."""
        if ctx.look is not None:
            ctx.look.watch(device)
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(cameras.c.camera, cameras.c.snapshot_sha256).where(cameras.c.device == device)
            ).all()
        return json.dumps({r.camera: (r.snapshot_sha256 or "")[:12] for r in rows}, sort_keys=True)

    async def look(request: Request) -> Response:
        device = request.path_params["device"]

        def exists() -> bool:
            with ctx.engine.connect() as conn:
                return known(conn, device)

        if not await run_in_threadpool(exists):
            return ctx.render(request, "error.html", 404, message=ctx.t(request, "No such pole."))
        if ctx.look is None:
            message = ctx.t(request, "Live look needs the station's broker connection (station run).")
            return ctx.render(request, "error.html", 503, message=message)
        return stream(request, ctx.web, "look", lambda: look_json(device))

    def snapshot(request: Request) -> Response:
        p = request.path_params
        with ctx.engine.connect() as conn:
            sha = conn.execute(
                select(cameras.c.snapshot_sha256).where(
                    and_(cameras.c.device == p["device"], cameras.c.camera == p["camera"])
                )
            ).scalar()
        return jpeg(ctx.store.get(sha) if sha else None)

    return [
        Route("/fleet", fleet_page),
        Route("/fleet/live", fleet_live),
        Route("/poles/{device}", pole_page),
        Route("/poles/{device}/look", look),
        Route("/poles/{device}/{camera}/snapshot.jpg", snapshot),
        Route("/poles/{device}/maintenance", maintenance_switch, methods=["POST"]),
    ]
