"""The small-site compose stack (deploy/compose/compose.yaml) is accepted by the compose tool's
own ``config`` command, and holds together: Kafka in KRaft mode, every stage and connector, the
ticket API, Prometheus scraping every worker with helpline's alerts, Grafana with the dashboard;
every service it depends on exists, every file it mounts is in the repository, and the
configuration it mounts is a valid helpline config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from runtime.settings import load_settings
from schemas.topics import STAGES

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"


def podman_compose() -> str:
    beside = Path(sys.executable).parent / "podman-compose"  # the venv's, from PyPI
    found = str(beside) if beside.exists() else shutil.which("podman-compose")
    assert found, "podman-compose not found: it comes with the test extras"
    return found


def config(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([podman_compose(), "config"], cwd=directory, capture_output=True,
                          text=True, timeout=60, check=False)


@cache
def resolved() -> dict[str, Any]:
    done = config(COMPOSE_DIR)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = yaml.safe_load(done.stdout)
    return doc


def test_the_compose_tool_accepts_the_file() -> None:
    services = resolved()["services"]
    assert set(services) >= {"kafka", "topics", *STAGES, "smtp", "chat", "api",
                             "prometheus", "grafana"}
    # the imap connector waits for mailboxes in the config: a profile, left out of `config`
    raw = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    assert raw["services"]["imap"]["profiles"] == ["imap"]


def test_the_compose_tool_refuses_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    <<: *undefined\n")
    assert config(tmp_path).returncode != 0


def test_kafka_runs_in_kraft_mode_and_the_workers_wait_for_the_topics() -> None:
    services = resolved()["services"]
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in str(services).lower()
    for name in (*STAGES, "smtp", "chat", "api"):
        s = services[name]
        assert s["build"]["dockerfile"] == "Containerfile", name
        assert s["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_every_dependency_and_mounted_file_exists() -> None:
    services = resolved()["services"]
    for name, s in services.items():
        for dep in s.get("depends_on", {}):
            assert dep in services, (name, dep)
        for volume in s.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), (name, source)


def test_prometheus_scrapes_every_worker_with_the_alerts() -> None:
    services = resolved()["services"]
    prom = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["job_name"] == "helpline"
    scraped = {t["labels"]["component"]: t["targets"][0] for t in job["static_configs"]}
    workers = {n for n, s in services.items()
               if s.get("command", [None])[0] == "worker" and "profiles" not in s}
    assert set(scraped) == workers
    assert all(target == f"{name}:8080" for name, target in scraped.items())
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "alerts.yml:/etc/prometheus/alerts.yml" in mounts
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_the_mounted_config_is_a_valid_helpline_config() -> None:
    s = load_settings(COMPOSE_DIR / "helpline.toml", env={})
    assert s.kafka.bootstrap_servers == "kafka:9092"
    assert s.observability.http_port == 8080
    assert "api" in s.tickets.api_allowed_hosts
