"""The normalize stage on a real Apache Kafka broker, under helpline's StageRunner.

RawEmail and RawChatMessage records become InboundMessages on ``messages``; a record that is
not JSON and a RawEmail whose bytes are not a mail both land in ``dlq.normalize`` with their
original bytes, and the worker carries on with the records after them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ingest.mime.stage import NormalizeStage
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.codec import decode
from schemas.raw import RawChatMessage, RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import BY_NAME, MESSAGES, RAW_CHAT, RAW_EMAIL, dlq_name
from tests.support.email_golden import GOLDEN_DIR
from tests.support.kafka import produce, produce_raw, read_topic, run_until

pytestmark = pytest.mark.integration

DLQ = BY_NAME[dlq_name("normalize")]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MAILBOX = "support@helpline.example"


def _raw_email(name: str, uid: int) -> RawEmail:
    return RawEmail(source="imap", mailbox=MAILBOX, raw=(GOLDEN_DIR / name).read_bytes(),
                    received_at=T0, folder="INBOX", uidvalidity=1, uid=uid)


def test_raw_records_become_messages_and_garbage_is_dead_lettered(
    kafka_conn: KafkaConnection,
) -> None:
    async def go() -> None:
        not_a_mail = RawEmail(source="smtp", mailbox=MAILBOX, raw=b"\x00\xff no headers here",
                              received_at=T0)
        await produce(kafka_conn, RAW_EMAIL, [
            (MAILBOX.encode(), _raw_email("reply_with_signature.eml", 1)),
            (MAILBOX.encode(), _raw_email("dsn_user_unknown.eml", 2)),
        ])
        await produce_raw(kafka_conn, RAW_EMAIL, [(MAILBOX.encode(), b"\x00 not json")])
        await produce(kafka_conn, RAW_EMAIL, [
            (MAILBOX.encode(), not_a_mail),
            (MAILBOX.encode(), _raw_email("french_out_of_office.eml", 3)),
        ])
        chat = RawChatMessage(site_id="acme", conversation_id="c1", message_id="m1",
                              visitor_id="v1", text="Hello from the widget", received_at=T0)
        await produce(kafka_conn, RAW_CHAT, [(b"acme:c1", chat)])

        runner = StageRunner(NormalizeStage(), kafka_conn, RunnerSettings(batch_timeout_ms=20))
        await run_until(runner, lambda: runner.status.records_out >= 4
                         and runner.status.dead_letters >= 2)

        msgs = await read_topic(kafka_conn, MESSAGES, expect=4)
        by_sender = {m.value.sender.address: m for m in msgs}
        assert set(by_sender) == {"alice@example.org", "mailer-daemon@mx.example.net",
                                  "helene.dupont@example.fr", ""}
        alice = by_sender["alice@example.org"]
        assert alice.key == b"alice@example.org"
        assert alice.value.subject_normalized == "[HL-42] Login problem"
        assert alice.value.raw_ref and alice.value.raw_ref.startswith("raw.email/")
        dsn = by_sender["mailer-daemon@mx.example.net"].value.flags.bounce
        assert dsn is not None and dsn.original_recipient == "nobody@customer.example"
        assert by_sender["helene.dupont@example.fr"].value.flags.auto_reply
        chat_msg = by_sender[""]
        assert chat_msg.value.channel == "chat" and chat_msg.key == b"chat:acme:c1"

        letters = await read_topic(kafka_conn, DLQ, expect=2)
        by_type = {d.value.error_type: d.value for d in letters}
        assert set(by_type) == {"DecodeError", "UnparseableEmail"}
        assert by_type["DecodeError"].value == b"\x00 not json"
        unparseable = by_type["UnparseableEmail"]
        assert decode(RawEmail, unparseable.value).raw == not_a_mail.raw  # original bytes
        assert "no RFC 5322 header" in unparseable.error
        assert unparseable.stage == "normalize" and unparseable.retriable is False

    asyncio.run(go())
