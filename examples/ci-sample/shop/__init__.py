"""A shop whose views must leave the settings to the price logic."""
