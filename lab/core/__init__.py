"""Paths, errors, command running, the private apt configuration: what every lab layer uses."""
