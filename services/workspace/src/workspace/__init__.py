"""workspace: orgs (personal and team), memberships and roles, settings."""
