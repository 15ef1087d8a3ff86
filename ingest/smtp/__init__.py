"""The SMTP/LMTP receiver: mail piped from the company's MTA, written to ``raw.email`` before
the 250 reply (``receiver``), run as the ``smtp`` worker by ``service``."""
