"""Every status word tritune stores or reports, one enum per thing that has a status.

StrEnums, so they compare equal to the words already in existing stores ("complete", "failed").
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"  # being searched now, or died without saying (a crash, kill -9)
    COMPLETE = "complete"  # the searcher asked its last trial
    INTERRUPTED = "interrupted"  # Ctrl-C: partial, resumable


class VariantStatus(StrEnum):
    PENDING = "pending"  # stored, never loaded
    LOADED = "loaded"  # loaded on the server at least once
    FAILED = "failed"  # failed to load, or every measurement failed


class MeasurementStatus(StrEnum):
    OK = "ok"
    UNSTABLE = "unstable"  # measured, but never within the stability threshold
    FAILED = "failed"  # no usable numbers: load failure, server death, every request failed


class Stability(StrEnum):
    """Where a measurement's windows stand: still windowing, or decided (the result maps the
    decision to a MeasurementStatus)."""

    RUNNING = "running"
    STABLE = "stable"
    UNSTABLE = "unstable"
    FAILED = "failed"
