"""GET /allies and GET /allies/{code}."""
