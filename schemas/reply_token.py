"""Signed reply tokens: the most trusted way to thread a reply to its ticket. Pure.

On the ground floor because two stages use it: the tickets stage verifies tokens on inbound
mail, the notifier mints them into outbound Message-IDs and Reply-To addresses.

We put a token in every outbound Message-ID (``<hl-<ticket>-<mac>.<unique>@domain>``) and may
put it in a Reply-To plus-address (``support+hl-<ticket>-<mac>@domain``). A customer's reply
carries it back in In-Reply-To / References or in its recipient address; the HMAC proves we
minted it, so nobody can steer a message onto a ticket by guessing ids.

Tokens are lower-case letters, digits and ``-`` (safe in a Message-ID and in an address local
part, which some mail systems lower-case), and short: ``support+`` + token fits in 64 chars.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

_CONTEXT = b"helpline-reply-token.v1:"
_MAC_BYTES = 10  # 80 bits, 16 base32 characters
_TICKET_ID = re.compile(r"^[a-z0-9]{1,40}$")
TOKEN_PATTERN = re.compile(r"hl-([a-z0-9]{1,40})-([a-z2-7]{16})")


def _mac(ticket_id: str, key: bytes) -> str:
    digest = hmac.new(key, _CONTEXT + ticket_id.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest[:_MAC_BYTES]).decode("ascii").lower()


def make(ticket_id: str, key: bytes) -> str:
    """The reply token for a ticket. Ticket ids are lower-case letters and digits."""
    if not _TICKET_ID.match(ticket_id):
        raise ValueError("ticket id must be 1-40 lower-case letters or digits")
    return f"hl-{ticket_id}-{_mac(ticket_id, key)}"


def verify(token: str, key: bytes) -> str | None:
    """The ticket id a token was minted for, or None if it is not one of ours."""
    m = TOKEN_PATTERN.fullmatch(token.strip().lower())
    if m is None:
        return None
    ticket_id, mac = m.group(1), m.group(2)
    return ticket_id if hmac.compare_digest(mac, _mac(ticket_id, key)) else None


def message_id(ticket_id: str, key: bytes, unique: str, domain: str) -> str:
    """An outbound Message-ID carrying the token, e.g. for notify: ``<token.unique@domain>``."""
    return f"<{make(ticket_id, key)}.{unique}@{domain}>"


def plus_address(mailbox_address: str, ticket_id: str, key: bytes) -> str:
    """``support@example.com`` -> ``support+<token>@example.com`` (for Reply-To)."""
    local, _, domain = mailbox_address.partition("@")
    return f"{local.split('+', 1)[0]}+{make(ticket_id, key)}@{domain}"


def find(candidates: Iterable[str], key: bytes) -> str | None:
    """The first ticket id proven by a token found in Message-IDs or addresses."""
    for text in candidates:
        low = text.lower()
        if "hl-" not in low:  # most Message-IDs and addresses carry no token: skip the regex
            continue
        for m in TOKEN_PATTERN.finditer(low):
            ticket_id = verify(m.group(0), key)
            if ticket_id is not None:
                return ticket_id
    return None
