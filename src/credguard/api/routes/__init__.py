"""Routers of the API, one per domain."""
