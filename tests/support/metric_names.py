"""Every metric name a helpline worker can export, read from a registry the real code filled
(the runner's metrics, every entry of the Meter catalogue, the IMAP status board), so a test
that checks an alert, a dashboard panel or the README against it follows a renamed metric."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from ingest.imap.status import StatusBoard
from runtime.broker_health import WriteHealth
from runtime.metrics import CATALOGUE, PromMeter, StageMetrics
from schemas.events import Actor, Classified, TicketEvent
from schemas.stage import Out
from schemas.topics import TICKET_EVENTS


def families() -> set[str]:
    """Every metric family a helpline worker can export (counters without ``_total``)."""
    r = CollectorRegistry()
    m = StageMetrics.create(r)
    m.ready("x", True)
    m.records_in("x", "t", 1)
    m.records_out("x", "t", 1)
    m.dead_letter("x", "t", "E")
    m.batch_seconds("x", 0.1)
    m.lag("x", "t", 0, 1)
    ev = TicketEvent(event_id="e", ticket_id="t", ticket_number="n",
                     at=datetime(2026, 1, 1, tzinfo=UTC), actor=Actor(kind="system"),
                     payload=Classified())
    m.outputs("x", [Out(TICKET_EVENTS, b"t", ev)])
    board = StatusBoard()
    board.transition("support", "INBOX", "idle", datetime(2026, 1, 1, tzinfo=UTC))
    board.update("support", "INBOX", token_expires_at=datetime(2026, 1, 1, 1, tzinfo=UTC))
    m.watch(board.report)
    m.broker("smtp", WriteHealth())
    meter = PromMeter(r)
    for name, spec in CATALOGUE.items():
        labels = {k: "x" for k in spec.labels}
        if spec.kind == "counter":
            meter.count(name, 1, **labels)
        else:
            meter.observe(name, 1.0, **labels)
    # the registry's families, not the text format: there prometheus_client adds a
    # "<name>_created" sample beside each counter, and a filter on that suffix would also drop
    # a real metric (helpline_tickets_created)
    return {f.name for f in r.collect()}


def exported() -> set[str]:
    """The names PromQL sees: counters with ``_total``, histograms' series, and the
    ``_created`` timestamps prometheus_client exports beside counters and histograms."""
    names = families()
    return names | {n + s for n in names
                    for s in ("_total", "_bucket", "_count", "_sum", "_created")}
