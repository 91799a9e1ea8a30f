"""The HTTP front door: FastAPI routes that translate requests and call domain services."""
