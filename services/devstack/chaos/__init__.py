"""The chaos suite: the whole pipeline under injected faults, checked for exactly-once."""
