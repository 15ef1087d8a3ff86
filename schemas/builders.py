"""Fast builders of schema records for hot paths, each called like the plain Python it
replaces and property-tested equal to it (``tests/unit/test_codegen.py``):

* :func:`constructor` -- ``cls(**fields)``;
* :func:`keywords` -- ``cls(**fields)`` for a fixed set of named fields;
* :func:`positional` -- the same, the fields given positionally;
* :func:`replacer` -- ``dataclasses.replace(record, **changes)``;
* :func:`fields_replacer` -- ``dataclasses.replace`` of a fixed set of fields.

How they are fast (generated code, drafts turned into records by ``__class__`` assignment)
is private, in :mod:`schemas._codegen`, beside the plain reference of each.
"""

from __future__ import annotations

from schemas._codegen import (
    constructor,
    draft_of,
    fields_replacer,
    keywords,
    positional,
    replacer,
)

__all__ = ["constructor", "draft_of", "fields_replacer", "keywords", "positional", "replacer"]
