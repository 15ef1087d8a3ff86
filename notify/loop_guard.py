"""Who must never get an automatic mail, and how many one recipient may get. Pure.

The incumbents' mail loops start with an auto-acknowledgement to an out-of-office reply, which
answers with another out-of-office reply, and so on. RFC 3834 §2 says an automatic responder must
not answer automatic messages, list traffic, bounces or its own mail; Zammad's and Zulip's mail
filters add the ``noreply`` sender family. Those rules live here, as data in, reason out.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from schemas.message import MessageFlags

# Local parts that belong to machines (RFC 3834 §2, RFC 2142, common practice).
_MACHINE_LOCAL = re.compile(
    r"""^(
        no[-_.]?reply | do[-_.]?not[-_.]?reply | dont[-_.]?reply | ne[-_.]?pas[-_.]?repondre
      | mailer[-_.]?daemon | postmaster | mail[-_.]?daemon | bounces? | bounce[-_.+].*
      | .*[-_.+]bounces? | owner[-_.].* | .*[-_.]owner | .*[-_.]request | listserv | majordomo
      | noreply[-_.+].* | no[-_.]reply[-_.+].* | notifications? | auto[-_.]?reply | autoresponder
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Header values the normalizer may pass along verbatim in ``auto_reply_reason``.
AUTO_HEADERS = frozenset({"auto-submitted", "x-autoreply", "x-autorespond", "precedence"})


def normalize_address(address: str) -> str:
    """Lower-cased address with a ``+tag`` removed from the local part."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    if not local:
        return address.strip().lower()
    return f"{local.split('+', 1)[0]}@{domain}".lower()


def is_machine_address(address: str) -> bool:
    local = address.strip().strip("<>").rpartition("@")[0]
    return bool(local) and _MACHINE_LOCAL.match(local) is not None


def ack_refusal(
    sender: str,
    flags: MessageFlags,
    own_addresses: Iterable[str],
    *,
    suppressed: Collection[str] = frozenset(),
) -> str | None:
    """Why this sender must not get an automatic reply, or ``None`` when it may.

    ``own_addresses`` are our mailboxes and aliases (any ``+tag`` ignored), ``suppressed`` the
    addresses that hard-bounced before, already normalized (:func:`normalize_address`).
    """
    address = sender.strip()
    if not address or "@" not in address:
        return "no-usable-sender"
    if flags.bounce is not None:
        return "bounce"
    if flags.auto_reply:
        return "auto-reply"
    if flags.mailing_list:
        return "mailing-list"
    norm = normalize_address(address)
    if norm in {normalize_address(a) for a in own_addresses}:
        return "own-address"
    if is_machine_address(address):
        return "machine-sender"
    if norm in suppressed:
        return "hard-bounced"
    return None


@dataclass(slots=True)
class RecipientCaps:
    """At most ``cap`` automatic mails per recipient in a sliding ``window_s``.

    Time is a parameter (seconds since the epoch). State is in memory; the stage rebuilds it on
    restart from the sent-log, whose final records carry recipient and time.
    """

    cap: int
    window_s: float
    _sent: dict[str, deque[float]] = field(default_factory=dict)

    def _live(self, recipient: str, now: float) -> deque[float]:
        times = self._sent.setdefault(normalize_address(recipient), deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def allows(self, recipient: str, now: float) -> bool:
        return len(self._live(recipient, now)) < self.cap

    def record(self, recipient: str, at: float) -> None:
        times = self._sent.setdefault(normalize_address(recipient), deque())
        if times and at < times[-1]:  # restored out of order: keep the deque sorted
            times.append(at)
            ordered = sorted(times)
            times.clear()
            times.extend(ordered)
        else:
            times.append(at)

    def forget_before(self, now: float) -> None:
        """Drop recipients with nothing in the window (bounded memory)."""
        for key in [k for k, v in self._sent.items() if not v or v[-1] <= now - self.window_s]:
            del self._sent[key]
