"""skool_ingest's consumers."""

from shared.runtime import Subscription

SUBSCRIPTIONS: tuple[Subscription, ...] = ()
