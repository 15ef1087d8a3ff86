"""Who never gets an automatic mail, and per-recipient caps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.loop_guard import RecipientCaps, ack_refusal, is_machine_address, normalize_address
from schemas.message import Bounce, MessageFlags

OWN = ("support@acme.test", "help@acme.test")


@pytest.mark.parametrize(
    ("sender", "flags", "reason"),
    [
        ("alice@example.com", MessageFlags(), None),
        ("alice@example.com", MessageFlags(auto_reply=True), "auto-reply"),
        ("alice@example.com", MessageFlags(bounce=Bounce(status="5.1.1")), "bounce"),
        ("alice@example.com", MessageFlags(mailing_list=True, list_id="x"), "mailing-list"),
        ("Support@ACME.test", MessageFlags(), "own-address"),
        ("support+hl-abc@acme.test", MessageFlags(), "own-address"),
        ("noreply@shop.example", MessageFlags(), "machine-sender"),
        ("no-reply@shop.example", MessageFlags(), "machine-sender"),
        ("do-not-reply@shop.example", MessageFlags(), "machine-sender"),
        ("MAILER-DAEMON@mx.example", MessageFlags(), "machine-sender"),
        ("postmaster@mx.example", MessageFlags(), "machine-sender"),
        ("list-bounces@lists.example", MessageFlags(), "machine-sender"),
        ("ne-pas-repondre@banque.example", MessageFlags(), "machine-sender"),
        ("", MessageFlags(), "no-usable-sender"),
        ("not-an-address", MessageFlags(), "no-usable-sender"),
        ("noreen@example.com", MessageFlags(), None),  # a person, not "noreply"
        ("bob.bounce@example.com", MessageFlags(), "machine-sender"),
    ],
)
def test_ack_refusal(sender: str, flags: MessageFlags, reason: str | None) -> None:
    assert ack_refusal(sender, flags, OWN) == reason


def test_hard_bounced_address_is_refused_with_or_without_tag() -> None:
    assert ack_refusal("Bob+x@Example.com", MessageFlags(), OWN,
                       suppressed={"bob@example.com"}) == "hard-bounced"


@given(st.emails())
def test_normalize_is_idempotent(address: str) -> None:
    once = normalize_address(address)
    assert normalize_address(once) == once


@given(st.emails())
def test_machine_check_never_raises(address: str) -> None:
    assert is_machine_address(address) in (True, False)


def test_caps_slide_with_the_window() -> None:
    caps = RecipientCaps(cap=2, window_s=60)
    assert caps.allows("a@x.test", 0)
    caps.record("a@x.test", 0)
    caps.record("A+tag@x.test", 10)
    assert not caps.allows("a@x.test", 30)
    assert caps.allows("b@x.test", 30)
    assert caps.allows("a@x.test", 61)  # the first one left the window


def test_caps_restored_out_of_order_stay_sorted() -> None:
    caps = RecipientCaps(cap=2, window_s=60)
    caps.record("a@x.test", 50)
    caps.record("a@x.test", 5)
    assert not caps.allows("a@x.test", 55)
    assert caps.allows("a@x.test", 66)
