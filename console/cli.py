"""``helpline console`` (serve the console), ``helpline console passwd AGENT`` (set an agent's
password) and ``helpline report`` (the supervisors' figures on the terminal)."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import orjson
import typer

from console.settings import ConsoleSettings
from schemas.commands import AgentAction
from schemas.directory import Agent, Presence
from schemas.events import TicketEvent
from schemas.stage import StageContext
from schemas.topics import AGENTS, TICKET_COMMANDS, TICKET_EVENTS


def _settings(ctx: StageContext) -> ConsoleSettings:
    settings: ConsoleSettings = ctx.section("console")
    return settings


def parse_since(value: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m`` back from ``now``, or an ISO date / date-time (UTC if naive)."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value and value[-1] in units and value[:-1].isdigit():
        return now - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use 7d, 12h, 30m or an ISO date") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def register(app: typer.Typer, get_ctx: Callable[..., StageContext]) -> None:
    console = typer.Typer(help="The agents' and supervisors' web console.",
                          invoke_without_command=True)

    @console.callback()
    def serve(ctx: typer.Context,
              host: Annotated[str | None, typer.Option()] = None,
              port: Annotated[int | None, typer.Option()] = None) -> None:
        """Serve the console (sign in with an agent id and the password set by `passwd`)."""
        if ctx.invoked_subcommand is not None:
            return
        sctx = get_ctx()
        s = _settings(sctx)
        asyncio.run(_serve(sctx, s, host or s.host, s.port if port is None else port))

    @console.command("serve")
    def serve_cmd(host: Annotated[str | None, typer.Option()] = None,
                  port: Annotated[int | None, typer.Option()] = None) -> None:
        """Serve the console (the same as `helpline console` alone)."""
        sctx = get_ctx()
        s = _settings(sctx)
        asyncio.run(_serve(sctx, s, host or s.host, s.port if port is None else port))

    @console.command("passwd")
    def passwd(
        agent_id: str,
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="read the password from standard input")] = False,
        check_directory: Annotated[bool, typer.Option(
            help="refuse agents not in the directory (needs the broker)")] = True,
    ) -> None:
        """Set AGENT's console password (stored as an argon2 hash)."""
        from console.passwords import PasswordFile, PasswordRejected

        # settings only, unless the directory is to be read (the password file is local)
        ctx = get_ctx() if check_directory else get_ctx(broker=False)
        s = _settings(ctx)
        if check_directory and agent_id not in _directory(ctx, s):
            typer.echo(f"unknown agent {agent_id!r}: push it with `helpline agents push`",
                       err=True)
            raise typer.Exit(1)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            PasswordFile(Path(s.password_file)).set(agent_id, password)
        except PasswordRejected as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(f"password set for {agent_id} ({s.password_file})")

    @app.command("report")
    def report(
        since: Annotated[str, typer.Option(help="7d, 24h, or an ISO date")] = "7d",
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    ) -> None:
        """Volume, response times, SLA compliance, escalations, backlog, reopen rate, busiest
        hours and per-agent load, folded from the ticket event log."""
        from console.report_tables import all_csv, to_text
        from console.reports import build_report

        if fmt not in ("table", "csv", "json"):
            raise typer.BadParameter("--format must be table, csv or json")
        ctx = get_ctx()
        s = _settings(ctx)
        now = datetime.now(UTC)
        records = asyncio.run(ctx.topics.read_to_end(TICKET_EVENTS, s.catchup_timeout_s))
        data = build_report((r.value for r in records if isinstance(r.value, TicketEvent)),
                            now, parse_since(since, now), ZoneInfo(s.report_timezone))
        if fmt == "json":
            typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        elif fmt == "csv":
            typer.echo(all_csv(data), nl=False)
        else:
            typer.echo(to_text(data), nl=False)

    app.add_typer(console, name="console")


def _directory(ctx: StageContext, s: ConsoleSettings) -> dict[str, Agent]:
    from route.topic_io import latest

    records = asyncio.run(ctx.topics.read_to_end(AGENTS, s.catchup_timeout_s))
    return {k.decode(): v for k, v in latest(records).items() if not v.deleted}


async def _serve(ctx: StageContext, s: ConsoleSettings, host: str, port: int) -> None:
    import uvicorn

    from console.app import build_app
    from console.feed import ConsoleFeed
    from console.passwords import PasswordFile
    from console.store import ConsoleStore
    from ingest.mime.attachments_cli import (
        AttachmentUnavailable,
        parse_raw_ref,
        read_raw_record,
    )

    store = ConsoleStore(s.view_max_events_per_ticket)
    feed = ConsoleFeed(ctx.topics, store)
    stop = asyncio.Event()
    follower: asyncio.Task[None] | None = None
    try:
        await feed.start(s.catchup_timeout_s)
        follower = asyncio.create_task(feed.follow(stop))
        async with ctx.topics.publisher(s.command_timeout_s) as publisher:

            async def submit(cmd: AgentAction) -> None:
                await publisher.publish(TICKET_COMMANDS, cmd.ticket_id.encode(), cmd)

            async def set_presence(agent_id: str, presence: Presence) -> None:
                current = store.agent(agent_id)
                if current is None:
                    return
                updated = dataclasses.replace(current, presence=presence,
                                              updated_at=datetime.now(UTC))
                await publisher.publish(AGENTS, agent_id.encode(), updated)

            async def fetch_raw(raw_ref: str) -> bytes:
                ref = parse_raw_ref(raw_ref)
                if ref is None:
                    raise AttachmentUnavailable(f"not a raw record: {raw_ref!r}")
                return await read_raw_record(ctx.topics, ref)

            app = build_app(store, PasswordFile(Path(s.password_file)), s, ctx.signing_key,
                            submit, set_presence=set_presence, fetch_raw=fetch_raw)
            server = uvicorn.Server(uvicorn.Config(
                app, host=host, port=port, log_level="warning", proxy_headers=True,
                forwarded_allow_ips=s.forwarded_allow_ips,
                timeout_graceful_shutdown=int(max(1, s.shutdown_timeout_s))))
            await server.serve()
    finally:
        stop.set()
        if follower is not None:
            await asyncio.gather(follower, return_exceptions=True)
        await feed.stop()
