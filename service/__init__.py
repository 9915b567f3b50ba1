"""HTTP service: reads published forecasts, accepts evidence and queues runs for the worker."""
