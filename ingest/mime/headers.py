"""Header fields of a parsed message, read defensively: names, addresses, ids, dates, subjects.

The ``email`` package parses header values lazily and some malformed values make that parsing
raise. Every reader here starts from the raw value (``Message.raw_items``, which never parses)
and falls back step by step, so no header can make the normalizer fail.
"""

from __future__ import annotations

import email.header
import email.utils
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import Message

from ingest.mime.text import decode_bytes, repair
from schemas.message import Address

_ENCODED_WORD = "=?"
_MSGID = re.compile(r"<([^<>\s]{1,995})>")
_BARE_ID = re.compile(r"[^\s<>,;\"()]+@[^\s<>,;\"()]+")
_WS = re.compile(r"\s+")

# Reply and forward prefixes in the languages helpdesks meet most, optionally numbered
# ("Re[2]:", "RE (3):") and with the French space before the colon ("RE :"). Tags in brackets
# ("[HL-123]", "[list]") are kept: threading reads them.
_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|tr|sv|vs|wg|rif|antw|antwort|ref|réf|rv|enc|odp|res|fs|r|i)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_TAG = re.compile(r"^\s*\[[^\[\]]{1,80}\]\s*")


class Headers:
    """Raw header values by lower-case name, in order. Built once per message part."""

    __slots__ = ("_by_name", "charset_hint")

    def __init__(
        self, msg: Message, max_value_chars: int = 16 * 1024, charset_hint: str | None = None
    ) -> None:
        # the charset raw 8-bit values are tried in first (the one the body declares)
        self.charset_hint = charset_hint
        by_name: dict[str, list[str]] = {}
        try:
            items: Iterable[tuple[str, object]] = msg.raw_items()
        except Exception:  # a part the parser left half-built; it simply has no headers
            items = ()
        for name, value in items:
            if not isinstance(name, str):
                continue
            text = value if isinstance(value, str) else str(value)
            by_name.setdefault(name.strip().lower(), []).append(text[:max_value_chars])
        self._by_name = by_name

    def has_eight_bit(self) -> bool:
        """Whether any value holds raw 8-bit bytes (compat32 keeps them as surrogates)."""
        return not "".join("".join(values) for values in self._by_name.values()).isascii()

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def raw(self, name: str) -> str | None:
        values = self._by_name.get(name)
        return values[0] if values else None

    def raw_all(self, name: str) -> list[str]:
        return self._by_name.get(name, [])

    def text(self, name: str) -> str:
        """The decoded, unfolded value of the first ``name`` field ("" when absent)."""
        raw = self.raw(name)
        return "" if raw is None else decode_text(name, raw, self.charset_hint)

    def keyword(self, name: str) -> str:
        """A token-like value, lower case, parameters dropped (``auto-replied; x``)."""
        return self.text(name).split(";", 1)[0].strip().lower()

    def names(self) -> Iterable[str]:
        return self._by_name.keys()


def decode_text(name: str, raw: str, charset_hint: str | None = None) -> str:
    """Decode RFC 2047 encoded words and stray 8-bit bytes of one unstructured value."""
    value = repair(raw, charset_hint=charset_hint)
    if _ENCODED_WORD in value:
        # decode_header + our charset fallbacks first: it copes with unknown or lying charsets
        # in encoded words, where the default policy leaves replacement characters
        decoded = _decode_words_compat(value)
        if decoded is None:
            try:
                decoded = str(policy.default.header_factory(name, value))
            except Exception:
                decoded = value
        value = repair(decoded if decoded.strip() else value)
    return _WS.sub(" ", value).strip()


def _decode_words_compat(value: str) -> str | None:
    try:
        parts = email.header.decode_header(_unfold(value))
    except Exception:
        return None
    out: list[str] = []
    if not any(chunk for chunk, _ in parts):
        return None  # undecodable words: show the raw value rather than nothing
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return "".join(out)


def _unfold(value: str) -> str:
    return value.replace("\r\n", "").replace("\n", "")


def addresses(headers: Headers, name: str, limit: int) -> tuple[Address, ...]:
    """All mailboxes of every ``name`` field, lower-cased, deduplicated, in order."""
    found: list[Address] = []
    seen: set[str] = set()
    for raw in headers.raw_all(name):
        for display, addr in _parse_addresses(name, raw, headers.charset_hint):
            addr = _clean_address(addr)
            if not addr or addr in seen or ("@" not in addr and not _is_local(addr)):
                continue
            seen.add(addr)
            found.append(Address(name=_display_name(display), address=addr))
            if len(found) >= limit:
                return tuple(found)
    return tuple(found)


def _display_name(display: str) -> str:
    """Quotes and the parentheses of an old-style comment name ("(Mail Delivery System)")
    are syntax, not part of the name."""
    name = display.strip().strip('"').strip()
    if name.startswith("(") and name.endswith(")") and name.count("(") == 1:
        name = name[1:-1].strip()
    return name


_ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"]+@[^\s<>()\[\],;:\"]+")


def _clean_address(addr: str) -> str:
    addr = addr.strip().strip("<>").strip().lower()
    if any(c in addr for c in ' "<>(),;'):
        m = _ADDR_SPEC.search(addr)
        return m.group(0) if m else ""
    return addr


def _is_local(addr: str) -> bool:
    # "postmaster" or "MAILER-DAEMON" without a domain still names a sender
    return addr.replace("-", "").replace("_", "").replace(".", "").isalnum() and len(addr) < 64


def _parse_addresses(name: str, raw: str, charset_hint: str | None) -> list[tuple[str, str]]:
    value = repair(raw, charset_hint=charset_hint)
    # fast path: the stdlib's regex-based splitter, display names decoded afterwards (RFC 2047
    # encoded words are atoms of the display name, so decoding after splitting is correct)
    try:
        quick = email.utils.getaddresses([_unfold(value)])
    except Exception:
        quick = []
    if (
        quick
        and all(_ADDR_SPEC.fullmatch(a.strip()) and a.strip() in value for _, a in quick)
        and value.count("@") == len(quick)
    ):
        return [
            (decode_text("subject", n) if _ENCODED_WORD in n else n, a) for n, a in quick
        ]
    try:
        header = policy.default.header_factory(name, value)
        parsed = [
            (repair(a.display_name or ""), repair(a.addr_spec or ""))
            for a in header.addresses
        ]
    except Exception:
        parsed = []
    if parsed and all(addr and addr != "<>" for _, addr in parsed):
        return parsed
    # compat32's tolerant parser copes with what the strict one rejects ("a@b.c www.x.y")
    try:
        loose = email.utils.getaddresses([_decode_words_compat(value) or value])
    except Exception:
        return parsed
    return [(repair(n), repair(a)) for n, a in loose if a] or parsed


def message_ids(raw_values: Iterable[str], limit: int) -> tuple[str, ...]:
    """Message-IDs in ``<…>`` form, in order, deduplicated; bare ``local@domain`` tokens are
    accepted when a value has no bracketed id (some clients omit the brackets)."""
    out: list[str] = []
    for raw in raw_values:
        value = repair(raw)
        ids = _MSGID.findall(value) or _BARE_ID.findall(value)
        for mid in ids:
            mid = mid.strip()
            if mid and mid not in out:
                out.append(mid)
                if len(out) >= limit:
                    return tuple(out)
    return tuple(out)


def message_id(headers: Headers) -> str | None:
    """The normalized Message-ID: the id inside the brackets, without them."""
    ids = message_ids(headers.raw_all("message-id"), 1)
    if ids:
        return ids[0]
    raw = headers.raw("message-id")
    value = repair(raw).strip() if raw else ""
    return value[:995] if value and " " not in value else None


def date(headers: Headers) -> datetime | None:
    """The Date field as an aware datetime (UTC when the zone is missing), or None."""
    raw = headers.raw("date")
    if not raw or not raw.strip():
        return None
    value = repair(raw)
    try:
        parsed = email.utils.parsedate_tz(value)
    except Exception:
        return None
    if parsed is None:
        return None
    try:
        naive = datetime(*parsed[:6])
        offset = parsed[9] or 0
        if abs(offset) >= 24 * 3600:
            offset = 0
        return (naive - timedelta(seconds=offset)).replace(tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None


def normalize_subject(subject: str) -> str:
    """The subject threading compares: reply/forward prefixes removed (repeated, any case,
    also after leading tags), tags kept, whitespace collapsed."""
    rest = _WS.sub(" ", subject).strip()
    tags: list[str] = []
    for _ in range(50):  # bounded: each round removes at least one prefix or tag
        m = _PREFIX.match(rest)
        if m:
            rest = rest[m.end():]
            continue
        t = _TAG.match(rest)
        if t and _PREFIX.match(rest[t.end():]):
            tags.append(t.group().strip())
            rest = rest[t.end():]
            continue
        break
    return " ".join([*tags, rest.strip()]).strip()


def declared_charset(msg: Message, max_parts: int) -> str | None:
    """The charset the message declares for its text: the top part's, else the first text
    part's (read to decode raw 8-bit header values written in the same charset)."""
    for i, part in enumerate(msg.walk()):
        if i >= max_parts:
            break
        if part.get_content_maintype() in ("text", "multipart") or i == 0:
            charset = content_param(part, "charset")
            if charset and charset.strip().lower() not in ("us-ascii", "ascii"):
                return charset
    return None


def content_type(part: Message) -> str:
    """``maintype/subtype`` in lower case; ``text/plain`` when missing or unreadable (RFC 2045)."""
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def content_param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        try:
            value = email.utils.collapse_rfc2231_value(value)
        except Exception:
            value = value[2] if len(value) > 2 else None
    return repair(value) if isinstance(value, str) else None
