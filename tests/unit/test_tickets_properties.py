"""Properties: threading does not depend on arrival order; replay reproduces the same events,
whatever the batching; a crash with redelivery converges on the same log."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import encode
from schemas.topics import CUSTOMERS, TICKET_STATE
from tests.support.tickets_builders import email, events_of, make_stage, mid, records

PEOPLE = [("alice@example.com", "bob@example.com"), ("carol@example.org", "dan@example.org")]


@st.composite
def thread(draw, which: int, size: int = 7):
    """A reply tree: each message answers an earlier one, with a full References chain,
    written by the two people of thread ``which`` (replying to all)."""
    n = draw(st.integers(1, size))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n)]
    first, second = PEOPLE[which]
    msgs = []
    chains: list[list[str]] = []
    for i, parent in enumerate(parents):
        chain = [] if parent is None else [*chains[parent], mid(f"t{which}m{parent}")]
        chains.append(chain)
        sender, other = (first, second) if draw(st.booleans()) or i == 0 else (second, first)
        msgs.append(email(
            f"t{which}m{i}", sender, subject=f"thread {which}", minutes=i, cc=[other],
            in_reply_to=chain[-1:], references=chain,
        ))
    return msgs


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_threading_is_independent_of_arrival_order(data: st.DataObject) -> None:
    a, b = data.draw(thread(0)), data.draw(thread(1))
    arrival = data.draw(st.permutations(a + b))
    stage = make_stage()
    for rec in records(arrival):
        stage.process([rec], rec.value.received_at)
    tickets = list(stage.book)
    assert len(tickets) == 2
    by_subject = {t.subject: t for t in tickets}
    for which, msgs in ((0, a), (1, b)):
        t = by_subject[f"thread {which}"]
        assert sorted(t.message_ids) == sorted(m.message_id for m in msgs)
        assert t.inbound_count == len(msgs)


def run(values, cuts: list[int]):
    """Process ``values`` in batches cut at ``cuts``; all outputs in order."""
    stage = make_stage()
    recs = records(values)
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < len(recs)), len(recs)]
    out = []
    for lo, hi in pairwise(bounds):
        if hi > lo:
            out.extend(stage.process(recs[lo:hi], recs[lo].value.received_at))
    return stage, out


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_replay_from_zero_reproduces_identical_events(data: st.DataObject) -> None:
    msgs = data.draw(st.permutations(data.draw(thread(0)) + data.draw(thread(1))))
    cuts = data.draw(st.lists(st.integers(0, len(msgs)), max_size=4))
    _, first = run(msgs, [])
    _, second = run(msgs, cuts)
    assert [encode(e) for e in events_of(first)] == [encode(e) for e in events_of(second)]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_crash_and_redelivery_converge_on_the_same_log(data: st.DataObject) -> None:
    msgs = data.draw(st.permutations(data.draw(thread(0)) + data.draw(thread(1))))
    crash_at = data.draw(st.integers(0, len(msgs)))
    # the crash may lose the table writes of the last record processed (produced but not
    # acknowledged); its offset was then not committed either
    lose_last = crash_at > 0 and data.draw(st.booleans())
    committed = data.draw(st.integers(0, crash_at - 1 if lose_last else crash_at))
    _, reference = run(msgs, [])

    first = make_stage()
    per_record = [first.process([rec], rec.value.received_at) for rec in records(msgs[:crash_at])]
    landed = [o for i, outs in enumerate(per_record) for o in outs
              if not (lose_last and i == crash_at - 1 and o.topic in (TICKET_STATE, CUSTOMERS))]
    # a new worker restores the compacted tables (last value per key) and resumes from the
    # committed offset, so records committed..crash_at are delivered a second time
    restarted = make_stage()
    tables = {(o.topic.name, o.key): o for o in landed if o.topic in (TICKET_STATE, CUSTOMERS)}
    for o in tables.values():
        restarted.restore(o.topic, o.key, o.value)
    after = []
    for rec in records(msgs)[committed:]:
        after.extend(restarted.process([rec], rec.value.received_at))

    log = {}
    for e in events_of(landed + after):
        assert log.setdefault(e.event_id, encode(e)) == encode(e)  # same id, same event
    assert log == {e.event_id: encode(e) for e in events_of(reference)}
    assert all(n == 1 for n in Counter(e.event_id for e in events_of(after)).values())
    final = {t.ticket_id: (t.number, sorted(t.message_ids)) for t in restarted.book}
    ref_stage = make_stage()
    for rec in records(msgs):
        ref_stage.process([rec], rec.value.received_at)
    assert final == {t.ticket_id: (t.number, sorted(t.message_ids)) for t in ref_stage.book}
