"""The shared email corpus (``../shared/corpus/email``), normalized once per test session."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from ingest.mime import UnparseableEmail, parse_email
from schemas.message import InboundMessage

RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)
MAILBOX = "support@helpline.example"
# A file "is a mail" when it starts with a header field (or an mbox "From " line).
_STARTS_WITH_HEADER = re.compile(rb"^(?:From |[A-Za-z][A-Za-z0-9-]{0,76}[ \t]*:)")


@dataclass(frozen=True)
class Parsed:
    path: Path
    message: InboundMessage | None
    error: str | None


def looks_like_mail(data: bytes) -> bool:
    return bool(_STARTS_WITH_HEADER.match(data.lstrip(b"\r\n")))


@cache
def parse_corpus(email_dir: Path) -> dict[str, Parsed]:
    out: dict[str, Parsed] = {}
    for path in sorted(p for p in email_dir.rglob("*") if p.is_file()):
        key = path.relative_to(email_dir).as_posix()
        try:
            msg = parse_email(path.read_bytes(), mailbox=MAILBOX, received_at=RECEIVED_AT)
        except UnparseableEmail as exc:
            out[key] = Parsed(path, None, exc.reason)
        else:
            out[key] = Parsed(path, msg, None)
    return out


def expected(email_dir: Path, folder: str) -> dict[str, list[dict[str, object]]]:
    data = json.loads((email_dir / folder / "expected.json").read_text(encoding="utf-8"))
    result: dict[str, list[dict[str, object]]] = data["expected"]
    return result
