"""``helpline tickets bin list|show|restore``: the "not a ticket" bin, seen and emptied by hand.

Robots' mail (mailing lists, no-reply senders, our own address, unmatched auto-replies and
bounces) is kept on the compacted ``tickets.bin`` topic with the reason it was binned for.
``restore`` writes the record back with ``restored = true``; the tickets stage reads that and
takes the message in as a ticket (once: a second restore finds it already on its ticket).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import orjson
import typer

from schemas.bin import BinnedMessage
from schemas.codec import to_primitive
from schemas.stage import StageContext, TopicRecord
from schemas.topics import TICKETS_BIN
from tickets.settings import TicketsSettings


def latest(records: Iterable[TopicRecord]) -> dict[str, BinnedMessage]:
    """The bin as it stands: the last record per message id (the topic is compacted)."""
    out: dict[str, BinnedMessage] = {}
    for r in records:
        if isinstance(r.value, BinnedMessage):
            out[r.value.message_id] = r.value
    return out


def bin_line(b: BinnedMessage) -> str:
    state = "restored" if b.restored else "binned"
    sender = b.message.sender.address or "-"
    return (f"{b.message_id:<24} {b.at:%Y-%m-%d %H:%M} {state:<8} {b.reason:<16} "
            f"{sender:<32} {b.message.subject[:50]}  ({b.detail[:60]})")


def summary(b: BinnedMessage) -> dict[str, Any]:
    return {"message_id": b.message_id, "reason": b.reason, "detail": b.detail,
            "at": b.at.isoformat(), "restored": b.restored, "restored_by": b.restored_by,
            "sender": b.message.sender.address, "subject": b.message.subject}


def build(get_ctx: Callable[[], StageContext]) -> typer.Typer:
    app = typer.Typer(help='The "not a ticket" bin: robots\' mail kept with the reason.',
                      no_args_is_help=True)

    def read() -> dict[str, BinnedMessage]:
        ctx = get_ctx()
        s: TicketsSettings = ctx.section("tickets")
        return latest(asyncio.run(ctx.topics.read_to_end(TICKETS_BIN, s.catchup_timeout_s)))

    @app.command("list")
    def list_(
        reason: Annotated[list[str] | None, typer.Option("--reason", "-r")] = None,
        include_restored: Annotated[bool, typer.Option("--all", help="restored too")] = False,
        limit: Annotated[int, typer.Option(min=1)] = 100,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Binned messages, newest first, with the reason each was binned for."""
        found = [b for b in read().values()
                 if (include_restored or not b.restored) and (not reason or b.reason in reason)]
        found.sort(key=lambda b: (b.at, b.message_id), reverse=True)
        found = found[:limit]
        if as_json:
            typer.echo(orjson.dumps([summary(b) for b in found],
                                    option=orjson.OPT_INDENT_2).decode())
            return
        for b in found:
            typer.echo(bin_line(b))

    @app.command("show")
    def show(message_id: str) -> None:
        """One binned message in full (the normalized message, as it would become a ticket)."""
        b = read().get(message_id.strip())
        if b is None:
            typer.echo(f"no binned message {message_id!r}", err=True)
            raise typer.Exit(1)
        typer.echo(orjson.dumps(to_primitive(b), option=orjson.OPT_INDENT_2).decode())

    @app.command("restore")
    def restore(
        message_id: str,
        by: Annotated[str, typer.Option("--by", help="who restores it")] = "cli",
    ) -> None:
        """Take a message out of the bin: the tickets stage makes a ticket of it."""
        b = read().get(message_id.strip())
        if b is None:
            typer.echo(f"no binned message {message_id!r}", err=True)
            raise typer.Exit(1)
        if b.restored:
            typer.echo(f"{message_id} was already restored (by {b.restored_by or '?'})")
            return
        ctx = get_ctx()
        s: TicketsSettings = ctx.section("tickets")
        again = dataclasses.replace(b, restored=True, restored_by=by)
        asyncio.run(ctx.topics.publish(TICKETS_BIN, [(b.message_id.encode(), again)],
                                       s.command_timeout_s))
        typer.echo(f"{message_id} restored: the tickets stage will open a ticket for it")

    return app
