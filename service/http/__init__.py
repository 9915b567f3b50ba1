"""HTTP plumbing: the token guard, strict input, security headers, the API reference."""
