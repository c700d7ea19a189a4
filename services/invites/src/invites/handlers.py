"""invites's consumers."""

from shared.runtime import Subscription

SUBSCRIPTIONS: tuple[Subscription, ...] = ()
