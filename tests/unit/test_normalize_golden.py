"""Golden files: every ``tests/golden/email/*.eml`` normalizes to the ``.json`` beside it.

The expected files were written once by ``python -m tests.support.email_golden`` and read by a
human; this test only compares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.email_golden import GOLDEN_DIR, golden_inputs, render

CASES = golden_inputs()


def test_there_are_enough_golden_cases() -> None:
    assert len(CASES) >= 12
    missing = [p.name for p in CASES if not p.with_suffix(".json").exists()]
    assert missing == []


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_golden(eml: Path) -> None:
    expected = orjson.loads(eml.with_suffix(".json").read_bytes())
    actual = orjson.loads(render(eml))
    assert actual == expected


def _golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((GOLDEN_DIR / f"{name}.json").read_bytes())
    return data


def test_golden_files_say_what_the_issue_asks() -> None:
    """The expectations themselves, spelled out, so a wrong regeneration cannot slip by."""
    ooo = _golden("french_out_of_office")
    assert ooo["flags"]["auto_reply"] is True
    assert ooo["language"] == "fr"
    html = _golden("html_only_gmail_quote")
    assert html["html_only"] is True
    assert "error 42" in html["text"] and "browser" not in html["text"]
    assert html["subject_normalized"] == "[HL-1042] Cannot export invoices"
    latin = _golden("latin1_labelled_utf8")
    assert "dernière" in latin["text"] and "Hélène" in latin["text"]
    pdf = _golden("rfc2231_filename")["attachments"][0]
    assert pdf["filename"] == "Rechnung März n°1.pdf"
    assert pdf["content_ref"] == "sha256:" + pdf["sha256"]
    dsn = _golden("dsn_user_unknown")["flags"]["bounce"]
    assert dsn["original_recipient"] == "nobody@customer.example"
    assert dsn["status"] == "5.1.1" and dsn["permanent"] is True
    assert dsn["original_message_id"] == "ack-77@helpline.example"
    delayed = _golden("dsn_delayed")["flags"]["bounce"]
    assert delayed["permanent"] is False and delayed["action"] == "delayed"
    listed = _golden("mailing_list")["flags"]
    assert listed["mailing_list"] is True and listed["list_id"] == "announce.vendor.example"
    outlook = _golden("outlook_reply_fr")
    assert outlook["quoted"].startswith("____")
    assert "lancé" not in outlook["text"]
    assert outlook["subject_normalized"] == "[HL-311] Facture en double"
    forward = _golden("forward_only")
    assert "Your payment of 42 EUR failed" in forward["text"]
    assert forward["subject_normalized"] == "Payment failed"
