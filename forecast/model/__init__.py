"""The PyMC model: the per-ally block, the campaign level, sampling with nutpie, and the diagnostics gate."""
