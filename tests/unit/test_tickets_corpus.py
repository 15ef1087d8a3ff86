"""The stage over real-world-shaped tickets from ../shared/corpus (multilingual email tickets
with an agent answer): each becomes one conversation - the customer's mail, the agent's
reply, the customer's answer quoting our reply - and ends as exactly one ticket with its
three messages, whatever the subjects contain (brackets, other languages, empty)."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.support.tickets_builders import KEY, action, email, events_of, feed, make_stage
from tickets import reply_token

LIMIT = 400  # rows; bounded so the unit tier stays quick


def test_corpus_tickets_thread_into_one_ticket_each(corpus: Path) -> None:
    folder = corpus / "tickets" / "multilang-tickets-v3"
    path = folder / "dataset-tickets-multi-lang3-4k.first1167.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for _, r in zip(range(LIMIT), csv.DictReader(fh), strict=False)]
    assert rows
    stage = make_stage()
    for i, row in enumerate(rows):
        sender = f"customer{i}@example.com"
        subject = row.get("subject") or ""
        opened = events_of(feed(stage, [email(f"c{i}", sender, subject=subject,
                                              text=row.get("body") or "", minutes=i)]))
        tid = opened[0].ticket_id
        feed(stage, [action(f"a{i}", tid, "reply", text=row.get("answer") or "ok",
                            minutes=i + 1)])
        ours = reply_token.message_id(tid, KEY, f"n{i}", "acme.test")
        feed(stage, [email(f"c{i}-2", sender, subject=f"Re: {subject}", in_reply_to=[ours],
                           text="Thanks", minutes=i + 2)])
    tickets = list(stage.book)
    assert len(tickets) == len(rows)
    assert all((t.inbound_count, t.outbound_count) == (2, 1) for t in tickets)
    assert all(t.status == "open" for t in tickets)
