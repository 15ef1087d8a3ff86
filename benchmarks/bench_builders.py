"""The wire records' fast paths (schemas._codegen) against their plain references, in the same
run: the tickets stage's created fold (a Ticket from 17 fields) by keyword builder, positional
builder and the dataclass's own ``__init__``; a Ticket replace; a record decode.

Pure CPU, no broker. Figures are the best of ``--repeat`` timings, in microseconds per call.
Prints one JSON object. Usage: python benchmarks/bench_builders.py [--number N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import _codegen
from schemas.codec import KIT, encode
from schemas.message import Address
from schemas.ticket import Ticket

NAMES = ("ticket_id", "number", "status", "priority", "subject", "channel", "mailbox",
         "customer_id", "requester", "participants", "language", "conversation_id", "created_at",
         "updated_at", "version", "last_event_id", "event_ids")


def _best_us(fn: Any, number: int, repeat: int) -> float:
    return round(min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    values: dict[str, Any] = dict(
        ticket_id="t1", number="1042", status="new", priority="normal", subject="Overheating",
        channel="email", mailbox="support", customer_id="c1",
        requester=Address(address="ada@example.com"), participants=("ada@example.com",),
        language="en", conversation_id=None, created_at=at, updated_at=at, version=1,
        last_event_id="e1", event_ids=("e1",))
    by_keyword = _codegen.keywords(Ticket, *NAMES)
    by_position = _codegen.positional(Ticket, *NAMES)
    ticket = Ticket(**values)
    fast_replace, plain_replace = _codegen.replacer(Ticket), _codegen.plain_replacer(Ticket)
    change = {"status": "open", "version": 2}
    wire = __import__("orjson").loads(encode(ticket))
    fast_decode = _codegen.dataclass_decoder(Ticket, KIT)
    plain_decode = _codegen.plain_dataclass_decoder(Ticket, KIT)
    assert fast_decode(wire, "$") == plain_decode(wire, "$") == ticket
    v = values
    requester, participants, events = v["requester"], v["participants"], v["event_ids"]

    def named() -> Ticket:  # as tickets.state._created calls it: literal keywords
        return by_keyword(  # type: ignore[no-any-return]
            ticket_id="t1", number="1042", status="new", priority="normal",
            subject="Overheating", channel="email", mailbox="support", customer_id="c1",
            requester=requester, participants=participants, language="en",
            conversation_id=None, created_at=at, updated_at=at, version=1, last_event_id="e1",
            event_ids=events)

    def positioned() -> Ticket:  # as it called it before #15
        return by_position(  # type: ignore[no-any-return]
            "t1", "1042", "new", "normal", "Overheating", "email", "support", "c1", requester,
            participants, "en", None, at, at, 1, "e1", events)

    def init() -> Ticket:
        return Ticket(
            ticket_id="t1", number="1042", status="new", priority="normal",
            subject="Overheating", channel="email", mailbox="support", customer_id="c1",
            requester=requester, participants=participants, language="en",
            conversation_id=None, created_at=at, updated_at=at, version=1, last_event_id="e1",
            event_ids=events)

    assert named() == positioned() == init() == ticket
    n, r = args.number, args.repeat
    figures = {
        "ticket_keywords_builder_us": _best_us(named, n, r),
        "ticket_positional_builder_us": _best_us(positioned, n, r),
        "baseline_ticket_init_us": _best_us(init, n, r),
        "ticket_replacer_us": _best_us(lambda: fast_replace(ticket, change), n, r),
        "baseline_dataclasses_replace_us": _best_us(lambda: plain_replace(ticket, change), n, r),
        "ticket_generated_decoder_us": _best_us(lambda: fast_decode(wire, "$"), n, r),
        "baseline_plain_decoder_us": _best_us(lambda: plain_decode(wire, "$"), n, r),
    }
    figures["keywords_over_positional"] = round(
        figures["ticket_keywords_builder_us"] / figures["ticket_positional_builder_us"], 2)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
