"""GET /health."""
