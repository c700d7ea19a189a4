"""The backbone's shared package: the plumbing every service stands on."""
