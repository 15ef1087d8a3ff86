"""winmail.dat (TNEF): the files and text inside, and no hang or crash on damaged blobs."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mime.winmail import _MAX_ATTRIBUTES, _attribute_count, read_winmail

SIGNATURE = struct.pack("<IH", 0x223E9F78, 1)


def attribute(level: int, att_id: int, att_type: int, data: bytes) -> bytes:
    return (struct.pack("<BHHI", level, att_id, att_type, len(data)) + data
            + struct.pack("<H", sum(data) & 0xFFFF))


def test_files_and_text() -> None:
    blob = (SIGNATURE + attribute(1, 0x800C, 2, b"Hello from Outlook\x00")
            + attribute(2, 0x9002, 6, b"\x01\x00" + b"\x00" * 12)
            + attribute(2, 0x8010, 1, b"report.xlsx\x00")
            + attribute(2, 0x800F, 6, b"PK\x03\x04data"))
    found = read_winmail(blob)
    assert found is not None
    assert found.text == "Hello from Outlook"
    assert [(f.name, f.data) for f in found.files] == [("report.xlsx", b"PK\x03\x04data")]


def test_not_tnef_or_empty() -> None:
    assert read_winmail(b"") is None
    assert read_winmail(b"PK\x03\x04") is None
    assert read_winmail(SIGNATURE) is None


def test_a_blob_of_tiny_attributes_is_refused_not_parsed() -> None:
    """tnefparse copies the rest of the blob per attribute; 2 MB of zeros are ~180,000
    attributes. The count stops at the limit, and the blob is never handed to tnefparse."""
    blob = SIGNATURE + b"\x00" * 2_000_000
    assert _attribute_count(blob, _MAX_ATTRIBUTES) == _MAX_ATTRIBUTES + 1
    assert read_winmail(blob) is None
    normal = SIGNATURE + attribute(1, 0x800C, 2, b"x" * 5000) * 3
    assert _attribute_count(normal, _MAX_ATTRIBUTES) == 3


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_never_raises(tail: bytes) -> None:
    read_winmail(SIGNATURE + tail)
