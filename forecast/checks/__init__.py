"""Offline checks that serve no request: backtests, parameter recoveries, timing-form comparison."""
