"""Prometheus metrics of one app instance, on a registry of its own (no global state)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """Every metric clue bot exports; build one per app and pass it to the parts that count."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.lookups = Tally("cluebot_lookups", "Clue lookups by outcome", "outcome", r)
        self.cache = Tally("cluebot_cache", "Clue cache results (hit, miss, negative_hit, stale_served, "
                           "redis_hit, revalidate, refresh)", "result", r)
        self.searches = Tally("cluebot_searches", "Clue searches by result (hit, miss, coalesced, stale_served, "
                              "error)", "result", r)
        self.coalesced = Counter("cluebot_singleflight_coalesced", "Lookups that awaited another's CRM call",
                                 registry=r)
        self.crm_latency = Histogram("cluebot_crm_request_seconds", "CRM request latency",
                                     ["endpoint", "outcome"], buckets=_LATENCY_BUCKETS, registry=r)
        self.circuit_open = Gauge("cluebot_crm_circuit_open", "1 while the CRM circuit breaker is open",
                                  registry=r)
        self.crm_rejected = Counter("cluebot_crm_rejected", "CRM calls refused locally (circuit, rate)",
                                    ["reason"], registry=r)
        self.ack_latency = Histogram("cluebot_slack_ack_seconds", "Time from request to Slack ack",
                                     ["kind"], buckets=_LATENCY_BUCKETS, registry=r)
        self.follow_up_cache = Tally("cluebot_follow_up_cache", "Follow-up cache results (hit, miss, "
                                     "coalesced, stale_served, failure_remembered)", "result", r)
        self.owner_cache = Tally("cluebot_owner_cache", "Clue owner cache results (hit, miss, coalesced, "
                                 "stale_served, failure_remembered)", "result", r)
        self.refusals = Tally("cluebot_refusals", "Requests refused before any lookup (access, rate_limited)",
                              "reason", r)
        self.redis_errors = Counter("cluebot_redis_errors", "Redis operations that failed", registry=r)
        self.redis_up = Gauge("cluebot_redis_up", "1 while Redis answers; 0 during an outage, and without "
                              "REDIS_URL", registry=r)
        self.redis_invalid = Tally("cluebot_redis_invalid", "Values read from Redis that failed validation "
                                   "(deleted or reset, then ignored)", "key", r)
        self.tasks_refused = Tally("cluebot_tasks_refused", "Background work refused because its lane was full "
                                   "(reply, housekeeping)", "kind", r)
        self.slack_refused = Tally("cluebot_slack_refused", "Requests refused by the HTTP guard before the app "
                                   "(headers, size, busy_client, recalled, timeout, signature, not_found)",
                                   "reason", r)
        self.crm_pushes = Tally("cluebot_crm_pushes", "CRM pushes by outcome: refused (headers or body), busy "
                                "(push lane full: 503), applied, register, ignored, replayed", "outcome", r)
        self.slack_call_failures = Tally("cluebot_slack_call_failures", "Calls to Slack that failed, by Web API "
                                         "method or response_url", "method", r)
        self.interactions = Tally("cluebot_interactions", "Slack requests by kind (command, action, suggestion, "
                                  "shortcut, view, event) and what became of them at the door (accepted, or the "
                                  "halt: replayed, foreign_response_url)", ("kind", "outcome"), r)
        self.store_commits = Counter("cluebot_store_commits", "Transactions committed to the alerts database",
                                     registry=r)
        # Bound once: looking a labelled child up costs more than observing on the hot path.
        self._ack_by_kind = {kind: self.ack_latency.labels(kind).observe for kind in ("command", "action", "event")}

    def observe_ack(self, kind: str, seconds: float) -> None:
        self._ack_by_kind[kind](seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Tally:
    """A counter with one or a few labels, for the per-request hot path: plain ints, exported when scraped.

    prometheus_client's ``Counter`` takes a lock on every increment (~250 ns); this is a dict update
    (~40 ns). No lock is needed: every increment and every scrape runs on the event loop's thread.
    """

    def __init__(self, name: str, documentation: str, labels: str | tuple[str, ...],
                 registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = [labels] if isinstance(labels, str) else list(labels)
        self._counts: dict[tuple[str, ...], int] = {}
        registry.register(self)

    def inc(self, *values: str) -> None:
        """One more for this label value (one value per label, in order)."""
        self._counts[values] = self._counts.get(values, 0) + 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labels)
        for values, count in sorted(self._counts.items()):
            family.add_metric(list(values), count)
        yield family
