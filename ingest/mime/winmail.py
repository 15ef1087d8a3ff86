"""What Outlook packs into ``winmail.dat`` (TNEF, ``application/ms-tnef``). Pure; never raises.

Exchange and Outlook send rich-text mail as a TNEF blob: the customer's attached files, and
sometimes the only copy of the text, are inside it, and a reader that lists "winmail.dat" has
shown the agent nothing. tnefparse reads the format; here its result becomes file names, bytes
and text. RTF-only bodies are not converted (the plain-text part Exchange sends beside the
blob carries the same words).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tnefparse import TNEF

from ingest.mime.text import decode_bytes

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE = b"\x78\x9f\x3e\x22"
# tnefparse logs a warning for every unknown attribute and checksum; that is data, not news
logging.getLogger("tnefparse").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class WinmailFile:
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Winmail:
    files: tuple[WinmailFile, ...]
    text: str
    html: str


def _text(value: object, charset: str | None) -> str:
    if isinstance(value, str):
        return value.strip("\x00")
    if isinstance(value, bytes):
        return decode_bytes(value.rstrip(b"\x00"), charset)
    return ""


def _name(attachment: object) -> str:
    try:
        name = attachment.long_filename()  # type: ignore[attr-defined]
    except Exception:
        try:
            name = attachment._name  # type: ignore[attr-defined]  # raw bytes, not UTF-8
        except Exception:
            return ""
    return _text(name, None).strip()


# tnefparse copies the rest of the blob for every attribute it reads: a blob of thousands of
# tiny attributes (zeros do that) would take quadratic time. Real ones have a few dozen.
_MAX_ATTRIBUTES = 2000
_ATTRIBUTE_HEAD = 9  # level (1), id (2), type (2), length (4); then data and a 2-byte checksum


def _attribute_count(data: bytes, limit: int) -> int:
    offset, count = 6, 0
    while offset + _ATTRIBUTE_HEAD + 2 < len(data) and count <= limit:
        length = int.from_bytes(data[offset + 5:offset + 9], "little")
        offset += min(len(data) - offset, length + _ATTRIBUTE_HEAD + 2)
        count += 1
    return count


def read_winmail(data: bytes) -> Winmail | None:
    """The files and text of a TNEF blob; None when it is not one or holds nothing."""
    if not data.startswith(_SIGNATURE) or _attribute_count(data, _MAX_ATTRIBUTES) > _MAX_ATTRIBUTES:
        return None
    try:
        tnef = TNEF(data, do_checksum=False)
        charset = tnef.codepage if isinstance(tnef.codepage, str) else None
        files = tuple(
            WinmailFile(name=_name(a), data=a.data if isinstance(a.data, bytes) else b"")
            for a in tnef.attachments
        )
        text = _text(tnef.body, charset)
        html = _text(tnef.htmlbody, charset)
    except Exception:  # a damaged blob stays an attachment, as it came
        return None
    if not files and not text.strip() and not html.strip():
        return None
    return Winmail(files=files, text=text, html=html)
