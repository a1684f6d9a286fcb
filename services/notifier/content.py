"""The earned-points email: Jinja2 templates per language, a text and an HTML part.

Templates live in ``templates/<language>/``. Files ending in ``.html`` are
autoescaped, so a shop or customer name cannot inject markup. The text part and
the subject are plain text and are not escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.notifier.jobs import EmailJob


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailRenderer:
    """Renders an email job into its subject, text and HTML in the job's language."""

    def __init__(self) -> None:
        self._environment = Environment(
            loader=PackageLoader("services.notifier", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, job: EmailJob) -> RenderedEmail:
        context = {
            "points": job.points,
            "balance": job.balance_after,
            "order_number": job.order_number,
            "shop_name": job.shop_name,
            "first_name": job.first_name,
        }
        folder = job.language
        subject = self._environment.get_template(f"{folder}/earned.subject.txt").render(context)
        return RenderedEmail(
            # A header cannot span lines, whatever a shop name contains.
            subject=" ".join(subject.split()),
            text=self._environment.get_template(f"{folder}/earned.txt").render(context),
            html=self._environment.get_template(f"{folder}/earned.html").render(context),
        )


def message_id(job: EmailJob, domain: str) -> str:
    """Return the Message-ID of the award's email: the same for every attempt and resend."""
    return f"<earned.{job.event_id}@{domain}>"


def build_message(
    job: EmailJob, rendered: RenderedEmail, sender: str, domain: str, now: datetime | None = None
) -> EmailMessage:
    """Return the MIME message of ``job``: multipart/alternative with text and HTML."""
    message = EmailMessage()
    message["From"] = formataddr((job.shop_name, sender))
    message["To"] = job.recipient
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = message_id(job, domain)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    # set_content() drops Content-* headers, so this one comes after the body.
    message["Content-Language"] = job.language
    return message
