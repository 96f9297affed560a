"""What every page handler needs: the archive, the pictures, the config, and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse

from edge_agent.station.auth.accounts import User
from edge_agent.station.auth.guard import user_of
from edge_agent.station.config import WebConfig
from edge_agent.station.config.footage import FootageConfig
from edge_agent.station.config.notify import NotifyConfig
from edge_agent.station.fleet.live_look import LiveLook
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.web.i18n import LANGUAGES, environment, gettext

LANG_COOKIE = "edge_station_lang"


@dataclass
class Ctx:
    engine: Engine
    store: PictureStore
    web: WebConfig
    station_id: str
    key_path: Path
    exports_dir: Path
    stale_after_s: float
    zone: tzinfo = UTC
    ack_key_path: Path | None = None  # signs the alarm messages' acknowledge links
    notify: NotifyConfig | None = None  # the alerts' channels and subscriptions (admin page)
    look: LiveLook | None = None  # asks a watched pole for snapshots (None: no broker to ask through)
    footage: FootageConfig = field(default_factory=FootageConfig)
    footage_files: FootageFiles | None = None  # the segments pulled (None: no footage kept)
    envs: dict[str, Environment] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.envs = {lang: environment(lang, self.zone) for lang in LANGUAGES}

    def lang(self, request: Request) -> str:
        chosen = request.cookies.get(LANG_COOKIE)
        return chosen if chosen in LANGUAGES else self.web.language

    def t(self, request: Request, message: str) -> str:
        return gettext(self.lang(request), message)

    def render_text(self, request: Request, name: str, **values: Any) -> str:
        lang = self.lang(request)
        return (
            self.envs[lang]
            .get_template(name)
            .render(
                user=user_of(request),
                csrf=getattr(request.state, "csrf", "") or "",
                lang=lang,
                path=request.url.path,
                station_id=self.station_id,
                zone_name=getattr(self.zone, "key", None) or str(self.zone),
                **values,
            )
        )

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(
            self.render_text(request, name, **values),
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )


def actor(request: Request) -> str:
    u: User | None = user_of(request)
    return u.name if u else "?"
