"""The mail normalizer: raw RFC 822 bytes in, an :class:`schemas.message.InboundMessage` out.

Pure modules (no I/O): ``parse`` (the entry point, re-exported here), ``headers``, ``body``,
``text`` (charsets), ``html`` (HTML to text), ``quotes`` (quoted history and signatures),
``flags`` (auto-replies, lists, bounces), ``bounce`` (delivery status notifications),
``language``; ``settings`` holds their limits. The shells around them: ``stage`` (the
``normalize`` worker), ``cli`` (``helpline parse``) and ``attachments_cli``.
"""

from ingest.mime.parse import (
    ReadableBody,
    UnparseableEmail,
    attachment_content,
    email_message_id,
    parse_email,
    readable_body,
)

__all__ = [
    "ReadableBody",
    "UnparseableEmail",
    "attachment_content",
    "email_message_id",
    "parse_email",
    "readable_body",
]
