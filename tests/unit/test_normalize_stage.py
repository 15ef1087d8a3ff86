"""The normalize stage with plain lists: raw email and chat in, messages out, bad records raise
the one documented error so the runner dead-letters them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.chat.normalize import to_inbound
from ingest.mime import UnparseableEmail
from ingest.mime.settings import NormalizeSettings
from ingest.mime.stage import NormalizeStage, UnexpectedRecord, build_stage
from schemas.codec import encode
from schemas.raw import RawChatMessage, RawEmail
from schemas.stage import In, KafkaConnection, StageContext
from schemas.topics import MESSAGES, RAW_CHAT, RAW_EMAIL
from tests.support.email_golden import GOLDEN_DIR

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _email(raw: bytes, offset: int = 7) -> In:
    value = RawEmail(source="imap", mailbox="support@helpline.example", raw=raw, received_at=T0)
    return In(RAW_EMAIL, b"support@helpline.example", value, partition=1, offset=offset)


def _chat() -> In:
    value = RawChatMessage(site_id="acme", conversation_id="c1", message_id="m1",
                           visitor_id="v1", text="Bonjour", received_at=T0, email="A@x.org",
                           locale="fr-FR")
    return In(RAW_CHAT, b"acme:c1", value, partition=0, offset=3)


def test_email_and_chat_become_messages_keyed_by_partition_key() -> None:
    stage = NormalizeStage()
    raw = (GOLDEN_DIR / "reply_with_signature.eml").read_bytes()
    outs = stage.process([_email(raw), _chat()], T0)
    assert [o.topic for o in outs] == [MESSAGES, MESSAGES]
    email_msg, chat_msg = outs[0].value, outs[1].value
    assert email_msg.sender.address == "alice@example.org"
    assert outs[0].key == b"alice@example.org" == email_msg.partition_key
    assert email_msg.raw_ref == "raw.email/1/7"
    assert email_msg.received_at == T0 and email_msg.mailbox == "support@helpline.example"
    assert chat_msg == to_inbound(_chat().value, raw_ref="raw.chat/0/3")
    assert outs[1].key == chat_msg.partition_key


def test_undecoded_bytes_are_decoded_first() -> None:
    raw = (GOLDEN_DIR / "mailing_list.eml").read_bytes()
    record = _email(raw)
    as_bytes = In(RAW_EMAIL, record.key, encode(record.value), 0, 1)
    (out,) = NormalizeStage().process([as_bytes], T0)
    assert out.value.flags.mailing_list


def test_unparseable_email_raises_the_documented_error() -> None:
    with pytest.raises(UnparseableEmail) as info:
        NormalizeStage().process([_email(b"\x00\x01 garbage without headers")], T0)
    assert info.value.retriable is False


def test_unexpected_record_type() -> None:
    with pytest.raises(UnexpectedRecord):
        NormalizeStage().process([In(RAW_EMAIL, b"k", {"not": "a record"})], T0)


def test_replay_gives_identical_messages() -> None:
    raw = (GOLDEN_DIR / "attachments_mixed.eml").read_bytes()
    first = NormalizeStage().process([_email(raw)], T0)
    again = NormalizeStage().process([_email(raw)], datetime(2030, 1, 1, tzinfo=UTC))
    assert encode(first[0].value) == encode(again[0].value)


def test_build_stage_reads_its_section() -> None:
    class Sections:
        normalize = NormalizeSettings(max_text_chars=500)

    ctx = StageContext(kafka=KafkaConnection("127.0.0.1:1"), sections=Sections(),
                       signing_key=b"k")
    stage = build_stage(ctx)
    assert stage.name == "normalize" and stage.inputs == (RAW_EMAIL, RAW_CHAT)
    assert stage.settings.max_text_chars == 500
    assert stage.tick(T0) == [] and stage.tables == ()


def test_attachment_content_is_resolved_from_the_raw_record() -> None:
    import hashlib

    from ingest.mime import attachment_content

    raw = (GOLDEN_DIR / "rfc2231_filename.eml").read_bytes()
    (out,) = NormalizeStage().process([_email(raw)], T0)
    (pdf,) = out.value.attachments
    data = attachment_content(raw, pdf.content_ref)
    assert data is not None and data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == pdf.sha256 and len(data) == pdf.size
    assert attachment_content(raw, "sha256:" + "0" * 64) is None
    assert attachment_content(b"\x00garbage", pdf.content_ref) is None
