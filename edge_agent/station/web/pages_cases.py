"""Cases pages (police): open a case, add and remove events, hold, export a signed bag and show
whether it verifies."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import and_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from edge_agent.station.evidence.cases import CaseError, case_info, list_cases, open_case, set_hold
from edge_agent.station.evidence.export import ExportError
from edge_agent.station.query.search import _row
from edge_agent.station.store.schema import events
from edge_agent.station.web.casework import export_and_verify, exports_of, remove_event
from edge_agent.station.web.context import Ctx, actor


def case_url(name: str) -> str:
    return "/cases/" + quote(name, safe="")


def routes(ctx: Ctx) -> list[Route]:
    async def cases_page(request: Request) -> Response:
        error = None
        if request.method == "POST":
            form = await request.form()
            name = str(form.get("name", "")).strip()
            try:
                if "/" in name:
                    raise CaseError("a case name may not contain '/'")
                await run_in_threadpool(
                    open_case, ctx.engine, name, str(form.get("reason", "")), actor(request), True
                )
                return RedirectResponse(case_url(name), 303)
            except CaseError as exc:
                error = str(exc)
        with ctx.engine.connect() as conn:
            rows = list_cases(conn)
        return ctx.render(request, "cases.html", cases=rows, error=error, case_url=case_url)

    def case_page(request: Request) -> Response:
        name = request.path_params["name"]
        with ctx.engine.connect() as conn:
            try:
                info = case_info(conn, name)
            except CaseError as exc:
                return ctx.render(request, "error.html", 404, message=str(exc))
            rows = []
            for ref in info["events"]:
                device, event_id = ref.split("/", 1)
                r = conn.execute(
                    select(events).where(and_(events.c.device == device, events.c.event_id == event_id))
                ).first()
                rows.append(_row(r) if r is not None else {"device": device, "event_id": event_id})
        return ctx.render(
            request,
            "case.html",
            case=info,
            events=rows,
            exports=exports_of(ctx.engine, name),
            url=case_url(name),
        )

    async def hold(request: Request) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        try:
            await run_in_threadpool(set_hold, ctx.engine, name, form.get("held") == "1", actor(request))
        except CaseError as exc:
            return ctx.render(request, "error.html", 404, message=str(exc))
        return RedirectResponse(case_url(name), 303)

    async def remove(request: Request) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        ref = str(form.get("event", ""))
        if "/" not in ref:
            return ctx.render(request, "error.html", 400, message="events are named device/event-id")
        device, event_id = ref.split("/", 1)
        try:
            await run_in_threadpool(remove_event, ctx.engine, name, device, event_id, actor(request))
        except CaseError as exc:
            return ctx.render(request, "error.html", 404, message=str(exc))
        return RedirectResponse(case_url(name), 303)

    async def export(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            archive, _result = await run_in_threadpool(
                export_and_verify,
                ctx.engine,
                ctx.store,
                ctx.key_path,
                ctx.station_id,
                ctx.exports_dir,
                name,
                actor(request),
                ctx.zone,
                ctx.footage_files,
            )
        except (CaseError, ExportError) as exc:
            return ctx.render(request, "error.html", 400, message=str(exc))
        return FileResponse(archive, media_type="application/zip", filename=archive.name)

    return [
        Route("/cases", cases_page, methods=["GET", "POST"]),
        Route("/cases/{name}", case_page),
        Route("/cases/{name}/hold", hold, methods=["POST"]),
        Route("/cases/{name}/remove", remove, methods=["POST"]),
        Route("/cases/{name}/export", export, methods=["POST"]),
    ]
