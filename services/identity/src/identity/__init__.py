"""identity: users mirrored from the auth provider, their delivery log and their claims."""
