"""Routing, SLAs and escalation: the right agent, on time, and the supervisor when it goes wrong.

Pure core: ``calendar`` (business hours, time zones, holidays), ``sla`` (policies, clocks),
``model`` / ``policy`` (teams, agents, assignment strategies), ``escalation`` (tiers L0-L3),
``supervisor`` (Zoho-style rules), ``blueprint`` (per-type processes), ``facts`` / ``clocks`` /
``timers`` / ``timing`` (a ticket's route state and its timers), ``engine`` (the router).
Shell: ``stage`` (``helpline worker route``), ``cli`` (``helpline agents|queue|escalations``).
Configuration: ``settings`` (the ``[route]`` section; see ``examples/routing.toml``).
"""
