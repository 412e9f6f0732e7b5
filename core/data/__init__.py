"""Market data: price files, Yahoo, trading calendars and the aligned market the desk reads."""
