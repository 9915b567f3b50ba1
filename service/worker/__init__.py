"""The worker process: owns the compiled model and turns queued runs into published forecasts."""
