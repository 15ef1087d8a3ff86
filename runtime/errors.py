"""One error hierarchy. ``retriable`` says whether trying again later may succeed."""

from __future__ import annotations


class HelplineError(Exception):
    retriable: bool = False


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
    """A record a stage could not process; goes to the dead-letter topic."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable
