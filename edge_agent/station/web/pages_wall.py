"""The wall (residents and everyone): the latest snapshot of each public pole, refreshed live.

Only cameras of poles listed in `[web] public_poles`, only their latest snapshot: no search, no
events, no thumbnails of people."""

from __future__ import annotations

import json

from sqlalchemy import and_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge_agent.station.store.schema import cameras
from edge_agent.station.web.context import Ctx
from edge_agent.station.web.live import stream
from edge_agent.station.web.pages_fleet import jpeg


def routes(ctx: Ctx) -> list[Route]:
    public = list(ctx.web.public_poles)

    def tiles() -> list[dict[str, str | None]]:
        if not public:
            return []
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(cameras.c.device, cameras.c.camera, cameras.c.snapshot_sha256)
                .where(cameras.c.device.in_(public))
                .order_by(cameras.c.device, cameras.c.camera)
            ).all()
        return [{"device": d, "camera": c, "v": (s or "")[:16]} for d, c, s in rows]

    def wall(request: Request) -> Response:
        return ctx.render(request, "wall.html", tiles=tiles())

    async def wall_live(request: Request) -> Response:
        return stream(request, ctx.web, "wall", lambda: json.dumps(tiles()))

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
