"""long-data: long training samples for long-context extension (documents joined to length, with a
share of short chat samples)."""
