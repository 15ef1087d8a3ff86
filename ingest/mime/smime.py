"""The message inside an opaque-signed S/MIME part. Pure; never raises.

A clear-signed mail (``multipart/signed``) carries its text as an ordinary part. An
opaque-signed one (``application/pkcs7-mime; smime-type=signed-data``, ``smime.p7m``, what
Outlook sends when "clear text signed" is off) wraps the whole MIME entity inside a PKCS #7
SignedData structure: without unwrapping it, the customer's words are invisible. The
signature is not verified here (that needs the sender's certificate chain and is not what a
reader needs); the content is read out of the BER encoding, as RFC 5652 lays it out:

    ContentInfo ::= SEQUENCE { contentType OID (signedData), [0] EXPLICIT SignedData }
    SignedData  ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, ... }
    EncapsulatedContentInfo ::= SEQUENCE { eContentType OID (data), [0] EXPLICIT OCTET STRING }

Enveloped (encrypted) data cannot be read without the recipient's key and is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

_OID_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")
_OID_DATA = bytes.fromhex("2a864886f70d010701")
_SEQUENCE, _SET, _OID, _OCTET_STRING, _CONTEXT_0 = 0x30, 0x31, 0x06, 0x04, 0xA0
_MAX_DEPTH = 64  # constructed OCTET STRINGs nest; a hostile blob must not recurse forever


class _BadEncoding(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int
    start: int  # first content byte
    end: int  # one past the last content byte (before the end-of-contents octets)
    next: int  # where the following element starts


def _read(data: bytes, pos: int, limit: int) -> _Tlv:
    if pos + 2 > limit:
        raise _BadEncoding("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _BadEncoding("high tag numbers do not occur in PKCS #7")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        end = pos + first
    elif first == 0x80:  # indefinite length (BER): children until the end-of-contents octets
        if not tag & 0x20:
            raise _BadEncoding("indefinite length on a primitive")
        child = pos
        while True:
            if child + 2 > limit:
                raise _BadEncoding("no end-of-contents")
            if data[child] == 0 and data[child + 1] == 0:
                return _Tlv(tag, pos, child, child + 2)
            child = _read(data, child, limit).next
    else:
        count = first & 0x7F
        if count > 4 or pos + count > limit:
            raise _BadEncoding("length")
        end = pos + count + int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if end > limit:
        raise _BadEncoding("length past the end")
    return _Tlv(tag, pos, end, end)


def _children(data: bytes, tlv: _Tlv) -> list[_Tlv]:
    out: list[_Tlv] = []
    pos = tlv.start
    while pos < tlv.end:
        child = _read(data, pos, tlv.end)
        out.append(child)
        pos = child.next
    return out


def _octets(data: bytes, tlv: _Tlv, depth: int = 0) -> bytes:
    """An OCTET STRING's bytes; a constructed one (BER) is the concatenation of its pieces."""
    if depth > _MAX_DEPTH:
        raise _BadEncoding("nested too deeply")
    if tlv.tag == _OCTET_STRING:
        return data[tlv.start:tlv.end]
    if tlv.tag == _OCTET_STRING | 0x20:
        return b"".join(_octets(data, c, depth + 1) for c in _children(data, tlv))
    raise _BadEncoding("not an OCTET STRING")


def signed_content(der: bytes) -> bytes | None:
    """The signed MIME entity of a PKCS #7 SignedData blob, or None when it is something else
    (enveloped data, a detached signature without content, damaged bytes)."""
    try:
        top = _read(der, 0, len(der))
        info = _children(der, top)
        if top.tag != _SEQUENCE or len(info) < 2 or info[0].tag != _OID:
            return None
        if der[info[0].start:info[0].end] != _OID_SIGNED_DATA or info[1].tag != _CONTEXT_0:
            return None
        signed = _children(der, info[1])
        fields = _children(der, signed[0]) if signed and signed[0].tag == _SEQUENCE else []
        encap = next((f for f in fields if f.tag == _SEQUENCE), None)
        if encap is None:
            return None
        parts = _children(der, encap)
        if len(parts) < 2 or der[parts[0].start:parts[0].end] != _OID_DATA:
            return None  # detached signature: the content travels beside it
        if parts[1].tag != _CONTEXT_0:
            return None
        inner = _children(der, parts[1])
        return _octets(der, inner[0]) if inner else None
    except (_BadEncoding, IndexError, RecursionError):
        return None
