"""Feeders: the generator's planned days written into real source servers instead of landing files."""
