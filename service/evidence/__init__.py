"""POST, GET and DELETE /evidence: the evidence log."""
