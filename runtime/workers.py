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

STAGES: dict[str, str] = {
    "normalize": "ingest.mime.stage:build_stage",
    "tickets": "tickets.stage:build_stage",
    "classify": "classify.stage:build_stage",
    "route": "route.stage:build_stage",
    "notify": "notify.stage:build_stage",
}

SERVICES: dict[str, str] = {
    "imap": "ingest.imap.service:CONNECTOR",
    "smtp": "ingest.smtp.service:CONNECTOR",
    "chat": "ingest.chat.service:CONNECTOR",
}


def load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
