"""End to end with two headless Chromiums on the real stack: a visitor chats through the
widget (chat service -> normalize, tickets, classify, route, notify on a real broker); an
agent signed in to `helpline console` sees the chat in the queue, opens it, answers, and the
visitor's open widget shows the answer live, while the console shows the visitor's next
message without a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ingest.chat.settings import ChatSettings, SiteSettings
from schemas.directory import Agent
from schemas.stage import KafkaConnection
from schemas.topics import AGENTS
from tests.e2e.test_console_agent import PASSWORD, WAIT_S
from tests.support.chat_browser import chromium
from tests.support.chat_pipeline import running_stages
from tests.support.chat_service import SIGNING_KEY, running_chat
from tests.support.console_process import (
    ARTIFACTS,
    console_env,
    running_console,
    set_password,
)
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

ANSWER = "Hello Alice, your parcel is with the courier."
STAGES = ("normalize", "tickets", "classify", "route", "notify")
STAGE_ENV = {"HELPLINE_NOTIFY__SLA_WAIT_S": "0.5", "HELPLINE_NOTIFY__TICK_INTERVAL_S": "0.2",
             "HELPLINE_ROUTE__TICK_INTERVAL_S": "0.2",
             "HELPLINE_ROUTE__CLASSIFY_WAIT_SECONDS": "1"}


def _chat_settings() -> ChatSettings:
    return ChatSettings(
        sites=(SiteSettings(id="demo", allowed_origins=("self",), availability="online",
                            title="Demo shop"),),
        port=0, sse_heartbeat_s=2.0,
    )


def test_a_visitor_sees_the_agents_answer_live(kafka_conn: KafkaConnection,
                                               tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ann = Agent(agent_id="agent-1", name="Ann Agent", teams=("support",), presence="offline")
    asyncio.run(produce(kafka_conn, AGENTS, [(b"agent-1", ann)]))
    env = console_env(kafka_conn, tmp_path)
    set_password(env, "agent-1", PASSWORD)

    with running_stages(kafka_conn, STAGES, SIGNING_KEY, STAGE_ENV), \
            running_chat(kafka_conn, _chat_settings()) as chat, \
            running_console(env) as console, \
            chromium(tmp_path / "visitor") as visitor_driver, \
            chromium(tmp_path / "agent", lang="fr-FR") as agent_driver:
        v: Any = visitor_driver
        a: Any = agent_driver
        # the console re-renders its live parts: an element read may go stale, try again
        vwait = WebDriverWait(v, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
        await_ = WebDriverWait(a, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))

        v.get(chat.url + "/demo?site=demo")
        vwait.until(lambda _: v.find_element(By.ID, "hl-chat").get_attribute("data-ready"))
        v.find_element(By.ID, "hl-launcher").click()
        v.switch_to.active_element.send_keys("Alice Martin")
        v.find_element(By.CSS_SELECTOR, "#hl-prechat [name=email]").send_keys("alice@example.com")
        v.find_element(By.CSS_SELECTOR, "#hl-prechat button[type=submit]").click()
        box = vwait.until(lambda _: v.find_element(By.ID, "hl-text"))
        vwait.until(lambda _: box.is_displayed())
        box.send_keys("Where is my parcel?" + Keys.ENTER)

        a.get(console.url + "/login")
        assert a.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        a.find_element(By.ID, "agent").send_keys("agent-1")
        a.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
        await_.until(lambda _: a.current_url.endswith("/queue"))
        row = await_.until(lambda _: [(r.text, r.find_element(By.CSS_SELECTOR, "a.ticket-link")
                                        .get_attribute("href"))
                                       for r in a.find_elements(By.CSS_SELECTOR,
                                                                "table.queue tbody tr")])[0]
        assert "chat" in row[0]
        a.get(row[1])
        await_.until(lambda _: a.find_elements(By.ID, "reply-text"))
        assert "Where is my parcel?" in a.find_element(By.ID, "conversation").text
        a.find_element(By.ID, "reply-text").send_keys(ANSWER)
        a.find_element(By.ID, "reply-send").click()

        def answered() -> bool:
            return any(ANSWER in li.text for li in v.find_elements(By.CSS_SELECTOR,
                                                                   "li.hl-agent"))
        vwait.until(lambda _: answered())
        v.save_screenshot(str(ARTIFACTS / "console-chat-visitor.png"))

        # and the other way: the visitor's next message appears in the console by itself
        v.find_element(By.ID, "hl-text").send_keys("Thank you!" + Keys.ENTER)
        await_.until(lambda _: "Thank you!" in a.find_element(By.ID, "conversation").text)
        a.save_screenshot(str(ARTIFACTS / "console-chat-agent.png"))
