"""Errors shared by the services."""


class LoyaltyError(Exception):
    """Base of every error this product raises on purpose."""


class ServiceUnavailableError(LoyaltyError):
    """A backing service (database or broker) is not reachable; start it and retry."""


class ConfigurationError(LoyaltyError):
    """A setting is invalid; the message names the setting and the fix."""
