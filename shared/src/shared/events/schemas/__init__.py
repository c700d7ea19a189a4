"""Versioned payload schemas, one module per producing service."""
