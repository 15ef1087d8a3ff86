"""Templates: languages, brands, fallbacks, escaping, promises; golden mails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import orjson
import pytest

from notify.compose import Composer
from notify.render import (
    BUNDLED,
    TemplateMissing,
    load_templates,
    parse_template,
    render,
    response_expectation,
    summary_of,
)
from notify.stage import token_maker
from schemas.codec import decode, encode_pretty
from schemas.notification import Notification
from tests.support.notify_builders import KEY, settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "notify"
TEMPLATES = load_templates(BUNDLED)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_every_bundled_language_has_the_customer_templates() -> None:
    for lang in ("en", "fr"):
        for name in ("auto-ack", "auto-ack-chat", "agent-reply"):
            assert ("default", lang, name) in TEMPLATES


def test_unknown_language_and_brand_fall_back_to_english_default() -> None:
    r = render(TEMPLATES, "auto-ack", brand="nope", languages=("de-DE", None), values={})
    assert (r.brand, r.language) == ("default", "en")
    r = render(TEMPLATES, "auto-ack", brand="nope", languages=("fr_CA",), values={})
    assert r.language == "fr"


def test_brand_templates_override_default(tmp_path: Path) -> None:
    d = tmp_path / "acme" / "en"
    d.mkdir(parents=True)
    (d / "auto-ack.txt").write_text("Subject: ACME got it\n\nHi from ACME $ticket_number\n")
    templates = load_templates(BUNDLED, tmp_path)
    r = render(templates, "auto-ack", brand="acme", languages=("en",),
               values={"ticket_number": "HL-1"})
    assert r.subject == "ACME got it" and "HL-1" in r.text and r.html is None
    r = render(templates, "auto-ack", brand="acme", languages=("fr",), values={})
    assert r.brand == "acme" and r.language == "en"  # brand first, then language


def test_missing_template_is_an_error_not_a_crash_later() -> None:
    with pytest.raises(TemplateMissing):
        render(TEMPLATES, "no-such", brand="default", languages=("en",), values={})


def test_customer_text_is_escaped_in_html_and_kept_in_text() -> None:
    evil = '<script>alert("x")</script> & <b>bold</b>'
    r = render(TEMPLATES, "auto-ack", brand="default", languages=("en",),
               values={"summary": evil, "subject": evil})
    assert r.html is not None
    assert "<script>" not in r.html and "&lt;script&gt;" in r.html and "&amp;" in r.html
    assert evil in r.text


def test_unknown_placeholder_renders_empty() -> None:
    tpl = parse_template("Subject: Hi $who\n\nBody $nothing here", None)
    templates = {("default", "en", "x"): tpl}
    r = render(templates, "x", brand="default", languages=("en",), values={"who": "Bo"})
    assert (r.subject, r.text) == ("Hi Bo", "Body  here")


@pytest.mark.parametrize(
    ("due", "lang", "expected"),
    [
        (None, "en", "We will get back to you within 24 hours."),
        (None, "fr", "Nous vous répondrons dans les 24 heures."),
        (NOW + timedelta(minutes=30), "en", "We will get back to you within 30 minutes."),
        (NOW + timedelta(hours=5), "en",
         "We will get back to you by Wednesday 25 November 2026, 3 pm (CET)."),
        (NOW + timedelta(hours=5), "fr",
         "Nous vous répondrons au plus tard le mercredi 25 novembre 2026 à 15 h (CET)."),
        (NOW - timedelta(hours=1), "en", "We will get back to you within 24 hours."),
    ],
)
def test_response_expectation(due: datetime | None, lang: str, expected: str) -> None:
    assert response_expectation(due, NOW, lang, "Europe/Paris", 24) == expected


def test_summary_cuts_on_words() -> None:
    assert summary_of("one two  three\nfour", 100) == "one two three four"
    assert summary_of("alpha beta gamma", 12) == "alpha beta…"


@pytest.mark.parametrize("case", sorted(p.name.removesuffix(".notification.json")
                                        for p in GOLDEN.glob("*.notification.json")))
def test_golden_mail(case: str) -> None:
    n = decode(Notification, (GOLDEN / f"{case}.notification.json").read_bytes())
    composer = Composer(TEMPLATES, settings(), token_maker(KEY))
    mail = composer.email(n, NOW)
    parsed = message_from_bytes(mail.raw, policy=policy.default)
    body_text = parsed.get_body(("plain",))
    body_html = parsed.get_body(("html",))
    got = {
        "envelope": {"from": mail.sender, "to": list(mail.recipients)},
        "headers": {k: str(parsed[k]).strip() for k in (
            "Message-ID", "From", "To", "Reply-To", "Subject", "In-Reply-To", "References",
            "Auto-Submitted", "X-Auto-Response-Suppress", "Precedence", "Content-Language")
            if parsed[k] is not None},
        # on the wire lines end in CRLF; compare text as a mail reader shows it
        "text": body_text.get_content().replace("\r\n", "\n") if body_text else None,
        "html": body_html.get_content().replace("\r\n", "\n") if body_html else None,
    }
    expected = orjson.loads((GOLDEN / f"{case}.json").read_bytes())
    assert got == expected


def test_golden_inputs_are_records() -> None:
    # the golden inputs stay valid wire records (and pretty-printed like the CLI prints them)
    for p in GOLDEN.glob("*.notification.json"):
        n = decode(Notification, p.read_bytes())
        assert orjson.loads(encode_pretty(n)) == orjson.loads(p.read_bytes())
