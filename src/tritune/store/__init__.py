"""The SQLite run store: runs, variants, measurements; resume by fingerprint."""

from tritune.store.sqlite import (
    STORE_FILENAME,
    MeasurementRecord,
    RunRecord,
    Store,
    VariantRecord,
    VariantStatus,
)

__all__ = ["STORE_FILENAME", "MeasurementRecord", "RunRecord", "Store", "VariantRecord", "VariantStatus"]
