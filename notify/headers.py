"""Threading and loop-safety headers of every outbound mail. Pure.

The customer's reply must thread back to its ticket (tickets issue, "in order of trust"):

1. our own Message-ID carries the ticket's signed reply token, so a reply's In-Reply-To or
   References names it;
2. the Reply-To may be plus-addressed with the same token (``support+<token>@…``), for clients
   that drop References;
3. ``[HL-…]`` in the subject, for everything else.

The Message-ID is deterministic (token + notification id): a resend of the same notification
after a crash carries the same Message-ID, which is what lets receivers and our sink collapse it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

# The most ids of the customer's thread kept in References (RFC 5322 §3.6.4 leaves it open;
# long threads otherwise grow the header without bound). The first id (thread root) is kept.
MAX_REFERENCES = 20

_SAFE_ID = re.compile(r"[^A-Za-z0-9._\-=]")
_WS = re.compile(r"\s+")


def message_id(notification_id: str, token: str | None, domain: str) -> str:
    """``<token.nid@domain>`` (the tickets stage's ``reply_token.message_id`` shape): the reply
    token first, then a hash of the notification id, so it is unique and deterministic."""
    # 64 bits of the notification id: unique within a ticket (the token names the ticket), and
    # short enough that the header is not folded (some MTAs mangle folded Message-IDs)
    nid = hashlib.sha256(notification_id.encode()).hexdigest()[:16]
    local = f"{_SAFE_ID.sub('', token)}.{nid}" if token else f"hl.{nid}"
    return f"<{local}@{domain}>"


def plus_address(address: str, token: str | None) -> str:
    local, _, domain = address.rpartition("@")
    if not token or not local:
        return address
    return f"{local.split('+', 1)[0]}+{_SAFE_ID.sub('', token)}@{domain}"


def clean_header_text(value: str, limit: int = 200) -> str:
    """One line, no control characters (header injection), bounded."""
    text = _WS.sub(" ", "".join(ch if ch.isprintable() else " " for ch in value)).strip()
    return text[:limit]


def subject_with_number(subject: str, ticket_number: str) -> str:
    tag = f"[{ticket_number}]"
    text = clean_header_text(subject)
    if ticket_number.lower() in text.lower():  # "[HL-…]", "[#HL-…]" (route's alerts), …
        return text
    return f"{text} {tag}".strip() if text else tag


def references_for(in_reply_to: str | None, references: Sequence[str]) -> tuple[str, ...]:
    ids = [r for r in references if r]
    if in_reply_to and in_reply_to not in ids:
        ids.append(in_reply_to)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1):]]
    return tuple(_angle(i) for i in ids)


def _angle(msgid: str) -> str:
    msgid = msgid.strip()
    return msgid if msgid.startswith("<") else f"<{msgid}>"


def threading_headers(
    *,
    message_id_value: str,
    from_field: str,
    reply_to: str,
    to_field: str,
    subject: str,
    in_reply_to: str | None,
    references: Sequence[str],
    ticket_number: str,
) -> list[tuple[str, str]]:
    """The header fields that make a reply thread back (values formatted, not yet encoded)."""
    out = [
        ("Message-ID", message_id_value),
        ("From", from_field),
        ("To", to_field),
        ("Reply-To", reply_to),
        ("Subject", subject),
    ]
    if in_reply_to:
        out.append(("In-Reply-To", _angle(in_reply_to)))
    refs = references_for(in_reply_to, references)
    if refs:
        out.append(("References", "\r\n ".join(refs)))  # one id per folded line
    out.append(("X-Helpline-Ticket", ticket_number))
    return out


def automatic_headers(*, in_response: bool, loop_address: str) -> list[tuple[str, str]]:
    """Mark a mail as automatic so that no well-behaved responder answers it.

    ``Auto-Submitted`` (RFC 3834 §5): ``auto-replied`` for acks (a response to a message),
    ``auto-generated`` for alerts. Exchange honours ``X-Auto-Response-Suppress: All`` instead;
    vacation(1), Sieve vacation and many ticket systems skip ``Precedence: bulk``. ``X-Loop``
    lets procmail-style filters and our own normalizer spot our mail coming back.
    """
    return [
        ("Auto-Submitted", "auto-replied" if in_response else "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("Precedence", "bulk"),
        ("X-Loop", loop_address),
    ]
