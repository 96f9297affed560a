"""The station's web app: the pages and the JSON API behind one login and one role table.

`create_web_app` wraps the station's JSON API (`edge_agent.station.api.app.create_app`): its routes
are served as they are, but only to the roles `policy.RULES` names, with the audit trail's actor
taken from the login. `service.run` serves this app instead of the bare API.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

import edge_agent.station.store.web_tables  # noqa: F401  (the tables join the archive's metadata)
from edge_agent.station.api.app import create_app as create_api
from edge_agent.station.auth.accounts import User
from edge_agent.station.auth.guard import Guard
from edge_agent.station.config import WebConfig
from edge_agent.station.config.footage import FootageConfig
from edge_agent.station.config.notify import NotifyConfig
from edge_agent.station.fleet.live_look import LiveLook
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.web import (
    pages_access,
    pages_alerts,
    pages_audit,
    pages_cases,
    pages_clips,
    pages_events,
    pages_fleet,
    pages_notify,
    pages_wall,
)
from edge_agent.station.web.context import Ctx
from edge_agent.station.web.i18n import HERE, N_
from edge_agent.station.web.policy import RULES

# Every response: nothing from another site, no framing, no sniffing, no referrer outside.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
MESSAGES = {
    401: N_("Log in first."),
    403: N_("Your role may not open this page."),
    404: N_("There is no such page."),
}


def create_web_app(
    engine: Engine,
    store: PictureStore,
    web: WebConfig,
    *,
    station_id: str,
    key_path: Path,
    exports_dir: Path,
    stale_after_s: float = 180.0,
    zone: tzinfo = UTC,
    ack_key_path: Path | None = None,
    notify: NotifyConfig | None = None,
    look: LiveLook | None = None,
    footage: FootageConfig | None = None,
    footage_files: FootageFiles | None = None,
) -> Guard:
    ctx = Ctx(
        engine, store, web, station_id, key_path, exports_dir, stale_after_s, zone, ack_key_path, notify, look
    )
    ctx.footage = footage or FootageConfig()
    ctx.footage_files = footage_files
    api = create_api(engine, store, stale_after_s, zone)
    routes: list[BaseRoute] = [
        *pages_access.routes(ctx),
        *pages_fleet.routes(ctx),
        *pages_events.routes(ctx),
        *pages_clips.routes(ctx),
        *pages_cases.routes(ctx),
        *pages_wall.routes(ctx),
        *pages_audit.routes(ctx),
        *pages_notify.routes(ctx),
        *pages_alerts.routes(ctx),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        *api.router.routes,
    ]
    app = Starlette(routes=routes)

    def deny(request: Request, user: User | None, status: int) -> Response:
        return ctx.render(
            request, "error.html", status, message=ctx.t(request, MESSAGES.get(status, N_("Error")))
        )

    return Guard(app, engine, RULES, deny, HEADERS)
