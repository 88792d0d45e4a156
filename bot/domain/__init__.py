"""The domain: the resolved clue, text safety, the id grammar and the locales. Pure: no I/O, no clocks."""
