"""What-if on history: a rules file or a model tried against the last N days of
``ticket.events`` before it is pushed, through the same :class:`ClassifyStage` code the
workers run. Two stages read the same events — one as the pipeline is configured now (the
ruleset and models on their topics), one with the candidate — and every ``classified`` they
would write is compared field by field.

The comparison (:func:`compare`) is pure; :func:`load_history` and :func:`current_stage` are
the edges that read the topics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from classify.model import TicketClassifier
from classify.stage import ClassifyStage
from schemas.classify_events import Classified
from schemas.events import TicketEvent
from schemas.stage import In, TopicIO
from schemas.topics import CUSTOMERS, MODELS, RULES, TICKET_EVENTS, TICKET_STATE

COMPARED = ("category", "team", "priority")
BATCH = 500  # events handed to each stage at once, as the runner would
EXAMPLES_SHOWN = 10
_SPAN = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


def parse_span(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``."""
    m = _SPAN.match(text)
    if m is None:
        raise ValueError(f"--against {text!r}: write a span such as 30d, 12h or 90m")
    n, unit = int(m[1]), m[2]
    return timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" \
        else timedelta(minutes=n)


@dataclass
class WhatIf:
    tickets: int = 0  # classified events compared
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPARED, 0))
    changed_tickets: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"classifications": self.tickets, "would_change": self.changed_tickets,
                "by_field": dict(self.changed), "examples": self.examples}


def compare(current: ClassifyStage, candidate: ClassifyStage, events: Sequence[TicketEvent],
            batch: int = BATCH, shown: int = EXAMPLES_SHOWN) -> WhatIf:
    """Both stages read ``events`` in order; each ``classified`` pair is compared."""
    result = WhatIf()
    for start in range(0, len(events), batch):
        chunk = [In(TICKET_EVENTS, e.ticket_id.encode(), e, offset=start + i)
                 for i, e in enumerate(events[start:start + batch])]
        now_at = chunk[-1].value.at
        before = _classified(current.process(chunk, now_at))
        after = _classified(candidate.process(chunk, now_at))
        for key, (number, old) in before.items():
            new = after.get(key, (number, None))[1]
            if new is None:
                continue
            result.tickets += 1
            diffs = {f: (getattr(old, f), getattr(new, f)) for f in COMPARED
                     if getattr(old, f) != getattr(new, f)}
            for f in diffs:
                result.changed[f] += 1
            if diffs:
                result.changed_tickets += 1
                if len(result.examples) < shown:
                    result.examples.append({"ticket": number, **{
                        f: {"now": a, "would_be": b} for f, (a, b) in diffs.items()}})
    return result


def _classified(outs: Sequence[Any]) -> dict[str, tuple[str, Classified]]:
    found: dict[str, tuple[str, Classified]] = {}
    for o in outs:
        value = o.value
        if isinstance(value, TicketEvent) and isinstance(value.payload, Classified):
            found[value.event_id] = (value.ticket_number, value.payload)
    return found


async def load_history(topics: TopicIO, since: datetime, timeout_s: float
                       ) -> list[TicketEvent]:
    """Every ticket event written at or after ``since``, in log order per ticket."""
    reader = await topics.open_reader([TICKET_EVENTS], timeout_s, since={TICKET_EVENTS: since})
    events: list[TicketEvent] = []
    try:
        async for records in reader.catch_up():
            events.extend(r.value for r in records if isinstance(r.value, TicketEvent)
                          and reader.written_before_open(r))
    finally:
        await reader.close()
    return events


async def restore_tables(topics: TopicIO, stages: Sequence[ClassifyStage],
                         timeout_s: float) -> None:
    """The rules, models, customers and ticket states the workers have now, into each."""
    for spec in (RULES, MODELS, CUSTOMERS, TICKET_STATE):
        for record in await topics.read_to_end(spec, timeout_s):
            if record.error is None and record.key is not None:
                for stage in stages:
                    stage.restore(spec, record.key, record.value)


def with_model(stage: ClassifyStage, model: TicketClassifier) -> None:
    """``stage`` with ``model`` in its target's slot (replacing the one running there)."""
    stage.models.active[model.card.target] = model
    stage.classifier = stage.models.classifier(stage.classifier)


async def what_if(topics: TopicIO, current: ClassifyStage, candidate: ClassifyStage,
                  span: timedelta, now: datetime, timeout_s: float,
                  change: Any = None) -> dict[str, Any]:
    """Restore both stages from the topics, let ``change`` alter the candidate, then compare
    them over the history since ``now - span``."""
    await restore_tables(topics, [current, candidate], timeout_s)
    if change is not None:
        change(candidate)
    events = await load_history(topics, now - span, timeout_s)
    report = compare(current, candidate, events).as_dict()
    return {"since": (now - span).isoformat(), "events": len(events), **report}
