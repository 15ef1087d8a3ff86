"""What a stage runner has processed but not yet made final: its :class:`Checkpoint`.

A checkpoint gathers every batch processed since the last commit — their outputs handed to the
producer (inside the open transaction when the writer is fenced), the acknowledgements of those
outputs, and the input offsets past them — and is made final as one: every output acknowledged,
then the input offsets committed (fenced: outputs and offsets committed as one transaction).

Why across batches: at real arrival rates every stage sees batches of a few records, and a
Kafka transaction, or an offset commit, per tiny batch was the pipeline's main cost (most of it
in the broker: markers on every partition written, the offsets topic and the transaction log).
Kafka Streams under exactly-once commits every ``commit.interval.ms`` (100 ms) across many polls
instead; the runner does the same, with a latency budget: a checkpoint is committed once it is
``commit_interval_ms`` old, or at once when the runner has caught up with its inputs (nothing
more is known to be waiting), so a quiet pipeline adds no wait and a busy one commits a few
times a second however small its batches. A crash before the commit replays every batch of the
checkpoint (deterministic ids make that harmless; a fenced writer's open transaction is
aborted, so nothing of it was ever visible to a ``read_committed`` reader).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from schemas.stage import Out


@dataclass
class Checkpoint:
    """Batches processed since the last commit (see the module's docstring)."""

    opened_at: float  # time.monotonic() of its first batch
    outs: list[Out] = field(default_factory=list)
    acks: list[asyncio.Future[Any]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    batches: int = 0

    def add(self, outs: Sequence[Out], acks: Sequence[asyncio.Future[Any]],
            offsets: dict[TopicPartition, int]) -> None:
        """A batch handed to the producer: its outputs' acknowledgements and where its inputs
        end (a later batch's offsets on the same partition supersede an earlier's)."""
        self.outs.extend(outs)
        self.acks.extend(acks)
        self.offsets.update(offsets)
        self.batches += 1

    def due(self, now: float, interval_s: float) -> bool:
        return now - self.opened_at >= interval_s
