"""The alerts for the people who run them: the admin's page (subscriptions, channels masked,
snoozes, the outbox with every skip's reason and the dead letters; "send a test" per channel,
"send again" per dead letter) and the snooze on a pole's page (volunteers and admins)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from edge_agent.station.evidence import auditlog
from edge_agent.station.fleet.state import known
from edge_agent.station.notify.channels import Channels, Outcome
from edge_agent.station.notify.probe import send_test
from edge_agent.station.notify.report import overview, send_again
from edge_agent.station.notify.snooze import snooze, unsnooze
from edge_agent.station.store.ops import now_us
from edge_agent.station.web.context import Ctx, actor
from edge_agent.station.web.i18n import N_

SNOOZE_CHOICES_S = {"3600": 3600, "14400": 14400, "86400": 86400, "259200": 259200}
NOT_CONFIGURED = N_("No alerts are configured: add [notify] to the station's config (docs/alerts.md).")


def routes(ctx: Ctx) -> list[BaseRoute]:
    def page(request: Request, tested: dict[str, Outcome] | None = None) -> Response:
        with ctx.engine.connect() as conn:
            seen = overview(conn, now_us(), 60)
        n = ctx.notify
        return ctx.render(
            request,
            "notify.html",
            notify=n,
            channels=[(c.name, c.masked()) for c in n.channels] if n else [],
            seen=seen,
            tested=tested or {},
            not_configured=ctx.t(request, NOT_CONFIGURED) if n is None or not n.channels else "",
        )

    def alerts_page(request: Request) -> Response:
        return page(request)

    async def test(request: Request) -> Response:
        form = await request.form()
        name = str(form.get("channel", ""))
        n = ctx.notify
        if n is None or name not in [c.name for c in n.channels]:
            return ctx.render(request, "error.html", 404, message=ctx.t(request, "There is no such page."))

        def send() -> Outcome:
            outcome = send_test(n, Channels(n, n.retry.timeout_s), name, ctx.station_id, ctx.zone)
            auditlog.record(ctx.engine, actor(request), "notify-test", {"channel": name, "ok": outcome.ok})
            return outcome

        return page(request, {name: await run_in_threadpool(send)})

    async def again(request: Request) -> Response:
        try:
            row_id = int(request.path_params["id"])
        except ValueError:
            row_id = -1
        await run_in_threadpool(send_again, ctx.engine, row_id, actor(request))
        return RedirectResponse("/notify", 303)

    async def pole_snooze(request: Request) -> Response:
        device = request.path_params["device"]
        form = await request.form()
        camera = str(form.get("camera", ""))[:64]
        seconds = SNOOZE_CHOICES_S.get(str(form.get("for", "")))

        def work() -> bool:
            with ctx.engine.connect() as conn:
                if not known(conn, device):
                    return False
            if seconds is None:
                unsnooze(ctx.engine, device, camera, actor(request))
            else:
                snooze(ctx.engine, device, camera, seconds, actor(request), str(form.get("note", "")))
            return True

        if not await run_in_threadpool(work):
            return ctx.render(request, "error.html", 404, message=ctx.t(request, "No such pole."))
        return RedirectResponse(f"/poles/{device}", 303)

    return [
        Route("/notify", alerts_page),
        Route("/notify/test", test, methods=["POST"]),
        Route("/notify/{id}/again", again, methods=["POST"]),
        Route("/poles/{device}/snooze", pole_snooze, methods=["POST"]),
    ]
