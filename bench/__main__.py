"""Runs every benchmark and prints its ratios."""

from bench import fit_speed, http_speed, probe_speed, scale, startup

fit_speed.main()
http_speed.main()
probe_speed.main()
startup.main()
scale.main()
