"""A store written by an older tritune opens, migrates once, and keeps its failures as the model's."""

import sqlite3
from pathlib import Path

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import ServingConfig
from tritune.domain.status import FailureCause, VariantStatus
from tritune.store import Store
from tritune.store.sqlite import SCHEMA_VERSION

# The tables versions 1 to 3 share: meta, runs, and measurements before repeats.
META_AND_RUNS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, model_name TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE,
    settings_json TEXT NOT NULL, hardware_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'running', created_at REAL NOT NULL, updated_at REAL NOT NULL
);
"""
MEASUREMENTS_V1_TO_V3 = """
CREATE TABLE measurements (
    id INTEGER PRIMARY KEY, variant_id INTEGER NOT NULL REFERENCES variants(id), load_mode TEXT NOT NULL,
    load_value REAL NOT NULL, batch_size INTEGER NOT NULL, status TEXT NOT NULL, error TEXT,
    client_bound INTEGER NOT NULL DEFAULT 0, perf_throughput REAL, perf_latency_p99 REAL,
    metrics_json TEXT NOT NULL, warnings_json TEXT NOT NULL DEFAULT '[]', duration_s REAL,
    created_at REAL NOT NULL, UNIQUE (variant_id, load_mode, load_value, batch_size)
);
"""

# The tables as schema version 1 wrote them (before variants knew why they failed).
V1_TABLES = (
    META_AND_RUNS
    + """
CREATE TABLE variants (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
    params_key TEXT NOT NULL, params_json TEXT NOT NULL, serving_json TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending', load_time_s REAL,
    error TEXT, created_at REAL NOT NULL, UNIQUE (run_id, params_key), UNIQUE (run_id, name)
);
"""
    + MEASUREMENTS_V1_TO_V3
    + """
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES (1, 'm', 'fp', '{}', '{}', 'interrupted', 0, 0);
INSERT INTO variants VALUES (1, 1, 'm_config_default', '{}', '{}', '{"max_batch_size": 8}', 1, 'loaded', 1.0, NULL, 0);
INSERT INTO variants VALUES
    (2, 1, 'm_config_0', '{"a":1}', '{"a":1}', '{"max_batch_size": 8}', 0, 'failed', NULL, 'failed to poll', 0);
"""
)


def _schema_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])


def test_an_old_store_migrates_and_its_failures_stay_the_models(tmp_path: Path) -> None:
    path = tmp_path / "tritune.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_TABLES)
    for _ in range(2):  # a second open finds it current and changes nothing
        with Store(path) as store:
            loaded, failed = store.variants(1)
            assert (loaded.status, loaded.failure) == (VariantStatus.LOADED, None)
            assert (failed.status, failed.failure, failed.error) == (
                VariantStatus.FAILED,
                FailureCause.MODEL,
                "failed to poll",
            )
        assert _schema_version(path) == SCHEMA_VERSION == 4


def test_a_new_store_is_current_and_records_who_failed(tmp_path: Path) -> None:
    with Store.in_run_dir(tmp_path) as store:
        run, _ = store.open_run("m", "fp", {}, {})
        variant = store.variant_for(run.id, {"a": 1}, ServingConfig(max_batch_size=8), name="m_config_0")
        store.set_variant_status(variant.id, VariantStatus.FAILED, error="unreachable", failure=FailureCause.SERVER)
        assert store.variants(run.id)[0].failure is FailureCause.SERVER
        store.set_variant_status(variant.id, VariantStatus.FAILED, error="bad config")  # the model's by default
        assert store.variants(run.id)[0].failure is FailureCause.MODEL
        store.set_variant_status(variant.id, VariantStatus.LOADED)
        assert store.variants(run.id)[0].failure is None

        point = LoadPoint(LoadMode.CONCURRENCY, 1, 1)
        store.add_measurement(variant.id, Measurement(point, MeasurementStatus.OK, {"perf_throughput": 1.0}))
        failed = LoadPoint(LoadMode.CONCURRENCY, 2, 1)
        store.add_measurement(variant.id, Measurement(failed, MeasurementStatus.FAILED, {}, error="server died"))
        assert store.forget_failed_measurements(variant.id) == 1
        assert [r.measurement.load for r in store.measurements(variant.id)] == [point]
    assert _schema_version(tmp_path / "tritune.db") == SCHEMA_VERSION


# Written by tritune at schema version 2 (before warm-ups), through its own Store: a run with a
# loaded variant (load 1.5 s, one measurement) and one the server failed.
V2_STORE = Path(__file__).with_name("store_v2.db")


def test_a_v2_store_migrates_and_its_variants_have_no_warmup(tmp_path: Path) -> None:
    path = tmp_path / "tritune.db"
    path.write_bytes(V2_STORE.read_bytes())
    assert _schema_version(path) == 2
    with Store(path) as store:
        (run,) = store.runs()
        loaded, failed = store.variants(run.id)
        assert (loaded.load_time_s, loaded.warmup_s) == (1.5, None)
        assert (failed.failure, failed.error) == (FailureCause.SERVER, "unreachable")
        assert len(store.measurements(loaded.id)) == 1
        store.set_variant_status(loaded.id, VariantStatus.LOADED, load_time_s=1.25, warmup_s=0.5)
        store.set_variant_status(loaded.id, VariantStatus.LOADED)  # left out: kept
        assert (store.variants(run.id)[0].load_time_s, store.variants(run.id)[0].warmup_s) == (1.25, 0.5)
    assert _schema_version(path) == SCHEMA_VERSION == 4


# The tables exactly as schema version 3 created them (before repeated measurements), with a run,
# two variants and three measurements in them.
V3_TABLES = (
    META_AND_RUNS
    + """
CREATE TABLE variants (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
    params_key TEXT NOT NULL, params_json TEXT NOT NULL, serving_json TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending', load_time_s REAL,
    error TEXT, failure TEXT, warmup_s REAL, created_at REAL NOT NULL,
    UNIQUE (run_id, params_key), UNIQUE (run_id, name)
);
"""
    + MEASUREMENTS_V1_TO_V3
    + """
INSERT INTO meta VALUES ('schema_version', '3');
INSERT INTO runs VALUES (1, 'm', 'fp', '{}', '{}', 'complete', 0, 0);
INSERT INTO variants VALUES
    (1, 1, 'm_config_default', '{}', '{}', '{"max_batch_size": 8}', 1, 'loaded', 1.0, NULL, NULL, 0.25, 0);
INSERT INTO variants VALUES
    (2, 1, 'm_config_0', '{"a":1}', '{"a":1}', '{"max_batch_size": 8}', 0, 'loaded', 1.0, NULL, NULL, NULL, 0);
INSERT INTO measurements VALUES
    (1, 1, 'concurrency', 1, 1, 'ok', NULL, 0, 100, 2.0, '{"perf_throughput": 100, "perf_latency_p99": 2.0}',
     '[]', 0.5, 10),
    (2, 1, 'concurrency', 2, 1, 'unstable', 'spread', 0, 150, 3.0,
     '{"perf_throughput": 150, "perf_latency_p99": 3.0}', '["w"]', 0.5, 11),
    (7, 2, 'concurrency', 2, 1, 'ok', NULL, 1, 180, 2.5, '{"perf_throughput": 180, "perf_latency_p99": 2.5}',
     '[]', 0.5, 12);
"""
)


def test_a_v3_store_migrates_keeping_every_measurement_and_stores_repeats(tmp_path: Path) -> None:
    path = tmp_path / "tritune.db"
    with sqlite3.connect(path) as db:
        db.executescript(V3_TABLES)
    with Store(path) as store:
        default, config = store.variants(1)
        before = [(r.id, r.measurement, r.duration_s, r.created_at, r.repeat) for r in store.measurements(default.id)]
        assert [(i, m.load.value, m.status, m.error, d, c, r) for i, m, d, c, r in before] == [
            (1, 1.0, MeasurementStatus.OK, None, 0.5, 10, 0),
            (2, 2.0, MeasurementStatus.UNSTABLE, "spread", 0.5, 11, 0),
        ]
        (kept,) = store.measurements(config.id)
        assert (kept.id, kept.measurement.client_bound, kept.measurement.metrics["perf_throughput"]) == (7, True, 180)
        assert default.warmup_s == 0.25
        # Repeats of one load point sit beside the search's measurement, each found by its number.
        point = LoadPoint(LoadMode.CONCURRENCY, 2, 1)
        for repeat, value in ((1, 151.0), (2, 149.0)):
            store.add_measurement(
                config.id, Measurement(point, MeasurementStatus.OK, {"perf_throughput": value}), repeat=repeat
            )
        found = store.find_measurement(config.id, point, repeat=2)
        assert found is not None and found.metrics["perf_throughput"] == 149.0
        assert store.find_measurement(config.id, point, repeat=3) is None
        assert store.find_measurement(config.id, point).metrics["perf_throughput"] == 180  # type: ignore[union-attr]
        assert [r.repeat for r in store.repeats(config.id, point)] == [1, 2]
        assert len(store.measurements(config.id)) == 1  # the search's view: repeat 0 only
        assert len(store.measurements(config.id, repeats=True)) == 3
        assert store.measurement_count(1) == 5
        assert (len(list(store.iter_run_measurements(1))), len(list(store.iter_run_measurements(1, True)))) == (3, 5)
    assert _schema_version(path) == SCHEMA_VERSION == 4
    with sqlite3.connect(path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM measurements WHERE variant_id=1 AND load_mode='concurrency'"
            " AND load_value=2 AND batch_size=1 AND repeat=1"
        ).fetchall()
        assert "USING INDEX" in str(plan)
        # The unique key is (variant, load mode, value, batch, repeat): a second repeat 1 replaces the first.
        assert db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 5
