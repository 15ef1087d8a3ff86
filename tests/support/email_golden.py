"""Golden files of the email normalizer: ``tests/golden/email/<name>.eml`` beside
``<name>.json``. The test compares; only a human runs ``python -m tests.support.email_golden``
to (re)write the expected files, then reads the diff before committing it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest.mime import parse_email
from schemas.codec import encode_pretty

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "email"
MAILBOX = "support@helpline.example"
RECEIVED_AT = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def golden_inputs() -> list[Path]:
    return sorted(GOLDEN_DIR.glob("*.eml"))


def render(eml: Path) -> bytes:
    msg = parse_email(eml.read_bytes(), mailbox=MAILBOX, received_at=RECEIVED_AT,
                      raw_ref=f"golden:{eml.name}")
    return encode_pretty(msg) + b"\n"


def main(argv: list[str]) -> int:
    for eml in golden_inputs():
        if argv and eml.stem not in argv:
            continue
        eml.with_suffix(".json").write_bytes(render(eml))
        print(f"wrote {eml.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
