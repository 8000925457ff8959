"""The app's plain-HTTP parts, beside its Gradio events: the login check in front of Gradio's
``POST /login`` and the download route of exports.

- `LoginLimits` (ASGI middleware) is the one place a password is checked: `assistant.login.login`
  (rate limits per account and per client, lock-out, audit). A locked account or client gets 429
  with a clear message and Retry-After, a wrong password 400 (as Gradio answers it); a right one
  goes on to Gradio, whose ``auth`` (`confirm_login`) only confirms this check.
- `download_route` serves ``GET /exports/{id}``: an export to the logged-in user who made it, within
  the export TTL, every request audited. Exports are never handed to Gradio: a file a Gradio event
  returns is copied to Gradio's cache, which every logged-in session may read.
"""
from __future__ import annotations

import contextvars
import hashlib
import html
import math
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from assistant.audit import audit
from assistant.login import LoginGuard, locked_message, login
from assistant.users import role_of
from knowledge.export import export_token, open_export
from knowledge.settings import Settings
from knowledge.workspace import Workspace

__all__ = ["LoginLimits", "confirm_login", "login_of", "download_route", "export_id", "export_link", "export_links",
           "export_html", "export_fields"]

_VERIFIED: contextvars.ContextVar[str | None] = contextvars.ContextVar("guanxi_verified_login", default=None)
_MAX_LOGIN_BODY = 64 * 1024


# ----------------------------------------------------------------------------- logins
class LoginLimits:
    """ASGI middleware: checks ``POST /login`` itself (see the module docstring)."""

    def __init__(self, app, ws: Workspace, guard: LoginGuard):
        self.app, self.ws, self.guard = app, ws, guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > _MAX_LOGIN_BODY:
                return await JSONResponse({"detail": "login form too large"}, status_code=413)(scope, receive, send)

        def replay():
            """The body once more (for the form parser, then for Gradio), then the real stream."""
            sent = False

            async def again():
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return again

        form = await Request(scope, replay()).form()
        username, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
        client = (scope.get("client") or ("unknown",))[0]
        # scrypt in a worker thread: a burst of logins does not stall every other request
        ok, wait = await anyio.to_thread.run_sync(login, self.ws, self.guard, username, password, client)
        if ok:
            token = _VERIFIED.set(username)
            try:
                return await self.app(scope, replay(), send)
            finally:
                _VERIFIED.reset(token)
        if wait:
            response = JSONResponse({"detail": locked_message(wait)}, status_code=429,
                                    headers={"Retry-After": str(math.ceil(wait))})
        else:
            response = JSONResponse({"detail": "Incorrect credentials."}, status_code=400)
        await response(scope, receive, send)


def confirm_login(username: str, password: str) -> bool:
    """Gradio's ``auth``: true only for the login `LoginLimits` has just verified in this request."""
    verified = _VERIFIED.get()
    return verified is not None and verified == username


def login_of(request: Request) -> str | None:
    """The user a plain HTTP request is logged in as: Gradio's login cookie, looked up in its token
    table (what ``gr.Request.username`` is inside an event; Gradio has no helper for a route of its
    own). None — refused — without a login, or if Gradio's names change."""
    gradio_app = request.app
    cookie_id, tokens = getattr(gradio_app, "cookie_id", None), getattr(gradio_app, "tokens", None)
    if not cookie_id or not isinstance(tokens, dict):
        return None
    token = (request.cookies.get(f"access-token-{cookie_id}")
             or request.cookies.get(f"access-token-unsecure-{cookie_id}"))
    return tokens.get(token) if token else None


# ----------------------------------------------------------------------------- exports
def export_id(token: str) -> str:
    """What the audit log keeps of an export's id: a hash (the id is the secret half of the link)."""
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()[:12]


def export_link(result: dict) -> str | None:
    """The download link (relative to the page) of the export a tool result names, or None."""
    token = export_token(result["path"]) if isinstance(result, dict) and result.get("path") else None
    return f"exports/{token}" if token else None


def export_fields(result: dict | None) -> dict:
    """The audit fields of the export a tool wrote: its file name and `export_id`."""
    link = export_link(result or {})
    return {"file": Path(result["path"]).name, "export_id": export_id(link.rsplit("/", 1)[1])} if link else {}


def export_links(answer: dict) -> list[tuple[str, str]]:
    """(link, file name) of every export an answer's tools wrote (shown under the chat answer)."""
    out = []
    for call in answer.get("tool_calls") or []:
        res = call.get("result") or {}
        link = export_link(res)
        if link:
            out.append((link, Path(res["path"]).name))
    return out


def export_html(result: dict) -> str:
    """The download link of a batch export, for the drafts page."""
    link, name = export_link(result), Path(result["path"]).name
    note = " · 联系方式已脱敏 contacts masked" if result.get("masked") else ""
    return (f'<a href="{html.escape(link)}" download="{html.escape(name)}">⬇ {html.escape(name)}</a>'
            f'<br><sub>{int(result.get("rows", 0)):,} rows{note}</sub>')


def download_route(settings: Settings, home: Workspace, roots: list[Path]) -> Route:
    """``GET /exports/{id}`` over the exports of ``roots`` (the workspaces the app may use). Every
    request is audited (event "download": user, file, outcome). Another user's export answers 404,
    as one that does not exist does; an expired one 410 (and it is deleted)."""

    def download(request: Request):
        token = request.path_params["token"]
        user = login_of(request)
        role = role_of(home, user) if user else None
        if role is None:
            audit(home, user or "?", "", "download", outcome="not_logged_in", export_id=export_id(token))
            return PlainTextResponse("log in first / 请先登录", status_code=401)
        outcome, path, where = "not_found", None, home   # audited in the export's workspace, else home
        for root in roots:
            outcome, path = open_export(root, user, token, settings.export_ttl_minutes)
            if outcome != "not_found":
                where = Workspace(root)
                break
        audit(where, user, role, "download", outcome=outcome, file=path.name if path else "",
              export_id=export_id(token))
        if outcome == "ok":
            return FileResponse(path, media_type="text/csv; charset=utf-8", filename=path.name,
                                headers={"Cache-Control": "private, no-store"})
        if outcome == "expired":
            return PlainTextResponse("this export has expired: export again / 导出已过期，请重新导出", status_code=410)
        return PlainTextResponse("no such export / 没有这个导出文件", status_code=404)

    return Route("/exports/{token}", download, methods=["GET"])
