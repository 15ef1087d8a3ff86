"""Notifications: auto-acknowledgements (email or chat), agent replies, escalation and SLA
alerts (email, webhooks) — loop-safe, idempotent, exactly once in effect.

Pure core: ``loop_guard``, ``ack_policy``, ``render``, ``headers``, ``mime``, ``alerts``,
``compose``. Shell: ``stage`` (the worker), ``dispatch`` and ``sentlog`` (the intent → send →
final protocol), ``smtp`` and ``webhooks`` (ports' adapters), ``cli``.
"""
