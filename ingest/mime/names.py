"""Attachment file names as mail writes them: RFC 2231 parameters, RFC 2047 encoded words
(also where the RFC forbids them, inside quoted strings), raw 8-bit bytes in the sender's
charset, and the empty encoded word ``=?utf-8?b??=`` that means no name at all. Pure.
"""

from __future__ import annotations

import re
from email.message import Message

from ingest.mime.headers import Headers, content_param, decode_text
from ingest.mime.text import repair

_ONLY_EMPTY_WORDS = re.compile(r"(?:\s*=\?[^?\s]*\?[bBqQ]\?\?=)+\s*")


def filename_of(part: Message, charset_hint: str | None = None) -> str:
    """The part's file name, decoded ("" when it has none, or only an empty encoded word)."""
    name = (
        content_param_disposition(part, "filename", charset_hint)
        or content_param(part, "name")
        or ""
    )
    if not name or _ONLY_EMPTY_WORDS.fullmatch(name):
        return ""  # "=?utf-8?b??=" is a name with nothing in it
    return decode_text("subject", name)[:255]


def _eight_bit_filename(part: Message, charset_hint: str | None) -> str | None:
    """A filename written as raw 8-bit bytes: compat32 turns those into U+FFFD when it reads
    parameters, so the raw header is decoded first (UTF-8, else the usual fallbacks)."""
    try:
        items = part.raw_items()
        eight_bit = {
            name.lower(): value for name, value in items
            if isinstance(value, str) and not value.isascii()
            and name.lower() in ("content-disposition", "content-type")
        }
    except Exception:
        return None
    for header in ("content-disposition", "content-type"):
        raw = eight_bit.get(header)
        if raw is None:
            continue
        probe = Message()
        probe[header] = repair(raw, charset_hint=content_param(part, "charset") or charset_hint)
        try:
            value = probe.get_param("filename" if header == "content-disposition" else "name",
                                    header=header)
        except Exception:
            continue
        if isinstance(value, str) and value.strip():
            return value
    return None


def content_param_disposition(
    part: Message, name: str, charset_hint: str | None = None
) -> str | None:
    eight_bit = _eight_bit_filename(part, charset_hint)
    if eight_bit:
        return eight_bit
    try:
        value = part.get_filename()
    except Exception:
        value = None
    if value:
        return repair(value)
    raw = Headers(part).raw("content-disposition") or ""
    key = f"{name}="
    at = raw.lower().find(key)
    if at < 0:
        return None
    return raw[at + len(key):].split(";", 1)[0].strip().strip('"') or None
