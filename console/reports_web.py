"""The supervisors' report pages: charts (Chart.js, vendored under static/), JSON and CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from console.report_tables import all_csv, tables, to_csv
from console.reports import ReportFold
from console.settings import ConsoleSettings
from console.store import ConsoleStore
from console.web import SECURITY_HEADERS, Viewer, Web, guarded

DEFAULT_DAYS = 7
MAX_DAYS = 366
# A report is folded again when events arrived or this much time passed (ages, the window's
# start); folding ~100k events takes about half a second on a busy 2-core machine
# (benchmarks/bench_console.py), so a page that is reloaded or exported does not pay it twice.
REPORT_REUSE_S = 60.0


def _days(request: Request) -> int:
    try:
        return min(max(int(request.query_params.get("days", DEFAULT_DAYS)), 1), MAX_DAYS)
    except ValueError:
        return DEFAULT_DAYS


def report_routes(web: Web, store: ConsoleStore, settings: ConsoleSettings,
                  clock: Callable[[], datetime]) -> list[Route]:
    tz = ZoneInfo(settings.report_timezone)

    kept: dict[int, tuple[int, datetime, dict[str, Any]]] = {}

    def report(request: Request) -> tuple[int, dict[str, Any]]:
        days = _days(request)
        now = clock()
        held = kept.get(days)
        if held is not None and held[0] == store.events_applied and \
                (now - held[1]).total_seconds() < REPORT_REUSE_S:
            return days, held[2]
        fold = ReportFold(now - timedelta(days=days), tz).apply_all(store.all_events())
        data = fold.report(now)
        kept[days] = (store.events_applied, now, data)
        return days, data

    async def page(request: Request, viewer: Viewer) -> Response:
        days, data = report(request)
        return web.render(request, "reports.html", viewer=viewer, report=data, days=days,
                          tables=tables(data))

    async def as_json(request: Request, viewer: Viewer) -> Response:
        return JSONResponse(report(request)[1], headers=SECURITY_HEADERS)

    async def as_csv(request: Request, viewer: Viewer) -> Response:
        days, data = report(request)
        name = request.query_params.get("table")
        if name:
            found = tables(data).get(name)
            if found is None:
                return PlainTextResponse("no such table", status_code=404)
            body, filename = to_csv(found), f"helpline-{name}-{days}d.csv"
        else:
            body, filename = all_csv(data), f"helpline-report-{days}d.csv"
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'})

    return [
        Route("/reports", guarded(web, "supervisor", page)),
        Route("/reports.json", guarded(web, "supervisor", as_json, html=False)),
        Route("/reports.csv", guarded(web, "supervisor", as_csv, html=False)),
    ]
