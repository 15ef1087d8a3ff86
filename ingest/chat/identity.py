"""Who is chatting: signed visitor tokens and the site's identifier_hash. Pure.

A visitor token is ``<payload>.<mac>``, both base64url, the MAC being HMAC-SHA256 of the
payload under helpline's signing key. It names the site, the visitor, the conversation and,
when the site proved it, the verified identifier; so a token for one conversation cannot post
into another, and a visitor cannot claim an identity the site did not sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import orjson

_TOKEN_CONTEXT = b"helpline-chat-visitor.v1."


@dataclass(frozen=True, slots=True)
class VisitorPass:
    """What a valid visitor token says."""

    site_id: str
    visitor_id: str
    conversation_id: str
    issued_at: int  # unix seconds
    verified_identifier: str | None = None


def new_id(prefix: str) -> str:
    """A random, URL-safe id (visitors, conversations)."""
    return prefix + secrets.token_urlsafe(15)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _TOKEN_CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()


def sign_visitor(key: bytes, visitor: VisitorPass) -> str:
    payload = _b64(
        orjson.dumps(
            {
                "s": visitor.site_id,
                "v": visitor.visitor_id,
                "c": visitor.conversation_id,
                "t": visitor.issued_at,
                "i": visitor.verified_identifier,
            }
        )
    )
    return f"{payload}.{_b64(_mac(key, payload))}"


def read_visitor(key: bytes, token: str, now: datetime, ttl_s: int) -> VisitorPass | None:
    """The token's contents, or None if it is forged, malformed or expired."""
    payload, dot, mac = token.partition(".")
    if not dot or not payload or not mac or len(token) > 2048:
        return None
    try:
        given = _unb64(mac)
        expected = _mac(key, payload)
    except (ValueError, UnicodeEncodeError):
        return None
    if not hmac.compare_digest(given, expected):
        return None
    try:
        data = orjson.loads(_unb64(payload))
        visitor = VisitorPass(
            site_id=str(data["s"]),
            visitor_id=str(data["v"]),
            conversation_id=str(data["c"]),
            issued_at=int(data["t"]),
            verified_identifier=None if data.get("i") is None else str(data["i"]),
        )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    if now.timestamp() - visitor.issued_at > ttl_s:
        return None
    return visitor


def identifier_hash(site_secret: str, identifier: str) -> str:
    """What the site's backend computes and puts in the page: hex HMAC-SHA256."""
    return hmac.new(
        site_secret.encode("utf-8"), identifier.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def identifier_is_proven(site_secret: str, identifier: str, given_hash: str) -> bool:
    """Constant-time check of a claimed identifier_hash (hex, any case)."""
    if not site_secret:
        return False
    expected = identifier_hash(site_secret, identifier)
    return hmac.compare_digest(expected.encode("ascii"), given_hash.strip().lower().encode("utf-8"))
