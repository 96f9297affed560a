"""The wall (residents and everyone): the latest snapshot of each public pole, refreshed live.

Only cameras of poles listed in `[web] public_poles`, only their latest snapshot: no search, no
events, no thumbnails of people."""

from __future__ import annotations

import json

from sqlalchemy import and_, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge_agent.station.query.localtime import shown
from edge_agent.station.store.schema import cameras, picture_uses
from edge_agent.station.web.context import Ctx
from edge_agent.station.web.live import stream
from edge_agent.station.web.pages_fleet import jpeg


def routes(ctx: Ctx) -> list[Route]:
    public = list(ctx.web.public_poles)

    def tiles(lang: str) -> list[dict[str, str | None]]:
        """Each public camera's latest snapshot, and when the station received it (local time)."""
        if not public:
            return []
        at = (
            select(func.max(picture_uses.c.received_us))
            .where(
                and_(
                    picture_uses.c.kind == "snapshot",
                    picture_uses.c.device == cameras.c.device,
                    picture_uses.c.camera == cameras.c.camera,
                    picture_uses.c.sha256 == cameras.c.snapshot_sha256,
                )
            )
            .scalar_subquery()
        )
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(cameras.c.device, cameras.c.camera, cameras.c.snapshot_sha256, at)
                .where(cameras.c.device.in_(public))
                .order_by(cameras.c.device, cameras.c.camera)
            ).all()
        out: list[dict[str, str | None]] = []
        for d, c, s, t in rows:
            seen = shown(int(t), ctx.zone, lang) if t is not None else None
            out.append(
                {
                    "device": d,
                    "camera": c,
                    "v": (s or "")[:16],
                    "at": seen.utc if seen else None,
                    "at_text": seen.text if seen else None,
                }
            )
        return out

    def wall(request: Request) -> Response:
        return ctx.render(request, "wall.html", tiles=tiles(ctx.lang(request)))

    async def wall_live(request: Request) -> Response:
        lang = ctx.lang(request)
        return stream(request, ctx.web, "wall", lambda: json.dumps(tiles(lang)))

    def picture(request: Request) -> Response:
        device, camera = request.path_params["device"], request.path_params["camera"]
        if device not in public:
            return Response(b"", status_code=404)
        with ctx.engine.connect() as conn:
            sha = conn.execute(
                select(cameras.c.snapshot_sha256).where(
                    and_(cameras.c.device == device, cameras.c.camera == camera)
                )
            ).scalar()
        return jpeg(ctx.store.get(sha) if sha else None)

    return [
        Route("/wall", wall),
        Route("/wall/live", wall_live),
        Route("/wall/{device}/{camera}.jpg", picture),
    ]
