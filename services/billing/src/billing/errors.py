"""billing's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import NotFound


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"
