"""Bytes to text for mail: declared charsets, their usual lies, and detection as a fallback.

Pure. Nothing here raises on any input: the last resort is UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# What mail clients write versus what they mean. Supersets are preferred: a message labelled
# gb2312 written by a GBK client decodes cleanly with gb18030, and "iso-8859-1" from Windows
# clients routinely carries cp1252 punctuation (as every browser assumes, per WHATWG).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "windows-31j": "cp932",
    "x-windows-949": "cp949",
    "windows-949": "cp949",
    "gb_2312-80": "gb18030",
    "gb_2312": "gb18030",
    "x-user-defined": "cp1252",
    "unknown-8bit": "",
    "x-unknown": "",
    "unknown": "",
    "default": "",
    "charset": "",
}

_SURROGATES = re.compile("[\udc80-\udcff]")
_ANY_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def codec_for(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it is missing or unknown."""
    if not charset:
        return None
    name = charset.strip().strip("\"';").strip().lower()
    variants = (name, name.removeprefix("x-"), name.replace(" ", "-"),
                re.sub(r"^(?:cp|win|windows)[-_]?(\d{3,4})$", r"cp\1", name))
    for candidate in variants:
        candidate = _CHARSET_ALIASES.get(candidate, candidate)
        if not candidate:
            return None
        try:
            found = codecs.lookup(candidate).name
        except (LookupError, ValueError):
            continue
        # every spelling of Latin-1 ("iso_8859-1", "l1", "csISOLatin1") means cp1252 in mail
        return "cp1252" if found == "iso8859-1" else found
    return None


# ISO-2022 text is 7-bit: it passes for ASCII, so it is recognized by its escape sequences
# (ESC $ B, ESC $ ) C, …), undeclared or declared as ASCII, and tried in these codecs in turn.
_ISO2022 = ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_2004", "iso2022_kr")
_ISO2022_ESCAPE = re.compile(rb"\x1b[$(][@ABDJ)CI]|\x1b\$\)C")
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]{2,40})""", re.IGNORECASE
)
_XML_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,100}?encoding\s*=\s*["']([A-Za-z0-9_.:+-]{2,40})"""
)
_SNIFF_BYTES = 4096


def html_charset(data: bytes) -> str | None:
    """The charset an HTML document declares for itself (``<meta charset>``, the
    ``http-equiv`` form, or an XML declaration), for parts whose header says nothing."""
    head = data[:_SNIFF_BYTES]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else None


def _iso2022(data: bytes) -> str | None:
    if b"\x1b" not in data or not _ISO2022_ESCAPE.search(data):
        return None
    for codec in _ISO2022:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("iso2022_jp_2", errors="replace")


def detect(data: bytes, sample_bytes: int) -> str | None:
    """Best guess of a codec for undeclared or mislabelled bytes (charset-normalizer)."""
    try:
        best = from_bytes(data[:sample_bytes]).best()
    except Exception:  # detection is advisory; a detector bug must not lose the message
        return None
    if best is None:
        return None
    codec = codec_for(best.encoding)
    if codec is not None and codec.startswith(("utf-16", "utf-32")) and not data.startswith(
        (b"\xff\xfe", b"\xfe\xff")
    ):
        return None  # mail text is never UTF-16 without a BOM; that guess turns it into noise
    return codec


def decode_bytes(data: bytes, declared: str | None, sample_bytes: int = 32 * 1024) -> str:
    """Decode a body or header: trust the declaration when the bytes agree with it; otherwise
    try UTF-8 (the most common mislabel is UTF-8 sent as ASCII or Latin-1 and the reverse), then
    detection, then UTF-8 with replacement characters."""
    if not data:
        return ""
    codec = codec_for(declared)
    if codec is None or codec == "ascii" or codec.startswith("iso2022"):
        jis = _iso2022(data)
        if jis is not None:
            return jis
    if codec is not None:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
        else:
            # 8-bit bytes that decode as a single-byte charset could still be UTF-8 (a sender
            # that wrote UTF-8 and declared Latin-1): valid multibyte UTF-8 is rarely accidental.
            if codec in ("cp1252", "iso8859-15") and _looks_like_utf8(data):
                return data.decode("utf-8")
            return text
        for superset in _SUPERSETS.get(codec, ()):
            try:
                return data.decode(superset)
            except (UnicodeDecodeError, LookupError, ValueError):
                continue
        nearly = _nearly(data, codec)
        if nearly is not None:
            return nearly
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return data.decode("utf-8", errors="replace")
    if _plausible_western(data):
        return data.decode("cp1252")
    guess = detect(data, sample_bytes)
    if guess is not None:
        try:
            return data.decode(guess)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    return data.decode("cp1252", errors="replace") if _mostly_latin(data) else data.decode(
        "utf-8", errors="replace"
    )


# Vendor supersets of a declared charset, tried when the bytes do not fit the declaration.
_SUPERSETS = {
    "big5": ("cp950", "big5hkscs"),
    "cp950": ("big5hkscs",),
    "euc_jp": ("euc_jis_2004", "cp932"),
    "koi8-r": ("koi8_u",),
    "cp949": ("johab",),
}
_SINGLE_BYTE_WESTERN = frozenset({"cp1252", "ascii", "iso8859-15", "latin-1", "mac-roman"})
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
# a declaration is kept, with replacement characters, when at most this share of it fails
_TOLERATED_BAD_SHARE = 0.01


_MOSTLY_UTF8_SHARE = 0.9
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a damaged byte or two (a cut sequence, a stray Latin-1 byte): nearly all
    8-bit bytes form valid multibyte sequences, which no other charset produces by chance."""
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    valid = sum(len(m) for m in _UTF8_MULTIBYTE.findall(data))
    return valid >= 4 and valid >= _MOSTLY_UTF8_SHARE * high


def _nearly(data: bytes, codec: str) -> str | None:
    """The declared charset, right but for a few damaged bytes (a cut multibyte sequence, a
    vendor character): better than switching to a charset of another script, which turns
    every character into noise. Not for single-byte Western declarations (the other fallbacks
    read those better) nor for UTF-8 that has no valid multibyte sequence at all (that is
    Latin-1 or cp1252 mislabelled)."""
    if codec in _SINGLE_BYTE_WESTERN or (codec == "utf-8" and not _UTF8_MULTIBYTE.search(data)):
        return None
    try:
        text = data.decode(codec, errors="replace")
    except (LookupError, ValueError):
        return None
    bad = text.count("\ufffd")
    return text if bad <= _TOLERATED_BAD_SHARE * len(text) else None


# What 8-bit bytes in Western European mail decode to in cp1252: accented letters and the
# typographic punctuation Windows clients insert.
_WESTERN_HIGH = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŽžŸ"
    "‘’‚“”„–—…€«»°§©®™·•¡¿ªº²³¹½¼¾×÷£¥¢µ¶\xa0"
)


def _plausible_western(data: bytes) -> bool:
    """Undeclared or mislabelled 8-bit text that reads as Western European in cp1252: every
    high byte maps to a Latin letter or common punctuation, and they are a minority of the
    letters (single-byte Cyrillic or Greek would be nearly all high bytes)."""
    try:
        text = data[:8192].decode("cp1252")
    except UnicodeDecodeError:
        return False
    high = [c for c in text if ord(c) >= 0x80]
    if not high or any(c not in _WESTERN_HIGH for c in high):
        return False
    letters = sum(1 for c in text if c.isalpha())
    return len(high) * 3 < letters + 3


def _looks_like_utf8(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_latin(data: bytes) -> bool:
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    return high * 20 < len(data)


def repair(text: str, sample_bytes: int = 32 * 1024, charset_hint: str | None = None) -> str:
    """Make any string safe to put on the wire: undo ``surrogateescape`` (raw 8-bit bytes in
    headers, as the ``email`` package leaves them) by decoding those bytes properly, and drop
    control characters that no human wrote. ``charset_hint`` is tried first: a client that
    writes raw 8-bit headers writes them in the charset it declares for the body."""
    if _ANY_SURROGATE.search(text):
        try:
            raw = text.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            text = _SURROGATES.sub("\ufffd", text)
        else:
            text = decode_bytes(raw, charset_hint, sample_bytes)
        # anything still unpaired (a surrogate that was not an escaped byte) cannot be encoded
        text = _ANY_SURROGATE.sub("\ufffd", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return text


def unflow(text: str, delsp: bool = False) -> str:
    """RFC 3676 ``format=flowed``: join soft-broken lines (ending in a space) back into the
    paragraphs the sender typed; quote depth and the ``-- `` delimiter are respected."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if pending is not None and depth != pending_depth:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
            pending = None
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        joined = body if pending is None else pending + body
        if soft:
            pending, pending_depth = joined, depth
            continue
        out.append(">" * depth + (" " if depth and joined else "") + joined)
        pending = None
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)
