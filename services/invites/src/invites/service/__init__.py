"""invites's domain."""
