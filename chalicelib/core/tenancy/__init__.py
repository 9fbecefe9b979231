"""Tenants, API keys and permission strings."""
