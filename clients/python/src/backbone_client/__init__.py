"""backbone-client: what a service built on the platform needs (events, subscribers, HTTP, tokens)."""
