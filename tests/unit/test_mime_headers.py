"""Header reading: subjects, ids, dates, addresses — and malformed values never raise."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from ingest.mime.headers import Headers, addresses, date, message_id, message_ids, normalize_subject


def _headers(raw: bytes) -> Headers:
    return Headers(message_from_bytes(raw + b"\r\n\r\nbody", policy=policy.default))


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Hello", "Hello"),
        ("RE: re: Fwd: hello", "hello"),
        ("AW: WG: Rechnung", "Rechnung"),
        ("TR: RE : Facture", "Facture"),
        ("Fw: SV: RIF: Ordine", "Ordine"),
        ("Re[2]: Re (3): thread", "thread"),
        ("Re: [HL-123] Login problem", "[HL-123] Login problem"),
        ("[HL-123] Re: Login problem", "[HL-123] Login problem"),
        ("Re: [HL-1] Fwd: [HL-1] x", "[HL-1] [HL-1] x"),
        ("  Re:   spaced    out  ", "spaced out"),
        ("Réf : dossier", "dossier"),
        ("Regarding: the invoice", "Regarding: the invoice"),
        ("Rest: easy", "Rest: easy"),
        ("Re:", ""),
        ("[list] announcement", "[list] announcement"),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


def test_message_ids_brackets_bare_and_dedupe() -> None:
    assert message_ids(["<a@b> <c@d>\r\n <a@b>"], 10) == ("a@b", "c@d")
    assert message_ids(["a@b, a@b"], 10) == ("a@b",)  # chatwoot's bare, repeated id
    assert message_ids(["<1@x> <2@x> <3@x>"], 2) == ("1@x", "2@x")
    assert message_ids([""], 5) == ()


def test_message_id_normalized() -> None:
    assert message_id(_headers(b"Message-ID:   <abc@host>  ")) == "abc@host"
    assert message_id(_headers(b"Message-ID: abc@host")) == "abc@host"
    assert message_id(_headers(b"Subject: none")) is None
    assert message_id(_headers(b"Message-ID: two words")) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Mon, 03 Mar 2025 10:15:00 +0100", datetime(2025, 3, 3, 9, 15, tzinfo=UTC)),
        (b"3 Mar 2025 10:15 GMT", datetime(2025, 3, 3, 10, 15, tzinfo=UTC)),
        (b"Mon, 03 Mar 2025 10:15:00", datetime(2025, 3, 3, 10, 15, tzinfo=UTC)),
        (b"not a date", None),
        (b"", None),
        (b"Mon, 99 Foo 2025 99:99:99 +9999", None),
    ],
)
def test_date(value: bytes, expected: datetime | None) -> None:
    assert date(_headers(b"Date: " + value)) == expected


def test_addresses_decoded_lowercased_and_tolerant() -> None:
    h = _headers(
        b"From: =?utf-8?q?J=C3=A9r=C3=B4me?= <Jerome@Example.COM>\r\n"
        b"To: <vishnu@chatwoot.com>vishnu@chatwoot.com, , broken <\r\n"
        b"Cc: a@x.org www.example.org, \"B, C\" <b@x.org>, a@x.org"
    )
    (sender,) = addresses(h, "from", 10)
    assert (sender.name, sender.address) == ("Jérôme", "jerome@example.com")
    assert [a.address for a in addresses(h, "to", 10)] == ["vishnu@chatwoot.com"]
    cc = addresses(h, "cc", 10)
    assert [a.address for a in cc] == ["a@x.org", "b@x.org"]
    assert addresses(h, "cc", 1) == cc[:1]


def test_raw_8bit_header_is_decoded_not_mangled() -> None:
    h = _headers("Subject: Réclamation\r\nFrom: Zoë <zoe@example.fr>".encode())
    assert h.text("subject") == "Réclamation"
    assert addresses(h, "from", 5)[0].name == "Zoë"
    latin = _headers("Subject: caf\xe9".encode("latin-1"))
    assert latin.text("subject") == "café"


def test_encoded_word_with_unknown_or_lying_charset() -> None:
    assert _headers(b"Subject: =?x-unknown?q?caf=E9?=").text("subject") == "café"
    assert _headers(b"Subject: =?utf-8?q?caf=E9?=").text("subject") == "café"
    assert _headers(b"Subject: =?utf-8?b?!!!?=").text("subject")  # something, no exception
