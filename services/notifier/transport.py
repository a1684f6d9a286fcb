"""Sending a message over SMTP (aiosmtplib), with failures sorted into temporary and permanent.

A 4xx reply, a refused or dropped connection and a timeout are temporary: the
sender retries later. A 5xx reply is permanent: the job fails with the reply.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from services.notifier.settings import NotifierSettings


class DeliveryError(Exception):
    """The SMTP server did not accept the message; ``reason`` is its reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryDeliveryError(DeliveryError):
    """Sending may succeed later: 4xx, connection refused or lost, timeout."""


class PermanentDeliveryError(DeliveryError):
    """Sending this message will not succeed: a 5xx reply."""


def _classify(code: int, text: str) -> DeliveryError:
    reason = f"{code} {text}".strip()
    if 500 <= code < 600:
        return PermanentDeliveryError(reason)
    return TemporaryDeliveryError(reason)


class SmtpTransport:
    """Delivers messages to the configured SMTP server, one connection per message."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Send ``message``; raise TemporaryDeliveryError or PermanentDeliveryError on failure."""
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                message,
                sender=settings.smtp_sender,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=password,
                use_tls=settings.smtp_tls,
                start_tls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            # One recipient per message, so its reply is the message's reply.
            refused = error.recipients[0]
            raise _classify(refused.code, refused.message) from error
        except aiosmtplib.SMTPResponseException as error:
            raise _classify(error.code, error.message) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
