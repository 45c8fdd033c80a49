"""Raises while being imported."""
raise RuntimeError("cannot initialise the candidate")
