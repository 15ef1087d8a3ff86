"""The HTTP API (starlette, JSON) over a :class:`~tickets.view.TicketView`.

    GET  /tickets?status=open&status=new&customer=…&assignee=…&limit=100&offset=0
    GET  /tickets/{id or number}
    GET  /tickets/{id or number}/events
    GET  /tickets/{id or number}/conversation
    POST /tickets/{id or number}/actions   (agent actions, see tickets.api_actions)
    GET  /bin?all=1                        (the "not a ticket" bin, with the reasons)
    POST /bin/{message id}/restore         (make a ticket of a binned message)
    GET  /healthz

``GET /tickets`` returns at most ``limit`` (1..1000) tickets, newest update first, from
``offset``; ``next_offset`` is the offset of the next page, or null on the last one. Pages are
positions in the current order, so a ticket updated between two requests may move across them.

Authentication: with ``tickets.api_token`` set, every ``/tickets`` endpoint (reads and
actions) needs ``Authorization: Bearer <tickets.api_token>`` and answers 401 (with
``WWW-Authenticate: Bearer``) without it. With no token set, reads stay open to whoever reaches
the port -- kept for local use and backward compatibility; the app cannot know what address it is
bound to (loopback by default, ``tickets.api_host``), so set a token before exposing the port --
and actions are refused (403). ``/healthz`` is always open (probes). Actions are queued on
``ticket.commands`` (202) like the CLI's, and the tickets stage applies them.

Every request's Host header must be one of ``tickets.api_allowed_hosts`` (loopback names by
default, any port), else 400: a web page whose DNS name is rebound to 127.0.0.1 cannot read the
API from a browser.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, get_args

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas.bin import BinnedMessage
from schemas.clock import Clock, utcnow
from schemas.commands import AgentAction
from schemas.ticket_events import Status
from tickets.api_actions import ActionRejected, parse_action
from tickets.bin_cli import summary as bin_summary
from tickets.settings import DEFAULT_API_ALLOWED_HOSTS
from tickets.view import TicketView, conversation_json, detail, event_json, summary

_STATUSES = frozenset(get_args(Status))
MAX_LIMIT = 1000


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _not_found(ref: str) -> Response:
    return _Json({"error": "not found", "ticket": ref}, status_code=404)


Submit = Callable[[AgentAction], Awaitable[None]]
Restore = Callable[[BinnedMessage], Awaitable[None]]
Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY_BYTES = 1024 * 1024


def _authorized(request: Request, token: str | None) -> Response | None:
    """None when the caller may act, else the response saying why not."""
    if not token:
        return _Json({"error": "agent actions over HTTP are disabled: set tickets.api_token"},
                     status_code=403)
    return _bearer(request, token)


def _bearer(request: Request, token: str) -> Response | None:
    """None when the request carries ``Authorization: Bearer <token>``, else a 401."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), token.encode()):
        return _Json({"error": "missing or wrong bearer token"}, status_code=401,
                     headers={"WWW-Authenticate": "Bearer"})
    return None


def build_app(view: TicketView, ready: Callable[[], bool] = lambda: True,
              submit: Submit | None = None, token: str | None = None,
              clock: Clock = utcnow,
              allowed_hosts: Sequence[str] = DEFAULT_API_ALLOWED_HOSTS,
              restore: Restore | None = None) -> Starlette:
    def read(handler: Handler) -> Handler:
        """``handler`` behind the bearer token when one is set (open without one)."""
        async def guarded(request: Request) -> Response:
            denied = _bearer(request, token) if token else None
            return denied if denied is not None else await handler(request)
        return guarded

    async def list_tickets(request: Request) -> Response:
        statuses = request.query_params.getlist("status")
        bad = [s for s in statuses if s not in _STATUSES]
        if bad:
            return _Json({"error": f"unknown status {bad[0]!r}"}, status_code=400)
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), MAX_LIMIT)
        except ValueError:
            return _Json({"error": "limit must be an integer"}, status_code=400)
        try:
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            offset = -1
        if offset < 0:
            return _Json({"error": "offset must be a non-negative integer"}, status_code=400)
        found = view.tickets(
            status=statuses,  # type: ignore[arg-type]  # checked against Status above
            customer_id=request.query_params.get("customer"),
            assignee=request.query_params.get("assignee"), limit=limit + 1, offset=offset,
        )
        more = len(found) > limit
        found = found[:limit]
        return _Json({"tickets": [summary(t) for t in found], "count": len(found),
                      "offset": offset, "next_offset": offset + limit if more else None})

    async def show(request: Request) -> Response:
        ref = request.path_params["ref"]
        t = view.find(ref)
        return _Json(detail(t)) if t else _not_found(ref)

    async def events(request: Request) -> Response:
        ref = request.path_params["ref"]
        t = view.find(ref)
        if t is None:
            return _not_found(ref)
        return _Json({"ticket_id": t.ticket_id, "number": t.number,
                      "events": [event_json(e) for e in view.events(t.ticket_id)]})

    async def conversation(request: Request) -> Response:
        ref = request.path_params["ref"]
        t = view.find(ref)
        if t is None:
            return _not_found(ref)
        return _Json({"ticket_id": t.ticket_id, "number": t.number, "subject": t.subject,
                      "messages": conversation_json(view.conversation(t.ticket_id))})

    async def act(request: Request) -> Response:
        denied = _authorized(request, token if submit is not None else None)
        if denied is not None:
            return denied
        assert submit is not None
        ref = request.path_params["ref"]
        t = view.find(ref)
        if t is None:
            return _not_found(ref)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _Json({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
        try:
            body = orjson.loads(raw)
            cmd = parse_action(body, t.ticket_id, clock(),
                               request.headers.get("idempotency-key"))
        except orjson.JSONDecodeError as exc:
            return _Json({"error": f"body is not JSON: {exc}"}, status_code=400)
        except ActionRejected as exc:
            return _Json({"error": str(exc)}, status_code=400)
        if cmd.target_ticket_id is not None:
            target = view.find(cmd.target_ticket_id)
            if target is None:
                return _not_found(cmd.target_ticket_id)
            cmd = dataclasses.replace(cmd, target_ticket_id=target.ticket_id)
        try:
            await submit(cmd)
        except Exception as exc:  # the broker did not take it: the caller retries
            return _Json({"error": f"not queued, retry: {type(exc).__name__}"},
                         status_code=503, headers={"Retry-After": "5"})
        return _Json({"queued": True, "command_id": cmd.command_id, "ticket_id": t.ticket_id,
                      "number": t.number, "action": cmd.action}, status_code=202)

    async def list_bin(request: Request) -> Response:
        everything = request.query_params.get("all", "") in ("1", "true", "yes")
        found = view.bin(include_restored=everything)
        return _Json({"binned": [bin_summary(b) for b in found], "count": len(found)})

    async def restore_binned(request: Request) -> Response:
        denied = _authorized(request, token if restore is not None else None)
        if denied is not None:
            return denied
        assert restore is not None
        mid = request.path_params["message_id"]
        b = view.binned.get(mid)
        if b is None:
            return _Json({"error": "not found", "message_id": mid}, status_code=404)
        if not b.restored:
            try:
                await restore(dataclasses.replace(b, restored=True, restored_by="api"))
            except Exception as exc:  # the broker did not take it: the caller retries
                return _Json({"error": f"not queued, retry: {type(exc).__name__}"},
                             status_code=503, headers={"Retry-After": "5"})
        return _Json({"restored": True, "message_id": mid}, status_code=202)

    async def health(request: Request) -> Response:
        ok = ready()
        return _Json({"ready": ok, "tickets": len(view)}, status_code=200 if ok else 503)

    return Starlette(routes=[
        Route("/tickets", read(list_tickets)),
        Route("/tickets/{ref}", read(show)),
        Route("/tickets/{ref}/events", read(events)),
        Route("/tickets/{ref}/conversation", read(conversation)),
        Route("/tickets/{ref}/actions", act, methods=["POST"]),
        Route("/bin", read(list_bin)),
        Route("/bin/{message_id}/restore", restore_binned, methods=["POST"]),
        Route("/healthz", health),
    ], middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts),
                              www_redirect=False)])
