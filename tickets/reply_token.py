"""The reply token moved to :mod:`schemas.reply_token` (the notifier mints it, the tickets stage
verifies it); this keeps the old import path working."""

from __future__ import annotations

from schemas.reply_token import TOKEN_PATTERN, find, make, message_id, plus_address, verify

__all__ = ["TOKEN_PATTERN", "find", "make", "message_id", "plus_address", "verify"]
