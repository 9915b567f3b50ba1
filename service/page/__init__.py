"""GET /: the page a person reads, and its static files."""
