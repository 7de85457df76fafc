"""The JSON-lines protocol `studio train --events` writes on stdout.

One JSON object per line, flushed at once, each with an ``"event"`` key: ``started``,
``step`` (throttled), ``epoch``, ``checkpoint``, ``log``, ``error`` and ``done``. The window
reads these lines from its child process; anything else a run prints goes to stderr.
Non-finite numbers are written as ``null`` so that every line is strict JSON.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, TextIO

EVENT_NAMES = ("started", "step", "epoch", "checkpoint", "log", "error", "done")


def json_safe(value: Any) -> Any:
    """`value` with NaN and ±Inf replaced by None, so that it serialises as strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class EventStream:
    """Writes events to a text stream (stdout by default), one flushed line each."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def emit(self, event: str, **fields: Any) -> None:
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown event {event!r}")
        record = {"event": event, "time": round(time.time(), 3), **json_safe(fields)}
        self.stream.write(json.dumps(record, allow_nan=False) + "\n")
        self.stream.flush()


def parse_events(text: str) -> list[dict[str, Any]]:
    """The events in `text` (a reader's helper); lines that are not events are skipped."""
    events = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") in EVENT_NAMES:
            events.append(record)
    return events
