"""Content-Transfer-Encoding, decoded as mail really writes it. Pure; never raises.

The ``email`` package decodes a part only when its Content-Transfer-Encoding value is exactly
``base64`` / ``quoted-printable`` / ``x-uuencode`` once lower-cased; real mail also writes
``"Base64"``, ``base64   `` (trailing blanks survive compat32's parsing), ``base64 (comment)``,
and base64 with its padding missing or lines of any length. A text part whose header was lost
on the way but whose body is plainly base64 is decoded too, when what comes out is text.
Uuencoded files inside a plain-text body (``begin 644 name`` … ``end``) are cut out as files.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from email.message import Message

_TOKEN = re.compile(r"[a-z0-9_-]+")
_COMMENT = re.compile(r"\([^()]*\)")
_ALIASES = {
    "base64": "base64", "base-64": "base64", "b64": "base64",
    "quoted-printable": "quoted-printable", "quoted_printable": "quoted-printable",
    "quotedprintable": "quoted-printable", "qp": "quoted-printable",
    "x-uuencode": "x-uuencode", "uuencode": "x-uuencode", "x-uue": "x-uuencode",
    "uue": "x-uuencode", "x-uu": "x-uuencode",
}
_B64_LINE = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_B64_SEGMENT = re.compile(rb"[A-Za-z0-9+/]+=*")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\s]")
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D))
_HIGH_BYTES = bytes(range(0x80, 0x100))
_MIN_GUESSED_BASE64 = 60
_UU_BEGIN = re.compile(rb"(?m)^begin(?:-base64)? +[0-7]{3,4} +(\S[^\r\n]*?)\s*$")
_UU_END = re.compile(rb"(?m)^end\s*$")


def encoding_of(part: Message) -> str:
    """The part's transfer encoding, normalized: ``base64``, ``quoted-printable``,
    ``x-uuencode``, or the (lower-case) token that was written, "" when absent."""
    raw = None
    try:
        for name, value in part.raw_items():
            if isinstance(name, str) and name.strip().lower() == "content-transfer-encoding":
                raw = value if isinstance(value, str) else str(value)
                break
    except Exception:
        return ""
    if not raw:
        return ""
    value = _COMMENT.sub(" ", raw.lower()).replace('"', " ").replace("'", " ")
    m = _TOKEN.search(value)
    if m is None:
        return ""
    token = m.group()
    return _ALIASES.get(token, token)


def raw_payload(part: Message) -> bytes:
    """The part's body as it was received. compat32 keeps 8-bit bytes as surrogates, but its
    ``get_payload()`` decodes those with the declared charset and replacement characters, so
    the stored payload is read directly."""
    payload = getattr(part, "_payload", None)
    if not isinstance(payload, str):
        return b""
    try:
        return payload.encode("ascii", errors="surrogateescape")
    except UnicodeEncodeError:  # a payload set from a str (not from bytes)
        return payload.encode("utf-8", errors="surrogateescape")


def decode_part(part: Message, guess_base64: bool = False) -> bytes:
    """The part's content bytes, every transfer encoding undone as far as it goes."""
    data = raw_payload(part)
    cte = encoding_of(part)
    if cte == "base64":
        return base64_bytes(data)
    if cte == "quoted-printable":
        return _qp(data)
    if cte == "x-uuencode":
        found = uu_files(data)
        return found[0].data if found else data
    if guess_base64 and cte in ("", "7bit", "8bit") and looks_base64(data):
        decoded = base64_bytes(data)
        if _is_text(decoded):
            return decoded
    return data


def _qp(data: bytes) -> bytes:
    try:
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data


def base64_bytes(data: bytes) -> bytes:
    """Lenient base64: whole lines of the alphabet are decoded (padding repaired, lines of any
    length, padded chunks one after another); what is left after them, such as a footer a list
    server appended as plain text, is kept as it is. A body that is not base64 at all is
    returned unchanged rather than turned into noise."""
    body = data.rstrip()
    if not _NOT_BASE64.search(body) and b"=" not in body.rstrip(b"="):
        # the usual case, at C speed: only the alphabet and line breaks, padding at the end
        try:
            return binascii.a2b_base64(body)
        except (binascii.Error, ValueError):
            pass  # bad padding or length: the lenient way below
    lines = data.splitlines()
    encoded: list[bytes] = []
    tail_at = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _B64_LINE.fullmatch(stripped):
            encoded.append(stripped)
            continue
        tail_at = i
        break
    if not encoded:
        return data
    out = bytearray()
    for segment in _B64_SEGMENT.findall(b"".join(encoded)):
        core = segment.rstrip(b"=")
        if len(core) % 4 == 1:
            core = core[:-1]  # a stray character cannot complete a byte
        core += b"=" * (-len(core) % 4)
        try:
            out += binascii.a2b_base64(core)
        except (binascii.Error, ValueError):
            continue
    tail = b"\n".join(lines[tail_at:]).strip()
    if tail:
        out += b"\n" + tail + b"\n"
    return bytes(out)


def looks_base64(data: bytes) -> bool:
    """A body that was base64 before a relay dropped its header: nothing but whole lines of
    the alphabet, the first a multiple of four long, enough of them to not be a lone token."""
    body = data.strip()
    if len(body) < _MIN_GUESSED_BASE64 or b" " in body or _NOT_BASE64.search(body):
        return False  # what people write has spaces; this check is all most text costs
    lines = body.split()
    if len(lines[0]) % 4:
        return False
    return all(_B64_LINE.fullmatch(line) for line in lines)


def _is_text(data: bytes) -> bool:
    """Decoded bytes that a person wrote: valid UTF-8 (or single-byte text), with spaces and
    almost no control characters."""
    if not data or (b" " not in data and b"\n" not in data):
        return False
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls * 100 > len(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        high = len(data) - len(data.translate(None, _HIGH_BYTES))
        return high * 4 < len(data)
    return True


@dataclass(frozen=True, slots=True)
class UuFile:
    name: str
    data: bytes
    start: int  # byte offsets of the whole begin … end block in the text it came from
    end: int


def uu_files(data: bytes) -> list[UuFile]:
    """Every ``begin <mode> <name>`` … ``end`` block, decoded."""
    found: list[UuFile] = []
    pos = 0
    while True:
        begin = _UU_BEGIN.search(data, pos)
        if begin is None:
            return found
        end = _UU_END.search(data, begin.end())
        if end is None:
            return found
        out = bytearray()
        for line in data[begin.end():end.start()].splitlines():
            if not line.strip():
                continue
            out += _uu_line(line)
        name = begin.group(1).decode("utf-8", errors="replace").strip()
        found.append(UuFile(name=name, data=bytes(out), start=begin.start(), end=end.end()))
        pos = end.end()


def _uu_line(line: bytes) -> bytes:
    try:
        return binascii.a2b_uu(line)
    except (binascii.Error, ValueError):
        # the workaround the email package uses for encoders that pad lines wrongly
        try:
            nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3
            return binascii.a2b_uu(line[:nbytes])
        except (binascii.Error, ValueError, IndexError):
            return b""
