"""Numpy-only posterior maths: draws, derived probabilities and the forecast document (no PyMC)."""
