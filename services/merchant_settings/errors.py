"""Invalid settings, described field by field for the HTTP API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from services.common.errors import LoyaltyError
from services.merchant_settings.model import MerchantSettings

SETTING_NAMES = tuple(name for name in MerchantSettings.model_fields if name != "version")
"""The settings a merchant can change; ``version`` is assigned by each change."""


# Appended to messages that pydantic writes without the allowed values.
_ALLOWED_HINTS = {
    "earning_enabled": "allowed values: true, false",
    "include_shipping": "allowed values: true, false",
    "earned_email_enabled": "allowed values: true, false",
    "earned_email_delay_seconds": "allowed values: a whole number of seconds, 0 or more",
}


@dataclass(frozen=True)
class SettingProblem:
    """One invalid setting and what is wrong with it."""

    field: str
    message: str


def unknown_settings(changes: dict[str, object]) -> list[SettingProblem]:
    """Return a problem for each key of ``changes`` that is not a setting."""
    allowed = ", ".join(SETTING_NAMES)
    return [
        SettingProblem(key, f"unknown setting; allowed settings: {allowed}")
        for key in changes
        if key not in SETTING_NAMES
    ]


def setting_problems(error: ValidationError) -> list[SettingProblem]:
    """Return one problem per invalid field named in ``error``."""
    problems = []
    for item in error.errors(include_url=False):
        # The only model-level rule, with no location, compares the two status sets.
        location = item["loc"]
        field = str(location[0]) if location else "reward_statuses, cancel_statuses"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown setting; allowed settings: {', '.join(SETTING_NAMES)}"
        elif field in _ALLOWED_HINTS and "allowed values" not in message:
            message = f"{message}; {_ALLOWED_HINTS[field]}"
        problems.append(SettingProblem(field, message))
    return problems


def describe(problems: list[SettingProblem]) -> str:
    """Return the problems as one line, each naming its field."""
    return "; ".join(f"{problem.field}: {problem.message}" for problem in problems)


class SettingsRejectedError(LoyaltyError):
    """A settings change with invalid fields; nothing was changed."""

    def __init__(self, problems: list[SettingProblem]) -> None:
        super().__init__(describe(problems))
        self.problems = problems


class MerchantNotFoundError(LoyaltyError):
    """The merchant is not registered."""


class SettingsVersionConflictError(LoyaltyError):
    """The settings changed since the version the caller read."""
