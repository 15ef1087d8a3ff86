"""Route commands: ``helpline agents push FILE | set-presence AGENT STATE | list``,
``helpline queue``, ``helpline escalations``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from route.reports import escalation_report, live_queue
from route.settings import RouteSettings, read_routing_file
from route.topic_io import latest
from schemas.directory import Agent, Presence
from schemas.events import TicketEvent
from schemas.route_events import RouteTicketState
from schemas.stage import StageContext
from schemas.topics import AGENTS, ROUTE_STATE, TICKET_EVENTS

PRESENCES: tuple[Presence, ...] = ("online", "away", "offline")


def _timeout(ctx: StageContext) -> float:
    settings: RouteSettings = ctx.section("route")
    return settings.cli_timeout_s


def _directory(ctx: StageContext) -> dict[str, Agent]:
    records = asyncio.run(ctx.topics.read_to_end(AGENTS, _timeout(ctx)))
    return {k.decode(): v for k, v in latest(records).items() if not v.deleted}


def _get_ctx(cli: typer.Context) -> StageContext:
    """The stage context: ``register`` puts its ``get_ctx`` on the click context's obj."""
    get_ctx: Callable[[], StageContext] = cli.obj
    return get_ctx()


def agents_push(
    cli: typer.Context,
    file: Annotated[Path, typer.Argument(help="TOML file with [[agents]]")],
) -> None:
    """Publish every agent of a routing TOML file (replacing their directory entries)."""
    routing = read_routing_file(file)
    now = datetime.now(UTC)
    records = [(a.agent_id.encode(), dataclasses.replace(a.to_agent(), updated_at=now))
               for a in routing.agents]
    if not records:
        typer.echo(f"no [[agents]] in {file}", err=True)
        raise typer.Exit(2)
    ctx = _get_ctx(cli)
    asyncio.run(ctx.topics.publish(AGENTS, records, _timeout(ctx)))
    typer.echo(f"{len(records)} agents published")


def agents_set_presence(
    cli: typer.Context,
    agent_id: str, state: Annotated[str, typer.Argument(help="online / away / offline")]
) -> None:
    """Mark an agent online, away or offline (routing takes effect on the next tick)."""
    if state not in PRESENCES:
        typer.echo(f"presence must be one of {', '.join(PRESENCES)}", err=True)
        raise typer.Exit(2)
    ctx = _get_ctx(cli)
    current = _directory(ctx).get(agent_id)
    if current is None:
        typer.echo(f"unknown agent {agent_id!r}: push it first", err=True)
        raise typer.Exit(1)
    updated = dataclasses.replace(current, presence=state, updated_at=datetime.now(UTC))
    asyncio.run(ctx.topics.publish(AGENTS, [(agent_id.encode(), updated)], _timeout(ctx)))
    typer.echo(f"{agent_id}: {state}")


def agents_list(cli: typer.Context,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The directory as the route stage sees it."""
    directory = _directory(_get_ctx(cli))
    rows = [
        {"agent": a.agent_id, "presence": a.presence, "tier": a.tier,
         "teams": ",".join(a.teams), "skills": ",".join(a.skills),
         "capacity": ",".join(f"{k}={v}" for k, v in sorted(a.capacity.items()))}
        for a in sorted(directory.values(), key=lambda a: a.agent_id)
    ]
    _print(rows, as_json)


def queue(
    cli: typer.Context,
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Unassigned tickets waiting per team, earliest SLA due first."""
    ctx = _get_ctx(cli)
    states = latest(asyncio.run(ctx.topics.read_to_end(ROUTE_STATE, _timeout(ctx))))
    view = live_queue(s for s in states.values() if isinstance(s, RouteTicketState))
    rows = [
        {"team": e.team, "ticket": e.number, "priority": e.priority, "tier": e.tier,
         "due": e.due_at.isoformat() if e.due_at else "-",
         "waiting_since": e.queued_since.isoformat() if e.queued_since else "-"}
        for name, entries in view.items() if team in (None, name) for e in entries
    ]
    _print(rows, as_json)


def escalations(cli: typer.Context,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Escalations from the event log, by tag, category, trigger and tier move."""
    if cli.invoked_subcommand is None:  # `escalations report` (the old spelling) runs alone
        escalations_report(cli, as_json)


def escalations_report(cli: typer.Context,
                       as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Escalations from the event log, by tag, category, trigger and tier move."""
    ctx = _get_ctx(cli)
    records = asyncio.run(ctx.topics.read_to_end(TICKET_EVENTS, _timeout(ctx)))
    report = escalation_report(r.value for r in records
                               if isinstance(r.value, TicketEvent)).as_dict()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{report['total']} escalations on {report['tickets']} tickets")
    for section in ("by_trigger", "by_move", "by_category", "by_tag"):
        typer.echo(f"\n{section.replace('_', ' ')}:")
        for name, count in report[section].items():
            typer.echo(f"  {count:6d}  {name}")


def register(app: typer.Typer, get_ctx: Callable[[], StageContext]) -> None:
    # The commands find get_ctx as the click context's obj (inherited by every subcommand).
    settings = {"obj": get_ctx}
    agents = typer.Typer(help="The agent directory on the compacted agents topic.",
                         no_args_is_help=True, context_settings=settings)
    # One command, so no group verb: `helpline escalations` reads like `helpline queue`.
    escalations_group = typer.Typer(invoke_without_command=True, context_settings=settings)
    app.add_typer(agents, name="agents")
    app.add_typer(escalations_group, name="escalations")

    agents.command("push")(agents_push)
    agents.command("set-presence")(agents_set_presence)
    agents.command("list")(agents_list)
    app.command("queue", context_settings=settings)(queue)
    escalations_group.callback()(escalations)
    # The old spellings, kept hidden so scripts and docs keep working.
    agents.command("load", hidden=True)(agents_push)
    escalations_group.command("report", hidden=True)(escalations_report)


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("(none)")
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    typer.echo("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        typer.echo("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
