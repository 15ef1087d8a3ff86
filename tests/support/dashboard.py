"""The Grafana dashboard's queries, and the metric names each one reads (parsed with a PromQL
parser, not matched with a regular expression)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "helpline.json"
# Grafana's own variables, replaced by what Grafana would put there before Prometheus parses
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def panels() -> list[dict[str, Any]]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [p for p in doc["panels"] if p.get("type") != "row"]


def queries() -> Iterator[tuple[str, str]]:
    """(panel title, PromQL as Prometheus receives it) for every target of every panel."""
    for p in panels():
        for t in p.get("targets", []):
            expr = t["expr"]
            for var, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(var, value)
            yield p["title"], expr


def metric_names(expr: str) -> set[str]:
    """Every metric a query selects (raises ValueError where it does not parse)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names
