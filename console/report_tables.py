"""A report (see :mod:`console.reports`) as named tables, and those tables as CSV or plain
text: the console's CSV export and ``helpline report --format table|csv`` print the same."""

from __future__ import annotations

import csv
import io
from typing import Any

Table = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def _counts(d: dict[str, int], name: str) -> Table:
    return (name, "tickets"), [(k, v) for k, v in d.items()]


def tables(report: dict[str, Any]) -> dict[str, Table]:
    v, fr, res = report["volume"], report["first_response"], report["resolution"]
    return {
        "summary": (("figure", "value"), [
            ("tickets", report["tickets"]), ("events", report["events"]),
            ("sla_tickets", report["sla"]["tickets"]), ("sla_breached", report["sla"]["breached"]),
            ("sla_compliance_pct", report["sla"]["compliance_pct"]),
            ("escalations", report["escalations"]["total"]),
            ("backlog", report["backlog"]["total"]),
            ("solved", report["reopen"]["solved"]), ("reopened", report["reopen"]["reopened"]),
            ("reopen_rate_pct", report["reopen"]["rate_pct"]),
        ]),
        "volume_by_channel": _counts(v["by_channel"], "channel"),
        "volume_by_category": _counts(v["by_category"], "category"),
        "volume_by_team": _counts(v["by_team"], "team"),
        "volume_by_day": _counts(v["by_day"], "day"),
        "response_times": (("measure", "count", "p50_s", "p90_s"), [
            ("first_response", fr["count"], fr["p50_s"], fr["p90_s"]),
            ("resolution", res["count"], res["p50_s"], res["p90_s"]),
        ]),
        "escalations_by_trigger": (("trigger", "escalations"),
                                   list(report["escalations"]["by_trigger"].items())),
        "escalations_by_move": (("move", "escalations"),
                                list(report["escalations"]["by_move"].items())),
        "backlog_by_status": _counts(report["backlog"]["by_status"], "status"),
        "backlog_by_age": _counts(report["backlog"]["by_age"], "age"),
        "busiest_hours": (("hour", "tickets"), list(enumerate(report["busiest_hours"]))),
        "agents": (("agent", "assigned", "replies", "open_now", "first_response_p50_s"), [
            (a, s["assigned"], s["replies"], s["open_now"], s["first_response_p50_s"])
            for a, s in report["agents"].items()]),
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def to_csv(table: Table) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header, rows = table
    w.writerow(header)
    for r in rows:
        w.writerow([_cell(c) for c in r])
    return out.getvalue()


def all_csv(report: dict[str, Any]) -> str:
    """Every table, each preceded by a ``# name`` line."""
    return "\n".join(f"# {name}\n{to_csv(t)}" for name, t in tables(report).items())


def to_text(report: dict[str, Any]) -> str:
    parts = []
    for name, (header, rows) in tables(report).items():
        cells = [list(header), *([_cell(c) for c in r] for r in rows)]
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in cells]
        parts.append(f"== {name}\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"
