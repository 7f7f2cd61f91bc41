"""Tenants, users with roles, and per-tenant API keys (issue 6: accounts and access)."""
