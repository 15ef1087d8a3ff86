"""Alert storms become digests: rate limiting per recipient. Pure (time is a parameter).

An agent, a supervisor or the on-call channel gets the first ``burst`` alerts of a ``window``
at once; whatever else arrives for them within the window is held, and one digest mail (or
webhook post) goes out when the window closes. So a queue melting down at 3 a.m. pages the
on-call once with the list, not forty times.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from notify.notices import digest_item
from schemas.notification import Notification

DIGEST_TEMPLATES = frozenset({"alert-digest", "assignment-digest"})

ALERT_KINDS = frozenset(
    {"escalation-alert", "sla-warning", "sla-breach", "supervisor-alert", "assignment"}
)

TITLES = {
    "escalation-alert": "Ticket escalated",
    "sla-warning": "SLA about to be breached",
    "sla-breach": "SLA breached",
    "supervisor-alert": "Supervisor alert",
    "assignment": "Assigned to you",
    "auto-ack": "Acknowledgement",
    "agent-reply": "Reply",
}


def recipient_key(n: Notification) -> str:
    if n.channel == "webhook":
        return f"webhook:{n.webhook or ''}"
    return f"email:{(n.recipient.address if n.recipient else '').lower()}"


def group_of(n: Notification) -> str:
    """Assignments are digested among themselves (an agent's own work), alerts among theirs."""
    return "assignment" if n.kind == "assignment" else "alert"


@dataclass(slots=True)
class AlertDigests:
    burst: int
    window_s: float
    # per group (see group_of): (burst, window) replacing the defaults above
    groups: dict[str, tuple[int, float]] = field(default_factory=dict)
    _sent: dict[str, deque[float]] = field(default_factory=dict)
    _held: dict[str, dict[str, Notification]] = field(default_factory=dict)
    _held_since: dict[str, float] = field(default_factory=dict)

    def _key(self, n: Notification) -> str:
        return f"{group_of(n)}|{recipient_key(n)}"

    def _limits(self, key: str) -> tuple[int, float]:
        return self.groups.get(key.split("|", 1)[0], (self.burst, self.window_s))

    def admit(self, n: Notification, now: float) -> bool:
        """True: send it now (and it is counted). False: it is held for the digest."""
        key = self._key(n)
        burst, window_s = self._limits(key)
        times = self._sent.setdefault(key, deque())
        while times and times[0] <= now - window_s:
            times.popleft()
        if key not in self._held and len(times) < burst:
            times.append(now)
            return True
        self.hold(n, now)
        return False

    def hold(self, n: Notification, since: float) -> None:
        key = self._key(n)
        self._held.setdefault(key, {})[n.notification_id] = n
        self._held_since[key] = min(self._held_since.get(key, since), since)

    def release(self, notification_ids: Iterable[str]) -> None:
        """Forget held alerts that were finished elsewhere (restored final records)."""
        ids = set(notification_ids)
        for key in list(self._held):
            for nid in ids & self._held[key].keys():
                del self._held[key][nid]
            if not self._held[key]:
                del self._held[key]
                self._held_since.pop(key, None)

    def due(self, now: float) -> list[list[Notification]]:
        """Held alerts whose window has closed, one list per recipient (removed from here)."""
        out: list[list[Notification]] = []
        closed = [k for k, since in self._held_since.items()
                  if since + self._limits(k)[1] <= now]
        for key in closed:
            held = sorted(
                self._held.pop(key).values(), key=lambda n: (n.created_at, n.notification_id)
            )
            del self._held_since[key]
            self._sent.setdefault(key, deque()).append(now)
            out.append(held)
        return out

    @property
    def held_count(self) -> int:
        return sum(len(v) for v in self._held.values())


def digest_of(held: list[Notification], now: datetime) -> Notification:
    """One notification standing for ``held`` (same recipient). Its id hashes the held ids, so
    a restart that rebuilds the same hold produces the same digest id."""
    first = held[0]
    ids = sorted(n.notification_id for n in held)
    digest_id = "digest-" + hashlib.sha256("\x00".join(ids).encode()).hexdigest()[:32]
    lines = [alert_line(n) for n in held]
    since = min(n.created_at for n in held).astimezone(UTC)
    assignments = all(n.kind == "assignment" for n in held)
    return Notification(
        notification_id=digest_id,
        kind=first.kind,
        channel=first.channel,
        ticket_id=first.ticket_id,
        ticket_number=first.ticket_number,
        created_at=now,
        recipient=first.recipient,
        webhook=first.webhook,
        mailbox=first.mailbox,
        language=first.language,
        template="assignment-digest" if assignments else "alert-digest",
        subject=f"{len(held)} tickets assigned" if assignments else f"{len(held)} alerts",
        context={
            "digest_of": ",".join(ids),
            "count": str(len(held)),
            "since": f"{since:%Y-%m-%d %H:%M} UTC",
            "lines": "\n".join(lines),  # plain lines (webhooks); mail renders ``items``
            "items": [digest_item(n.kind, n.ticket_number, n.subject, n.context) for n in held],
            "reader_timezone": str(first.context.get("reader_timezone") or ""),
        },
    )


def _subject(n: Notification) -> str:
    """The ticket's own subject (route puts it in the context), else the notification's."""
    return str(n.context.get("ticket_subject") or "") or n.subject or str(
        n.context.get("subject", ""))


def alert_line(n: Notification) -> str:
    title = TITLES.get(n.kind, n.kind)
    subject = _subject(n)
    detail = alert_detail(n)
    return f"- [{n.ticket_number}] {title}: {subject}" + (f" ({detail})" if detail else "")


def alert_detail(n: Notification) -> str:
    c = n.context
    parts = []
    for key, label in (
        ("reason", ""), ("metric", "metric"), ("due_at", "due"), ("policy", "policy"),
        ("tier", "tier"), ("assignee", "assignee"),
    ):
        value = c.get(key)
        if value:
            parts.append(f"{label} {value}".strip())
    return ", ".join(parts)


def alert_values(n: Notification) -> dict[str, str]:
    if n.template in DIGEST_TEMPLATES:
        return {k: str(v) for k, v in n.context.items() if k != "items"}
    url = str(n.context.get("url", ""))
    return {
        "alert_title": TITLES.get(n.kind, n.kind),
        "ticket_number": n.ticket_number,
        "subject": _subject(n),
        "detail": alert_detail(n),
        "link_line": url,
    }
