"""The request-side plumbing of the console: who is signed in, CSRF, language, rendering, and
the security headers every response carries."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from console import session as sessions
from console.i18n import duration, negotiate, translator
from console.roles import Role, allows, role_of
from schemas.directory import Agent

TEMPLATES = Path(__file__).parent / "templates"
PRE_COOKIE = "helpline_console_pre"  # double-submit token for the sign-in form (no session yet)
# No inline script or style anywhere: what a customer wrote can never run, even if a template
# forgot to escape it.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["iso"] = lambda d: d.isoformat(timespec="seconds") if d else ""
    env.filters["hm"] = lambda d: d.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if d else "–"
    return env


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in agent making this request."""

    agent: Agent
    role: Role
    session: sessions.Session
    csrf: str


class Web:
    def __init__(self, key: bytes, agents: Callable[[str], Agent | None],
                 clock: Callable[[], datetime], secure_cookies: str, ttl_s: float,
                 password_hash: Callable[[str], str | None] = lambda _: None) -> None:
        self.session_key = sessions.derive_key(key, "session")
        self.password_hash = password_hash
        self.csrf_key = sessions.derive_key(key, "csrf")
        self.agents = agents
        self.clock = clock
        self.secure_cookies = secure_cookies
        self.ttl_s = ttl_s
        self.env = environment()
        self.revoked: set[str] = set()  # nonces of signed-out sessions (this process)

    # -- who is asking ---------------------------------------------------------------------

    def viewer(self, request: Request) -> Viewer | None:
        s = sessions.read(self.session_key, request.cookies.get(sessions.COOKIE), self.clock())
        if s is None or s.nonce in self.revoked:
            return None
        if s.credential != sessions.fingerprint(self.session_key,
                                                self.password_hash(s.agent_id)):
            return None  # the password changed (or was removed) since this sign-in
        agent = self.agents(s.agent_id)
        if agent is None:  # removed from the directory: the session ends with it
            return None
        return Viewer(agent, role_of(agent), s, sessions.csrf_token(self.csrf_key, s))

    def secure(self, request: Request) -> bool:
        if self.secure_cookies == "auto":
            return request.url.scheme == "https"
        return self.secure_cookies == "always"

    def set_session(self, response: Response, request: Request, agent_id: str) -> None:
        credential = sessions.fingerprint(self.session_key, self.password_hash(agent_id))
        _, value = sessions.issue(self.session_key, agent_id, self.clock(), self.ttl_s,
                                  credential)
        response.set_cookie(sessions.COOKIE, value, max_age=int(self.ttl_s), httponly=True,
                            samesite="strict", secure=self.secure(request), path="/")
        response.delete_cookie(PRE_COOKIE, path="/login")

    def pre_token(self, request: Request) -> str:
        return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)

    def set_pre(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict",
                            secure=self.secure(request), path="/login")

    def end_session(self, response: Response, viewer: Viewer) -> None:
        self.revoked.add(viewer.session.nonce)
        response.delete_cookie(sessions.COOKIE, path="/")

    async def csrf_ok(self, request: Request, viewer: Viewer) -> bool:
        given = request.headers.get(sessions.CSRF_HEADER)
        if given is None and request.method == "POST":
            form = await request.form()
            value = form.get(sessions.CSRF_FIELD)
            given = value if isinstance(value, str) else None
        return sessions.csrf_ok(self.csrf_key, viewer.session, given)

    # -- answers ---------------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        return negotiate(request.headers.get("accept-language"))

    def render(self, request: Request, name: str, status_code: int = 200,
               viewer: Viewer | None = None, **data: Any) -> HTMLResponse:
        lang = self.lang(request)
        html = self.env.get_template(name).render(
            t=translator(lang), lang=lang, viewer=viewer, now=self.clock(),
            duration=lambda s: duration(s, lang), path=request.url.path, **data)
        return HTMLResponse(html, status_code=status_code, headers={
            **SECURITY_HEADERS, "Content-Language": lang, "Vary": "Accept-Language, Cookie"})

    def forbidden(self, request: Request, viewer: Viewer | None) -> Response:
        return self.render(request, "error.html", 403, viewer, message="forbidden")


Handler = Callable[[Request, Viewer], Awaitable[Response]]


def guarded(web: Web, needed: Role, handler: Handler, *, html: bool = True) -> Callable[
        [Request], Awaitable[Response]]:
    """``handler`` for signed-in users of at least ``needed`` role; state-changing requests
    also need the session's CSRF token. Not signed in: pages redirect to the sign-in form,
    everything else is 401."""
    async def endpoint(request: Request) -> Response:
        viewer = web.viewer(request)
        if viewer is None:
            if html and request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
            return PlainTextResponse("sign in first", status_code=401,
                                     headers={"WWW-Authenticate": "Cookie"})
        if request.method not in ("GET", "HEAD") and not (
                same_origin(request) and await web.csrf_ok(request, viewer)):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        if not allows(viewer.role, needed):
            return web.forbidden(request, viewer)
        return await handler(request, viewer)
    return endpoint


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (``Origin`` or
    ``Sec-Fetch-Site``); requests without either header (old browsers, tools) rely on the
    CSRF token alone."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.partition("://")[2] == host


def _quote(target: str) -> str:
    from urllib.parse import quote

    return quote(target, safe="/")


def safe_next(target: str | None) -> str:
    """Only a path on this site (no ``//evil.example``, no scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target
