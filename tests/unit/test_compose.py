"""The small-site compose stack (deploy/compose/compose.yaml) is accepted by the compose tool's
own ``config`` command -- Docker Compose v5, built by scripts/setup from the Go module proxy,
which validates against the Compose Specification's schema and needs no engine -- and holds
together: Kafka in KRaft mode, every stage and connector, the
ticket API, Prometheus scraping every worker with helpline's alerts, Grafana with the dashboard;
every service it depends on exists, every file it mounts is in the repository, and the
configuration it mounts is a valid helpline config."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from runtime.settings import load_settings
from schemas.topics import STAGES

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"


def docker_compose() -> str:
    local = REPO / ".cache" / "go-bin" / "docker-compose"
    found = str(local) if os.access(local, os.X_OK) else shutil.which("docker-compose")
    assert found, "docker compose not found: scripts/setup builds it into .cache/go-bin"
    return found


def config(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([docker_compose(), "config"], cwd=directory, capture_output=True,
                          text=True, timeout=60, check=False)


@cache
def resolved() -> dict[str, Any]:
    done = config(COMPOSE_DIR)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = yaml.safe_load(done.stdout)
    return doc


def binds(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount, as ``config`` resolved them."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            if v.get("type") == "bind":
                out.append((Path(v["source"]), v["target"]))
        elif str(v).startswith("."):
            source, target = str(v).split(":")[:2]
            out.append((COMPOSE_DIR / source, target))
    return out


def test_the_compose_tool_accepts_the_file() -> None:
    services = resolved()["services"]
    assert set(services) >= {"kafka", "topics", *STAGES, "smtp", "chat", "api",
                             "prometheus", "grafana"}
    # the imap connector waits for mailboxes in the config: a profile, left out of `config`
    raw = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    assert raw["services"]["imap"]["profiles"] == ["imap"]


def test_the_compose_tool_refuses_a_broken_file(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  a:\n    imag: x\n")  # a misspelt key
    done = config(tmp_path)
    assert done.returncode != 0 and "imag" in done.stderr
    compose.write_text("services:\n  a:\n    image: x\n    depends_on: [b]\n")
    done = config(tmp_path)
    assert done.returncode != 0 and "undefined service" in done.stderr


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
        for source, _ in binds(s):
            assert source.exists(), (name, source)


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
    mounts = {target: source for source, target in binds(services["prometheus"])}
    assert mounts["/etc/prometheus/alerts.yml"] == REPO / "deploy" / "prometheus" / "alerts.yml"
    assert mounts["/etc/prometheus/prometheus.yml"] == (
        REPO / "deploy" / "prometheus" / "prometheus.yml")
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_the_mounted_config_is_a_valid_helpline_config() -> None:
    s = load_settings(COMPOSE_DIR / "helpline.toml", env={})
    assert s.kafka.bootstrap_servers == "kafka:9092"
    assert s.observability.http_port == 8080
    assert "api" in s.tickets.api_allowed_hosts
