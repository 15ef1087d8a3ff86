"""Opaque-signed S/MIME: the MIME entity inside PKCS #7 SignedData, in DER and in the BER
forms Outlook writes (indefinite lengths, the content split into OCTET STRING pieces)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mime.smime import signed_content

OID_SIGNED = bytes.fromhex("06092a864886f70d010702")
OID_DATA = bytes.fromhex("06092a864886f70d010701")
OID_ENVELOPED = bytes.fromhex("06092a864886f70d010703")
CONTENT = b"Content-Type: text/plain\r\n\r\nPlease close my account.\r\n"


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def ber(tag: int, *children: bytes) -> bytes:
    """Indefinite length: children, then the end-of-contents octets."""
    return bytes([tag, 0x80]) + b"".join(children) + b"\x00\x00"


def test_der_signed_data() -> None:
    encap = der(0x30, OID_DATA + der(0xA0, der(0x04, CONTENT)))
    blob = der(0x30, OID_SIGNED + der(0xA0, der(
        0x30, der(0x02, b"\x01") + der(0x31, b"") + encap + der(0x31, b""))))
    assert signed_content(blob) == CONTENT


def test_ber_indefinite_lengths_and_pieces() -> None:
    pieces = ber(0x24, der(0x04, CONTENT[:10]), der(0x04, CONTENT[10:30]), der(0x04, CONTENT[30:]))
    encap = ber(0x30, OID_DATA, ber(0xA0, pieces))
    blob = ber(0x30, OID_SIGNED, ber(0xA0, ber(
        0x30, der(0x02, b"\x01"), ber(0x31), encap, ber(0x31))))
    assert signed_content(blob) == CONTENT


def test_what_is_not_signed_content() -> None:
    enveloped = der(0x30, OID_ENVELOPED + der(0xA0, der(0x30, der(0x02, b"\x00"))))
    assert signed_content(enveloped) is None
    detached = der(0x30, OID_SIGNED + der(0xA0, der(
        0x30, der(0x02, b"\x01") + der(0x31, b"") + der(0x30, OID_DATA))))
    assert signed_content(detached) is None
    assert signed_content(b"") is None
    assert signed_content(b"\x30\x80" * 5000) is None  # nested without end: no crash


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_never_raises(data: bytes) -> None:
    assert signed_content(data) is None or isinstance(signed_content(data), bytes)
