"""New text, quoted history and signature, for the reply styles a helpdesk receives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mime.quotes import split_reply


def test_on_wrote_with_quotes_and_signature() -> None:
    parts = split_reply(
        "Thanks, it works.\n\n-- \nJane\nACME\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Bob <b@x.org> wrote:\n"
        "> did it work?\n"
    )
    assert parts.text == "Thanks, it works."
    assert parts.signature == "-- \nJane\nACME"
    assert parts.quoted.startswith("On Mon, 3 Mar 2025") and parts.quoted.endswith("> did it work?")


def test_french_attribution_split_over_lines() -> None:
    parts = split_reply(
        "C'est réglé, merci.\n\nLe lun. 3 mars 2025 à 10:00, Support <s@h.example>\na écrit :\n\n"
        "> Bonjour\n"
    )
    assert parts.text == "C'est réglé, merci."
    assert parts.quoted.startswith("Le lun. 3 mars")


def test_original_message_banner() -> None:
    parts = split_reply("See below.\n\n-----Original Message-----\nFrom: a\nSent: b\n\nold text")
    assert parts.text == "See below."
    assert parts.quoted.startswith("-----Original Message-----")


def test_outlook_header_block_without_banner_in_german() -> None:
    parts = split_reply(
        "Danke!\n\nVon: Support <s@h.example>\nGesendet: Montag, 3. März 2025 10:00\n"
        "An: Kunde <k@x.de>\nBetreff: Ticket\n\nAlter Text"
    )
    assert parts.text == "Danke!"
    assert parts.quoted.startswith("Von: Support")


def test_outlook_rule_is_part_of_the_quote() -> None:
    parts = split_reply("Ok\n\n________________________________\nDe : A\nEnvoyé : B\nÀ : C\n\nold")
    assert parts.text == "Ok" and parts.quoted.startswith("____")


def test_inline_reply_keeps_every_word_of_the_customer() -> None:
    body = "> question one?\nAnswer one.\n\n> question two?\nAnswer two.\n"
    parts = split_reply(body)
    assert "Answer one." in parts.text and "Answer two." in parts.text


def test_bottom_post_takes_the_text_under_the_quote() -> None:
    parts = split_reply("On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\nHello\n")
    assert parts.text == "Hello"
    assert parts.quoted.startswith("On 04/02/2012")


def test_sent_from_mobile_is_a_signature_and_what_follows_is_history() -> None:
    parts = split_reply("Yes please.\n\nSent from my iPhone\n\nsome headerless history\n")
    assert (parts.text, parts.signature) == ("Yes please.", "Sent from my iPhone")
    assert parts.quoted == "some headerless history"


def test_things_that_are_not_quotes_or_signatures() -> None:
    body = (
        "On the other hand, I wrote: nothing.\nThe mail was sent from my iPhone app to users.\n"
        "From: our database, not From: elsewhere.\n-- first point\n-- second point\nmore text"
    )
    parts = split_reply(body)
    assert parts.text == body and parts.quoted == "" and parts.signature == ""


def test_nothing_new_keeps_the_whole_body() -> None:
    body = "-----Original Message-----\nFrom: a\nSent: b\n\nforwarded content"
    assert split_reply(body).text == body


@given(st.text(max_size=500))
@settings(deadline=None)
def test_parts_never_lose_the_customers_text(body: str) -> None:
    parts = split_reply(body)
    if body.strip():
        assert parts.text.strip()
    joined = "".join((parts.text + parts.signature + parts.quoted).split())
    original = "".join(body.replace("\r", "").split())
    assert sorted(joined) == sorted(original) or parts.text.strip() == body.strip()
