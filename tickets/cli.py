"""``helpline tickets …`` and ``helpline customers push``: query tickets, act on them as an
agent (the actions go through the ``ticket.commands`` topic like any other helpdesk's), serve
the HTTP API (reads, and agent actions with a token), publish the customer directory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from schemas.bin import BinnedMessage
from schemas.commands import ActionKind, AgentAction
from schemas.stage import StageContext
from schemas.ticket_events import Priority, Status
from schemas.topics import CUSTOMERS, TICKET_COMMANDS, TICKETS_BIN
from tickets.settings import TicketsSettings

TicketArg = Annotated[str, typer.Argument(help="ticket id or number (HL-2026-000123)")]
AgentOpt = Annotated[str, typer.Option("--agent", "-a", help="who acts")]


def _settings(ctx: StageContext) -> TicketsSettings:
    settings: TicketsSettings = ctx.section("tickets")
    return settings


def _echo_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _get_ctx(cli: typer.Context) -> StageContext:
    """The stage context: ``register`` puts its ``get_ctx`` on the groups' click context."""
    get_ctx: Callable[[], StageContext] = cli.obj
    return get_ctx()


def _act(cli: typer.Context, ref: str, action: ActionKind, agent: str, **fields: Any) -> None:
    ctx = _get_ctx(cli)
    cmd = AgentAction(command_id=f"cli-{uuid.uuid4().hex}", ticket_id=ref.strip(),
                      action=action, agent_id=agent, at=datetime.now(UTC), **fields)
    asyncio.run(ctx.topics.publish(TICKET_COMMANDS, [(cmd.ticket_id.encode(), cmd)],
                                   _settings(ctx).command_timeout_s))
    typer.echo(f"{action} queued for {ref} (command {cmd.command_id})")


def _view_now(cli: typer.Context) -> Any:
    from tickets.feed import load_view

    ctx = _get_ctx(cli)
    s = _settings(ctx)
    return asyncio.run(load_view(ctx.topics, s.catchup_timeout_s, s.view_max_events_per_ticket))


def list_(
    cli: typer.Context,
    status: Annotated[list[str] | None, typer.Option("--status", "-s")] = None,
    assignee: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Tickets, most recently updated first."""
    from tickets.view import summary

    found = _view_now(cli).tickets(status=status or (), assignee=assignee, limit=limit)
    if as_json:
        _echo_json([summary(t) for t in found])
        return
    for t in found:
        typer.echo(f"{t.number:<16} {t.status:<8} {t.priority:<7} "
                   f"{(t.assignee or '-'):<12} {t.requester.address:<28} {t.subject[:60]}")


def show(
    cli: typer.Context,
    ticket: TicketArg,
    events: Annotated[bool, typer.Option(help="include the event log")] = False,
) -> None:
    """A ticket as JSON, with its conversation (and events)."""
    from tickets.view import conversation_json, detail, event_json

    view = _view_now(cli)
    t = view.find(ticket)
    if t is None:
        typer.echo(f"no ticket {ticket!r}", err=True)
        raise typer.Exit(1)
    out = {"ticket": detail(t),
           "conversation": conversation_json(view.conversation(t.ticket_id))}
    if events:
        out["events"] = [event_json(e) for e in view.events(t.ticket_id)]
    _echo_json(out)


def reply(cli: typer.Context, ticket: TicketArg, text: str, agent: AgentOpt,
          status: Annotated[str | None, typer.Option(help="status after the reply")] = None,
          ) -> None:
    """Reply to the requester (email or chat, as the ticket came in)."""
    _act(cli, ticket, "reply", agent, text=text, status=_status(status) if status else None)


def note(cli: typer.Context, ticket: TicketArg, text: str, agent: AgentOpt) -> None:
    """An internal note (never sent)."""
    _act(cli, ticket, "note", agent, text=text)


def set_status(cli: typer.Context, ticket: TicketArg, status: str, agent: AgentOpt,
            message: Annotated[str | None, typer.Option(
                help="text for requesters of child tickets when solving a master")] = None,
            ) -> None:
    """Set the status: new, open, pending, on-hold, solved, closed."""
    _act(cli, ticket, "set-status", agent, status=_status(status), text=message)


def set_priority(cli: typer.Context, ticket: TicketArg, priority: str, agent: AgentOpt) -> None:
    """Set the priority: low, normal, high, urgent."""
    if priority not in ("low", "normal", "high", "urgent"):
        raise typer.BadParameter(f"unknown priority {priority!r}")
    p: Priority = priority  # type: ignore[assignment]
    _act(cli, ticket, "set-priority", agent, priority=p)


def assign(cli: typer.Context, ticket: TicketArg, assignee: Annotated[str, typer.Argument(
    help="agent id, or '-' to unassign")], agent: AgentOpt) -> None:
    """Assign to an agent (or unassign with '-')."""
    _act(cli, ticket, "assign", agent, assignee=None if assignee == "-" else assignee)


def merge(cli: typer.Context, ticket: TicketArg,
          into: Annotated[str, typer.Argument(help="target ticket")], agent: AgentOpt) -> None:
    """Merge TICKET into another ticket (TICKET is closed; replies follow the target)."""
    _act(cli, ticket, "merge", agent, target_ticket_id=into)


def link_master(cli: typer.Context, ticket: TicketArg, master: Annotated[str, typer.Argument()],
                agent: AgentOpt) -> None:
    """Make TICKET a child of MASTER: solving the master solves and notifies it."""
    _act(cli, ticket, "link-master", agent, target_ticket_id=master)


def escalate(cli: typer.Context, ticket: TicketArg, agent: AgentOpt,
             reason: Annotated[str, typer.Option()] = "") -> None:
    """Escalate to the next support tier."""
    _act(cli, ticket, "escalate", agent, reason=reason)


def api(cli: typer.Context, host: Annotated[str | None, typer.Option()] = None,
        port: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the JSON API over the ticket topics (agent actions need tickets.api_token)."""
    ctx = _get_ctx(cli)
    s = _settings(ctx)
    asyncio.run(_serve(ctx, s, host or s.api_host, s.api_port if port is None else port))


def push(cli: typer.Context, path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
         fmt: Annotated[str | None, typer.Option("--format", help="csv or json")] = None,
         ) -> None:
    """Publish a customer directory file (CSV or JSON) to the customers topic."""
    from tickets.directory_file import DirectoryFileError, parse

    kind = fmt or path.suffix.lstrip(".").lower()
    try:
        records = parse(path.read_text(encoding="utf-8"), kind, datetime.now(UTC))
    except DirectoryFileError as exc:
        raise typer.BadParameter(str(exc)) from None
    ctx = _get_ctx(cli)
    asyncio.run(ctx.topics.publish(CUSTOMERS, [(r.customer_id.encode(), r) for r in records],
                                   _settings(ctx).command_timeout_s))
    typer.echo(f"{len(records)} customers published")


def register(app: typer.Typer, get_ctx: Callable[[], StageContext]) -> None:
    # The commands find get_ctx as the click context's obj (inherited by every subcommand).
    settings = {"obj": get_ctx}
    tickets = typer.Typer(help="Tickets: list, show, reply, change status, assign, merge.",
                          no_args_is_help=True, context_settings=settings)
    customers = typer.Typer(help="The customer directory.", no_args_is_help=True,
                            context_settings=settings)
    tickets.command("list")(list_)
    tickets.command("show")(show)
    tickets.command("reply")(reply)
    tickets.command("note")(note)
    tickets.command("set-status")(set_status)
    tickets.command("set-priority")(set_priority)
    tickets.command("assign")(assign)
    tickets.command("merge")(merge)
    tickets.command("link-master")(link_master)
    tickets.command("escalate")(escalate)
    tickets.command("api")(api)
    customers.command("push")(push)
    # The old spellings, kept hidden so scripts and docs keep working.
    tickets.command("status", hidden=True)(set_status)
    tickets.command("priority", hidden=True)(set_priority)
    customers.command("load", hidden=True)(push)

    from tickets import bin_cli

    tickets.add_typer(bin_cli.build(get_ctx), name="bin")
    app.add_typer(tickets, name="tickets")
    app.add_typer(customers, name="customers")


def _status(value: str) -> Status:
    if value not in ("new", "open", "pending", "on-hold", "solved", "closed"):
        raise typer.BadParameter(f"unknown status {value!r}")
    return value  # type: ignore[return-value]


async def _serve(ctx: StageContext, s: TicketsSettings, host: str, port: int) -> None:
    import uvicorn

    from tickets.api import build_app
    from tickets.feed import TicketFeed
    from tickets.view import TicketView

    view = TicketView(s.view_max_events_per_ticket)
    feed = TicketFeed(ctx.topics, view)
    stop = asyncio.Event()
    follower: asyncio.Task[None] | None = None
    token = s.api_token.get_secret_value() if s.api_token else None
    try:
        await feed.start(s.catchup_timeout_s)
        follower = asyncio.create_task(feed.follow(stop))
        async with ctx.topics.publisher(s.command_timeout_s) as publisher:

            async def submit(cmd: AgentAction) -> None:
                await publisher.publish(TICKET_COMMANDS, cmd.ticket_id.encode(), cmd)

            async def restore(binned: BinnedMessage) -> None:
                await publisher.publish(TICKETS_BIN, binned.message_id.encode(), binned)

            app = build_app(view, submit=submit, token=token, allowed_hosts=s.api_allowed_hosts,
                            restore=restore)
            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                                   log_level="warning"))
            await server.serve()
    finally:
        stop.set()
        if follower is not None:
            await asyncio.gather(follower, return_exceptions=True)
        await feed.stop()
