"""``helpline parse FILE.eml``: what helpline makes of one mail, as JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from ingest.mime import UnparseableEmail, parse_email, readable_body
from schemas.codec import encode_pretty
from schemas.stage import StageContext


def parse_file(path: Path, mailbox: str, received_at: datetime, body: bool = False) -> bytes:
    """The InboundMessage of one file ("-": standard input), as pretty JSON; with ``body``,
    the whole readable body instead (text and sanitized HTML). Raises UnparseableEmail or
    OSError."""
    stdin = str(path) == "-"
    raw = sys.stdin.buffer.read() if stdin else path.read_bytes()
    if body:
        full = readable_body(raw)
        return orjson.dumps({"text": full.text, "html": full.html}, option=orjson.OPT_INDENT_2)
    msg = parse_email(
        raw, mailbox=mailbox, received_at=received_at,
        raw_ref="stdin" if stdin else f"file:{path.name}",
    )
    return encode_pretty(msg)


def register(app: typer.Typer, get_ctx: Callable[[], StageContext]) -> None:
    # SystemExit rather than typer.Exit: under ``standalone_mode=False`` click turns
    # typer.Exit into a return value, and the exit code would be lost.
    # get_ctx is not called: parsing a file needs no broker and no settings beyond defaults.
    @app.command("parse")
    def parse(
        file: Annotated[Path, typer.Argument(help="an RFC 822 message (.eml), - for stdin")],
        mailbox: Annotated[
            str, typer.Option(help="the support mailbox it arrived in")
        ] = "support",
        body: Annotated[
            bool, typer.Option("--body", help="print the whole decoded body and its "
                               "sanitized HTML (what the console shows) instead")
        ] = False,
    ) -> None:
        """Print the normalized message (InboundMessage) of FILE as JSON."""
        try:
            out = parse_file(file, mailbox, datetime.now(UTC), body)
        except UnparseableEmail as exc:
            typer.echo(f"helpline parse: {file}: unparseable: {exc.reason}", err=True)
            raise SystemExit(1) from None
        except OSError as exc:
            typer.echo(f"helpline parse: {file}: {exc.strerror or exc}", err=True)
            raise SystemExit(1) from None
        sys.stdout.buffer.write(out + b"\n")
        sys.stdout.buffer.flush()
