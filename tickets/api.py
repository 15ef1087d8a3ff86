"""The read-only HTTP API (starlette, JSON) over a :class:`~tickets.view.TicketView`.

    GET /tickets?status=open&status=new&customer=…&assignee=…&limit=100
    GET /tickets/{id or number}
    GET /tickets/{id or number}/events
    GET /tickets/{id or number}/conversation
    GET /healthz
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas.ticket_events import Status
from tickets.view import TicketView, conversation_json, detail, event_json, summary

_STATUSES = frozenset(get_args(Status))
MAX_LIMIT = 1000


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content)


def _not_found(ref: str) -> Response:
    return _Json({"error": "not found", "ticket": ref}, status_code=404)


def build_app(view: TicketView, ready: Callable[[], bool] = lambda: True) -> Starlette:
    async def list_tickets(request: Request) -> Response:
        statuses = request.query_params.getlist("status")
        bad = [s for s in statuses if s not in _STATUSES]
        if bad:
            return _Json({"error": f"unknown status {bad[0]!r}"}, status_code=400)
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), MAX_LIMIT)
        except ValueError:
            return _Json({"error": "limit must be an integer"}, status_code=400)
        found = view.tickets(
            status=statuses,  # type: ignore[arg-type]  # checked against Status above
            customer_id=request.query_params.get("customer"),
            assignee=request.query_params.get("assignee"), limit=limit,
        )
        return _Json({"tickets": [summary(t) for t in found], "count": len(found)})

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

    async def health(request: Request) -> Response:
        ok = ready()
        return _Json({"ready": ok, "tickets": len(view)}, status_code=200 if ok else 503)

    return Starlette(routes=[
        Route("/tickets", list_tickets),
        Route("/tickets/{ref}", show),
        Route("/tickets/{ref}/events", events),
        Route("/tickets/{ref}/conversation", conversation),
        Route("/healthz", health),
    ])
