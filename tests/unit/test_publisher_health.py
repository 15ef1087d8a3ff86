"""WriteHealth: what a connector's readiness and broker metrics say (issue #17 items 1, 2)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from runtime.broker_health import WriteHealth
from runtime.metrics import StageMetrics


def test_a_failed_write_makes_it_unwritable_and_counts_one_outage() -> None:
    h = WriteHealth(since=0.0)
    h.failed(10.0, "timeout")
    h.failed(11.0, "timeout")
    assert not h.writable and h.outages == 1 and h.last_error == "timeout"
    assert h.down_seconds(15.0) == 5.0
    h.succeeded(20.0)
    assert h.writable and h.down_seconds(100.0) == 10.0
    h.failed(30.0, "again")
    assert h.outages == 2


def test_a_probe_does_not_declare_it_writable_right_after_a_failed_write() -> None:
    h = WriteHealth(since=0.0)
    h.failed(10.0, "NOT_ENOUGH_REPLICAS")
    h.probed(11.0, quiet_s=2.0)
    assert not h.writable
    h.probed(12.5, quiet_s=2.0)
    assert h.writable and h.outage_seconds == 2.5


def test_report_names_the_error_only_while_unwritable() -> None:
    h = WriteHealth(since=0.0)
    assert h.report(1.0) == {"writable": True, "broker_outages": 0, "broker_down_s": 0.0,
                             "producer_restarts": 0}
    h.failed(2.0, "KafkaConnectionError")
    assert h.report(3.0)["broker_error"] == "KafkaConnectionError"


def test_broker_metrics_are_labelled_by_worker_only() -> None:
    registry = CollectorRegistry()
    h = WriteHealth(since=0.0)
    StageMetrics.create(registry).broker("smtp", h)
    h.failed(0.0, "down")
    h.producer_restarts = 1
    text = generate_latest(registry).decode()
    assert 'helpline_broker_writable{worker="smtp"} 0.0' in text
    assert 'helpline_broker_outages_total{worker="smtp"} 1.0' in text
    assert 'helpline_producer_restarts_total{worker="smtp"} 1.0' in text
    assert 'helpline_broker_unavailable_seconds_total{worker="smtp"}' in text
