"""The IMAP connector: mailboxes watched with IDLE, fetched by UID, checkpointed after the
broker acknowledged each message (``connector``, ``session``, ``fetch``, ``store``,
``checkpoint``, ``auth`` for passwords and OAuth2, ``status``), run as the ``imap`` worker by
``service``; ``cli`` is ``helpline mailboxes``."""
