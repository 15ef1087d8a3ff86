"""Golden cases: ticket events in (``<case>.json``), ``classified`` events out
(``<case>.expected.json``), with the example rules file and no model (rules only).

A reader sees what the stage decides, and why, without reading code. After an intended
change, regenerate with ``python -m tests.unit.test_classify_golden`` and review the diff.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from classify.classifier import Classifier
from classify.language import LanguageDetection
from classify.settings import ClassifySettings
from classify.stage import ClassifyStage
from schemas.codec import encode_pretty, from_primitive
from schemas.directory import CustomerRecord, RulesetRecord
from schemas.events import TicketEvent
from schemas.stage import In
from schemas.topics import CUSTOMERS, RULES, TICKET_EVENTS

CASES = Path(__file__).resolve().parents[1] / "golden" / "classify" / "events"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # processing time must not leak into the output


def run_case(path: Path) -> bytes:
    case: dict[str, Any] = orjson.loads(path.read_bytes())
    stage = ClassifyStage(Classifier(LanguageDetection()), ClassifySettings())
    rules = (path.parent / case["rules"]).resolve()
    stage.restore(RULES, b"default", RulesetRecord(
        name="default", version="golden", source=rules.read_text(), pushed_at=NOW))
    for raw in case["customers"]:
        customer = from_primitive(CustomerRecord, raw)
        stage.restore(CUSTOMERS, customer.customer_id.encode(), customer)
    events = [from_primitive(TicketEvent, raw) for raw in case["events"]]
    outs = stage.process([In(TICKET_EVENTS, e.ticket_id.encode(), e) for e in events], NOW)
    return b"[\n" + b",\n".join(encode_pretty(o.value) for o in outs) + b"\n]\n"


def cases() -> list[Path]:
    return sorted(p for p in CASES.glob("*.json") if not p.name.endswith(".expected.json"))


@pytest.mark.parametrize("path", cases(), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    expected = path.with_name(path.stem + ".expected.json")
    assert expected.is_file(), f"missing {expected.name}"
    assert orjson.loads(run_case(path)) == orjson.loads(expected.read_bytes())


if __name__ == "__main__":  # regenerate the expected files
    for case_path in cases():
        case_path.with_name(case_path.stem + ".expected.json").write_bytes(run_case(case_path))
        sys.stdout.write(f"wrote {case_path.stem}.expected.json\n")
