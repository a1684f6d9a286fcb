"""A span processor that masks email addresses in span attributes before export."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from services.common.logs import EMAIL_PATTERN, redact


class RedactEmailsProcessor(SpanProcessor):
    """Replaces email addresses in the string attributes a span starts with.

    FastAPI records ``url.path``, and a guest's customer key in a read API path
    is an email address. Attributes set later are not checked, so the
    pipeline's own spans never set personal data.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for key, value in dict(span.attributes or {}).items():
            if isinstance(value, str) and EMAIL_PATTERN.search(value):
                span.set_attribute(key, redact(value))

    def on_end(self, span: ReadableSpan) -> None:
        return None
