"""The fidelity corpus: ``tests/golden/email/fidelity/<name>.eml`` beside ``<name>.json``.

Each message was written by hand for one class of real-world mail (a charset, a transfer
encoding, a MIME structure, a client's reply layout, an attachment name or sender form) and its
``.json`` holds what a person reading the message sees: the sender, the subject, the new text,
the quoted history, the signature and the attachment names. The parser is compared field by
field, and every message's text is checked for what must never show: replacement characters,
encoded words, ESC sequences, base64 blocks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.mime import parse_email
from schemas.message import InboundMessage

FIDELITY_DIR = Path(__file__).resolve().parents[1] / "golden" / "email" / "fidelity"
CASES = sorted(FIDELITY_DIR.glob("*.eml"))
T0 = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
_BASE64_BLOCK = re.compile(r"(?m)^[A-Za-z0-9+/]{40,}={0,2}$")


def _parse(eml: Path) -> InboundMessage:
    return parse_email(eml.read_bytes(), mailbox="support@helpline.example", received_at=T0)


def _expected(eml: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(eml.with_suffix(".json").read_bytes())
    return data


def undecoded(text: str) -> list[str]:
    """What in a text shows that bytes were not decoded: the reasons, empty when clean."""
    found = []
    if "\ufffd" in text:
        found.append("replacement character")
    if "\x1b" in text:
        found.append("ESC sequence")
    if re.search(r"=\?[\w-]+\?[bqBQ]\?", text):
        found.append("encoded word")
    if _BASE64_BLOCK.search(text):
        found.append("base64 block")
    return found


def test_the_corpus_covers_the_classes() -> None:
    assert len(CASES) >= 50
    assert [p.name for p in CASES if not p.with_suffix(".json").exists()] == []


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_fidelity(eml: Path) -> None:
    want = _expected(eml)
    msg = _parse(eml)
    got = {
        "sender": {"address": msg.sender.address, "name": msg.sender.name},
        "subject": msg.subject,
        "text": msg.text,
        "quoted": msg.quoted,
        "signature": msg.signature,
        "attachments": [a.filename for a in msg.attachments],
    }
    if "html_only" in want:
        got["html_only"] = msg.html_only
    assert got == {k: v for k, v in want.items() if k != "about"}
    for field in (msg.text, msg.quoted, msg.signature, msg.subject, msg.sender.name):
        assert undecoded(field) == [], field


def test_readable_body_has_every_word_and_safe_html() -> None:
    """The console's view: the whole decoded text, and the HTML without what could run."""
    from ingest.mime import readable_body

    eml = FIDELITY_DIR / "outlook_html_reply.eml"
    msg = _parse(eml)
    full = readable_body(eml.read_bytes())
    assert full.text.startswith(msg.text) and full.text.endswith(msg.quoted)
    assert "Kind regards" in full.html and "<style" not in full.html
    raw = (b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<p onclick=\"steal()\">Hello <script>alert(1)</script><a href=\"javascript:x\">"
           b"link</a><img src=\"cid:logo\"></p>")
    html = readable_body(raw).html
    assert "Hello" in html and "link" in html
    for unsafe in ("onclick", "<script", "javascript:", "cid:"):
        assert unsafe not in html
    assert isinstance(readable_body(b"\x00\xff not mail").text, str)  # total, like parse_email
