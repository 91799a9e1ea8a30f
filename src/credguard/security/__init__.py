"""Abuse controls: failed-login records and throttling, rate limits, the IP block list."""
