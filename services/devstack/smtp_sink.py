"""An SMTP server (aiosmtpd) that stores every message it accepts as a ``.eml`` file.

Run it with ``python -m services.devstack.smtp_sink --port 2525 --directory DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)


class MaildirHandler:
    """aiosmtpd handler that writes each accepted message to its own file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{uuid.uuid4().hex}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(envelope.original_content or envelope.content)
        # Renaming makes the file appear whole to readers of the directory.
        temporary.rename(self.directory / name)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, port: int) -> Controller:
    """Start the sink on 127.0.0.1:``port`` in a background thread and return its controller."""
    controller = Controller(MaildirHandler(directory), hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=2525, help="TCP port on 127.0.0.1")
    parser.add_argument("--directory", type=Path, required=True, help="folder for .eml files")
    arguments = parser.parse_args()
    controller = start_sink(arguments.directory, arguments.port)
    print(f"SMTP sink on 127.0.0.1:{arguments.port}, writing to {arguments.directory}", flush=True)

    async def wait_for_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait_for_signal())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
