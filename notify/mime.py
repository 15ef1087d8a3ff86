"""The bytes of an outbound mail. Pure.

Why not ``EmailMessage``: building and flattening one with ``policy.default`` costs ~4 ms per
two-part mail (header registry parsing, then refolding), four times the SMTP transaction itself
on loopback, which made the notifier three times slower than a bare send loop. The encoding
work that is easy to get wrong stays in the stdlib — RFC 2047 words and folding
(:class:`email.header.Header`), address formatting (:func:`email.utils.formataddr`),
quoted-printable (:func:`binascii.b2a_qp`) — and only the MIME skeleton is written here.

The output is deterministic (the boundary is derived from the Message-ID): a resend of an
in-doubt notification is byte-for-byte the first attempt.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Sequence
from email.header import Header
from email.utils import formataddr

CRLF = "\r\n"
# Header fields we write as given (ASCII, already in their final form, short).
_VERBATIM = frozenset({
    "message-id", "in-reply-to", "references", "date", "auto-submitted", "precedence",
    "x-auto-response-suppress", "x-loop", "x-helpline-ticket", "content-language",
})


def encode_header(name: str, value: str) -> str:
    """``Name: value`` with RFC 2047 encoded words and folding when needed."""
    if name.lower() in _VERBATIM and value.isascii():
        return f"{name}: {value}"
    if value.isascii() and len(name) + len(value) + 2 <= 78:
        return f"{name}: {value}"
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}"


def address(name: str, addr: str) -> str:
    """``Name <addr>`` with the display name encoded (RFC 2047) when it is not ASCII."""
    return formataddr((name, addr), charset="utf-8")


def _qp(text: str) -> str:
    body = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")  # no bare CR
    encoded = binascii.b2a_qp(body, quotetabs=False, istext=True, header=False)
    # RFC 2045 §6.7 (5): a line must not end in white space; a leading "." is SMTP's business
    return encoded.decode("ascii").replace("\n", CRLF)


def _part(subtype: str, text: str) -> str:
    return (f"Content-Type: text/{subtype}; charset=\"utf-8\"{CRLF}"
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}{_qp(text)}")


def assemble(headers: Sequence[tuple[str, str]], text: str, html: str | None,
             message_id: str) -> bytes:
    """Headers (already formatted values), a text part and an optional HTML alternative."""
    lines = [encode_header(name, value) for name, value in headers]
    lines.append("MIME-Version: 1.0")
    if html is None:
        body = _part("plain", text)
        return (CRLF.join(lines) + CRLF + body + CRLF).encode("ascii")
    # "=_" cannot occur in quoted-printable text ("=" is always "=3D"), so it cannot collide
    boundary = "=_hl_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    lines.append(f"Content-Type: multipart/alternative; boundary=\"{boundary}\"")
    out = CRLF.join(lines) + CRLF + CRLF
    out += f"--{boundary}{CRLF}{_part('plain', text)}{CRLF}"
    out += f"--{boundary}{CRLF}{_part('html', html)}{CRLF}"
    out += f"--{boundary}--{CRLF}"
    return out.encode("ascii")
