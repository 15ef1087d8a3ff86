"""The Kubernetes manifests parse, and the monitoring overlay fits the workers: the PodMonitor
selects every helpline pod by a label they carry and a port they expose, every alert is
complete, and every metric an alert uses is one the code exports (a renamed metric would
silently turn an alert off)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingest.imap.status import StatusBoard
from runtime.broker_health import WriteHealth
from runtime.metrics import CATALOGUE, PromMeter, StageMetrics
from schemas.events import Actor, Classified, TicketEvent
from schemas.stage import Out
from schemas.topics import TICKET_EVENTS

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
README = K8S.parent / "README.md"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def overlay(name: str) -> list[dict[str, Any]]:
    kust = docs(K8S / name / "kustomization.yaml")[0]
    return [d for res in kust["resources"] for d in docs(K8S / name / res)]


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
    m.watch(board.report)
    m.broker("smtp", WriteHealth())
    meter = PromMeter(r)
    for name, spec in CATALOGUE.items():
        labels = {k: "x" for k in spec.labels}
        if spec.kind == "counter":
            meter.count(name, 1, **labels)
        else:
            meter.observe(name, 1.0, **labels)
    text = generate_latest(r).decode()
    # prometheus_client adds a "<name>_created" timestamp beside each counter and histogram
    return {f.name for f in text_string_to_metric_families(text)
            if not f.name.endswith("_created")}


def exported() -> set[str]:
    """The names PromQL sees: counters with ``_total``, histograms' series."""
    names = families()
    return names | {n + s for n in names for s in ("_total", "_bucket", "_count", "_sum")}


def test_every_manifest_parses() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert files
    for f in files:
        for d in docs(f):
            assert "kind" in d and "apiVersion" in d, f


def test_podmonitor_selects_every_worker_pod_on_its_http_port() -> None:
    monitors = [d for d in overlay("monitoring") if d["kind"] == "PodMonitor"]
    assert len(monitors) == 1
    spec = monitors[0]["spec"]
    wanted = spec["selector"]["matchLabels"]
    ports = {e["port"] for e in spec["podMetricsEndpoints"]}
    assert all(e["path"] == "/metrics" for e in spec["podMetricsEndpoints"])
    workers = [d for d in overlay("base") if d["kind"] == "Deployment"]
    assert {w["metadata"]["name"] for w in workers} >= {
        f"helpline-{n}" for n in ("normalize", "tickets", "classify", "route", "notify",
                                  "imap", "smtp", "chat")}
    for w in workers:
        pod = w["spec"]["template"]
        assert wanted.items() <= pod["metadata"]["labels"].items(), w["metadata"]["name"]
        exposed = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert ports <= exposed, w["metadata"]["name"]


def test_alerts_are_complete_and_use_only_exported_metrics() -> None:
    rules = [d for d in overlay("monitoring") if d["kind"] == "PrometheusRule"]
    assert len(rules) == 1
    alerts = [r for g in rules[0]["spec"]["groups"] for r in g["rules"]]
    names = {a["alert"] for a in alerts}
    # what an SRE expects to be paged or warned about
    assert names >= {"HelplineConsumerLagGrowing", "HelplineDeadLetters",
                     "HelplineStageNotReady", "HelplineSlaBreaches", "HelplineNotifyFailures",
                     "HelplineImapFolderFailing", "HelplineImapNeedsReauth"}
    known = exported()
    for a in alerts:
        assert a["labels"]["severity"] in ("critical", "warning", "info"), a["alert"]
        assert a["annotations"]["summary"], a["alert"]
        used = set(re.findall(r"\bhelpline_[a-z_]+\b", a["expr"]))
        assert used or "up{" in a["expr"], a["alert"]
        assert used <= known, (a["alert"], used - known)


def test_readme_lists_every_exported_metric() -> None:
    documented = set(re.findall(r"`(helpline_[a-z_]+)", README.read_text(encoding="utf-8")))
    missing = {n for n in families() if n not in documented and n + "_total" not in documented}
    assert not missing, sorted(missing)
