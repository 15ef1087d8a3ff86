"""Robots are not tickets: which inbound mail goes to the "not a ticket" bin, and why. Pure.

Asked only of mail that threads onto no ticket (a bounce of our own mail and an auto-reply to
our ack are attached to their ticket before this is asked, see :mod:`tickets.intake`), except
mail from our own address, which is binned even when it names a ticket: it is a loop.

Reasons, most specific first (the first that applies is recorded):

* ``own-address``: the sender is one of our own support addresses;
* ``bounce``: a delivery status notification that returns none of our mails;
* ``mailing-list``: ``List-Id`` / ``List-Unsubscribe`` / ``Precedence: list`` and friends;
* ``no-reply-sender``: ``noreply@``, ``no-reply@``, ``donotreply@``, ``notifications@``… —
  nobody can read an answer;
* ``auto-reply``: a machine's reply by its headers (``Auto-Submitted``, ``X-Autoreply``…);
  a subject that only *reads* like an out-of-office is not enough: a person may write it;
* ``bulk``: ``Precedence: bulk|junk`` (newsletters, campaign mail).

Chat messages are never binned: a person typed them into the widget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.bin import BinReason
from schemas.message import InboundMessage

# Local parts of addresses that do not read replies (Zammad and Zulip keep similar lists).
DEFAULT_NO_REPLY_PATTERNS = (
    r"no[-_.]?reply", r"do[-_.]?not[-_.]?reply", r"dont[-_.]?reply", r"ne[-_.]?pas[-_.]?repondre",
    r"nepasrepondre", r"keine[-_.]?antwort", r"notifications?", r"auto[-_.]?confirm",
    r"bounces?(?:[-+].*)?",
)
# Auto-reply reasons that come from the subject alone (see ingest.mime.flags): too weak to bin
# by themselves ("Absence de facture" is a person writing) ...
_WEAK_AUTO_REPLY = frozenset({"out-of-office subject"})
# ... unless the subject is the "<Automatic reply>: <their subject>" form mail programs write.
_AUTO_REPLY_PREFIX = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (?:the )?office|"
    r"r[ée]ponse automatique|message d'absence|abwesenheitsnotiz|automatische antwort|"
    r"respuesta autom[áa]tica|risposta automatica|automatisch antwoord|resposta autom[áa]tica)"
    r"\s*(?:\([^)]{0,40}\))?\s*:",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class BinRules:
    """What the tickets stage bins (``[tickets.bin]``); each class can be switched off."""

    own_addresses: frozenset[str] = frozenset()
    mailing_lists: bool = True
    no_reply_senders: bool = True
    no_reply_patterns: tuple[str, ...] = DEFAULT_NO_REPLY_PATTERNS
    own_address: bool = True
    auto_replies: bool = True
    bounces: bool = True
    bulk: bool = True
    # senders (addresses or "@domain") that always make tickets, whatever they look like
    always_ticket: frozenset[str] = frozenset()

    def no_reply(self) -> re.Pattern[str]:
        return _compiled(self.no_reply_patterns)


_CACHE: dict[tuple[str, ...], re.Pattern[str]] = {}


def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    found = _CACHE.get(patterns)
    if found is None:
        found = re.compile("^(?:" + "|".join(patterns) + ")$", re.IGNORECASE)
        _CACHE[patterns] = found
    return found


@dataclass(frozen=True, slots=True)
class BinVerdict:
    reason: BinReason
    detail: str


def _always(sender: str, rules: BinRules) -> bool:
    if not rules.always_ticket:
        return False
    domain = "@" + sender.rsplit("@", 1)[-1]
    return sender in rules.always_ticket or domain in rules.always_ticket


def is_own(msg: InboundMessage, rules: BinRules) -> BinVerdict | None:
    sender = msg.sender.address.strip().lower()
    if msg.channel == "chat" or not rules.own_address or not sender:
        return None
    if sender in rules.own_addresses and not _always(sender, rules):
        return BinVerdict("own-address", sender)
    return None


def verdict(msg: InboundMessage, rules: BinRules) -> BinVerdict | None:
    """Why ``msg`` is not a ticket, or None: it is one."""
    if msg.channel == "chat":
        return None
    sender = msg.sender.address.strip().lower()
    if _always(sender, rules):
        return None
    own = is_own(msg, rules)
    if own is not None:
        return own
    flags = msg.flags
    if flags.bounce is not None and rules.bounces:
        b = flags.bounce
        return BinVerdict("bounce", " ".join(filter(None, (b.status, b.original_recipient))))
    if flags.mailing_list and rules.mailing_lists:
        return BinVerdict("mailing-list", flags.list_id or "list headers")
    local = sender.split("@", 1)[0].split("+", 1)[0] if "@" in sender else ""
    if local and rules.no_reply_senders and rules.no_reply().match(local):
        return BinVerdict("no-reply-sender", local)
    reason = flags.auto_reply_reason or ""
    if reason.startswith("precedence: bulk") or reason.startswith("precedence: junk"):
        return BinVerdict("bulk", reason) if rules.bulk else None
    strong = reason not in _WEAK_AUTO_REPLY or _AUTO_REPLY_PREFIX.match(msg.subject)
    if flags.auto_reply and rules.auto_replies and strong:
        return BinVerdict("auto-reply", reason)
    return None
