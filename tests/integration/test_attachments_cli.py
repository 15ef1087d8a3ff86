"""`helpline attachments get` against a real Kafka broker: the raw_ref of a normalized message
and an attachment's content_ref give back the attachment's exact bytes from raw.email."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from ingest.mime import parse_email
from ingest.mime.attachments_cli import register
from runtime.topic_io import KafkaTopicIO
from schemas.raw import RawEmail
from schemas.stage import KafkaConnection, StageContext
from schemas.topics import RAW_EMAIL
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "email"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def cli(conn: KafkaConnection) -> typer.Typer:
    ctx = StageContext(kafka=conn, sections=SimpleNamespace(), signing_key=b"k",
                       topics=KafkaTopicIO(conn))
    app = typer.Typer()
    register(app, lambda *_a, **_k: ctx)
    return app


def test_get_reads_the_attachment_back_from_raw_email(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    mails = [(GOLDEN / name).read_bytes()
             for name in ("attachments_mixed.eml", "rfc2231_filename.eml")]
    asyncio.run(produce(kafka_conn, RAW_EMAIL, [
        (b"support", RawEmail(source="imap", mailbox="support", raw=raw, received_at=NOW))
        for raw in mails]))
    records = asyncio.run(read_topic(kafka_conn, RAW_EMAIL, expect=len(mails)))
    app = cli(kafka_conn)
    for record in records:
        raw_ref = f"{RAW_EMAIL.name}/{record.partition}/{record.offset}"
        msg = parse_email(record.value.raw, mailbox="support", received_at=NOW, raw_ref=raw_ref)
        assert msg.attachments
        listed = CliRunner().invoke(app, ["attachment", "list", msg.raw_ref or ""])
        assert listed.exit_code == 0, listed.output
        for a in msg.attachments:
            assert str(a.content_ref) in listed.output
            out = tmp_path / a.sha256
            got = CliRunner().invoke(app, ["attachment", "get", msg.raw_ref or "",
                                           str(a.content_ref), "-o", str(out)])
            assert got.exit_code == 0, got.output
            assert hashlib.sha256(out.read_bytes()).hexdigest() == a.sha256


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("raw.email/0/999999", "no such record"),
        ("raw.email/77/0", "no such partition"),
        ("messages/0/0", "holds no mail"),
    ],
)
def test_a_record_that_is_not_there_is_a_reason(
    kafka_conn: KafkaConnection, ref: str, reason: str
) -> None:
    result = CliRunner().invoke(cli(kafka_conn), ["attachment", "get", ref, "sha256:00"])
    assert result.exit_code == 1
    assert reason in result.output, result.output


def test_a_broker_that_is_not_there_is_a_reason() -> None:
    gone = KafkaConnection(bootstrap_servers="127.0.0.1:1")
    result = CliRunner().invoke(cli(gone), ["attachment", "list", "raw.email/0/0"])
    assert result.exit_code == 1
    assert "raw.email/0/0: BrokerUnavailable: Kafka broker not reachable at 127.0.0.1:1" \
        in result.output, result.output
