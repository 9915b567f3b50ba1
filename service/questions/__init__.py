"""Several questions in one service: where each keeps its records, and their services."""
