"""The chat service's HTTP surface (starlette): a versioned JSON API, the event stream, the
widget files and a demo page.

API (all JSON, errors as ``{"error": {"code", "message", "field"?}}``)::

    GET  /v1/sites/{site}/config                         availability, pre-chat fields
    POST /v1/sites/{site}/conversations                  -> 201 {conversation_id, visitor_token}
    POST /v1/sites/{site}/conversations/{id}/messages    -> 202 {message_id, status}  (Bearer)
    GET  /v1/sites/{site}/conversations/{id}/events      server-sent events (?token=)
    GET  /v1/sites/{site}/conversations/{id}/replies     the replies kept for it (Bearer)

CORS is per site: a request whose ``Origin`` is not one of the site's ``allowed_origins``
gets 403 before its body is read. Cookies are never used (the token travels in a header), so
credentials are not allowed cross-origin.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ingest.chat import payloads
from ingest.chat.desk import ChatDesk
from ingest.chat.identity import VisitorPass
from ingest.chat.payloads import Rejection
from ingest.chat.settings import ChatSettings, SiteSettings
from schemas.codec import to_primitive
from schemas.notification import ChatReply

WIDGET_DIR = Path(__file__).parent / "widget"
_CORS_METHODS = "GET, POST, OPTIONS"
_CORS_HEADERS = "Content-Type, Authorization, Last-Event-ID"
_PREFLIGHT_MAX_AGE = "600"
API = "/v1/sites/{site}"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


_LOOPBACK_BIND = ("127.0.0.1", "localhost", "::1")  # chat.host values that mean loopback
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")  # how a browser names it in an origin


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


def own_origins(settings: ChatSettings, port: int | None = None) -> frozenset[str]:
    """What the site setting ``"self"`` stands for: the configured ``public_url``'s origin and,
    once the service listens, its own address (with the loopback names when bound to
    loopback). Taken from configuration and the bound socket, never from the request: a
    request's Host header is the client's to choose, so ``Origin: http://evil.example`` with
    ``Host: evil.example`` must not count as the service itself."""
    origins: set[str] = set()
    public = origin_of(settings.public_url) if settings.public_url else None
    if public:
        origins.add(public)
    if port:
        host = settings.host
        names = _LOOPBACK_NAMES if host in _LOOPBACK_BIND else (
            f"[{host}]" if ":" in host else host,)
        origins.update(f"http://{name}:{port}" for name in names)
    return frozenset(origins)


def _origin_allowed(site: SiteSettings, origin: str, own: frozenset[str]) -> bool:
    return origin in site.allowed_origins or ("self" in site.allowed_origins and origin in own)


class ChatApi:
    def __init__(self, desk: ChatDesk) -> None:
        self.desk = desk
        self.closing = asyncio.Event()
        self.own_origins = own_origins(desk.settings)

    def listening_on(self, port: int) -> None:
        """The port the service is bound to (known only after binding when configured 0)."""
        self.own_origins = own_origins(self.desk.settings, port)

    # -- guards -------------------------------------------------------------------------------

    def _site(self, request: Request) -> tuple[SiteSettings, dict[str, str]]:
        """The site named in the path, if the request's Origin may talk to it; CORS headers."""
        site = self.desk.site(request.path_params["site"])
        origin = request.headers.get("origin")
        if origin is None:
            # Browsers send Origin on every cross-origin request and on same-origin POSTs, but
            # not on a same-origin GET (the demo page's EventSource): reads are safe to allow,
            # the visitor token still guards them; writes without Origin only if configured.
            if site.allow_missing_origin or request.method in ("GET", "HEAD"):
                return site, {}
            raise Rejection(403, "origin-required", "requests must come from the site's pages")
        if not _origin_allowed(site, origin, self.own_origins):
            raise Rejection(403, "origin-not-allowed", "this origin may not use this chat site")
        return site, {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": "Retry-After",
            "Vary": "Origin",
        }

    async def _body(self, request: Request) -> bytes:
        limit = self.desk.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _too_big(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_big(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _visitor(self, request: Request, site: SiteSettings, now: datetime) -> VisitorPass:
        return self.desk.visitor(
            site, request.path_params["conversation"], self._token(request), now
        )

    @staticmethod
    def _token(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.query_params.get("token")

    @staticmethod
    def _ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    # -- endpoints ----------------------------------------------------------------------------

    async def preflight(self, request: Request) -> Response:
        _site, cors = self._site(request)
        return Response(status_code=204, headers={
            **cors,
            "Access-Control-Allow-Methods": _CORS_METHODS,
            "Access-Control-Allow-Headers": _CORS_HEADERS,
            "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
        })

    async def config(self, request: Request) -> Response:
        site, cors = self._site(request)
        return _json({
            "site": site.id,
            "online": self.desk.online(site),
            "pre_chat_fields": list(site.pre_chat_fields),
            "require_email": site.require_email,
            "require_identity": site.require_identity,
            "locale": site.default_locale,
            "title": site.title,
        }, headers=cors)

    async def start(self, request: Request) -> Response:
        site, cors = self._site(request)
        body = payloads.parse_json(await self._body(request))
        started = self.desk.start(
            site, payloads.start_conversation(body, self.desk.settings), self._ip(request)
        )
        return _json({
            "conversation_id": started.visitor.conversation_id,
            "visitor_id": started.visitor.visitor_id,
            "visitor_token": started.token,
            "verified": started.visitor.verified_identifier is not None,
            "online": self.desk.online(site),
        }, 201, cors)

    async def post_message(self, request: Request) -> Response:
        site, cors = self._site(request)
        now = self.desk.now()
        self.desk.check_ip(self._ip(request), now)
        body = await self._body(request)
        visitor = self._visitor(request, site, now)
        msg = payloads.post_message(payloads.parse_json(body), self.desk.settings)
        accepted = await self.desk.accept(site, visitor, msg, now)
        return _json({
            "message_id": msg.message_id,
            "id": accepted.message_id,
            "status": "accepted",
            "duplicate": accepted.duplicate,
        }, 202, cors)

    async def replies(self, request: Request) -> Response:
        site, cors = self._site(request)
        visitor = self._visitor(request, site, self.desk.now())
        backlog = self.desk.book.backlog((site.id, visitor.conversation_id))
        return _json({"replies": [reply_json(r) for r in backlog]}, headers=cors)

    async def events(self, request: Request) -> Response:
        site, cors = self._site(request)
        now = self.desk.now()
        self.desk.check_ip(self._ip(request), now)  # each stream holds a queue: not for free
        visitor = self._visitor(request, site, now)
        key = (site.id, visitor.conversation_id)
        settings = self.desk.settings

        async def stream() -> AsyncIterator[bytes]:
            async with self.desk.listen(key) as (backlog, queue):
                yield f"retry: {settings.sse_retry_ms}\n\n".encode()
                for kept in backlog:
                    yield sse_event(kept)
                reply: ChatReply | None
                while not self.closing.is_set():
                    try:
                        reply = await asyncio.wait_for(queue.get(), settings.sse_heartbeat_s)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if reply is None:  # the service is stopping
                        break
                    yield sse_event(reply)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={
            **cors, "Cache-Control": "no-store", "X-Accel-Buffering": "no",
        })

    # -- widget -------------------------------------------------------------------------------

    @staticmethod
    def _widget_file(name: str, media: str) -> Response:
        return FileResponse(WIDGET_DIR / name, media_type=media, headers={
            "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*",
        })

    async def widget_js(self, request: Request) -> Response:
        return self._widget_file("widget.js", "text/javascript; charset=utf-8")

    async def widget_css(self, request: Request) -> Response:
        return self._widget_file("widget.css", "text/css; charset=utf-8")

    async def demo(self, request: Request) -> Response:
        sites = self.desk.settings.sites
        wanted = request.query_params.get("site") or (sites[0].id if sites else "")
        site = self.desk.site(wanted)
        lang = request.query_params.get("lang") or site.default_locale
        if lang not in ("en", "fr"):
            lang = "en"
        page = (WIDGET_DIR / "demo.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{site}}", site.id).replace("{{lang}}", lang))

    async def health(self, request: Request) -> Response:
        return _json({"status": "stopping" if self.closing.is_set() else "ok"})

    def close(self) -> None:
        """End every open event stream (the widgets reconnect to another replica)."""
        self.closing.set()
        self.desk.close_streams()


def _too_big(limit: int) -> Rejection:
    return Rejection(413, "body-too-large", f"the body is larger than {limit} bytes")


def reply_json(reply: ChatReply) -> dict[str, Any]:
    data = to_primitive(reply)
    return {k: data[k] for k in
            ("notification_id", "kind", "text", "author", "at", "ticket_number", "language")}


def sse_event(reply: ChatReply) -> bytes:
    data = orjson.dumps(reply_json(reply)).decode()
    return f"id: {reply.notification_id}\nevent: reply\ndata: {data}\n\n".encode()


async def _rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Rejection)
    headers = exc.headers()
    api: ChatApi = request.app.state.api
    origin = request.headers.get("origin")
    if origin and exc.status != 403 and "site" in request.path_params:
        site = api.desk.settings.site(request.path_params["site"])
        if site is not None and _origin_allowed(site, origin, api.own_origins):
            # let the widget read the error and its Retry-After
            headers.update({"Access-Control-Allow-Origin": origin,
                            "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"})
    return Response(exc.body(), exc.status, headers, media_type="application/json")


_MESSAGES_PATH = re.compile(
    r"/v1/sites/(?P<site>[^/]+)/conversations/(?P<conversation>[^/]+)/messages"
)


class _ChatApp(Starlette):
    """Starlette, with the one hot endpoint (posting a message) dispatched directly: it skips
    the middleware stack and the route scan, which cost as much CPU as the endpoint itself.
    Its errors are rendered by the same handler; anything unexpected still reaches uvicorn,
    which answers 500."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _MESSAGES_PATH.fullmatch(scope["path"])
            if match is not None:
                scope["app"] = self
                scope["path_params"] = match.groupdict()
                request = Request(scope, receive)
                try:
                    response = await self.state.api.post_message(request)
                except Rejection as exc:
                    response = await _rejected(request, exc)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(desk: ChatDesk) -> Starlette:
    api = ChatApi(desk)
    conversation = API + "/conversations/{conversation}"
    app = _ChatApp(
        routes=[
            Route(conversation + "/messages", api.post_message, methods=["POST"]),
            Route(conversation + "/events", api.events, methods=["GET"]),
            Route(API + "/conversations", api.start, methods=["POST"]),
            Route(API + "/config", api.config, methods=["GET"]),
            Route(conversation + "/replies", api.replies, methods=["GET"]),
            Route(API + "/{rest:path}", api.preflight, methods=["OPTIONS"]),
            Route("/widget.js", api.widget_js),
            Route("/widget.css", api.widget_css),
            Route("/demo", api.demo),
            Route("/healthz", api.health),
        ],
        exception_handlers={Rejection: _rejected},
    )
    app.state.api = api
    return app
