"""The ``loyalty`` command line."""
