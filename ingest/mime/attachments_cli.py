"""``helpline attachments list|get``: an attachment's bytes, read back from the raw mail it came in.

A normalized message (InboundMessage) names each attachment by ``content_ref``
(``sha256:<hex>``) and its raw record by ``raw_ref`` (``raw.email/<partition>/<offset>``); the
bytes live only in that raw record, never in the event. So::

    helpline attachments list raw.email/1/4711
    helpline attachments get raw.email/1/4711 sha256:9f86d0... -o invoice.pdf

RAW_REF may also be a local ``.eml`` file (what ``helpline parse`` reads). Exit code 1 with a
one-line reason when the record, the mail or the attachment is not there.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ingest.mime import UnparseableEmail, attachment_content, parse_email
from schemas.errors import HelplineError
from schemas.message import Attachment
from schemas.raw import RawEmail
from schemas.stage import NoSuchRecord, StageContext, TopicIO
from schemas.topics import BY_NAME, RAW_EMAIL, TopicSpec

RAW_REF_HELP = ("an InboundMessage's raw_ref (raw.email/<partition>/<offset>), "
                "or a local .eml file")
# How long to wait for the broker to hand over one record before saying it is not there.
RECORD_READ_TIMEOUT_S = 10.0


class AttachmentUnavailable(HelplineError):
    """The raw record, the mail in it or the attachment cannot be had; the message says why."""


@dataclass(frozen=True, slots=True)
class RawRef:
    topic: TopicSpec
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic.name}/{self.partition}/{self.offset}"


def parse_raw_ref(text: str) -> RawRef | None:
    """``raw.email/<partition>/<offset>`` (an InboundMessage's ``raw_ref``); None otherwise."""
    name, _, rest = text.rpartition("/")
    topic_name, _, partition = name.rpartition("/")
    spec = BY_NAME.get(topic_name)
    if spec is None or not (partition.isdecimal() and rest.isdecimal()):
        return None
    return RawRef(spec, int(partition), int(rest))


async def read_raw_record(
    topics: TopicIO, ref: RawRef, timeout_s: float = RECORD_READ_TIMEOUT_S
) -> bytes:
    """The raw RFC 822 bytes of the RawEmail at ``ref``. Raises AttachmentUnavailable."""
    if ref.topic != RAW_EMAIL:
        raise AttachmentUnavailable(f"{ref.topic.name} holds no mail (attachments come from "
                                    f"{RAW_EMAIL.name})")
    try:
        record = await topics.read_record(ref.topic, ref.partition, ref.offset, timeout_s)
    except NoSuchRecord as exc:
        raise AttachmentUnavailable(f"{ref}: {exc}") from None
    except TimeoutError:
        raise AttachmentUnavailable(f"{ref}: not read within {timeout_s:g} s") from None
    except HelplineError as exc:  # the port's broker errors
        raise AttachmentUnavailable(f"{ref}: {type(exc).__name__}: {exc}") from None
    if not isinstance(record.value, RawEmail):
        raise AttachmentUnavailable(f"{ref}: not a raw email: {record.error or 'no value'}")
    return record.value.raw


def attachments_of(raw: bytes) -> tuple[Attachment, ...]:
    """The attachments helpline sees in one raw mail, as the normalizer reports them."""
    try:
        msg = parse_email(raw, mailbox="-", received_at=datetime.now(UTC))
    except UnparseableEmail as exc:
        raise AttachmentUnavailable(f"unparseable mail: {exc.reason}") from None
    return msg.attachments


def attachment_bytes(raw: bytes, content_ref: str) -> bytes:
    """The bytes ``content_ref`` (``sha256:<hex>``, or the bare hex) names in one raw mail."""
    ref = content_ref if content_ref.startswith("sha256:") else f"sha256:{content_ref}"
    data = attachment_content(raw, ref.lower())
    if data is None:
        raise AttachmentUnavailable(f"no attachment {content_ref} in this mail")
    return data


def load_raw(source: str, topics: Callable[[], TopicIO]) -> bytes:
    """The raw mail of RAW_REF: a local file if one has that name, else a raw record."""
    path = Path(source)
    if path.is_file():
        return path.read_bytes()
    ref = parse_raw_ref(source)
    if ref is None:
        raise AttachmentUnavailable(
            f"{source}: neither a file nor a raw_ref like {RAW_EMAIL.name}/<partition>/<offset>")
    return asyncio.run(read_raw_record(topics(), ref))


def render_list(attachments: tuple[Attachment, ...]) -> str:
    if not attachments:
        return "no attachments"
    return "\n".join(f"{a.content_ref or '-'}  {a.size:>10}  {a.content_type}  {a.filename}"
                     for a in attachments)


def register(app: typer.Typer, get_ctx: Callable[..., StageContext]) -> None:
    attachments = typer.Typer(help="Attachments of received mail (bytes kept in raw.email).",
                              no_args_is_help=True)

    def topics() -> TopicIO:
        return get_ctx().topics

    def fail(reason: str) -> None:
        # SystemExit rather than typer.Exit, as in `helpline parse` (standalone_mode=False)
        typer.echo(f"helpline attachment: {reason}", err=True)
        raise SystemExit(1)

    @attachments.command("list")
    def list_(
        raw_ref: Annotated[str, typer.Argument(help=RAW_REF_HELP)],
        as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
    ) -> None:
        """List the attachments of one received mail with their content_ref."""
        try:
            found = attachments_of(load_raw(raw_ref, topics))
        except (AttachmentUnavailable, OSError) as exc:
            fail(str(exc))
            return
        if as_json:
            for a in found:
                typer.echo(json.dumps({"filename": a.filename, "content_type": a.content_type,
                                       "size": a.size, "content_ref": a.content_ref}))
        else:
            typer.echo(render_list(found))

    @attachments.command("get")
    def get(
        raw_ref: Annotated[str, typer.Argument(help=RAW_REF_HELP)],
        content_ref: Annotated[str, typer.Argument(help="the attachment's content_ref "
                                                        "(sha256:<hex>)")],
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="write here (default: standard output)")] = None,
    ) -> None:
        """Write one attachment's bytes, read back from the raw mail."""
        if output is None and sys.stdout.isatty():
            fail("refusing to write attachment bytes to a terminal; use -o FILE or a pipe")
        try:
            data = attachment_bytes(load_raw(raw_ref, topics), content_ref)
            if output is None:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            else:
                output.write_bytes(data)
        except (AttachmentUnavailable, OSError) as exc:
            fail(str(exc))

    app.add_typer(attachments, name="attachments")
    app.add_typer(attachments, name="attachment", hidden=True)  # the old spelling
