"""Which code runs for ``helpline worker <name>``.

Stages are record-in/record-out logic run by ``runtime.runner``; services are connectors that
own their sockets (IMAP, SMTP/LMTP receiver, chat HTTP) and publish through a Publisher.
Each entry is ``module:attribute``, imported only when that worker starts, so one stage's
dependencies never load in another's process.

* stage factory:   ``build_stage(ctx: StageContext) -> Stage``
* service:         a ``schemas.stage.Connector`` (``run(ctx, publisher, stop)`` and its status)
"""

from __future__ import annotations

import importlib
from typing import Any

from schemas.topics import CONNECTORS, PIPELINE

# Derived from the topology registry (schemas.topics), in pipeline order.
STAGES: dict[str, str] = {s.name: f"{s.module}:build_stage" for s in PIPELINE}
SERVICES: dict[str, str] = {c.name: f"{c.module}:CONNECTOR" for c in CONNECTORS}


def load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
