"""GET /track-record."""
