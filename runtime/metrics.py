"""Prometheus metrics, injected. Labels are bounded: stage, topic, outcome, reason, tier, kind
from fixed sets -- never an address, a ticket id, a message id or free text.

Three sources, one registry per worker process:

* the runner's own (:class:`StageMetrics`): records in/out, dead letters, batch time, consumer
  lag, readiness -- and domain counters derived from the events a stage *produces* (tickets
  created / reopened, SLA warnings / breaches, escalations by tier, classifications by source),
  so the stages themselves stay free of metrics code;
* what only a stage or a connector sees (a send's outcome, an SMTP reply, an HTTP status),
  through the :class:`schemas.stage.Meter` port (:class:`PromMeter`), whose metric names and
  label value sets are declared once in :mod:`runtime.metrics_catalogue`;
* a connector's status board, read at scrape time (:class:`ReportCollector`: IMAP folders).

The full list, with the alerts built on it, is in ``deploy/README.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime.metrics_catalogue import (
    CATALOGUE,
    LATENCY_BUCKETS,
    NOTIFY_REASONS,
    OTHER,
    MetricSpec,
)
from schemas.events import (
    Classified,
    Created,
    Escalated,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TicketEvent,
)
from schemas.stage import Out
from schemas.topics import TICKET_EVENTS

__all__ = ["CATALOGUE", "NOTIFY_REASONS", "MetricSpec", "PromMeter", "ReportCollector",
           "StageMetrics", "classified_source"]

_MAX_CHILDREN = 4096  # labelled children PromMeter keeps by call signature

_DONE = frozenset({"solved", "closed"})


def classified_source(p: Classified) -> str:
    """What decided a classification: a rule matched (rules win over the model), the model
    was confident, the model abstained (triage), or nothing was configured/applicable."""
    if p.matched_rules:
        return "rule"
    if p.uncertain:
        return "abstained"
    if p.model_status == "applied":
        return "model"
    return "none"


@dataclass
class _Domain:
    """Counters derived from produced ticket events (label names fixed, values from schema
    literals)."""

    events: Counter
    created: Counter
    reopened: Counter
    sla_warnings: Counter
    sla_breaches: Counter
    escalations: Counter
    classified: Counter
    model: Counter

    @classmethod
    def create(cls, r: CollectorRegistry) -> _Domain:
        return cls(
            events=Counter("helpline_ticket_events", "ticket events produced, by kind",
                           ["stage", "kind"], registry=r),
            created=Counter("helpline_tickets_created", "tickets opened, by channel",
                            ["channel"], registry=r),
            reopened=Counter("helpline_tickets_reopened",
                             "solved/closed tickets reopened by a reply", registry=r),
            sla_warnings=Counter("helpline_sla_warnings", "SLA warnings raised, by SLA metric",
                                 ["metric"], registry=r),
            sla_breaches=Counter("helpline_sla_breaches", "SLA breaches, by SLA metric",
                                 ["metric"], registry=r),
            escalations=Counter("helpline_escalations", "escalations, by tier reached and "
                                "trigger", ["tier", "trigger"], registry=r),
            classified=Counter("helpline_tickets_classified", "classifications, by what "
                               "decided them (rule / model / abstained / none)", ["source"],
                               registry=r),
            model=Counter("helpline_classify_model", "model outcome per classification "
                          "(applied / absent / failed / follow-up)", ["status"], registry=r),
        )

    def count(self, stage: str, outs: Sequence[Out]) -> None:
        # tallied per batch first: one labelled increment per distinct key, not per event
        tally: dict[tuple[str, ...], int] = {}
        for out in outs:
            if out.topic is not TICKET_EVENTS or not isinstance(out.value, TicketEvent):
                continue
            p = out.value.payload
            detail = _DETAIL.get(p.TAG)
            key = (p.TAG, *detail(p)) if detail is not None else (p.TAG,)
            tally[key] = tally.get(key, 0) + 1
        kinds: dict[str, int] = {}
        for key, n in tally.items():
            kind = key[0]
            kinds[kind] = kinds.get(kind, 0) + n
            if kind == "created":
                self.created.labels(key[1]).inc(n)
            elif kind == "status-changed" and key[1] == "reopen":
                self.reopened.inc(n)
            elif kind == "sla-warning":
                self.sla_warnings.labels(key[1]).inc(n)
            elif kind == "sla-breached":
                self.sla_breaches.labels(key[1]).inc(n)
            elif kind == "escalated":
                self.escalations.labels(key[1], key[2]).inc(n)
            elif kind == "classified":
                self.classified.labels(key[1]).inc(n)
                self.model.labels(key[2]).inc(n)
        for kind, n in kinds.items():
            self.events.labels(stage, kind).inc(n)


_CHANNELS = frozenset({"email", "chat", "api"})
_SLA_METRICS = frozenset({"first-response", "next-response", "resolution", "state-time"})
_TIERS = frozenset({"L0", "L1", "L2", "L3"})
_TRIGGERS = frozenset({"time", "complexity", "sentiment", "vip", "rule", "agent", "none"})
_MODEL_STATUS = frozenset({"applied", "absent", "failed", "follow-up"})


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def _reopen(p: Any) -> tuple[str]:
    return ("reopen" if p.from_status in _DONE and p.to_status not in _DONE else "",)


# per event kind, the label values its domain counter needs (bounded by the sets above)
_DETAIL: dict[str, Callable[[Any], tuple[str, ...]]] = {
    Created.TAG: lambda p: (_bounded(p.channel, _CHANNELS),),
    StatusChanged.TAG: _reopen,
    SlaWarning.TAG: lambda p: (_bounded(p.metric, _SLA_METRICS),),
    SlaBreached.TAG: lambda p: (_bounded(p.metric, _SLA_METRICS),),
    Escalated.TAG: lambda p: (_bounded(p.to_tier, _TIERS),
                              _bounded(p.trigger or "none", _TRIGGERS)),
    Classified.TAG: lambda p: (classified_source(p),
                               _bounded(p.model_status or "absent", _MODEL_STATUS)),
}


@dataclass
class StageMetrics:
    registry: CollectorRegistry | None
    _in: Counter | None = None
    _out: Counter | None = None
    _dlq: Counter | None = None
    _batch: Histogram | None = None
    _up: Gauge | None = None
    _lag: Gauge | None = None
    _domain: _Domain | None = None
    _lags: dict[tuple[str, str, int], int] = field(default_factory=dict)

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
                             registry=registry, buckets=LATENCY_BUCKETS)
        m._up = Gauge("helpline_stage_ready", "1 when the stage is running", ["stage"],
                      registry=registry)
        m._lag = Gauge("helpline_consumer_lag", "records behind the end of the input topic, "
                       "summed over this replica's partitions (as of its last fetch)",
                       ["stage", "topic"], registry=registry)
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

    def outputs(self, stage: str, outs: Sequence[Out]) -> None:
        """Domain counters from the records a stage produced (acknowledged by the broker);
        created with the first ticket event, so workers that produce none do not export them."""
        if self.registry is None:
            return
        if self._domain is None:
            if not any(o.topic is TICKET_EVENTS for o in outs):
                return
            self._domain = _Domain.create(self.registry)
        self._domain.count(stage, outs)

    def dead_letter(self, stage: str, topic: str, error: str) -> None:
        if self._dlq is not None:
            self._dlq.labels(stage, topic, error[:60]).inc()

    def batch_seconds(self, stage: str, seconds: float) -> None:
        if self._batch is not None:
            self._batch.labels(stage).observe(seconds)

    def fetched(self, stage: str, consumer: Any, batches: Mapping[Any, Sequence[Any]],
                specs: Mapping[str, Any]) -> None:
        """After a batch was committed: each fetched partition's lag (the consumer's
        high-water mark minus the next offset), without a request to the broker."""
        if self._lag is None:
            return
        for tp, msgs in batches.items():
            end = consumer.highwater(tp)
            if end is not None and msgs:
                self.lag(stage, specs[tp.topic].name, tp.partition, end - msgs[-1].offset - 1)
        # partitions a rebalance gave to another replica: their lag is that replica's now
        owned = {(specs[tp.topic].name, tp.partition) for tp in consumer.assignment()
                 if tp.topic in specs}
        gone = [k for k in self._lags if k[0] == stage and (k[1], k[2]) not in owned]
        for key in gone:
            del self._lags[key]
        for topic in {k[1] for k in gone}:
            self._lag.labels(stage, topic).set(
                sum(v for (s, t, _), v in self._lags.items() if s == stage and t == topic))

    def lag(self, stage: str, topic: str, partition: int, behind: int) -> None:
        """One partition's lag after a fetch; the gauge is the sum over known partitions."""
        if self._lag is None:
            return
        self._lags[(stage, topic, partition)] = max(0, behind)
        self._lag.labels(stage, topic).set(
            sum(v for (s, t, _), v in self._lags.items() if s == stage and t == topic))

    def ready(self, stage: str, up: bool) -> None:
        if self._up is not None:
            self._up.labels(stage).set(1 if up else 0)

    def watch(self, report: Callable[[], Mapping[str, object]]) -> None:
        """Export a connector's status board (read at each scrape)."""
        if self.registry is not None:
            self.registry.register(ReportCollector(report))

    def broker(self, worker: str, health: BrokerHealth) -> None:
        """Export whether this process can write to the broker, and its outages."""
        if self.registry is not None:
            self.registry.register(BrokerCollector(worker, health))

    def meter(self) -> PromMeter:
        """The :class:`schemas.stage.Meter` for stages and connectors of this process."""
        return PromMeter(self.registry) if self.registry is not None else PromMeter(None)


class PromMeter:
    """:class:`schemas.stage.Meter` on prometheus_client. Metrics of :data:`CATALOGUE` are
    created on first use; a name or label set not declared there raises (a wiring bug, caught
    by tests); a label value outside its declared set is exported as ``other``."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = registry
        self._metrics: dict[str, Counter | Histogram] = {}
        # labelled children by (name, label items): the hot paths (a chat request, a send)
        # skip the label checks after the first call
        self._children: dict[tuple[object, ...], Any] = {}

    def count(self, name: str, n: float = 1, /, **labels: str) -> None:
        child = self._children.get((name, *labels.items()))
        if child is None:
            child = self._child(name, "counter", labels)
        if child is not None:
            child.inc(n)

    def observe(self, name: str, value: float, /, **labels: str) -> None:
        child = self._children.get((name, *labels.items()))
        if child is None:
            child = self._child(name, "histogram", labels)
        if child is not None:
            child.observe(value)

    def _child(self, name: str, kind: str, labels: Mapping[str, str]) -> Any:
        spec = CATALOGUE.get(name)
        if spec is None or spec.kind != kind:
            raise KeyError(f"{name!r} is not a declared {kind} (runtime.metrics_catalogue)")
        if set(labels) != set(spec.labels):
            raise KeyError(f"{name}: labels {sorted(labels)} != declared {sorted(spec.labels)}")
        if self.registry is None:
            return None
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = _make(name, spec, self.registry)
        child: Any = metric.labels(*(spec.bound(k, labels[k]) for k in spec.labels)) \
            if spec.labels else metric
        if len(self._children) < _MAX_CHILDREN:  # a caller passing free text stays bounded
            self._children[(name, *labels.items())] = child
        return child


def _make(name: str, spec: MetricSpec, registry: CollectorRegistry) -> Counter | Histogram:
    full = "helpline_" + name
    if spec.kind == "counter":
        return Counter(full, spec.help, list(spec.labels), registry=registry)
    return Histogram(full + "_seconds", spec.help, list(spec.labels), registry=registry,
                     buckets=spec.buckets or LATENCY_BUCKETS)


class BrokerHealth(Protocol):
    """What :class:`BrokerCollector` reads (``runtime.broker_health.WriteHealth``)."""

    writable: bool
    outages: int
    producer_restarts: int

    def down_seconds(self, now: float) -> float: ...


class BrokerCollector(Collector):
    """A process's view of the broker, read at scrape time, labelled by worker name only:
    ``helpline_broker_writable`` (1/0), ``helpline_broker_outages_total`` (times it became
    unwritable), ``helpline_broker_unavailable_seconds_total`` (time spent so) and
    ``helpline_producer_restarts_total`` (producers replaced after a fatal error)."""

    def __init__(self, worker: str, health: BrokerHealth,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._worker, self._health, self._clock = worker, health, clock

    def collect(self) -> Iterator[Metric]:
        h, labels = self._health, [self._worker]
        up = GaugeMetricFamily("helpline_broker_writable", "1 while this process can write "
                               "to the broker (its last write or probe succeeded)",
                               labels=["worker"])
        up.add_metric(labels, 1.0 if h.writable else 0.0)
        yield up
        for name, text, value in (
            ("helpline_broker_outages", "times this process found the broker unwritable",
             float(h.outages)),
            ("helpline_broker_unavailable_seconds", "time this process could not write to the "
             "broker", h.down_seconds(self._clock())),
            ("helpline_producer_restarts", "producers replaced after a fatal producer error "
             "(e.g. OutOfOrderSequenceNumber after a broker restart)",
             float(h.producer_restarts)),
        ):
            family = CounterMetricFamily(name, text, labels=["worker"])
            family.add_metric(labels, value)
            yield family

    def describe(self) -> Iterable[Metric]:
        return []


class ReportCollector(Collector):
    """A connector's status board as metrics, read at scrape time. Today: the IMAP board's
    folders (``mailbox`` and ``folder`` are names from the config, never addresses)."""

    STATES = ("starting", "syncing", "idle", "polling", "reconnecting", "auth_failed",
              "stopped")
    COUNTS = (("ingested", "messages put on raw.email"),
              ("failures", "connection or auth failures"),
              ("quarantined", "messages the broker kept refusing, left on the server"),
              ("resyncs", "UIDVALIDITY changes resynchronised"))

    def __init__(self, report: Callable[[], Mapping[str, object]]) -> None:
        self._report = report

    def collect(self) -> Iterator[Metric]:
        report = self._report()
        yield from _model_metrics(report)
        folders = report.get("folders")
        if not isinstance(folders, list):
            return
        state = GaugeMetricFamily("helpline_imap_folder_state", "1 for the state each "
                                  "watched folder is in", labels=["mailbox", "folder", "state"])
        counts = {k: CounterMetricFamily(f"helpline_imap_{k}", h, labels=["mailbox", "folder"])
                  for k, h in self.COUNTS}
        expiry = GaugeMetricFamily(
            "helpline_imap_oauth_token_expiry_timestamp_seconds", "when the OAuth2 access "
            "token of the folder's last login expires (Unix time), where its provider said it",
            labels=["mailbox", "folder"])
        for f in _folders(folders):
            where = [str(f.get("mailbox", "")), str(f.get("folder", ""))]
            current = str(f.get("state", ""))
            for s in self.STATES:
                state.add_metric([*where, s], 1.0 if s == current else 0.0)
            for k in counts:
                value = f.get(k)
                counts[k].add_metric(where, float(value) if isinstance(value, int) else 0.0)
            expires = f.get("token_expires_at")
            if isinstance(expires, int | float):
                expiry.add_metric(where, float(expires))
        yield state
        yield from counts.values()
        yield expiry

    def describe(self) -> Iterable[Metric]:
        return []  # unknown until the first scrape (folders come from the config)


def _model_metrics(report: Mapping[str, object]) -> Iterator[Metric]:
    """The classify stage's models: one info series per loaded model (its version is a label:
    one value per slot at a time), and how many pushed models it refused."""
    models, errors = report.get("models"), report.get("model_errors")
    if not isinstance(models, list):
        return
    info = GaugeMetricFamily("helpline_classify_model_info", "1 for each model the classify "
                             "stage runs", labels=["name", "mode", "target", "version"])
    for m in _folders(models):
        info.add_metric([str(m.get(k, "")) for k in ("name", "mode", "target", "version")], 1.0)
    yield info
    refused = GaugeMetricFamily("helpline_classify_models_refused", "pushed models refused "
                                "(bad signature, other library versions), previous one kept")
    refused.add_metric([], float(len(errors)) if isinstance(errors, Mapping) else 0.0)
    yield refused


def _folders(items: list[Any]) -> Iterator[Mapping[str, object]]:
    for item in items:
        if isinstance(item, Mapping):
            yield item
