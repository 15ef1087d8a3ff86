"""Prometheus metrics, injected. Labels are bounded: stage, topic, outcome, error type —
never an address, a ticket id or a message id."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class StageMetrics:
    registry: CollectorRegistry | None
    _in: Counter | None = None
    _out: Counter | None = None
    _dlq: Counter | None = None
    _batch: Histogram | None = None
    _up: Gauge | None = None

    @classmethod
    def create(cls, registry: CollectorRegistry) -> StageMetrics:
        m = cls(registry)
        m._in = Counter("helpline_records_in", "records consumed", ["stage", "topic"],
                        registry=registry)
        m._out = Counter("helpline_records_out", "records produced", ["stage", "topic"],
                         registry=registry)
        m._dlq = Counter("helpline_dead_letters", "records sent to a dead-letter topic",
                         ["stage", "topic", "error"], registry=registry)
        m._batch = Histogram("helpline_batch_seconds", "time to process one batch", ["stage"],
                             registry=registry,
                             buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
        m._up = Gauge("helpline_stage_ready", "1 when the stage is running", ["stage"],
                      registry=registry)
        return m

    @classmethod
    def disabled(cls) -> StageMetrics:
        return cls(None)

    def records_in(self, stage: str, topic: str, n: int) -> None:
        if self._in is not None:
            self._in.labels(stage, topic).inc(n)

    def records_out(self, stage: str, topic: str, n: int) -> None:
        if self._out is not None:
            self._out.labels(stage, topic).inc(n)

    def dead_letter(self, stage: str, topic: str, error: str) -> None:
        if self._dlq is not None:
            self._dlq.labels(stage, topic, error[:60]).inc()

    def batch_seconds(self, stage: str, seconds: float) -> None:
        if self._batch is not None:
            self._batch.labels(stage).observe(seconds)

    def ready(self, stage: str, up: bool) -> None:
        if self._up is not None:
            self._up.labels(stage).set(1 if up else 0)
