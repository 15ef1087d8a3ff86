"""Settings of the normalize stage (the ``[normalize]`` section of the config file).

Every limit the MIME normalizer applies is here, so hostile or huge mail is bounded by named,
documented values rather than literals in the parser.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NormalizeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Larger raw messages are dead-lettered instead of parsed (they stay on raw.email).
    max_message_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # MIME tree bounds: parts beyond these are ignored (the message still parses).
    max_mime_parts: int = Field(default=1000, ge=1)
    max_mime_depth: int = Field(default=25, ge=1)
    # The clean text kept in the event; the rest stays available from the raw record.
    max_text_chars: int = Field(default=200_000, ge=100)
    # HTML larger than this is cut before conversion to text.
    max_html_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Header values longer than this are cut before decoding (RFC 5322 allows 998 per line;
    # folded values can be longer, but not megabytes).
    max_header_chars: int = Field(default=16 * 1024, ge=998)
    max_references: int = Field(default=200, ge=1)
    max_recipients: int = Field(default=500, ge=1)
    max_attachments: int = Field(default=500, ge=0)
    # How many bytes the charset detector looks at when a declaration is missing or wrong.
    charset_detection_bytes: int = Field(default=32 * 1024, ge=64)
    # How much of the new text the language guess reads, and the evidence it needs.
    language_sample_chars: int = Field(default=4000, ge=50)
    language_min_hits: int = Field(default=2, ge=1)
    # A "--" line without the trailing space only counts as a signature separator this close
    # to the end of the new text (a bare "--" higher up is more often content).
    signature_search_lines: int = Field(default=15, ge=1)
