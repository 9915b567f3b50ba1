"""Runs every benchmark and prints its ratios."""

from bench import fit_speed

fit_speed.main()
