"""Visitor tokens and the site's identifier_hash: forged, tampered or expired proofs fail."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ingest.chat.identity import (
    VisitorPass,
    identifier_hash,
    identifier_is_proven,
    read_visitor,
    sign_visitor,
)

KEY = b"k" * 32
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASS = VisitorPass(site_id="acme", visitor_id="v_1", conversation_id="c_1",
                   issued_at=int(NOW.timestamp()), verified_identifier="alice@example.com")


def test_a_signed_token_reads_back() -> None:
    assert read_visitor(KEY, sign_visitor(KEY, PASS), NOW, 3600) == PASS


def test_another_key_or_a_tampered_payload_is_refused() -> None:
    token = sign_visitor(KEY, PASS)
    assert read_visitor(b"x" * 32, token, NOW, 3600) is None
    other = sign_visitor(KEY, VisitorPass(site_id="acme", visitor_id="v_2",
                                          conversation_id="c_2", issued_at=PASS.issued_at))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    assert read_visitor(KEY, forged, NOW, 3600) is None


def test_an_expired_token_is_refused() -> None:
    token = sign_visitor(KEY, PASS)
    assert read_visitor(KEY, token, NOW + timedelta(seconds=3599), 3600) == PASS
    assert read_visitor(KEY, token, NOW + timedelta(seconds=3601), 3600) is None


@given(st.text(max_size=300))
def test_reading_any_text_never_raises(text: str) -> None:
    assert read_visitor(KEY, text, NOW, 3600) is None


def test_identifier_hash_is_hmac_sha256_hex_of_the_site_secret() -> None:
    expected = hmac.new(b"secret", b"user-42", hashlib.sha256).hexdigest()
    assert identifier_hash("secret", "user-42") == expected
    assert identifier_is_proven("secret", "user-42", expected)
    assert identifier_is_proven("secret", "user-42", expected.upper())


def test_forged_identifier_hashes_are_refused() -> None:
    good = identifier_hash("secret", "user-42")
    assert not identifier_is_proven("secret", "user-43", good)  # someone else's identity
    assert not identifier_is_proven("secret", "user-42", good[:-1] + "0")
    assert not identifier_is_proven("secret", "user-42", "")
    assert not identifier_is_proven("secret", "user-42", "é" * 64)
    assert not identifier_is_proven("", "user-42", identifier_hash("", "user-42"))
