"""The acknowledge link of an alarm message: `/notify/ack/<token>`.

GET shows the alarm and one button, so a link preview (Telegram, a mail scanner) that only GETs
acknowledges nothing; POST uses the token (once, before it expires, signed by this station).
No login: the signed token is the permission, as it is on the phone that received it.
"""

from __future__ import annotations

import json
import secrets
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge_agent.station.auth.guard import PRE_COOKIE, user_of
from edge_agent.station.notify.acks import acknowledge, check_token, load_key
from edge_agent.station.store.ops import now_us
from edge_agent.station.web.context import Ctx
from edge_agent.station.web.i18n import N_

STATUS = {"ok": 200, "reused": 409, "expired": 410, "forged": 403}
REFUSED = {
    "reused": N_("This link has been used already: the alarm is acknowledged."),
    "expired": N_("This link has expired."),
    "forged": N_("This link is not one this station made."),
}


def routes(ctx: Ctx) -> list[BaseRoute]:
    key = load_key(ctx.ack_key_path) if ctx.ack_key_path is not None else None

    def page(request: Request, token: str, status: str, row: object, done: bool = False) -> Response:
        csrf = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
        if user_of(request) is None:
            request.state.csrf = csrf
        facts = json.loads(row.facts) if row is not None else {}  # type: ignore[attr-defined]
        response = ctx.render(
            request,
            "notify_ack.html",
            200 if done else STATUS[status],
            token=token,
            row=row,
            facts=facts,
            outcome=status,
            done=done,
            refused=ctx.t(request, REFUSED[status]) if status in REFUSED else "",
        )
        response.set_cookie(PRE_COOKIE, csrf, httponly=True, secure=ctx.web.cookie_secure, samesite="strict")
        return response

    async def ack(request: Request) -> Response:
        token = request.path_params["token"][:200]
        if key is None:
            return ctx.render(request, "error.html", 404, message=ctx.t(request, "There is no such page."))
        if request.method == "GET":

            def look() -> tuple[str, object]:
                with ctx.engine.connect() as conn:
                    r = check_token(conn, key, token, time.time())
                return r.status, r.row

            status, row = await run_in_threadpool(look)
            return page(request, token, status, row)
        ip = request.client.host if request.client else "?"
        result = await run_in_threadpool(acknowledge, ctx.engine, key, token, ip, now_us())
        return page(request, token, result.status, result.row, done=result.ok)

    return [Route("/notify/ack/{token}", ack, methods=["GET", "POST"])]
