"""Generate the checked-in JSON Schema files from the pydantic models.

Run ``python -m schemas.export`` after changing a model; a test fails while the
files and the models differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.orders import OrderStatusChanged
from schemas.points import PointsEvent
from schemas.points_message import PointsMessage
from schemas.refunds import OrderRefunded

SCHEMA_DIR = Path(__file__).parent / "json"

SCHEMA_SOURCES: dict[str, Any] = {
    "order-status-changed.v1.schema.json": OrderStatusChanged,
    "points-event.v1.schema.json": PointsEvent,
    "points-message.v1.schema.json": PointsMessage,
    "order-refunded.v1.schema.json": OrderRefunded,
}


def render_schemas() -> dict[str, str]:
    """Return each schema file's name and its JSON text, rendered from the models."""
    rendered: dict[str, str] = {}
    for file_name, model in SCHEMA_SOURCES.items():
        schema = TypeAdapter(model).json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://loyalty-ledger.invalid/schemas/{file_name}"
        rendered[file_name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for file_name, text in render_schemas().items():
        (SCHEMA_DIR / file_name).write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_DIR / file_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
