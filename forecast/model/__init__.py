"""The PyMC model: per-ally block, campaign level, sampling with nutpie, diagnostics gate."""
