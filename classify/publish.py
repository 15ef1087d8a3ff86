"""Publishing a ruleset to the compacted rules topic (the edge of ``helpline rules push``)."""

from __future__ import annotations

from schemas.directory import RulesetRecord
from schemas.errors import HelplineError
from schemas.stage import TopicIO
from schemas.topics import RULES

# How long the broker has to acknowledge a push (aiokafka's request timeout, which bounded the
# push before it went through the TopicIO port).
PUBLISH_TIMEOUT_S = 40.0


class PublishError(HelplineError):
    """The broker could not be reached or did not acknowledge the ruleset."""

    retriable = True


async def publish_ruleset(topics: TopicIO, record: RulesetRecord,
                          timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
    """Write ``record`` keyed by its name; returns once the broker acknowledged it."""
    try:
        await topics.publish(RULES, [(record.name.encode(), record)], timeout_s)
    except HelplineError as exc:  # the port's broker errors (BrokerUnavailable, RecordTooLarge)
        raise PublishError(str(exc)) from None
