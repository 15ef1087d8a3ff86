"""The Grafana dashboard (deploy/grafana/helpline.json) shows what an SRE looks at first, and
every panel's query parses and reads only metrics a helpline worker exports: a renamed metric
would leave an empty panel that nobody notices until the night it matters. The same queries run
against a real Prometheus in tests/integration/test_prometheus_scrape.py."""

from __future__ import annotations

import json

import pytest

from tests.support.dashboard import DASHBOARD, metric_names, panels, queries
from tests.support.metric_names import exported


def test_the_dashboard_is_grafana_json_with_a_prometheus_variable() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert doc["uid"] and doc["title"] == "helpline"
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels():
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"], p["title"]


def test_the_panels_cover_what_an_sre_looks_at() -> None:
    read = {name for _, q in queries() for name in metric_names(q)}
    wanted = {
        "helpline_records_in_total",  # throughput per stage
        "helpline_batch_seconds_bucket",  # latency per stage
        "helpline_consumer_lag",  # lag per topic
        "helpline_dead_letters_total",  # DLQ
        "helpline_notify_end_to_end_seconds_bucket",  # end to end
        "helpline_sla_warnings_total", "helpline_sla_breaches_total",
        "helpline_imap_folder_state",  # mailbox states
        "helpline_chat_requests_total",  # chat 4xx / 5xx
    }
    assert wanted - read == set()


@pytest.mark.parametrize(("title", "query"), list(queries()))
def test_every_query_parses_and_reads_only_exported_metrics(title: str, query: str) -> None:
    names = metric_names(query)
    assert names, (title, "selects no metric")
    assert names - exported() - {"up"} == set(), title
    assert 'job="helpline"' in query, (title, "every query selects the helpline job")


def test_a_misspelt_metric_is_caught() -> None:
    assert "helpline_record_in_total" not in exported()
    assert metric_names("rate(helpline_record_in_total[1m])") == {"helpline_record_in_total"}
    with pytest.raises(ValueError):
        metric_names("sum by (stage (rate(x[1m]))")
