"""The agents' and supervisors' console (``helpline console``): sign-in, the queue, a ticket's
conversation and audit trail, agent actions, live updates and reports -- served by helpline.

It sits on the top floor with ``runtime``: it reads tickets through ``tickets.view`` and the
agent directory from the ``agents`` topic, and every action it takes is an
:class:`~schemas.commands.AgentAction` on ``ticket.commands``, the same path as the CLI's and
the ticket API's, so each one lands in the event log under the signed-in agent's id.
"""
