"""Which topic carries which event: one topic per producing service (DESIGN.md section 2)."""

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

# The one service that publishes on each topic (its outbox; the envelope's `source`).
PRODUCER_BY_TOPIC = {
    IDENTITY_USERS: "identity",
    WORKSPACE_ORGS: "workspace",
    BILLING_SUBSCRIPTIONS: "billing",
    INVITES_INVITATIONS: "invites",
    SKOOL_SUBSCRIPTIONS: "skool-ingest",
}

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


def topics_published_by(service: str) -> list[str]:
    """The topics `service` publishes on (its own: one, or none for a service that only reads)."""
    return [topic for topic, producer in PRODUCER_BY_TOPIC.items() if producer == service]


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
