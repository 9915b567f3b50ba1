"""What every resource shares: the database, its tables, errors, paging, the clock, the API schemas."""
