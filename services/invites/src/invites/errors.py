"""invites's domain errors (mapped to HTTP once, by shared.errors)."""
