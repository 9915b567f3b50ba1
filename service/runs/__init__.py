"""POST and GET /runs, and the durable run queue the worker reads."""
