"""The welcome email: exactly one per (email, community) for a subscriber with no account yet,
with a direct signup link (the configured signup URL with `?email=<address>`).

Sent from skool-ingest's consumer of its own `skool.subscribed` events rather than from the
webhook request: the request stays fast, and a failed send is retried with backoff and ends in
the DLQ like any other consumer failure. The `welcome_emails` row and the send share the
consumer's transaction: a send that fails rolls the row back (and is retried); a send whose
transaction then fails to commit would be repeated, the one case where a member could get two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas.skool import SkoolSubscribed
from shared.mail import send_email
from skool_ingest.service.accounts import has_account

log = logging.getLogger(__name__)

_STILL_ACTIVE = text(
    "SELECT status = 'active' FROM skool_subscriptions WHERE email = :email AND community_id = :community_id"
)
_CLAIM = text(
    "INSERT INTO welcome_emails (email, community_id) VALUES (:email, :community_id) "
    "ON CONFLICT DO NOTHING RETURNING email"
)


@dataclass(frozen=True)
class Mailer:
    """Where and how welcome emails are sent."""

    smtp_host: str
    smtp_port: int
    mail_from: str
    signup_url: str


def signup_link(signup_url: str, email: str) -> str:
    separator = "&" if "?" in signup_url else "?"
    return f"{signup_url}{separator}{urlencode({'email': email})}"


def compose_welcome(mailer: Mailer, subscribed: SkoolSubscribed) -> EmailMessage:
    community = subscribed.community_name or "your Skool community"
    greeting = f"Hi {subscribed.first_name}," if subscribed.first_name else "Hi,"
    message = EmailMessage()
    message["From"] = mailer.mail_from
    message["To"] = subscribed.email
    message["Subject"] = "Your Business workspace is ready to claim"
    link = signup_link(mailer.signup_url, subscribed.email)
    message.set_content(
        f"{greeting}\n\nYour membership of {community} includes a Business workspace.\n\n"
        f"Create your account with this address to get it: {link}\n"
    )
    return message


async def welcome_if_new(session: AsyncSession, *, subscribed: SkoolSubscribed, mailer: Mailer) -> bool:
    """Send the welcome email unless the address has an account, the membership has been
    cancelled since, or it was sent already; True if it was sent now."""
    if await has_account(session, email=subscribed.email):
        log.info("skool.subscribed %s: has an account, no welcome email", subscribed.email)
        return False
    key = {"email": subscribed.email, "community_id": subscribed.community_id}
    if not (await session.execute(_STILL_ACTIVE, key)).scalar_one_or_none():
        log.info("skool.subscribed %s: no longer active, no welcome email", subscribed.email)
        return False
    if (await session.execute(_CLAIM, key)).first() is None:
        return False  # sent already (an earlier subscription, or a redelivered event)
    await send_email(
        host=mailer.smtp_host, port=mailer.smtp_port, message=compose_welcome(mailer, subscribed)
    )
    log.info("welcome email sent to %s for community %s", subscribed.email, subscribed.community_id)
    return True
