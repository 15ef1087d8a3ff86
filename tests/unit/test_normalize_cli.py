"""``helpline parse FILE.eml``: one JSON object with the schema's keys, or exit 1 and a reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from schemas.codec import decode
from schemas.message import InboundMessage
from tests.support.email_golden import GOLDEN_DIR

REPO = Path(__file__).resolve().parents[2]


def _helpline(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args], cwd=REPO, capture_output=True,
        timeout=120, input=stdin,
    )


def test_parse_prints_the_inbound_message(tmp_path: Path) -> None:
    eml = GOLDEN_DIR / "dsn_user_unknown.eml"
    done = _helpline("parse", str(eml), "--mailbox", "support@helpline.example")
    assert done.returncode == 0, done.stderr
    data = orjson.loads(done.stdout)
    msg = decode(InboundMessage, done.stdout)
    assert msg.mailbox == "support@helpline.example"
    assert msg.flags.bounce is not None
    assert msg.flags.bounce.original_recipient == "nobody@customer.example"
    expected = orjson.loads(eml.with_suffix(".json").read_bytes())
    assert set(data) == set(expected)  # keys as in the schema


def test_unparseable_input_exits_1_with_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just a note\nwith no headers\n")
    done = _helpline("parse", str(junk))
    assert done.returncode == 1
    assert done.stdout == b""
    err = done.stderr.decode().strip()
    assert "\n" not in err and "unparseable" in err and "no RFC 5322 header" in err


def test_missing_file_exits_1(tmp_path: Path) -> None:
    done = _helpline("parse", str(tmp_path / "nope.eml"))
    assert done.returncode == 1
    assert done.stderr.decode().count("\n") == 1


def test_parse_reads_stdin() -> None:
    raw = (GOLDEN_DIR / "french_out_of_office.eml").read_bytes()
    done = _helpline("parse", "-", stdin=raw)
    assert done.returncode == 0, done.stderr
    msg = decode(InboundMessage, done.stdout)
    assert msg.flags.auto_reply and msg.raw_ref == "stdin"
