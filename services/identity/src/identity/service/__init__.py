"""identity's domain: users from the auth provider, and claims."""
