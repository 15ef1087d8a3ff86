"""Debian's Prometheus scrapes real helpline workers and answers, over its HTTP API, with the
series the alerts and the dashboard read.

Three workers (the SMTP receiver, normalize, tickets) run as processes on the test broker; a
Prometheus (its own temp dir, free port, 1 s scrapes, deploy/prometheus/alerts.yml loaded)
scrapes their /metrics as the compose stack's does. One mail goes in by SMTP and becomes a
ticket. Then: every target is up, the series those workers owe are in Prometheus, every series
it holds is one the code declares, every alert rule evaluates without error, and every
dashboard query runs (those about these workers with data)."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from runtime.kafka import free_port
from schemas.stage import KafkaConnection
from tests.support import processes
from tests.support.dashboard import queries
from tests.support.metric_names import exported

pytestmark = pytest.mark.integration

RULES = processes.REPO / "deploy" / "prometheus" / "alerts.yml"
WAIT_S = 90
WORKERS = ("smtp", "normalize", "tickets")
# what these three workers owe once one mail became a ticket
OWED = {
    "up", "helpline_stage_ready", "helpline_records_in_total", "helpline_records_out_total",
    "helpline_batch_seconds_bucket", "helpline_consumer_lag",
    "helpline_smtp_receiver_messages_total", "helpline_smtp_receiver_publish_seconds_bucket",
    "helpline_tickets_intake_total", "helpline_ticket_events_total",
    "helpline_tickets_created_total",
}
# dashboard panels whose first query must show data after this run
WITH_DATA = ("Throughput per stage (records/s in)", "Consumer lag per topic", "Workers ready",
             "Tickets created per channel", "Intake decisions", "Mail ingested")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        body = r.json()
        assert body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait(self, expr: str, what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                found = self.query(expr)
            except httpx.TransportError:
                found = []
            if found:
                return found
            assert time.monotonic() < deadline, f"{what}: no answer to {expr}"
            time.sleep(0.5)


def prometheus_config(tmp: Path, targets: dict[str, int]) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{
            "job_name": "helpline",
            "static_configs": [{"targets": [f"127.0.0.1:{port}"],
                                "labels": {"component": name}}
                               for name, port in targets.items()],
        }],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_prometheus(stack: ExitStack, tmp: Path, config: Path) -> Prometheus:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: scripts/setup installs Debian's prometheus package"
    port = free_port()
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    stack.callback(log.close)
    stack.callback(processes.stop, proc, False)
    prom = Prometheus(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + WAIT_S
    while True:
        assert proc.poll() is None, (tmp / "prometheus.log").read_text()[-2000:]
        try:
            if prom.http.get("/-/ready").status_code == 200:
                return prom
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "prometheus never became ready"
        time.sleep(0.2)


def workers(stack: ExitStack, conn: KafkaConnection, smtp_port: int) -> Iterator[tuple[str, int]]:
    for name in WORKERS:
        port = free_port()
        proc = processes.start_worker(conn, name, "p1", {
            "HELPLINE_OBSERVABILITY__HTTP_PORT": str(port),
            "HELPLINE_OBSERVABILITY__LOG_LEVEL": "WARNING",
            "HELPLINE_RUNNER__BATCH_TIMEOUT_MS": "20",
            "HELPLINE_EMAIL__RECEIVER__PORT": str(smtp_port),
            "HELPLINE_EMAIL__RECEIVER__ACCEPTED_DOMAINS": '["acme.test"]',
            "HELPLINE_TICKETS__OWN_ADDRESSES": '["support@acme.test"]',
        })
        stack.callback(processes.stop, proc, False)
        yield name, port


def send_mail(port: int) -> None:
    mail = (b"From: Ada <ada@example.org>\r\nTo: support@acme.test\r\n"
            b"Message-ID: <prom-1@example.org>\r\nSubject: parcel never arrived\r\n\r\n"
            b"Order 1234 has not arrived yet.\r\n")
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                c.sendmail("ada@example.org", ["support@acme.test"], mail)
                return
        except OSError:
            assert time.monotonic() < deadline, "the SMTP receiver never listened"
            time.sleep(0.3)


def test_prometheus_scrapes_the_workers_and_has_what_alerts_and_dashboard_read(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    smtp_port = free_port()
    with ExitStack() as stack:
        targets = dict(workers(stack, kafka_conn, smtp_port))
        prom = run_prometheus(stack, tmp_path, prometheus_config(tmp_path, targets))
        send_mail(smtp_port)
        prom.wait('sum(helpline_tickets_created_total{job="helpline", channel="email"}) >= 1',
                  "a ticket made from the mail")
        prom.wait('sum(helpline_stage_ready{job="helpline"}) >= 3', "three ready workers")

        up = {r["metric"]["component"]: r["value"][1]
              for r in prom.query('up{job="helpline"}')}
        assert up == {name: "1" for name in WORKERS}

        names = set(prom.get("/api/v1/label/__name__/values", **{"match[]": '{job="helpline"}'}))
        assert OWED - names == set(), "series the alerts and the dashboard read"
        scraped = {n for n in names if n.startswith("helpline_")}
        assert scraped - exported() == set(), "exported by a worker but unknown to the code"

        groups = prom.get("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        alert_names = {a["alert"] for g in yaml.safe_load(RULES.read_text())["groups"]
                       for a in g["rules"]}
        assert {r["name"] for r in rules} == alert_names
        # each rule evaluated at least once without an error
        prom_wait_evaluated(prom)
        firing = [r["name"] for r in rules if r["state"] == "firing"]
        assert firing == [], firing

        checked: set[str] = set()
        for title, expr in queries():
            prom.query(expr)  # fails on a query Prometheus refuses
            if title in WITH_DATA and title not in checked:  # the panel's first query
                checked.add(title)
                prom.wait(expr, title)  # a rate() needs two scrapes after the first sample
        assert checked == set(WITH_DATA)


def prom_wait_evaluated(prom: Prometheus) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        rules = [r for g in prom.get("/api/v1/rules")["groups"] for r in g["rules"]]
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        if not bad:
            return
        assert time.monotonic() < deadline, bad
        time.sleep(0.5)
