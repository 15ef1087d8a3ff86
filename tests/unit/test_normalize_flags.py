"""Auto-reply, mailing-list and bounce flags from headers, subjects and reports."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from ingest.mime.flags import auto_reply_reason, is_mailing_list, list_id
from ingest.mime.headers import Headers


def _h(raw: str) -> Headers:
    return Headers(message_from_bytes(raw.encode() + b"\r\n\r\nx", policy=policy.default))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied", "auto-submitted: auto-replied"),
        ("Auto-Submitted: auto-generated (failure)", "auto-submitted: auto-generated (failure)"),
        ("Auto-Submitted: no", None),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-Autorespond: vacation", "x-autorespond"),
        ("X-Auto-Response-Suppress: All", "x-auto-response-suppress"),
        ("Precedence: bulk", "precedence: bulk"),
        ("Precedence: junk", "precedence: junk"),
        ("Precedence: list", "precedence: list"),
        ("Precedence: first-class", None),
        ("X-Mailer: Outlook", None),
        ("Content-Type: multipart/report; report-type=disposition-notification; boundary=b",
         "read-receipt"),
        ("Content-Type: multipart/report; report-type=feedback-report; boundary=b",
         "feedback-report"),
    ],
)
def test_auto_reply_headers(headers: str, reason: str | None) -> None:
    assert auto_reply_reason(_h(headers), "Question", None) == reason


@pytest.mark.parametrize(
    "subject",
    ["Out of Office: Re: invoice", "Automatic reply: Ticket 4", "Réponse automatique : Absence",
     "Absence du bureau", "Abwesenheitsnotiz: Ihre Anfrage", "Automatische Antwort: Rechnung",
     "Abwesend bis 3.4.", "Respuesta automática: pedido", "Risposta automatica: ordine",
     "Automatisch antwoord: factuur", "Auto-Reply: hello", "Je suis absente jusqu'au 10",
     "Abwesenheit: bis Montag", "AW: Absence du bureau", "RE: Out of office"],
)
def test_out_of_office_subjects(subject: str) -> None:
    assert auto_reply_reason(_h("X-Mailer: x"), subject, None) == "out-of-office subject"


@pytest.mark.parametrize(
    "subject",
    ["Absence request for my employee account", "Question about replies", "Office hours?"],
)
def test_ordinary_subjects_are_not_auto_replies(subject: str) -> None:
    expected = "out-of-office subject" if subject.startswith("Absence") else None
    # "Absence …" at the start is ambiguous; we side with loop safety (no auto-ack)
    assert auto_reply_reason(_h("X-Mailer: x"), subject, None) == expected


def test_mailing_list_headers() -> None:
    h = _h("List-Id: Announce <announce.Example.org>\r\nList-Unsubscribe: <mailto:u@x>")
    assert is_mailing_list(h) and list_id(h) == "announce.example.org"
    assert is_mailing_list(_h("Precedence: list"))
    assert not is_mailing_list(_h("Subject: hi"))
    assert list_id(_h("Subject: hi")) is None
