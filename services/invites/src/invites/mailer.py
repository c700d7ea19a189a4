"""Sending invitation emails over SMTP (the platform's sink locally: SMTP_HOST / SMTP_PORT)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlencode

from invites.settings import InvitesSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvitationEmail:
    to: str
    org_name: str
    role: str
    token: str


def accept_url(settings: InvitesSettings, token: str) -> str:
    separator = "&" if "?" in settings.accept_url else "?"
    return f"{settings.accept_url}{separator}{urlencode({'token': token})}"


def compose(settings: InvitesSettings, invitation: InvitationEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = invitation.to
    message["Subject"] = f"You are invited to join {invitation.org_name}"
    message.set_content(
        f"You have been invited to join {invitation.org_name} as {invitation.role}.\n\n"
        f"Accept the invitation: {accept_url(settings, invitation.token)}\n\n"
        "The link works once, for this email address only.\n"
    )
    return message


def _send(settings: InvitesSettings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


async def send_invitation(settings: InvitesSettings, invitation: InvitationEmail) -> None:
    """Send after the invitation committed (a background task of the request). A failure is
    logged, not raised: the invitation stands and `resend` sends it again."""
    try:
        await asyncio.to_thread(_send, settings, compose(settings, invitation))
    except (OSError, smtplib.SMTPException) as error:
        log.warning("invitation email to %s not sent: %r", invitation.to, error)
