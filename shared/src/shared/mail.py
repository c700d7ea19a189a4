"""Sending email over SMTP (the platform's sink locally: SMTP_HOST / SMTP_PORT).

smtplib blocks, so the send runs in a worker thread; callers decide whether a failure is retried
(a consumer raises it) or only logged (a request's background task).
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

SMTP_TIMEOUT_SECONDS = 10

# What a failed send raises: connection trouble or the server's refusal.
MailError = (OSError, smtplib.SMTPException)


def _send(host: str, port: int, message: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)


async def send_email(*, host: str, port: int, message: EmailMessage) -> None:
    """Hand `message` to the SMTP server; raises one of `MailError` if it was not accepted."""
    await asyncio.to_thread(_send, host, port, message)
