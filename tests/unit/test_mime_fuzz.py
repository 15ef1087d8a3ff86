"""The normalizer is total: any bytes give an InboundMessage that survives the wire codec, or
an UnparseableEmail with a one-line reason — never another exception."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.mime import UnparseableEmail, email_message_id, parse_email
from ingest.mime.settings import NormalizeSettings
from schemas.codec import decode, encode
from schemas.message import InboundMessage
from tests.support.email_golden import golden_inputs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEEDS = [p.read_bytes() for p in golden_inputs()]


def _check(raw: bytes, cfg: NormalizeSettings | None = None) -> InboundMessage | None:
    try:
        msg = parse_email(raw, mailbox="support", received_at=T0,
                          settings=cfg or NormalizeSettings())
    except UnparseableEmail as exc:
        assert exc.reason and "\n" not in exc.reason
        return None
    assert decode(InboundMessage, encode(msg)) == msg
    return msg


@given(st.binary(max_size=2000))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow],
          deadline=None)
def test_arbitrary_bytes(raw: bytes) -> None:
    _check(raw)


_header_line = st.builds(
    lambda name, value: name.encode() + b": " + value + b"\r\n",
    st.sampled_from(["From", "To", "Cc", "Subject", "Date", "Message-ID", "References",
                     "In-Reply-To", "Content-Type", "Content-Transfer-Encoding",
                     "Content-Disposition", "Auto-Submitted", "List-Id", "Reply-To"]),
    st.binary(max_size=120),
)


@given(st.lists(_header_line, max_size=12), st.binary(max_size=600))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow],
          deadline=None)
def test_arbitrary_header_values(headers: list[bytes], body: bytes) -> None:
    _check(b"".join(headers) + b"\r\n" + body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[at] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[at:at] = draw(st.sampled_from(
                [b"\r\n", b"--", b"=?", b"?=", b"\xff\xfe", b"boundary=", b";", b'"', b"\x00",
                 b"Content-Type: multipart/mixed; boundary=x\r\n", b"=\r\n", b"<", b">"]))
        elif op == "delete":
            del raw[at:at + draw(st.integers(1, 40))]
        elif op == "truncate":
            del raw[at:]
        elif op == "dup":
            raw[at:at] = raw[at:at + draw(st.integers(1, 200))]
    return bytes(raw)


@given(mutated())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow],
          deadline=None)
def test_mutated_real_messages(raw: bytes) -> None:
    _check(raw)


def test_hostile_shapes_within_limits() -> None:
    cfg = NormalizeSettings(max_mime_parts=50, max_mime_depth=10, max_text_chars=1000)
    nested = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + (
        b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" * 3000
    )
    _check(b"From: a@b\r\n" + nested, cfg)
    many = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n" + (
        b"--q\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n" * 500
    ) + b"--q--\r\n"
    msg = _check(many, cfg)
    assert msg is not None and len(msg.attachments) < 50
    huge_header = b"Subject: " + b"=?utf-8?q?caf=C3=A9?= " * 20000 + b"\r\nFrom: a@b\r\n\r\nx"
    msg = _check(huge_header, cfg)
    assert msg is not None and 0 < len(msg.subject) <= 998 and msg.subject.startswith("café")
    long_text = b"From: a@b\r\n\r\n" + b"word " * 10000
    msg = _check(long_text, cfg)
    assert msg is not None and len(msg.text) < 1100


def test_clear_errors() -> None:
    for raw, reason in [(b"", "empty"), (b"  \r\n", "empty"),
                        (b"just some text\nwithout headers", "no RFC 5322 header")]:
        try:
            parse_email(raw, mailbox="s", received_at=T0)
        except UnparseableEmail as exc:
            assert reason in exc.reason
        else:
            raise AssertionError(raw)
    cfg = NormalizeSettings(max_message_bytes=1024)
    try:
        parse_email(b"From: a@b\r\n\r\n" + b"x" * 2000, mailbox="s", received_at=T0,
                    settings=cfg)
    except UnparseableEmail as exc:
        assert "max_message_bytes" in exc.reason
    else:
        raise AssertionError("size limit not applied")


def test_message_id_is_deterministic() -> None:
    raw = SEEDS[0]
    a = parse_email(raw, mailbox="a", received_at=T0)
    b = parse_email(raw, mailbox="b", received_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert a.message_id == b.message_id == email_message_id(a.internet_message_id, raw)
    no_id = b"From: a@b\r\nSubject: x\r\n\r\nbody"
    first = parse_email(no_id, mailbox="s", received_at=T0).message_id
    assert first == parse_email(no_id, mailbox="s", received_at=T0).message_id
    assert first != parse_email(no_id + b"!", mailbox="s", received_at=T0).message_id
