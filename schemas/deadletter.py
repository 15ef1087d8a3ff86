"""What a stage could not process, with everything needed to process it again."""

from __future__ import annotations

from datetime import datetime

from schemas.base import Extra, extra_field, record


@record
class DeadLetter:
    schema_version: int = 1
    stage: str
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    value: bytes
    error_type: str
    error: str
    retriable: bool = False
    failed_at: datetime
    attempts: int = 1
    extra: Extra = extra_field()
