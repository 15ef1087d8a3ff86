"""The widget when nobody is there and when the network is: a site with no agent online shows
the offline form (in French here), whose message still becomes a raw.chat record with the
visitor's email; a message typed while the network is down waits, and is delivered once the
network is back, exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ingest.chat.settings import ChatSettings, SiteSettings
from schemas.stage import KafkaConnection
from schemas.topics import RAW_CHAT
from tests.support.chat_browser import chromium
from tests.support.chat_kafka import topic_now
from tests.support.chat_service import running_chat

pytestmark = pytest.mark.integration

WAIT_S = 60.0


def _settings() -> ChatSettings:
    return ChatSettings(
        sites=(
            SiteSettings(id="closed", allowed_origins=("self",), availability="offline",
                         default_locale="fr"),
            SiteSettings(id="open", allowed_origins=("self",), availability="online",
                         pre_chat_fields=()),
        ),
        port=0, sse_heartbeat_s=2.0,
    )


def _eventually_on_topic(conn: KafkaConnection, count: int) -> list[Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = topic_now(conn, RAW_CHAT)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_offline_form_in_french(kafka_conn: KafkaConnection, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with running_chat(kafka_conn, _settings()) as chat, \
            chromium(tmp_path / "profile", lang="fr-FR") as driver:
        d: Any = driver
        wait = WebDriverWait(d, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
        d.get(chat.url + "/demo?site=closed&lang=fr")
        wait.until(lambda _: d.find_element(By.ID, "hl-chat").get_attribute("data-ready"))
        launcher = d.find_element(By.ID, "hl-launcher")
        assert launcher.get_attribute("aria-label") == "Discuter avec nous"
        launcher.click()
        form = d.find_element(By.ID, "hl-offline")
        wait.until(lambda _: form.is_displayed())  # after the panel's fade-in
        assert not d.find_element(By.ID, "hl-compose").is_displayed()
        assert d.find_element(By.ID, "hl-title").text == "Nous sommes absents"
        form.find_element(By.NAME, "name").send_keys("Chloé Dubois")
        form.find_element(By.NAME, "email").send_keys("pas-une-adresse")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        assert "e-mail valide" in d.find_element(By.ID, "hl-status").text  # nothing sent
        assert d.switch_to.active_element.get_attribute("name") == "email"
        email = form.find_element(By.NAME, "email")
        email.clear()
        email.send_keys("chloe@example.fr")
        form.find_element(By.NAME, "text").send_keys("Bonjour, ma facture est fausse.")
        d.save_screenshot(str(tmp_path / "offline-form.png"))
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda _: "par e-mail" in d.find_element(By.ID, "hl-status").text)
        [raw] = _eventually_on_topic(kafka_conn, 1)
    assert (raw.site_id, raw.email, raw.name) == ("closed", "chloe@example.fr", "Chloé Dubois")
    assert raw.text == "Bonjour, ma facture est fausse." and raw.fields == {"offline": "true"}
    assert raw.locale == "fr"


def test_a_message_typed_offline_is_delivered_when_the_network_is_back(
        kafka_conn: KafkaConnection, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with running_chat(kafka_conn, _settings()) as chat, \
            chromium(tmp_path / "profile") as driver:
        d: Any = driver
        wait = WebDriverWait(d, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
        d.get(chat.url + "/demo?site=open")
        wait.until(lambda _: d.find_element(By.ID, "hl-chat").get_attribute("data-ready"))
        d.find_element(By.ID, "hl-launcher").click()
        box = d.switch_to.active_element  # no pre-chat fields: straight to the message box
        assert box.get_attribute("id") == "hl-text"
        box.send_keys("First, while online" + Keys.ENTER)
        wait.until(lambda _: not d.find_elements(By.CSS_SELECTOR, "li.hl-visitor .hl-state"))

        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        box.send_keys("Second, typed on the train" + Keys.ENTER)
        wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "li.hl-visitor .hl-state"))
        assert len(topic_now(kafka_conn, RAW_CHAT)) == 1  # not stored while offline

        d.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        wait.until(lambda _: not d.find_elements(By.CSS_SELECTOR, "li.hl-visitor .hl-state"))
        found = _eventually_on_topic(kafka_conn, 2)
    assert sorted(m.text for m in found) == ["First, while online", "Second, typed on the train"]
