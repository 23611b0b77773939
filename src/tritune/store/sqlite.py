"""The run store: one SQLite file per run directory.

Every write commits at once (WAL journal), so a Ctrl-C or a crash loses at most the
measurement in flight, and a rerun of the same command finds what was already measured.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tritune.domain.layout import RunLayout
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement
from tritune.domain.metrics import LATENCY_P99, THROUGHPUT
from tritune.domain.serving import ServingConfig
from tritune.domain.status import FailureCause, MeasurementStatus, RunStatus, VariantStatus
from tritune.errors import UsageError
from tritune.store.codec import canonical_json, measurement_from_row, serving_from_dict, serving_to_dict
from tritune.store.faults import open_error, writes
from tritune.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_R = TypeVar("_R", bound="DataclassInstance")


@dataclass(frozen=True)
class RunRecord:
    id: int
    model_name: str
    fingerprint: str
    settings: dict[str, Any]
    hardware: dict[str, Any]
    status: RunStatus
    created_at: float


@dataclass(frozen=True)
class VariantRecord:
    id: int
    run_id: int
    name: str
    params: dict[str, Any]
    serving: ServingConfig
    is_default: bool
    status: VariantStatus
    load_time_s: float | None
    error: str | None
    failure: FailureCause | None  # set for a failed variant only
    warmup_s: float | None = None  # its warm-up requests after the load; None: not warmed up


@dataclass(frozen=True)
class MeasurementRecord:
    id: int
    variant_id: int
    measurement: Measurement
    duration_s: float | None
    created_at: float
    repeat: int = 0  # 0: the search's measurement; 1, 2, ...: the confirm step's rounds


class Store:
    """A narrow interface over the run database (runs, variants, measurements)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self._refuse_newer()  # before anything writes to the file
            self._refuse_damaged()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            existed = self._has_table("variants")
            self._db.executescript(SCHEMA)
            self._migrate(existed)
        except sqlite3.DatabaseError as error:
            with contextlib.suppress(sqlite3.Error, AttributeError):
                self._db.close()
            raise open_error(self.path, error) from None
        self._db.row_factory = sqlite3.Row

    def _refuse_newer(self) -> None:
        """A store written by a newer tritune may hold what this one cannot read or would
        overwrite: refuse it, leaving the file as it is."""
        if not self._has_table("meta"):
            return
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row is not None and str(row[0]).isdigit() else 0
        if version > SCHEMA_VERSION:
            self._db.close()
            raise UsageError(
                f"{self.path} was written by a newer tritune (store version {version}; this one reads up to "
                f"{SCHEMA_VERSION}): upgrade tritune (pip install -U tritune) or pass another run directory"
            )

    def _refuse_damaged(self) -> None:
        """A store with a damaged page (a disk fault, a copy cut short) is refused before
        anything writes to it: a write could spread the damage over what is still readable."""
        if not self._has_table("meta"):
            return
        problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check(1)")]
        if problems != ["ok"]:
            lines = [line for line in "\n".join(problems).splitlines() if line and not line.startswith("***")]
            raise sqlite3.DatabaseError(f"database disk image is malformed: {(lines or problems)[0]}")

    def _has_table(self, name: str) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
        return self._db.execute(query, (name,)).fetchone() is not None

    def _migrate(self, existed: bool) -> None:
        """Bring a store written by an older tritune to SCHEMA_VERSION, in one transaction (two
        processes opening the same old store migrate it once); a new store is created current."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            # A store from before the meta table had a version is version 1.
            version = int(row[0]) if row is not None else (1 if existed else SCHEMA_VERSION)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(max(version, SCHEMA_VERSION)),),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @classmethod
    def in_run_dir(cls, run_dir: str | Path) -> Store:
        return cls(RunLayout(Path(run_dir)).store)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------
    @writes
    def open_run(
        self, model_name: str, fingerprint: str, settings: Mapping[str, Any], hardware: Mapping[str, Any]
    ) -> tuple[RunRecord, bool]:
        """The run with this fingerprint (resumed: True), or a new one."""
        row = self._db.execute("SELECT * FROM runs WHERE fingerprint = ?", (fingerprint,)).fetchone()
        if row is not None:
            self._db.execute(
                "UPDATE runs SET status=?, updated_at=? WHERE id=?", (RunStatus.RUNNING, time.time(), row["id"])
            )
            return self._run(row), True
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO runs(model_name, fingerprint, settings_json, hardware_json, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (model_name, fingerprint, canonical_json(settings), canonical_json(hardware), RunStatus.RUNNING, now, now),
        )
        return self.run(int(cursor.lastrowid or 0)), False

    def run(self, run_id: int) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return self._run(row)

    def runs(self) -> list[RunRecord]:
        return [self._run(r) for r in self._db.execute("SELECT * FROM runs ORDER BY id")]

    @writes
    def set_run_status(self, run_id: int, status: RunStatus) -> None:
        self._db.execute("UPDATE runs SET status=?, updated_at=? WHERE id=?", (status, time.time(), run_id))

    @staticmethod
    def _run(row: sqlite3.Row) -> RunRecord:
        return _record(
            RunRecord,
            row,
            settings=json.loads(row["settings_json"]),
            hardware=json.loads(row["hardware_json"]),
            status=RunStatus(row["status"]),
        )

    # -- variants --------------------------------------------------------------------------
    @writes
    def variant_for(
        self,
        run_id: int,
        params: Mapping[str, Any],
        serving: ServingConfig,
        *,
        name: str,
        is_default: bool = False,
    ) -> VariantRecord:
        """The stored variant with these parameters, or a new one named ``name``."""
        key = canonical_json(dict(params))
        row = self._variant_row(run_id, key)
        if row is None:
            self._db.execute(
                "INSERT INTO variants(run_id, name, params_key, params_json, serving_json, is_default, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    name,
                    key,
                    key,
                    canonical_json(serving_to_dict(serving)),
                    int(is_default),
                    VariantStatus.PENDING,
                    time.time(),
                ),
            )
            row = self._variant_row(run_id, key)
            assert row is not None  # inserted just above, in autocommit
        return self._variant(row)

    @writes
    def set_variant_status(
        self,
        variant_id: int,
        status: VariantStatus,
        *,
        load_time_s: float | None = None,
        warmup_s: float | None = None,
        error: str | None = None,
        failure: FailureCause | None = None,
    ) -> None:
        """``failure``: why a FAILED variant failed (the model's fault unless told otherwise);
        ``load_time_s``/``warmup_s`` left out keep what was stored."""
        if status is VariantStatus.FAILED and failure is None:
            failure = FailureCause.MODEL
        elif status is not VariantStatus.FAILED:
            failure = None
        self._db.execute(
            "UPDATE variants SET status=?, load_time_s=COALESCE(?, load_time_s), warmup_s=COALESCE(?, warmup_s),"
            " error=?, failure=? WHERE id=?",
            (status, load_time_s, warmup_s, error, failure, variant_id),
        )

    @writes
    def forget_failed_measurements(self, variant_id: int) -> int:
        """Drop a variant's FAILED measurements (taken while the server was failing), so a retry
        measures those load points again; the ones that succeeded stay. Returns how many."""
        cursor = self._db.execute(
            "DELETE FROM measurements WHERE variant_id=? AND status=?", (variant_id, MeasurementStatus.FAILED)
        )
        return cursor.rowcount

    def variants(self, run_id: int) -> list[VariantRecord]:
        rows = self._db.execute("SELECT * FROM variants WHERE run_id = ? ORDER BY id", (run_id,))
        return [self._variant(r) for r in rows]

    def variant_count(self, run_id: int, *, defaults: bool = True) -> int:
        query = "SELECT COUNT(*) FROM variants WHERE run_id=?" + ("" if defaults else " AND is_default=0")
        return int(self._db.execute(query, (run_id,)).fetchone()[0])

    def variant_named_by_params(self, run_id: int, params: Mapping[str, Any]) -> str | None:
        row = self._variant_row(run_id, canonical_json(dict(params)))
        return str(row["name"]) if row is not None else None

    def _variant_row(self, run_id: int, params_key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM variants WHERE run_id = ? AND params_key = ?", (run_id, params_key)
        ).fetchone()
        return row

    @staticmethod
    def _variant(row: sqlite3.Row) -> VariantRecord:
        return _record(
            VariantRecord,
            row,
            params=json.loads(row["params_json"]),
            serving=serving_from_dict(json.loads(row["serving_json"])),
            is_default=bool(row["is_default"]),
            status=VariantStatus(row["status"]),
            failure=FailureCause(row["failure"]) if row["failure"] else None,
        )

    # -- measurements ----------------------------------------------------------------------
    @writes
    def add_measurement(
        self, variant_id: int, measurement: Measurement, duration_s: float | None = None, *, repeat: int = 0
    ) -> None:
        """``repeat``: 0 for the search's measurement of a load point, 1, 2, ... for its re-measurements."""
        load = measurement.load
        self._db.execute(
            "INSERT OR REPLACE INTO measurements(variant_id, load_mode, load_value, batch_size, status, error,"
            " client_bound, perf_throughput, perf_latency_p99, metrics_json, warnings_json, duration_s, created_at,"
            " repeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                variant_id,
                load.mode.value,
                float(load.value),
                load.batch_size,
                measurement.status.value,
                measurement.error,
                int(measurement.client_bound),
                measurement.metrics.get(THROUGHPUT),
                measurement.metrics.get(LATENCY_P99),
                json.dumps(dict(measurement.metrics)),
                json.dumps(list(measurement.warnings)),
                duration_s,
                time.time(),
                repeat,
            ),
        )

    def find_measurement(self, variant_id: int, load: LoadPoint, repeat: int = 0) -> Measurement | None:
        row = self._db.execute(
            "SELECT * FROM measurements WHERE variant_id=? AND load_mode=? AND load_value=? AND batch_size=?"
            " AND repeat=?",
            (variant_id, load.mode.value, float(load.value), load.batch_size, repeat),
        ).fetchone()
        return self._measurement(row).measurement if row is not None else None

    def measurements(self, variant_id: int, *, repeats: bool = False) -> list[MeasurementRecord]:
        """A variant's measurements: the search's (repeat 0), or with ``repeats`` every one stored."""
        rows = self._db.execute(
            "SELECT * FROM measurements WHERE variant_id=?"
            + ("" if repeats else " AND repeat=0")
            + " ORDER BY load_mode, load_value, batch_size, repeat",
            (variant_id,),
        )
        return [self._measurement(r) for r in rows]

    def repeats(self, variant_id: int, load: LoadPoint) -> list[MeasurementRecord]:
        """The re-measurements (repeat 1, 2, ...) of one load point, in order."""
        rows = self._db.execute(
            "SELECT * FROM measurements WHERE variant_id=? AND load_mode=? AND load_value=? AND batch_size=?"
            " AND repeat>0 ORDER BY repeat",
            (variant_id, load.mode.value, float(load.value), load.batch_size),
        )
        return [self._measurement(r) for r in rows]

    def iter_run_measurements(
        self, run_id: int, repeats: bool = False
    ) -> Iterator[tuple[VariantRecord, MeasurementRecord]]:
        """The search's measurements of every variant (with ``repeats``, the confirm rounds too)."""
        for variant in self.variants(run_id):
            for record in self.measurements(variant.id, repeats=repeats):
                yield variant, record

    def measurement_count(self, run_id: int) -> int:
        """Every measurement of the run, the confirm step's repeats included."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM measurements m JOIN variants v ON m.variant_id = v.id WHERE v.run_id=?",
                (run_id,),
            ).fetchone()[0]
        )

    @staticmethod
    def _measurement(row: sqlite3.Row) -> MeasurementRecord:
        load = LoadPoint(LoadMode(row["load_mode"]), float(row["load_value"]), int(row["batch_size"]))
        measurement = measurement_from_row(
            load, row["status"], row["metrics_json"], row["error"], row["client_bound"], row["warnings_json"]
        )
        return _record(MeasurementRecord, row, measurement=measurement)


def _record(record: type[_R], row: sqlite3.Row, **decoded: Any) -> _R:
    """``record`` from a row: the ``decoded`` fields as given, every other one from its same-named column."""
    plain = {f.name: row[f.name] for f in fields(record) if f.name not in decoded}
    return record(**plain, **decoded)
