"""The classify stage's report as Prometheus series: one info series per model with its
version, and the count of refused pushes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from runtime.metrics import ReportCollector


def test_model_versions_and_refusals_are_exported() -> None:
    registry = CollectorRegistry()
    registry.register(ReportCollector(lambda: {
        "models": [{"name": "category", "mode": "active", "target": "category",
                    "version": "abc123"},
                   {"name": "category", "mode": "shadow", "target": "category",
                    "version": "def456"}],
        "model_errors": {"priority": "bad signature"}}))
    text = generate_latest(registry).decode()
    assert ('helpline_classify_model_info{mode="active",name="category",target="category",'
            'version="abc123"} 1.0') in text
    assert 'version="def456"' in text
    assert "helpline_classify_models_refused 1.0" in text


def test_a_report_without_models_exports_none() -> None:
    registry = CollectorRegistry()
    registry.register(ReportCollector(lambda: {"folders": []}))
    assert "helpline_classify" not in generate_latest(registry).decode()
