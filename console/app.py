"""The console's HTTP app (starlette): sign-in, queue, ticket, actions, live stream, reports.

Every action is checked by :func:`tickets.api_actions.parse_action` -- the ticket API's own
checks -- with the signed-in agent as ``agent``, and queued on ``ticket.commands`` through
``submit``; the tickets stage applies it and the event lands in the log under that agent's id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console import queue as queues
from console import ticket_page
from console.attachments import FetchRaw, attachment_routes
from console.passwords import PasswordFile
from console.reports_web import report_routes
from console.roles import role_of
from console.settings import ConsoleSettings
from console.store import ConsoleStore
from console.throttle import SignInThrottle
from console.web import PRE_COOKIE, Viewer, Web, guarded, safe_next, same_origin
from schemas.commands import AgentAction
from schemas.directory import Presence
from schemas.ticket_events import Priority, Status
from tickets.api_actions import ActionRejected, parse_action

STATIC = Path(__file__).parent / "static"
STATUSES: tuple[str, ...] = get_args(Status)
PRIORITIES: tuple[str, ...] = get_args(Priority)
PRESENCES: tuple[str, ...] = get_args(Presence)
Submit = Callable[[AgentAction], Awaitable[None]]
SetPresence = Callable[[str, Presence], Awaitable[None]]
MAX_FORM_BYTES = 1024 * 1024
# The form field an action form carries so a double submit queues one command.
IDEMPOTENCY_FIELD = "idem"
ACTIONS = {  # path segment -> the ticket API's action and the form fields it reads
    "reply": ("reply", ("text", "status")), "note": ("note", ("text",)),
    "status": ("set-status", ("status",)), "priority": ("set-priority", ("priority",)),
    "assign": ("assign", ("assignee",)), "escalate": ("escalate", ("reason",)),
    "merge": ("merge", ("target",)), "link-master": ("link-master", ("target",)),
}


def build_app(store: ConsoleStore, passwords: PasswordFile, settings: ConsoleSettings,
              key: bytes, submit: Submit, *, set_presence: SetPresence | None = None,
              fetch_raw: FetchRaw | None = None,
              clock: Callable[[], datetime] = lambda: datetime.now(UTC),
              ready: Callable[[], bool] = lambda: True,
              allowed_hosts: Sequence[str] | None = None) -> Starlette:
    web = Web(key, store.agent, clock, settings.secure_cookies, settings.session_ttl_s,
              lambda agent_id: passwords.hashes().get(agent_id))
    throttle = SignInThrottle(settings.sign_in_max_failures, settings.sign_in_window_s)

    # -- sign-in ---------------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        token = web.pre_token(request)
        response = web.render(request, "login.html", pre=token,
                              next=safe_next(request.query_params.get("next")))
        web.set_pre(response, request, token)
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        pre = request.cookies.get(PRE_COOKIE)
        if not pre or form.get("csrf") != pre or not same_origin(request):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        agent_id = str(form.get("agent") or "").strip()
        password = str(form.get("password") or "")
        keys = (f"agent:{agent_id}", f"addr:{request.client.host if request.client else '-'}")
        now = clock().timestamp()
        if throttle.blocked(keys, now):
            return web.render(request, "login.html", 429, pre=pre, failed="throttled",
                              agent=agent_id, next=safe_next(str(form.get("next") or "")))
        # the hash is always checked (also for unknown agents) so timing does not tell
        ok = await asyncio.to_thread(passwords.check, agent_id, password)
        if not ok or store.agent(agent_id) is None:
            throttle.failed(keys, now)
            return web.render(request, "login.html", 401, pre=pre, failed="bad_login",
                              agent=agent_id, next=safe_next(str(form.get("next") or "")))
        throttle.succeeded(keys[:1])
        response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
        web.set_session(response, request, agent_id)
        return response

    async def logout(request: Request, viewer: Viewer) -> Response:
        response = RedirectResponse("/login", status_code=303)
        web.end_session(response, viewer)
        return response

    # -- the queue ---------------------------------------------------------------------------

    def queue_data(request: Request, viewer: Viewer) -> dict[str, Any]:
        scope: queues.Scope = "all" if (request.query_params.get("scope") == "all"
                                        and viewer.role != "agent") else "mine"
        filters = {name: request.query_params.get(name, "") for name in queues.FILTERS}
        tickets = list(store.view.tickets(limit=10**9))
        rows = queues.build_queue(tickets, viewer.agent, clock(), filters, scope=scope,
                                  warning_s=settings.sla_warning_s, limit=settings.queue_limit)
        return {"rows": rows, "filters": filters, "scope": scope,
                "facets": queues.facets(tickets), "query": request.url.query}

    async def queue_page(request: Request, viewer: Viewer) -> Response:
        data = queue_data(request, viewer)
        name = "_queue_rows.html" if request.query_params.get("partial") else "queue.html"
        return web.render(request, name, viewer=viewer, **data)

    # -- a ticket ------------------------------------------------------------------------------

    def ticket_data(viewer: Viewer, ref: str) -> dict[str, Any] | None:
        t = store.view.find(ref)
        if t is None:
            return None
        events = store.view.events(t.ticket_id)
        others = [o for o in store.view.tickets(customer_id=t.customer_id, limit=50)
                  if o.ticket_id != t.ticket_id]
        return {
            "ticket": t, "messages": ticket_page.conversation(store.view.conversation(
                t.ticket_id)),
            "classified": ticket_page.classification(events),
            "clocks": ticket_page.clocks(t, clock(), settings.sla_warning_s),
            "history": ticket_page.history(events), "customer": store.customers.get(
                t.customer_id), "others": others, "statuses": STATUSES,
            "priorities": PRIORITIES, "agents": sorted(store.agents.values(),
                                                       key=lambda a: a.agent_id),
            # a fresh token per rendered form: a double submit is one command, a new page a
            # new one (even when the ticket has not changed in between)
            "idem": secrets.token_urlsafe(12),
        }

    async def ticket(request: Request, viewer: Viewer) -> Response:
        data = ticket_data(viewer, request.path_params["ref"])
        if data is None:
            return web.render(request, "error.html", 404, viewer, message="not_found")
        name = "_ticket_live.html" if request.query_params.get("partial") else "ticket.html"
        return web.render(request, name, viewer=viewer, done=request.query_params.get("done"),
                          **data)

    async def act(request: Request, viewer: Viewer) -> Response:
        t = store.view.find(request.path_params["ref"])
        if t is None:
            return web.render(request, "error.html", 404, viewer, message="not_found")
        if request.path_params["action"] not in ACTIONS:
            return web.render(request, "error.html", 404, viewer, message="not_found")
        action, fields = ACTIONS[request.path_params["action"]]
        form = await request.form()
        body: dict[str, Any] = {"action": action, "agent": viewer.agent.agent_id}
        for name in fields:
            value = form.get(name)
            if isinstance(value, str) and value.strip():
                body[name] = value
        if action == "assign":
            wanted = body.get("assignee")
            body["assignee"] = None if wanted == "-" else wanted
            if viewer.role == "agent" and body["assignee"] not in (viewer.agent.agent_id, None):
                return web.forbidden(request, viewer)  # agents take; supervisors dispatch
        idem = form.get(IDEMPOTENCY_FIELD)
        try:
            cmd = parse_action(body, t.ticket_id, clock(),
                               f"console:{viewer.agent.agent_id}:{action}:{idem}"
                               if isinstance(idem, str) and idem else None)
        except ActionRejected as exc:
            return web.render(request, "error.html", 400, viewer, message="bad_request",
                              detail=str(exc))
        if cmd.target_ticket_id is not None:  # a number or an id, as the ticket API takes
            target = store.view.find(cmd.target_ticket_id)
            if target is None or target.ticket_id == t.ticket_id:
                return web.render(request, "error.html", 400, viewer, message="bad_request",
                                  detail=f"no other ticket {cmd.target_ticket_id!r}")
            cmd = dataclasses.replace(cmd, target_ticket_id=target.ticket_id)
        try:
            await submit(cmd)
        except Exception as exc:  # the broker did not take it: say so, keep nothing half-done
            return web.render(request, "error.html", 503, viewer, message="bad_request",
                              detail=f"not queued, try again ({type(exc).__name__})")
        return RedirectResponse(f"/tickets/{t.number}?done={cmd.action}", status_code=303)

    async def presence(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        state = form.get("presence")
        if set_presence is None or state not in PRESENCES:
            return PlainTextResponse("unknown presence", status_code=400)
        await set_presence(viewer.agent.agent_id, state)  # type: ignore[arg-type]
        return RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)

    # -- live ----------------------------------------------------------------------------------

    async def live(request: Request, viewer: Viewer) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 2000\n\n"
            async with store.changes.subscribe() as changes:
                while True:
                    try:
                        change = await asyncio.wait_for(changes.get(),
                                                        settings.sse_heartbeat_s)
                    except TimeoutError:
                        yield b": heartbeat\n\n"
                        continue
                    if change is None:  # fell behind: the page reloads what it shows
                        yield b"event: reset\ndata: {}\n\n"
                        return
                    kind, ref = change
                    yield f"event: {kind}\ndata: {ref}\n\n".encode()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def admin_agents(request: Request, viewer: Viewer) -> Response:
        has_password = set(passwords.hashes())
        agents = sorted(store.agents.values(), key=lambda a: a.agent_id)
        return web.render(request, "agents.html", viewer=viewer, agents=agents,
                          roles={a.agent_id: role_of(a) for a in agents},
                          has_password=has_password)

    async def health(request: Request) -> Response:
        ok = ready()
        return JSONResponse({"ready": ok, "tickets": len(store.view),
                             "agents": len(store.agents)}, status_code=200 if ok else 503)

    async def home(request: Request) -> Response:
        return RedirectResponse("/queue", status_code=303)

    routes = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", guarded(web, "agent", logout), methods=["POST"]),
        Route("/queue", guarded(web, "agent", queue_page)),
        Route("/tickets/{ref}", guarded(web, "agent", ticket)),
        Route("/tickets/{ref}/{action:str}", guarded(web, "agent", act), methods=["POST"]),
        Route("/presence", guarded(web, "agent", presence), methods=["POST"]),
        Route("/live", guarded(web, "agent", live, html=False)),
        Route("/admin/agents", guarded(web, "admin", admin_agents)),
        *report_routes(web, store, settings, clock),
        *attachment_routes(web, store, fetch_raw),
        Route("/healthz", health),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware,
                   allowed_hosts=list(allowed_hosts or settings.allowed_hosts),
                   www_redirect=False)])
    app.state.web = web
    return app
