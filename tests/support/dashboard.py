"""Metric names queried by the Grafana dashboard and exposed in Prometheus text."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "loyalty-ledger.json"

_STRINGS = re.compile(r'"[^"]*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()")


def dashboard_exprs(path: Path = DASHBOARD) -> list[str]:
    """Return the PromQL expression of every target of every panel."""
    dashboard = json.loads(path.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names(expr: str) -> set[str]:
    """Return the metric names in a PromQL expression (not functions, labels or numbers)."""
    stripped = expr
    for pattern in (_STRINGS, _MATCHERS, _RANGES, _GROUPINGS):
        stripped = pattern.sub(" ", stripped)
    return {name for name in _IDENTIFIER.findall(stripped) if not name[0].isdigit()}


def dashboard_metric_names(path: Path = DASHBOARD) -> set[str]:
    return {name for expr in dashboard_exprs(path) for name in metric_names(expr)}


def exposed_sample_names(text: str) -> set[str]:
    """Return every sample name in Prometheus text, such as ``x_total`` or ``x_bucket``."""
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """Return the value of sample ``name`` whose labels include ``labels``, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None
