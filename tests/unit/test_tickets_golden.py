"""A whole conversation (duplicate delivery, agent reply, a CC'd colleague answering through
our reply token, a spoofed ticket number, a bounce, solving, a reply that reopens) against
its expected event log. Regenerate the expectation by deleting the .expected.json file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.codec import encode, from_primitive
from schemas.commands import AgentAction
from schemas.message import InboundMessage
from tests.support.tickets_builders import events_of, feed, make_stage

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "tickets"


def _inputs(name: str) -> list[object]:
    raw = orjson.loads((GOLDEN / f"{name}.input.json").read_bytes())
    kinds = {"message": InboundMessage, "command": AgentAction}
    return [from_primitive(kinds[k], v) for item in raw for k, v in item.items()]


def _digest(e) -> dict[str, object]:
    payload = orjson.loads(encode(e.payload))  # the wire form
    keep = ("kind", "direction", "message_id", "from_status", "to_status", "status",
            "recipient", "relation", "number", "participants_added")
    return {"ticket": e.ticket_number, "event_id": e.event_id,
            "actor": f"{e.actor.kind}:{e.actor.id}", "at": e.at.isoformat(),
            **{k: payload[k] for k in keep if k in payload}}


@pytest.mark.parametrize("name", ["conversation"])
def test_conversation_golden(name: str) -> None:
    stage = make_stage(own_addresses=("support@acme.test",))
    got = [_digest(e) for e in events_of(feed(stage, _inputs(name)))]
    expected_path = GOLDEN / f"{name}.expected.json"
    if not expected_path.exists():
        expected_path.write_bytes(orjson.dumps(got, option=orjson.OPT_INDENT_2) + b"\n")
        pytest.fail(f"wrote {expected_path.name}; review it and run again")
    assert got == orjson.loads(expected_path.read_bytes())
