"""The only IO of report building: read a run directory's store (and config.pbtxt files)."""

from __future__ import annotations

from pathlib import Path

from tritune.domain.layout import STORE_FILE, RunLayout
from tritune.errors import UsageError
from tritune.report.records import RunSnapshot
from tritune.store import Store, VariantRecord


def load_runs(run_dir: str | Path) -> list[RunSnapshot]:
    """Every run the store in ``run_dir`` holds, oldest first.

    Raises:
        UsageError: ``run_dir`` has no store, or the store holds no run.
    """
    run_dir = Path(run_dir)
    if not RunLayout(run_dir).store.is_file():
        raise UsageError(f"{run_dir} holds no {STORE_FILE}: pass the run directory that `tritune profile` wrote")
    with Store.in_run_dir(run_dir) as store:
        snapshots = []
        for run in store.runs():
            variants = tuple(store.variants(run.id))
            measurements = {v.id: tuple(store.measurements(v.id)) for v in variants}
            repeats = {v.id: tuple(r for r in store.measurements(v.id, repeats=True) if r.repeat > 0) for v in variants}
            snapshots.append(
                RunSnapshot(
                    run,
                    variants,
                    measurements,
                    _config_texts(run_dir, variants),
                    {k: v for k, v in repeats.items() if v},
                )
            )
    if not snapshots:
        raise UsageError(f"the store in {run_dir} holds no run yet: run `tritune profile` first")
    return snapshots


def load_run(run_dir: str | Path, model: str | None = None) -> RunSnapshot:
    """The latest run in ``run_dir`` (of ``model`` when given)."""
    snapshots = load_runs(run_dir)
    if model is not None:
        snapshots = [s for s in snapshots if s.run.model_name == model]
        if not snapshots:
            raise UsageError(f"the store in {run_dir} holds no run of model {model!r}")
    return snapshots[-1]


def latest_per_model(snapshots: list[RunSnapshot]) -> list[RunSnapshot]:
    """One run per model (the latest), since reports are laid out per model like Model Analyzer's."""
    latest: dict[str, RunSnapshot] = {}
    for snapshot in snapshots:
        latest[snapshot.run.model_name] = snapshot
    return list(latest.values())


def _config_texts(run_dir: Path, variants: tuple[VariantRecord, ...]) -> dict[str, str]:
    texts = {}
    layout = RunLayout(run_dir)
    for variant in variants:
        path = layout.variant_config(variant.name)
        if path.is_file():
            texts[variant.name] = path.read_text(encoding="utf-8", errors="replace")
    return texts
