"""`helpline attachments list|get` on local .eml files (no broker): the bytes come back exactly,
and what is not there is a one-line reason with exit code 1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ingest.mime.attachments_cli import RawRef, attachments_of, parse_raw_ref, register
from schemas.stage import StageContext
from schemas.topics import MESSAGES, RAW_EMAIL

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "email"
MIXED = GOLDEN / "attachments_mixed.eml"


def cli() -> typer.Typer:
    app = typer.Typer()

    def no_broker(*_a: object, **_k: object) -> StageContext:
        raise AssertionError("a local file needs no broker")

    register(app, no_broker)
    return app


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("raw.email/1/4711", RawRef(RAW_EMAIL, 1, 4711)),
        ("messages/0/0", RawRef(MESSAGES, 0, 0)),
        ("raw.email/1", None),
        ("raw.email/x/1", None),
        ("raw.email/1/-3", None),
        ("nope/1/2", None),
        ("golden:attachments_mixed.eml", None),
    ],
)
def test_parse_raw_ref(text: str, expected: RawRef | None) -> None:
    assert parse_raw_ref(text) == expected
    if expected is not None:
        assert str(expected) == text


def test_list_shows_every_attachment_with_its_content_ref() -> None:
    expected = json.loads((GOLDEN / "attachments_mixed.json").read_text())["attachments"]
    result = CliRunner().invoke(cli(), ["attachment", "list", "--json", str(MIXED)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["filename"], r["content_ref"]) for r in rows] == [
        (a["filename"], a["content_ref"]) for a in expected]
    plain = CliRunner().invoke(cli(), ["attachment", "list", str(MIXED)])
    assert "photo.png" in plain.output and expected[0]["content_ref"] in plain.output


@pytest.mark.parametrize("name", ["attachments_mixed.eml", "rfc2231_filename.eml"])
def test_get_writes_the_exact_bytes(name: str, tmp_path: Path) -> None:
    raw = (GOLDEN / name).read_bytes()
    for a in attachments_of(raw):
        out = tmp_path / f"{a.sha256}.bin"
        result = CliRunner().invoke(cli(), ["attachment", "get", str(GOLDEN / name),
                                            str(a.content_ref), "-o", str(out)])
        assert result.exit_code == 0, result.output
        data = out.read_bytes()
        assert hashlib.sha256(data).hexdigest() == a.sha256 and len(data) == a.size


def test_get_to_standard_output_and_by_bare_digest() -> None:
    (photo, *_rest) = attachments_of(MIXED.read_bytes())
    result = CliRunner().invoke(cli(), ["attachment", "get", str(MIXED), photo.sha256])
    assert result.exit_code == 0
    assert hashlib.sha256(result.stdout_bytes).hexdigest() == photo.sha256


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["get", str(MIXED), "sha256:" + "0" * 64], "no attachment sha256:000"),
        (["get", "not-a-ref", "sha256:00"], "neither a file nor a raw_ref"),
        (["list", "raw.email/1"], "neither a file nor a raw_ref"),
    ],
)
def test_what_is_not_there_is_a_reason_and_exit_1(args: list[str], reason: str) -> None:
    result = CliRunner().invoke(cli(), ["attachment", *args])
    assert result.exit_code == 1
    assert result.output.startswith("helpline attachment: ") and reason in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_mail_without_attachments(tmp_path: Path) -> None:
    plain = tmp_path / "plain.eml"
    plain.write_bytes(b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
    result = CliRunner().invoke(cli(), ["attachment", "list", str(plain)])
    assert result.exit_code == 0 and result.output.strip() == "no attachments"
