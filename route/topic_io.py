"""What the route CLI makes of records read through the runtime's
:class:`~schemas.stage.TopicIO` port (``StageContext.topics``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.stage import TopicRecord


def latest(records: Iterable[TopicRecord]) -> dict[bytes, Any]:
    """The compacted view: the last value per key, tombstones removed. A record that did not
    decode is passed over (the stage's dead-letter topic keeps its story); it is no tombstone."""
    table: dict[bytes, Any] = {}
    for r in records:
        if r.key is None or r.error is not None:
            continue
        if r.value is None:
            table.pop(r.key, None)
        else:
            table[r.key] = r.value
    return table
