"""What every resource shares: database, tables, errors, paging, clock, API schemas."""
