"""Bayesian forecast of an ally-by-ally consensus appointment (NATO Secretary General)."""

__version__ = "0.1.0"
