"""invites's request and response models."""
