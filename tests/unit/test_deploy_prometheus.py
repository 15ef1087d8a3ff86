"""The alert rules, loaded by Debian's own Prometheus tools: ``promtool check rules`` accepts
them and ``promtool test rules`` runs deploy/prometheus/alerts.test.yml, in which every alert
fires on the series it exists for (and stays quiet on a look-alike). The Kubernetes
PrometheusRule carries the very same groups. promtool comes with Debian's ``prometheus``
package (scripts/setup installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not found: scripts/setup installs Debian's prometheus package"
    return found


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerts() -> list[dict[str, Any]]:
    return [r for g in load(RULES)["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in done.stdout


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    done = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    fired = {case["alertname"] for t in load(RULE_TESTS)["tests"]
             for case in t.get("alert_rule_test", []) if case.get("exp_alerts")}
    names = {a["alert"] for a in alerts()}
    assert names - fired == set(), "alerts no promtool test makes fire"
    # what the SRE asked to be told about
    assert names >= {"HelplineConsumerLagGrowing", "HelplineDeadLetters",
                     "HelplineImapNeedsReauth", "HelplineImapTokenExpiring",
                     "HelplineSlaBreaches", "HelplineStageStalled"}


def test_the_kubernetes_rule_carries_the_same_groups() -> None:
    k8s = load(DEPLOY / "k8s" / "monitoring" / "rules.yaml")
    assert k8s["kind"] == "PrometheusRule"
    assert k8s["spec"]["groups"] == load(RULES)["groups"]


def test_promtool_accepts_the_compose_stacks_prometheus_config(tmp_path: Path) -> None:
    # the config names the rules where compose mounts them; here they sit beside it
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    assert "/etc/prometheus/alerts.yml" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/alerts.yml", "alerts.yml"), encoding="utf-8")
    (tmp_path / "alerts.yml").write_bytes(RULES.read_bytes())
    done = subprocess.run([promtool(), "check", "config", "prometheus.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in done.stdout
