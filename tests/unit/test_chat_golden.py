"""Golden chat payloads: each ``tests/golden/chat/<case>.request.json`` (the visitor's pass, the
time and the POSTed body) sits next to ``<case>.json``, what the service makes of it: the
raw.chat record and the normalized message downstream, or the rejection with its error body."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.chat.desk import raw_chat_message
from ingest.chat.identity import VisitorPass
from ingest.chat.normalize import to_inbound
from ingest.chat.payloads import Rejection, post_message
from schemas.codec import encode
from tests.support.chat_fakes import chat_settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "chat"
CASES = sorted(p.name.removesuffix(".request.json") for p in GOLDEN.glob("*.request.json"))


def outcome(request: dict[str, Any]) -> dict[str, Any]:
    visitor = VisitorPass(**request["visitor"])
    try:
        msg = post_message(request["body"], chat_settings())
    except Rejection as exc:
        return {"rejected": {"status": exc.status, **orjson.loads(exc.body())}}
    raw = raw_chat_message(visitor.site_id, visitor, msg,
                           datetime.fromisoformat(request["received_at"]))
    return {"raw_chat": orjson.loads(encode(raw)), "message": orjson.loads(encode(to_inbound(raw)))}


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    request = orjson.loads((GOLDEN / f"{case}.request.json").read_bytes())
    expected = orjson.loads((GOLDEN / f"{case}.json").read_bytes())
    assert outcome(request) == expected
