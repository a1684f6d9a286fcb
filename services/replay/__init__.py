"""Replay: re-consuming the orders topic from the beginning into a fresh database."""
