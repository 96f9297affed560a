"""The audit log (admins): newest first, with the result of verifying its hash chain."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge_agent.station.evidence import auditlog
from edge_agent.station.store.schema import audit
from edge_agent.station.web.context import Ctx, actor

PAGE = 100


def routes(ctx: Ctx) -> list[Route]:
    def audit_page(request: Request) -> Response:
        try:
            before = int(request.query_params.get("before", "0")) or None
        except ValueError:
            before = None
        problems = auditlog.verify(ctx.engine)
        with ctx.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(audit)).scalar() or 0
            stmt = select(audit).order_by(audit.c.id.desc()).limit(PAGE)
            if before:
                stmt = stmt.where(audit.c.id < before)
            rows = conn.execute(stmt).all()
        auditlog.record(ctx.engine, actor(request), "view", {"audit": before or "latest"})
        return ctx.render(
            request,
            "audit.html",
            rows=rows,
            total=total,
            problems=problems,
            older=rows[-1].id if len(rows) == PAGE else None,
        )

    return [Route("/audit", audit_page)]
