"""workspace's domain: orgs and memberships."""
