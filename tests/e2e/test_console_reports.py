"""A supervisor's reports in headless Chromium on the real stack: a week of mail and chat
made into tickets by the real tickets stage on a real broker, agents answering some of them
through ticket.commands; `helpline console` charts the week with the vendored Chart.js, the
tables agree with the events, and an agent is refused the page. `helpline report` prints the
same figures on the terminal."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.commands import AgentAction
from schemas.directory import Agent
from schemas.events import TicketEvent
from schemas.stage import KafkaConnection
from schemas.ticket_events import Created
from schemas.topics import AGENTS, MESSAGES, TICKET_COMMANDS, TICKET_EVENTS
from tests.e2e.test_console_agent import PASSWORD, WAIT_S, eventually
from tests.support.chat_browser import chromium
from tests.support.chat_kafka import topic_now
from tests.support.chat_pipeline import running_stages
from tests.support.console_process import (
    ARTIFACTS,
    REPO,
    console_env,
    running_console,
    set_password,
)
from tests.support.kafka import produce
from tests.support.tickets_builders import chat, email

pytestmark = pytest.mark.integration

DAYS = 7
PER_DAY = 3  # two mails and one chat a day


def _week(now: datetime) -> list[Any]:
    out: list[Any] = []
    for day in range(DAYS):
        at = now - timedelta(days=day, hours=2)
        out.append(email(f"wk-{day}-a", f"a{day}@example.com", subject=f"Order {day}", at=at))
        out.append(email(f"wk-{day}-b", f"b{day}@example.com", subject=f"Invoice {day}",
                         at=at - timedelta(hours=3)))
        msg = chat(f"wk-{day}-c", f"conv-{day}", visitor=f"v{day}")
        out.append(msg.__class__(**{**{f: getattr(msg, f) for f in msg.__dataclass_fields__},
                                    "received_at": at - timedelta(hours=1)}))
    return out


def test_a_supervisor_sees_the_week_in_charts(kafka_conn: KafkaConnection,
                                              tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sue = Agent(agent_id="sup-1", name="Sue", teams=("support",), roles=("supervisor",))
    ann = Agent(agent_id="agent-1", name="Ann", teams=("support",))
    asyncio.run(produce(kafka_conn, AGENTS, [(b"sup-1", sue), (b"agent-1", ann)]))
    now = datetime.now(UTC).replace(microsecond=0)
    week = _week(now)
    env = console_env(kafka_conn, tmp_path)
    set_password(env, "sup-1", PASSWORD)
    set_password(env, "agent-1", PASSWORD)

    with running_stages(kafka_conn, ("tickets",), b"k" * 32):
        asyncio.run(produce(kafka_conn, MESSAGES, [(m.partition_key, m) for m in week]))

        def created() -> list[TicketEvent]:
            found = [e for e in topic_now(kafka_conn, TICKET_EVENTS)
                     if isinstance(e.payload, Created)]
            return found if len(found) == len(week) else []

        tickets = eventually(created, "a week of tickets")
        # agent-1 answers the first five, 10 minutes after each arrived
        replies = [AgentAction(command_id=f"wk-reply-{i}", ticket_id=e.ticket_id,
                               action="reply", agent_id="agent-1",
                               at=e.at + timedelta(minutes=10), text="Answered")
                   for i, e in enumerate(tickets[:5])]
        asyncio.run(produce(kafka_conn, TICKET_COMMANDS,
                            [(r.ticket_id.encode(), r) for r in replies]))
        eventually(lambda: sum(e.kind == "message-added" and e.actor.kind == "agent"
                               for e in topic_now(kafka_conn, TICKET_EVENTS)) == 5,
                   "the five replies in the log")

    report = subprocess.run([sys.executable, "-m", "runtime.cli", "report", "--since", "8d",
                             "--format", "json"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=WAIT_S)
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    assert figures["tickets"] == DAYS * PER_DAY
    assert figures["volume"]["by_channel"] == {"chat": DAYS, "email": 2 * DAYS}
    assert figures["first_response"] == {"count": 5, "p50_s": 600.0, "p90_s": 600.0}
    assert figures["agents"]["agent-1"]["replies"] == 5

    with running_console(env) as console, chromium(tmp_path / "sup") as driver:
        d: Any = driver
        wait = WebDriverWait(d, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
        d.get(console.url + "/login?next=/reports%3Fdays%3D30")
        d.find_element(By.ID, "agent").send_keys("sup-1")
        d.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
        wait.until(lambda _: "/reports" in d.current_url)
        # Chart.js (served from /static, no CDN) drew every chart
        for chart in ("chart-day", "chart-channel", "chart-category", "chart-hours"):
            wait.until(lambda _, c=chart: d.find_element(By.ID, c).get_attribute("data-drawn"))
        assert d.execute_script("return typeof window.Chart") == "function"
        # one bar per calendar day the week's tickets fall on (as the terminal report says)
        days = len(figures["volume"]["by_day"])
        assert d.find_element(By.ID, "chart-day").get_attribute("data-drawn") == str(days)
        assert d.find_element(By.ID, "chart-hours").get_attribute("data-drawn") == "24"
        channel_rows = d.find_elements(By.CSS_SELECTOR, "#table-volume_by_channel tbody tr")
        assert [r.text for r in channel_rows] == [f"chat {DAYS}", f"email {2 * DAYS}"]
        responses = d.find_element(By.ID, "table-response_times").text
        assert "first_response 5 600.0 600.0" in responses
        d.save_screenshot(str(ARTIFACTS / "console-reports.png"))
        csv_link = d.find_element(By.CSS_SELECTOR, "a[href^='/reports.csv?days=30']")
        assert csv_link.get_attribute("download") is not None

        d.delete_all_cookies()
        d.get(console.url + "/login?next=/reports")
        d.find_element(By.ID, "agent").send_keys("agent-1")
        d.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
        wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "p.error"))
        assert "/reports" in d.current_url and not d.find_elements(By.ID, "chart-day")
