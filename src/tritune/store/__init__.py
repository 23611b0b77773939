"""The SQLite run store: runs, variants, measurements; resume by fingerprint."""

from tritune.store.sqlite import (
    MeasurementRecord,
    RunRecord,
    Store,
    VariantRecord,
)

__all__ = ["MeasurementRecord", "RunRecord", "Store", "VariantRecord"]
