"""The run store's tables, and what each schema version changed from the one before."""

from __future__ import annotations

from tritune.domain.status import FailureCause, VariantStatus

SCHEMA_VERSION = 4

_MEASUREMENTS_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY,
    variant_id INTEGER NOT NULL REFERENCES variants(id),
    load_mode TEXT NOT NULL,
    load_value REAL NOT NULL,
    batch_size INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    client_bound INTEGER NOT NULL DEFAULT 0,
    perf_throughput REAL,
    perf_latency_p99 REAL,
    metrics_json TEXT NOT NULL,
    warnings_json TEXT NOT NULL DEFAULT '[]',
    duration_s REAL,
    created_at REAL NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0,
    UNIQUE (variant_id, load_mode, load_value, batch_size, repeat)
)"""
_V3_COLUMNS = (
    "id, variant_id, load_mode, load_value, batch_size, status, error, client_bound, perf_throughput,"
    " perf_latency_p99, metrics_json, warnings_json, duration_s, created_at"
)
# What each schema version added to the one before, applied in order to an older store.
MIGRATIONS = {
    # 2: why a variant failed; every failure stored before counts as the model's (kept on resume).
    2: (
        "ALTER TABLE variants ADD COLUMN failure TEXT",
        f"UPDATE variants SET failure = '{FailureCause.MODEL}' WHERE status = '{VariantStatus.FAILED}'",
    ),
    # 3: how long a variant's warm-up took (none for variants stored before warm-ups).
    3: ("ALTER TABLE variants ADD COLUMN warmup_s REAL",),
    # 4: repeated measurements of one load point (the confirm step's rounds). SQLite cannot
    # change a UNIQUE constraint, so the table is rebuilt (inside the migration's transaction);
    # every measurement stored before is the search's, repeat 0.
    4: (
        _MEASUREMENTS_TABLE.format(name="measurements_v4"),
        f"INSERT INTO measurements_v4({_V3_COLUMNS}, repeat) SELECT {_V3_COLUMNS}, 0 FROM measurements",
        "DROP TABLE measurements",
        "ALTER TABLE measurements_v4 RENAME TO measurements",
    ),
}

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model_name TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    settings_json TEXT NOT NULL,
    hardware_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'running',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS variants (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    params_key TEXT NOT NULL,
    params_json TEXT NOT NULL,
    serving_json TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    load_time_s REAL,
    error TEXT,
    failure TEXT,
    warmup_s REAL,
    created_at REAL NOT NULL,
    UNIQUE (run_id, params_key),
    UNIQUE (run_id, name)
);
"""
    + _MEASUREMENTS_TABLE.format(name="measurements")
    + ";\n"
)

__all__ = ["MIGRATIONS", "SCHEMA", "SCHEMA_VERSION"]
