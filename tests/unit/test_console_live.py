"""Live updates: every change the console's feed applies reaches each open stream; a stream
too slow to keep up is told to start over instead of holding the feed back. Presence set
from the console is published for routing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from console.store import CHANGE_BUFFER, Changes
from tests.support.console_builders import Console, client, console_store, csrf_of, sign_in
from tests.support.tickets_builders import email


async def test_changes_reach_every_open_stream() -> None:
    changes = Changes()
    async with changes.subscribe() as a, changes.subscribe() as b:
        changes.publish(("ticket", "t1"))
        changes.publish(("event", "t1"))
        assert [a.get_nowait(), a.get_nowait()] == [("ticket", "t1"), ("event", "t1")]
        assert b.get_nowait() == ("ticket", "t1")
        assert len(changes) == 2
    assert len(changes) == 0
    changes.publish(("ticket", "t2"))  # nobody listening: nothing kept


async def test_a_stream_that_falls_behind_is_told_to_start_over() -> None:
    changes = Changes()
    async with changes.subscribe() as slow:
        for i in range(CHANGE_BUFFER + 1):
            changes.publish(("event", f"t{i}"))
        assert await asyncio.wait_for(slow.get(), 1) is None and slow.empty()
        assert len(changes) == 0  # dropped: the feed no longer waits on it


def test_the_feed_announces_what_it_applies() -> None:
    store = console_store([email("l1")])
    seen: list[tuple[str, str]] = []

    async def listen() -> None:
        async with store.changes.subscribe() as q:
            t = next(iter(store.view.tickets()))
            store.apply_state(t.ticket_id, t)
            for e in store.view.events(t.ticket_id):
                store.apply_event(e)
            while not q.empty():
                change = q.get_nowait()
                assert change is not None
                seen.append(change)

    asyncio.run(listen())
    kinds = {k for k, _ in seen}
    assert kinds == {"ticket", "event"} and len({ref for _, ref in seen}) == 1


def test_an_agent_sets_their_presence(tmp_path: Path) -> None:
    console = Console(console_store([email("p1")]))
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    csrf = csrf_of(c.get("/queue").text)
    r = c.post("/presence", data={"presence": "away", "csrf": csrf, "next": "/queue"})
    assert r.status_code == 303 and console.presence == [("agent-1", "away")]
    assert c.post("/presence", data={"presence": "asleep", "csrf": csrf}).status_code == 400
    assert c.post("/presence", data={"presence": "offline"}).status_code == 403
