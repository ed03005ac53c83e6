"""Prometheus metrics shared by the turn pipeline and the adapters (default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TURNS = Counter(
    "iijbot_turns_total",
    "Turns processed, by platform and outcome (ok, duplicate, conflict_exhausted, store_error; "
    "error = failed on a bug, the customer got an apology)",
    ["platform", "outcome"],
)
TURN_SECONDS = Histogram(
    "iijbot_turn_seconds",
    "Time from inbound to reply ready (load + understand + step + commit)",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
COMMIT_CONFLICTS = Counter(
    "iijbot_commit_conflicts_total", "Compare-and-swap conflicts that re-ran a turn", ["platform"]
)
INTENTS = Counter("iijbot_intents_total", "Understood intents by kind", ["kind"])
WEBHOOK_REQUESTS = Counter(
    "iijbot_webhook_requests_total",
    "Inbound webhook requests by platform and result (ok, bad_signature, malformed, ignored)",
    ["platform", "result"],
)
PLATFORM_API_ERRORS = Counter(
    "iijbot_platform_api_errors_total",
    "Errors from LINE / Slack APIs by platform and HTTP status",
    ["platform", "status"],
)
REPLIES_SENT = Counter(
    "iijbot_replies_sent_total", "Replies delivered, by platform and method", ["platform", "method"]
)
EVENTS_RECORDED = Counter(
    "iijbot_events_recorded_total", "Turn events appended to the event stream", ["platform"]
)
EVENTS_DROPPED = Counter(
    "iijbot_events_dropped_total",
    "Turn events not recorded because the store could not take them (the turn went on)",
    ["platform"],
)
REMINDERS = Counter(
    "iijbot_reminders_total",
    "Reminders by platform and outcome: sent by our worker (sent, past, quiet, capped, "
    "failed, undeliverable), or kept by the platform (scheduled, fallback = refused, so our worker "
    "sends it; cancelled, cancel_failed); platform=line,outcome=sent counts the billed "
    "LINE pushes",
    ["platform", "outcome"],
)
