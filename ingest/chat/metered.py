"""Request counters for the chat HTTP service: an ASGI wrapper around the app, so the hot
endpoint's own dispatch stays as it is. Labels are the route's name (a fixed set, never the
site, conversation or visitor in the path), the method and the status class."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.stage import Meter

_SUFFIXES = (("/messages", "messages"), ("/events", "events"), ("/replies", "replies"),
             ("/conversations", "conversations"), ("/config", "config"),
             ("/widget.js", "widget"), ("/widget.css", "widget"), ("/demo", "demo"),
             ("/healthz", "healthz"))


def route_name(method: str, path: str) -> str:
    if method == "OPTIONS":
        return "preflight"
    for suffix, name in _SUFFIXES:
        if path.endswith(suffix):
            return name
    return "other"


def status_class(status: int) -> str:
    return "429" if status == 429 else f"{status // 100}xx"


class MeteredApp:
    def __init__(self, app: ASGIApp, meter: Meter) -> None:
        self.app = app
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what uvicorn answers if the app raises before it starts a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        route = route_name(scope["method"], scope["path"])
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.meter.count("chat_requests", route=route, method=scope["method"],
                             status=status_class(status))
            self.meter.observe("chat_request", time.perf_counter() - started, route=route)
