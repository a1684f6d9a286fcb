"""The one summary a chaos run prints."""

from __future__ import annotations

from dataclasses import dataclass

from services.devstack.chaos.emails import EmailCount


@dataclass
class ChaosSummary:
    seed: int
    webhooks_sent: int
    webhooks_failed: int
    webhook_retries: int
    server_errors: int
    duplicates_sent: int
    orders: int
    customers: int
    records_in_topic: int
    drained: bool
    sigkills: int
    sigterms: int
    sigterm_exit_codes: list[int | None]
    connections_terminated: int
    consumer_starts: int
    poison_sent: int
    dead_letters: int
    dead_letters_republished: int
    poison_not_dead_lettered: int
    points_lost: int
    points_duplicated: int
    ledgers_differing: int
    balances_differing: int
    emails: EmailCount | None
    replay_identical: bool
    logs: str
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures()

    def failures(self) -> list[str]:
        """Return what went wrong, in words; empty when the run passed."""
        checks = [
            (self.points_lost == 0, f"{self.points_lost} points lost"),
            (self.points_duplicated == 0, f"{self.points_duplicated} points duplicated"),
            (self.ledgers_differing == 0, f"{self.ledgers_differing} ledgers differ"),
            (self.balances_differing == 0, f"{self.balances_differing} balances differ"),
            (self.webhooks_failed == 0, f"{self.webhooks_failed} webhooks never accepted"),
            (self.drained, "consumers did not apply every record in time"),
            (
                self.emails is None or self.emails.missing == 0,
                "awards without an email after the email timeout",
            ),
            (
                self.emails is None or self.emails.cancelled_wrongly == 0,
                "emails cancelled for awards that kept points",
            ),
            (self.poison_not_dead_lettered == 0, "a poison record was not dead-lettered"),
            (self.replay_identical, "a replay into a new database gave another ledger"),
            (self.dead_letters == self.poison_sent, "dead letters besides the poison records"),
            (
                all(code == 0 for code in self.sigterm_exit_codes),
                f"a consumer exited non-zero on SIGTERM: {self.sigterm_exit_codes}",
            ),
        ]
        return [message for ok, message in checks if not ok]

    def render(self) -> str:
        emails = "emails: not checked (no notifier, or run without --emails)"
        if self.emails is not None:
            count = self.emails
            emails = (
                f"emails:                {count.delivered} of {count.expected} awards emailed, "
                f"{count.missing} missing; {count.cancelled} emails cancelled because a "
                f"removal took the award back first ({count.cancelled_wrongly} wrongly); "
                f"SMTP down {count.smtp_outages} time(s); "
                f"duplicate emails: {count.duplicates} (a notifier killed after the SMTP "
                "server accepted an email but before it stored the send sends it again)"
            )
        result = "PASS" if self.passed else "FAIL: " + "; ".join(self.failures())
        lines = [
            f"chaos run, seed {self.seed}, {self.seconds:.0f} s",
            f"  events sent:           {self.webhooks_sent} webhooks accepted "
            f"({self.duplicates_sent} duplicates, reordered; {self.webhook_retries} retries, "
            f"{self.server_errors} after a 5xx) "
            f"for {self.orders} orders of {self.customers} customers",
            f"  records in topic:      {self.records_in_topic}",
            f"  kills:                 {self.sigkills} SIGKILL, {self.sigterms} SIGTERM "
            f"(exit codes after SIGTERM, final stops included: "
            f"{sorted(set(self.sigterm_exit_codes), key=str)}), "
            f"{self.consumer_starts} consumer starts",
            f"  reconnects:            {self.connections_terminated} database connections "
            "terminated",
            f"  dead letters:          {self.dead_letters} of {self.poison_sent} poison records "
            f"({self.dead_letters_republished} published again after a crash)",
            f"  points lost:           {self.points_lost}",
            f"  points duplicated:     {self.points_duplicated}",
            f"  ledgers differing:     {self.ledgers_differing}, "
            f"balances differing: {self.balances_differing}",
            f"  {emails}",
            "  replay:                "
            + ("identical ledger" if self.replay_identical else "another ledger")
            + " from the topic in a new database",
            f"  logs:                  {self.logs}",
            f"  result:                {result}",
        ]
        return "\n".join(lines)
