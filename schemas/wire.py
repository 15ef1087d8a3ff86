"""What the encoder (:mod:`schemas.encoding`) and the decoder (:mod:`schemas.codec`) agree on."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

TAG_KEY = "kind"
EXTRA_FIELD = "extra"


def optional_of(tp: Any) -> Any | None:
    """``X`` for ``X | None`` (one non-None member), else None."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0]
    return None
