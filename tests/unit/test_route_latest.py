"""``route.topic_io.latest``: the compacted view of records read through the TopicIO port."""

from __future__ import annotations

from schemas.stage import TopicRecord
from schemas.topics import AGENTS


def _rec(key: bytes | None, value: object, offset: int, error: str | None = None) -> TopicRecord:
    return TopicRecord(AGENTS, key, value, b"raw" if value is not None or error else None,
                       0, offset, (), error)


def test_last_value_per_key_and_tombstones_remove() -> None:
    from route.topic_io import latest

    records = [_rec(b"a", 1, 0), _rec(b"b", 2, 1), _rec(b"a", 3, 2), _rec(b"b", None, 3),
               _rec(None, 9, 4)]
    assert latest(records) == {b"a": 3}


def test_an_undecodable_record_is_passed_over_not_taken_for_a_tombstone() -> None:
    from route.topic_io import latest

    records = [_rec(b"a", 1, 0), _rec(b"a", None, 1, error="not JSON")]
    assert latest(records) == {b"a": 1}
