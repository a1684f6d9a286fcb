"""The dashboard and the scrape configuration match the metrics the services define."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from services.common.settings import IngestSettings
from services.devstack.stack import LOCAL_METRICS_PORTS
from services.telemetry.instruments import ConsumerLagGauge, create_instruments
from tests.support.dashboard import (
    DASHBOARD,
    dashboard_exprs,
    dashboard_metric_names,
    exposed_sample_names,
    metric_names,
)

PROMETHEUS_CONFIG = DASHBOARD.parents[1] / "prometheus" / "prometheus.yml"


def defined_sample_names() -> set[str]:
    """Record once on every instrument and return the sample names Prometheus exposes."""
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    instruments = create_instruments(provider.get_meter("dashboard-test"))
    for field in dataclasses.fields(instruments):
        instrument = getattr(instruments, field.name)
        if isinstance(instrument, ConsumerLagGauge):
            instrument.set("group", "topic", 0, 1)
        elif isinstance(instrument, Histogram):
            instrument.record(1)
        elif isinstance(instrument, Counter):
            instrument.add(1)
        else:
            instrument.set(1)
    text = generate_latest(registry).decode()
    provider.shutdown()
    return exposed_sample_names(text) - {"target_info"}


def test_metric_names_parse_from_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, topic) (rate(a_bucket{x="y"}[5m]))) / b_total'
    assert metric_names(expr) == {"a_bucket", "b_total"}


def test_dashboard_queries_defined_metrics() -> None:
    defined = defined_sample_names()
    queried = {name for name in dashboard_metric_names() if name.startswith("loyalty_")}

    assert queried
    assert queried - defined == set()


def test_every_instrument_has_a_panel() -> None:
    queried = dashboard_metric_names()
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in defined_sample_names()}

    for family in sorted(families):
        assert any(name.startswith(family) for name in queried), f"no panel queries {family}"


def test_every_panel_has_a_query() -> None:
    assert all(expr.strip() for expr in dashboard_exprs())


def test_scrape_config_targets_local_stack_ports() -> None:
    targets = set(re.findall(r'"127\.0\.0\.1:(\d+)"', Path(PROMETHEUS_CONFIG).read_text()))
    expected = {str(port) for port in LOCAL_METRICS_PORTS.values()}
    expected.add(str(IngestSettings.model_fields["http_port"].default))

    assert targets == expected
