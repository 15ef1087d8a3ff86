"""Alerts to generic webhooks over real HTTP: Slack/Teams-shaped JSON, HMAC signature,
retriable vs permanent failures, digests of alert storms."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from notify.sentlog import MemoryJournal
from notify.settings import WebhookTarget
from notify.stage import build
from notify.webhooks import ID_HEADER, SIGNATURE_HEADER, HttpxWebhooks, verify_signature
from tests.support.notify_builders import KEY, T0, RecordingTransport, alert, of_topic, records
from tests.support.notify_builders import settings as notify_settings
from tests.support.notify_webhook import WebhookReceiver

pytestmark = pytest.mark.integration


def _stage(url: str, fmt: str = "slack", **kw: object):  # type: ignore[no-untyped-def]
    cfg = notify_settings(webhooks={"oncall": WebhookTarget(url=url, secret="shh", format=fmt)},
                          **kw)
    journal = MemoryJournal()
    stage = build(cfg, transport=RecordingTransport(), webhooks=HttpxWebhooks(5.0),
                  journal=journal, signing_key=KEY)
    return stage, journal


@pytest.mark.parametrize("fmt", ["slack", "teams", "generic"])
async def test_signed_alert_reaches_the_webhook(fmt: str) -> None:
    with WebhookReceiver() as hook:
        stage, _ = _stage(hook.url(), fmt)
        outs = await stage.process(records([alert("a1", channel="webhook", webhook="oncall")]),
                                   T0)
        await stage.dispatch.close()
    (post,) = hook.posts
    assert verify_signature("shh", post.headers[SIGNATURE_HEADER], post.body)
    assert not verify_signature("other", post.headers[SIGNATURE_HEADER], post.body)
    assert post.headers[ID_HEADER] == "a1"
    body = orjson.loads(post.body)
    assert "HL-2026-000001" in body["text"]
    assert body["helpline"]["title"] == "SLA about to be breached"
    if fmt == "teams":
        assert body["@type"] == "MessageCard"
    (r,) = of_topic(outs, "notify.results")
    assert r.outcome == "sent"


@pytest.mark.parametrize(("status", "outcome"), [(503, "retrying"), (429, "retrying"),
                                                 (404, "failed")])
async def test_webhook_failures(status: int, outcome: str) -> None:
    with WebhookReceiver(status=status) as hook:
        stage, _ = _stage(hook.url())
        outs = await stage.process(records([alert("a1", channel="webhook", webhook="oncall")]),
                                   T0)
        await stage.dispatch.close()
    (r,) = of_topic(outs, "notify.results")
    assert r.outcome == outcome and r.server_reply.startswith(str(status))


async def test_unknown_webhook_name_fails_permanently() -> None:
    stage, _ = _stage("http://127.0.0.1:9/never")
    outs = await stage.process(records([alert("a1", channel="webhook", webhook="nope")]), T0)
    await stage.dispatch.close()
    (r,) = of_topic(outs, "notify.results")
    assert r.outcome == "failed" and "nope" in r.detail


async def test_alert_storm_on_a_webhook_is_digested() -> None:
    with WebhookReceiver() as hook:
        stage, journal = _stage(hook.url(), alert_burst=1, alert_window_s=60)
        storm = [alert(f"a{i}", channel="webhook", webhook="oncall") for i in range(5)]
        await stage.process(records(storm), T0)
        assert len(hook.posts) == 1
        await stage.run_timers(T0 + timedelta(seconds=61))
        await stage.dispatch.close()
    assert len(hook.posts) == 2
    digest = orjson.loads(hook.posts[1].body)
    assert digest["helpline"]["title"] == "4 helpline alerts"
    assert digest["text"].count("[HL-2026-000001]") == 4
    assert verify_signature("shh", hook.posts[1].headers[SIGNATURE_HEADER], hook.posts[1].body)
    assert sum(1 for o in journal.published if o.topic.name == "notify.results") == 5
