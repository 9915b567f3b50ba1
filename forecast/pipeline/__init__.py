"""Fit, gate, publish and store one forecast run."""
