"""Logging in and out, the home redirect, the language switch, and the accounts page (admins)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edge_agent.station.auth import sessions
from edge_agent.station.auth.accounts import AccountError, add_user, list_users, login, set_disabled
from edge_agent.station.auth.guard import PRE_COOKIE, user_of
from edge_agent.station.auth.roles import HOME, Role
from edge_agent.station.web.context import LANG_COOKIE, Ctx, actor
from edge_agent.station.web.i18n import LANGUAGES


def _local(url: str | None) -> str | None:
    """Only a path on this site may be a redirect target."""
    if not url or not url.startswith("/") or url.startswith("//") or urlsplit(url).netloc:
        return None
    return url


def routes(ctx: Ctx) -> list[Route]:
    secure = ctx.web.cookie_secure

    def login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
        token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
        if user_of(request) is None:  # logged in already: the session's token signs the form
            request.state.csrf = token
        response = ctx.render(
            request, "login.html", status, error=error, next=_local(request.query_params.get("next"))
        )
        response.set_cookie(PRE_COOKIE, token, httponly=True, secure=secure, samesite="strict")
        return response

    async def login_page(request: Request) -> Response:
        if request.method == "GET":
            return login_form(request)
        form = await request.form()
        ip = request.client.host if request.client else "?"
        result = await run_in_threadpool(
            login,
            ctx.engine,
            str(form.get("name", "")),
            str(form.get("password", "")),
            ip,
            ctx.web.login_max_failures,
            ctx.web.login_window_s,
        )
        if result.retry_after_s:
            minutes = max(1, (result.retry_after_s + 59) // 60)
            msg = ctx.t(request, "Too many failed logins. Try again in {minutes} min.").format(
                minutes=minutes
            )
            return login_form(request, msg, 429)
        if result.user is None:
            return login_form(request, ctx.t(request, "Wrong name or password."))
        await run_in_threadpool(sessions.end, ctx.engine, request.state.session_token)  # one at a time
        token = await run_in_threadpool(sessions.create, ctx.engine, result.user, ctx.web.session_hours)
        target = _local(str(form.get("next", ""))) or HOME[result.user.role]
        response = RedirectResponse(target, 303)
        response.set_cookie(
            sessions.COOKIE,
            token,
            max_age=int(ctx.web.session_hours * 3600),
            httponly=True,
            secure=secure,
            samesite="lax",
        )
        response.delete_cookie(PRE_COOKIE)
        return response

    async def logout(request: Request) -> Response:
        await run_in_threadpool(sessions.end, ctx.engine, request.state.session_token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(sessions.COOKIE)
        return response

    def home(request: Request) -> Response:
        user = user_of(request)
        return RedirectResponse(HOME[user.role] if user else "/login", 303)

    async def language(request: Request) -> Response:
        form = await request.form()
        lang = str(form.get("lang", ""))
        back = _local(str(form.get("back", ""))) or "/"
        response = RedirectResponse(back, 303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure)
        return response

    async def users_page(request: Request) -> Response:
        error = None
        if request.method == "POST":
            form = await request.form()
            try:
                await run_in_threadpool(
                    add_user,
                    ctx.engine,
                    str(form.get("name", "")).strip(),
                    str(form.get("role", "")),
                    str(form.get("password", "")),
                    actor(request),
                )
                return RedirectResponse("/users", 303)
            except AccountError as exc:
                error = str(exc)
        with ctx.engine.connect() as conn:
            rows = list_users(conn)
        return ctx.render(
            request, "users.html", 400 if error else 200, users=rows, roles=list(Role), error=error
        )

    async def disable(request: Request) -> Response:
        form = await request.form()
        try:
            await run_in_threadpool(
                set_disabled,
                ctx.engine,
                request.path_params["name"],
                form.get("disabled") == "1",
                actor(request),
            )
        except AccountError as exc:
            return ctx.render(request, "error.html", 404, message=str(exc))
        return RedirectResponse("/users", 303)

    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
        Route("/users", users_page, methods=["GET", "POST"]),
        Route("/users/{name}/disable", disable, methods=["POST"]),
    ]
