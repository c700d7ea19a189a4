"""HTTP pieces every service uses: the session dependency, service-key auth, health routes."""
