"""The SQLite run store: runs, variants, measurements; resume by fingerprint."""

from tritune.domain.status import RunStatus, VariantStatus
from tritune.store.sqlite import (
    MeasurementRecord,
    RunRecord,
    Store,
    VariantRecord,
)

__all__ = ["MeasurementRecord", "RunRecord", "Store", "RunStatus", "VariantRecord", "VariantStatus"]
