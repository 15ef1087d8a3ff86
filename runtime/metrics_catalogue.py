"""The metrics a stage or a connector may emit through the :class:`schemas.stage.Meter` port:
names, help, and for each label the closed set of values it may take. Declared once here, so a
label never grows with traffic (a value outside its set is exported as ``other``) and the list
in ``deploy/README.md`` can be checked against the code."""

from __future__ import annotations

from dataclasses import dataclass

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)
SEND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# a customer's message to the auto-ack sent: every stage, every hop, a relay's answer
END_TO_END_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
OTHER = "other"  # what a label value outside its declared set is exported as


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the :class:`schemas.stage.Meter` port: kind, help, and per label the
    closed set of values it may take (``None``: the runtime's own, e.g. a config name)."""

    kind: str  # counter / histogram
    help: str
    values: tuple[tuple[str, frozenset[str] | None], ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.values)

    def bound(self, label: str, value: str) -> str:
        allowed = dict(self.values)[label]
        return value if allowed is None or value in allowed else OTHER


def _set(*values: str) -> frozenset[str]:
    return frozenset(values)


_NOTIFY_KINDS = _set("auto-ack", "agent-reply", "escalation-alert", "sla-warning", "sla-breach",
                     "supervisor-alert", "assignment")
_NOTIFY_CHANNELS = _set("email", "chat", "webhook")
# why a notification was not sent (notify.ack_policy / notify.loop_guard), or how it ended
NOTIFY_REASONS = _set(
    "none", "digested", "in-doubt", "permanent", "retries-exhausted", "compose",
    "recipient-cap", "auto-reply", "bounce", "mailing-list", "own-address", "machine-sender",
    "no-usable-sender", "hard-bounced", "auto-ack-disabled", "agent-initiated",
    "already-answered", "merged", "delivered-in-chat", "status-new", "status-open",
    "status-pending", "status-on-hold", "status-solved", "status-closed")
_PROTOCOLS = _set("smtp", "lmtp")
CHAT_ROUTES = _set("conversations", "messages", "events", "replies", "config", "preflight",
                   "widget", "demo", "healthz")
_STATUS_CLASSES = _set("2xx", "3xx", "4xx", "429", "5xx")

# Every metric a stage or connector may emit through the Meter port (``helpline_<name>``,
# ``_total`` for counters, ``_seconds`` for histograms).
CATALOGUE: dict[str, MetricSpec] = {
    "notify_notifications": MetricSpec(
        "counter", "notifications decided, by kind, channel, outcome and reason",
        (("kind", _NOTIFY_KINDS), ("channel", _NOTIFY_CHANNELS),
         ("outcome", _set("sent", "suppressed", "failed")), ("reason", NOTIFY_REASONS))),
    "notify_deliveries": MetricSpec(
        "counter", "send attempts to the mail relay or a webhook, by result",
        (("channel", _NOTIFY_CHANNELS), ("outcome", _set("ok", "retriable", "permanent")))),
    "notify_resends": MetricSpec(
        "counter", "notifications sent again because a previous worker left them in doubt "
        "(intent recorded, no final: killed during the send); the receiver may see them twice "
        "under one Message-ID",
        (("kind", _NOTIFY_KINDS), ("channel", _NOTIFY_CHANNELS))),
    "notify_retries": MetricSpec(
        "counter", "retriable failures scheduled for another attempt",
        (("channel", _NOTIFY_CHANNELS),)),
    "notify_send": MetricSpec(
        "histogram", "time of one send attempt (SMTP transaction, webhook POST)",
        (("channel", _NOTIFY_CHANNELS), ("outcome", _set("ok", "error"))), SEND_BUCKETS),
    "notify_end_to_end": MetricSpec(
        "histogram", "from a notification's cause to its send: for an auto-ack, from the "
        "customer's message reaching helpline to the acknowledgement leaving it",
        (("kind", _NOTIFY_KINDS), ("channel", _NOTIFY_CHANNELS)), END_TO_END_BUCKETS),
    "tickets_intake": MetricSpec(
        "counter", "inbound messages by where they went: a new ticket, a follow-up of a "
        "closed one, threaded (by reply token, references, number in the subject, chat "
        "conversation), reopened, a duplicate, a bounce of our own mail, binned as not a "
        "ticket (by reason)",
        (("decision", _set("new", "follow-up", "threaded", "reopened", "duplicate", "bounce",
                           "binned")),
         ("via", _set("reply-token", "references", "subject-number", "conversation", "none",
                      "mailing-list", "no-reply-sender", "own-address", "auto-reply", "bulk",
                      "bounce")))),
    "smtp_receiver_messages": MetricSpec(
        "counter", "messages received by the SMTP/LMTP receiver, by the reply given "
        "(LMTP: per recipient)",
        (("protocol", _PROTOCOLS), ("outcome", _set("accepted", "tempfail", "too-big")))),
    "smtp_receiver_recipients_rejected": MetricSpec(
        "counter", "RCPT TO refused with 550 (not a recipient of this helpline)",
        (("protocol", _PROTOCOLS),)),
    "smtp_receiver_publish": MetricSpec(
        "histogram", "time from DATA to the broker's acknowledgement of raw.email",
        (("protocol", _PROTOCOLS),), SEND_BUCKETS),
    "chat_requests": MetricSpec(
        "counter", "chat HTTP requests, by route and status class",
        (("route", CHAT_ROUTES), ("method", _set("GET", "POST", "OPTIONS")),
         ("status", _STATUS_CLASSES))),
    "chat_replies_pushed": MetricSpec(
        "counter", "replies (auto-acks, agents') pushed to a visitor's open event stream"),
    "chat_email_fallbacks": MetricSpec(
        "counter", "replies handed to notify by email because the visitor left"),
    "chat_request": MetricSpec(
        "histogram", "chat HTTP request time (event streams: until the stream ends)",
        (("route", CHAT_ROUTES),), LATENCY_BUCKETS),
}
