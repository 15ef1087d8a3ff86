"""One error hierarchy for all of helpline, on the ground floor so every stage may use it.

``retriable`` is a class attribute: it says whether trying the same thing again later may
succeed (a broker that was away, an SMTP 4xx, a timeout) or cannot (a record too large, bad
input, an SMTP 5xx). The runner retries a record whose error is retriable and dead-letters the
rest; code that needs to tell "one of ours" from a bug asks ``isinstance(exc, HelplineError)``,
never ``hasattr(exc, "retriable")``. Where the answer depends on what the other side said (an
SMTP reply), the class has a retriable sibling that its constructor picks
(``DeliveryError(..., retriable=True)`` is a :class:`TemporaryDeliveryError`).

The tree (R: retriable; classes outside this module live beside the code that raises them)::

    HelplineError
    ├── ConfigError                 settings that do not validate (exit code 2)
    ├── MissingTool                 java / mvn for the local Kafka not installed
    ├── BrokerUnavailable        R  Kafka not reachable or no acknowledgement in time
    ├── RecordTooLarge              a record bigger than its topic takes
    ├── Fenced                      runtime.writer: another replica took over this stage
    ├── StageError                  a record a stage could not process
    │   └── RetriableStageError  R
    ├── DeliveryError               a notification not delivered (SMTP 5xx, webhook 4xx)
    │   └── TemporaryDeliveryError R SMTP 4xx, timeouts, lost connections, webhook 5xx/429
    ├── JournalUnavailable       R  notify's sent-log not written: nothing may be sent
    ├── DecodeError                 schemas.codec: bytes not a record of the schema (ValueError)
    ├── NoSuchRecord                schemas.stage: no record at a partition/offset (LookupError)
    ├── UnparseableEmail            ingest.mime.parse: bytes that are not a mail (ValueError)
    ├── UnexpectedRecord            ingest.mime.stage: a record of a type not expected (ValueError)
    ├── AttachmentUnavailable       ingest.mime.attachments_cli
    ├── Rejection                   ingest.chat.payloads: a chat request refused (HTTP 4xx)
    ├── ImapFailure                 ingest.imap.session: the server's or the OS's own words
    │   ├── AuthRejected            credentials refused: needs re-auth, not a retry loop
    │   └── ConnectionProblem    R  network, TLS, timeout: reconnect after a backoff
    ├── TokenUnavailable            ingest.imap.auth: no OAuth2 access token
    │   └── TokenEndpointDown    R  the token endpoint unreachable or failing (5xx)
    ├── PublishFailed            R  ingest.imap.connector: raw mail not acknowledged
    ├── StateError                  ingest.imap.checkpoint: an unreadable checkpoint (ValueError)
    ├── InvalidCommand              tickets.commands: an agent action that cannot apply (ValueError)
    ├── UnknownTicket               tickets.state: an event for a ticket never created (ValueError)
    ├── ActionRejected              tickets.api_actions: an HTTP action body refused (ValueError)
    ├── DirectoryFileError          tickets.directory_file: a bad directory row (ValueError)
    ├── ConditionError              classify.conditions: a rule condition (ValueError)
    ├── ModelLoadError              classify.model: a missing or mismatched model directory
    ├── ModelRefused                classify.model_topic: a pushed model a worker will not load
    ├── PublishError             R  classify.publish: a ruleset not acknowledged by the broker
    └── TemplateMissing             notify.render: no template for a notification (LookupError)

Classes that also subclass a builtin (``ValueError``, ``LookupError``) keep it, so existing
``except ValueError`` sites still catch them. ``tests/unit/test_errors.py`` checks that every
exception class helpline defines is in this tree (private control-flow signals excepted) and
that ``retriable`` is as listed.
"""

from __future__ import annotations

from typing import ClassVar


class HelplineError(Exception):
    """Base of every error helpline raises on purpose."""

    retriable: ClassVar[bool] = False


class ConfigError(HelplineError):
    """Settings that do not validate. ``key`` names the offending setting."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class BrokerUnavailable(HelplineError):
    """Kafka could not be reached or did not acknowledge in time."""

    retriable = True

    def __init__(self, bootstrap: str, detail: str = "") -> None:
        msg = f"Kafka broker not reachable at {bootstrap}"
        super().__init__(f"{msg}: {detail}" if detail else msg)
        self.bootstrap = bootstrap


class RecordTooLarge(HelplineError):
    """A record bigger than its topic takes: trying again cannot help."""

    retriable = False

    def __init__(self, topic: str, size: int) -> None:
        super().__init__(f"record of {size} bytes is too large for topic {topic}")
        self.topic = topic
        self.size = size


class MissingTool(HelplineError):
    """A program the local Kafka needs (java, mvn) is not installed."""


class StageError(HelplineError):
    """A record a stage could not process; goes to the dead-letter topic.
    ``StageError(msg, retriable=True)`` is a :class:`RetriableStageError`."""

    def __new__(cls, message: str, *, retriable: bool = False) -> StageError:
        if cls is StageError and retriable:
            cls = RetriableStageError
        return super().__new__(cls, message)

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)


class RetriableStageError(StageError):
    """A record a stage could not process now but may later (the runner retries it)."""

    retriable = True


class DeliveryError(HelplineError):
    """A notification the transport could not deliver. Whether a later attempt may succeed
    depends on the server's reply, so ``retriable=True`` gives a
    :class:`TemporaryDeliveryError`; the server's own words travel in ``server_reply``."""

    def __new__(
        cls, message: str, *, retriable: bool, server_reply: str | None = None,
        code: int | None = None,
    ) -> DeliveryError:
        if cls is DeliveryError and retriable:
            cls = TemporaryDeliveryError
        return super().__new__(cls, message)

    def __init__(
        self, message: str, *, retriable: bool, server_reply: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.server_reply = server_reply
        self.code = code


class TemporaryDeliveryError(DeliveryError):
    """Not delivered this time (SMTP 4xx, timeout, lost connection, webhook busy): back off
    and try again."""

    retriable = True


class JournalUnavailable(HelplineError):
    """The sent-log could not be written: nothing may be sent until it can. Retriable, so
    the runner retries the batch instead of dead-lettering good input."""

    retriable = True
