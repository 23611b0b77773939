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


class FailureCause(StrEnum):
    """Why a variant failed: a resumed run tries a variant the server failed again (the user may
    have fixed the server since) and keeps the failures the model caused."""

    MODEL = "model"  # the server refused this model or variant (a bad config, a crash in the model)
    SERVER = "server"  # the server was unreachable, died or is set up so that nothing can load


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
