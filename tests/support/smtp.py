"""An aiosmtpd server on loopback whose reply to DATA can be switched at runtime."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from services.devstack.ports import free_port

ACCEPT = "250 2.0.0 Message accepted for delivery"
TRY_AGAIN = "451 4.3.0 Mailbox busy, try again later"
NO_SUCH_USER = "550 5.1.1 Mailbox unavailable"


@dataclass(frozen=True)
class ReceivedMessage:
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"message has no text/{subtype} part"
        return str(body.get_content())


class SwitchableHandler:
    """Stores each accepted message; replies with ``reply`` to every DATA command.

    ``accept_delay`` delays the reply after the message is stored, which
    opens the window in which the server has the message but the client has not
    heard so.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reply = ACCEPT
        self.accept_delay = 0.0
        self.received: list[ReceivedMessage] = []
        self.attempts = 0

    def answer_with(self, reply: str) -> None:
        with self._lock:
            self._reply = reply

    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self.received)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
            reply = self._reply
        if not reply.startswith("250"):
            return reply
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.received.append(ReceivedMessage(tuple(envelope.rcpt_tos), parsed))
        if self.accept_delay:
            await asyncio.sleep(self.accept_delay)
        return reply


class SmtpServer:
    """A running SMTP server on 127.0.0.1 with a SwitchableHandler."""

    def __init__(self, port: int | None = None) -> None:
        self.handler = SwitchableHandler()
        self.port = port or free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
