"""Invitation emails, sent through `shared.mail` (the platform's sink locally: SMTP_HOST / SMTP_PORT)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlencode

from invites.settings import InvitesSettings
from shared.mail import MailError, send_email

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
    # An org name (or the first name it came from) may hold line breaks; a header may not.
    message["Subject"] = f"You are invited to join {' '.join(invitation.org_name.split())}"
    message.set_content(
        f"You have been invited to join {invitation.org_name} as {invitation.role}.\n\n"
        f"Accept the invitation: {accept_url(settings, invitation.token)}\n\n"
        "The link works once, for this email address only.\n"
    )
    return message


async def send_invitation(settings: InvitesSettings, invitation: InvitationEmail) -> None:
    """Send after the invitation committed (a background task of the request). A failure is
    logged, not raised: the invitation stands and `resend` sends it again."""
    try:
        await send_email(
            host=settings.smtp_host, port=settings.smtp_port, message=compose(settings, invitation)
        )
    except MailError as error:
        log.warning("invitation email to %s not sent: %r", invitation.to, error)
