"""GET /forecast and its history and changes: the published forecasts, what-ifs, freshness."""
