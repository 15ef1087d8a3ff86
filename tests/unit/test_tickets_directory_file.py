"""The operator's directory file: CSV and JSON say the same, golden-checked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.codec import encode
from tickets.directory_file import DirectoryFileError, parse
from tickets.numbers import customer_id_for

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "tickets"
AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", ["directory.csv", "directory.json"])
def test_directory_file_matches_golden(name: str) -> None:
    path = GOLDEN / name
    records = parse(path.read_text(), path.suffix[1:], AT)
    expected = orjson.loads((GOLDEN / "directory.expected.json").read_bytes())
    assert [orjson.loads(encode(r)) for r in records] == expected  # the wire form


def test_derived_id_is_the_one_the_stage_gives_the_sender() -> None:
    (r,) = parse("email,name\nNew@X.org,N\n", "csv", AT)
    assert r.customer_id == customer_id_for("email", "new@x.org")


@pytest.mark.parametrize("text,fmt", [
    ("name\nNobody\n", "csv"), ("[1]", "json"), ("{", "json"), ("x", "yaml"),
])
def test_bad_files_name_the_problem(text: str, fmt: str) -> None:
    with pytest.raises(DirectoryFileError):
        parse(text, fmt, AT)
