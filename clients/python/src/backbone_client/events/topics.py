"""The platform's topics: one per producing service, each with a dead-letter topic beside it."""

from __future__ import annotations

IDENTITY_USERS = "identity.users"
WORKSPACE_ORGS = "workspace.orgs"
BILLING_SUBSCRIPTIONS = "billing.subscriptions"
INVITES_INVITATIONS = "invites.invitations"
SKOOL_SUBSCRIPTIONS = "skool.subscriptions"

ALL_TOPICS: tuple[str, ...] = (
    IDENTITY_USERS,
    WORKSPACE_ORGS,
    BILLING_SUBSCRIPTIONS,
    INVITES_INVITATIONS,
    SKOOL_SUBSCRIPTIONS,
)

_TOPIC_BY_TYPE_PREFIX = {
    "user.": IDENTITY_USERS,
    "org.": WORKSPACE_ORGS,
    "membership.": WORKSPACE_ORGS,
    "subscription.": BILLING_SUBSCRIPTIONS,
    "invitation.": INVITES_INVITATIONS,
    "skool.": SKOOL_SUBSCRIPTIONS,
}


def topic_for(event_type: str) -> str:
    """The topic an event type is published on."""
    for prefix, topic in _TOPIC_BY_TYPE_PREFIX.items():
        if event_type.startswith(prefix):
            return topic
    raise KeyError(f"no topic carries events of type {event_type!r}")


def dlq_topic(topic: str) -> str:
    """Where a consumer puts a record it could not process (the platform's convention)."""
    return f"{topic}.dlq"
