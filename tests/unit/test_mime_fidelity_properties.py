"""Properties of the normalizer's fidelity, over generated mail.

* Any bytes: a message or UnparseableEmail, never another exception (also for MIME-shaped
  bytes with random charsets, transfer encodings and structure).
* Valid encoded mail — text in some script, in a charset that can hold it, under any transfer
  encoding, as plain text, HTML (charset in the header or only in <meta>) or alternatives,
  with an encoded-word subject and attachment name — comes out with exactly the words that
  went in: no replacement character, no encoded word, no ESC sequence, no base64 block.
* Nothing is lost: the new text, the signature and the quoted history hold every word of
  the decoded body, however the split falls, and ``readable_body`` returns that body.
"""

from __future__ import annotations

import base64
import html
import quopri
import re
from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingest.mime import UnparseableEmail, parse_email, readable_body
from ingest.mime.quotes import split_reply
from tests.unit.test_mime_fidelity import undecoded

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# letters of each script, and the charsets mail in that script is sent in
SCRIPTS = {
    "latin": ("abcdefghijklmnopqrstuvwxyzéèêàçôöüäßñøåÉÀÇ", [
        "utf-8", "iso-8859-1", "windows-1252", "iso-8859-15", "utf-7"]),
    "cyrillic": ("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОП", [
        "utf-8", "koi8-r", "windows-1251", "iso-8859-5"]),
    "greek": ("αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘ", ["utf-8", "iso-8859-7", "windows-1253"]),
    "japanese": ("あいうえおかきくけこさしすせそアイウエオカキクケコ日本語請求書確認送信", [
        "utf-8", "iso-2022-jp", "shift_jis", "euc-jp"]),
    "korean": ("가나다라마바사아자차카타파하한국어주문배송", ["utf-8", "euc-kr", "ks_c_5601-1987"]),
    "chinese": ("的一是不了人我在有他这中大来上个国到说们为子和你", [
        "utf-8", "gb2312", "gbk", "gb18030"]),
    "chinese_traditional": ("的一是不了人我在有他這中大來上個國到說們為子和你發票", [
        "utf-8", "big5", "gb18030"]),
}
# charsets a parser must recognize without a declaration (by validity or escape sequences)
SELF_EVIDENT = {"utf-8", "iso-2022-jp"}
SEVEN_BIT = {"iso-2022-jp", "utf-7"}


@st.composite
def sentences(draw: st.DrawFn, letters: str) -> str:
    word = st.text(alphabet=letters, min_size=1, max_size=8)
    line = st.lists(st.one_of(word, st.sampled_from(["ok", "2025", "A-12"])),
                    min_size=1, max_size=8).map(" ".join)
    return "\n".join(draw(st.lists(line, min_size=1, max_size=5)))


def _encoded(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


@st.composite
def encoded_mail(draw: st.DrawFn) -> tuple[bytes, str, str, str]:
    script = draw(st.sampled_from(sorted(SCRIPTS)))
    letters, charsets = SCRIPTS[script]
    charset = draw(st.sampled_from(charsets))
    body = draw(sentences(letters))
    subject = draw(sentences(letters)).replace("\n", " ")
    filename = draw(st.text(alphabet=letters, min_size=1, max_size=10)) + ".pdf"
    try:
        body_bytes = body.replace("\n", "\r\n").encode(charset)
        subject.encode(charset)
        filename.encode(charset)
    except UnicodeEncodeError:
        assume(False)
        raise
    ctes = ["base64", "quoted-printable"] + (["7bit"] if charset in SEVEN_BIT else ["8bit"])
    cte = draw(st.sampled_from(ctes))
    declared = draw(st.booleans()) or charset not in SELF_EVIDENT
    param = f"; charset={charset}" if declared else ""
    shape = draw(st.sampled_from(["plain", "html", "html-meta", "alternative"]))
    enc_subject = f"=?{charset}?B?{base64.b64encode(subject.encode(charset)).decode()}?="
    enc_name = f"=?{charset}?B?{base64.b64encode(filename.encode(charset)).decode()}?="
    head = (f"From: sender@example.com\r\nTo: support@example.com\r\nSubject: {enc_subject}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"MIX\"\r\n\r\n"
            "--MIX\r\n").encode()
    if shape == "plain":
        part = (f"Content-Type: text/plain{param}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
                ).encode() + _encoded(body_bytes, cte)
    else:
        markup = "".join(f"<p>{html.escape(line)}</p>" for line in body.split("\n"))
        meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        doc = f"<html><head>{meta}</head><body>{markup}</body></html>".encode(charset)
        html_param = "" if shape == "html-meta" and charset != "utf-7" else f"; charset={charset}"
        html_part = (f"Content-Type: text/html{html_param}\r\n"
                     f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode() + _encoded(doc, cte)
        if shape == "alternative":
            part = (b"Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n--ALT\r\n"
                    + f"Content-Type: text/plain{param}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
                    .encode() + _encoded(body_bytes, cte) + b"\r\n--ALT\r\n" + html_part
                    + b"\r\n--ALT--\r\n")
        else:
            part = html_part
    attachment = (f"\r\n--MIX\r\nContent-Type: application/pdf; name=\"{enc_name}\"\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--MIX--\r\n").encode()
    return head + part + attachment, body, subject, filename


def _words(text: str) -> list[str]:
    return text.split()


@given(encoded_mail())
@PROPERTY
def test_valid_encoded_mail_comes_out_decoded(case: tuple[bytes, str, str, str]) -> None:
    raw, body, subject, filename = case
    msg = parse_email(raw, mailbox="support@example.com", received_at=T0)
    full = "\n".join((msg.text, msg.signature, msg.quoted))
    for field in (msg.text, msg.quoted, msg.signature, msg.subject,
                  *(a.filename for a in msg.attachments)):
        assert undecoded(field) == [], field
    assert Counter(_words(full)) == Counter(_words(body))
    assert " ".join(msg.subject.split()) == " ".join(subject.split())
    assert [a.filename for a in msg.attachments] == [filename]


_TRICKY_LINES = [
    "> quoted line", ">", "On Mon, 3 Mar 2025 at 10:00, Support <s@example.com> wrote:",
    "-- ", "--", "Sent from my iPhone", "From: Support <s@example.com>", "Sent: Monday",
    "To: Customer", "Subject: Re: order", "________________________________",
    "-----Original Message-----", "Thanks, the order 42 arrived.", "", "Jane Doe",
    "Le lun. 3 mars 2025 à 10:00, Support <s@example.com> a écrit :",
]


@given(st.lists(st.sampled_from(_TRICKY_LINES), min_size=1, max_size=25))
@PROPERTY
def test_the_split_never_loses_a_word(lines: list[str]) -> None:
    body = "\n".join(lines)
    parts = split_reply(body)
    assert Counter(_words(parts.text + "\n" + parts.signature + "\n" + parts.quoted)) == (
        Counter(_words(body))
    )


@given(st.lists(st.sampled_from(_TRICKY_LINES), min_size=1, max_size=25))
@PROPERTY
def test_readable_body_is_what_was_split(lines: list[str]) -> None:
    raw = ("From: c@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + "\r\n".join(lines) + "\r\n").encode()
    msg = parse_email(raw, mailbox="support@example.com", received_at=T0)
    full = readable_body(raw)
    assert Counter(_words(msg.text + "\n" + msg.signature + "\n" + msg.quoted)) == (
        Counter(_words(full.text))
    )


_MIME_PIECES = st.sampled_from([
    b"Content-Type: text/plain; charset=", b"Content-Type: text/html\r\n",
    b"Content-Type: multipart/alternative; boundary=b\r\n", b"--b\r\n", b"--b--\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n", b"begin 644 a.txt\r\n", b"end\r\n",
    b"iso-2022-jp\r\n", b"utf-7\r\n", b"big5\r\n", b"\x1b$B", b"\x1b(B", b"=?utf-8?b??=",
    b"=\r\n", b"=C3=", b"\r\n", b"text/calendar\r\n", b"BEGIN:VEVENT\r\n", b"SUMMARY:x\r\n",
    b"application/xhtml+xml\r\n", b"<meta charset=shift_jis>", b"\xff\xfe", b"\x8e\xa1",
])


@given(st.lists(st.one_of(_MIME_PIECES, st.binary(max_size=30)), max_size=30))
@PROPERTY
def test_mime_shaped_bytes_never_crash(pieces: list[bytes]) -> None:
    raw = b"From: a@b.example\r\n" + b"".join(pieces)
    try:
        msg = parse_email(raw, mailbox="s", received_at=T0)
    except UnparseableEmail as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    assert isinstance(msg.text, str)
    assert re.search("[\ud800-\udfff]", msg.text + msg.subject + msg.sender.name) is None
    readable_body(raw)
