"""Signed session cookies and CSRF tokens. Pure: the key and the time are parameters.

A session is ``base64url(JSON{agent, nonce, expires}).hmac`` signed with a key derived from
the deployment's secret; a forged or edited cookie (another agent's id) fails the signature.
The CSRF token is a second HMAC over the session's nonce: a page of ours carries it in every
form, a page elsewhere cannot read it (SameSite=Strict keeps the cookie off cross-site
requests as well -- two locks, as OWASP advises).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import orjson

COOKIE = "helpline_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose from the deployment's signing key (never the key itself)."""
    return hmac.new(secret, f"helpline-console:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Session:
    agent_id: str
    nonce: str
    expires: float  # unix seconds
    # A fingerprint of the password hash the session was opened with: a new password (or
    # none) ends every session opened with the old one.
    credential: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def fingerprint(key: bytes, password_hash: str | None) -> str:
    """A short keyed digest of a stored password hash (never the hash itself in a cookie)."""
    return _sign(key, f"credential:{password_hash or ''}")[:22]


def issue(key: bytes, agent_id: str, now: datetime, ttl_s: float,
          credential: str = "") -> tuple[Session, str]:
    """A new session for ``agent_id`` and its cookie value."""
    session = Session(agent_id, secrets.token_urlsafe(16), now.timestamp() + ttl_s, credential)
    body = _b64(orjson.dumps({"a": session.agent_id, "n": session.nonce, "e": session.expires,
                              "c": session.credential}))
    return session, f"{body}.{_sign(key, body)}"


def read(key: bytes, cookie: str | None, now: datetime) -> Session | None:
    """The session in ``cookie`` when its signature holds and it has not expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    body, mac = cookie.split(".")
    if not hmac.compare_digest(mac, _sign(key, body)):
        return None
    try:
        data = orjson.loads(_unb64(body))
        session = Session(str(data["a"]), str(data["n"]), float(data["e"]),
                          str(data.get("c", "")))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now.timestamp() else None


def csrf_token(key: bytes, session: Session) -> str:
    return _sign(key, f"csrf:{session.nonce}")


def csrf_ok(key: bytes, session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(key, session))
