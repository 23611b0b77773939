"""From stored records to the analysis' plain records: the one place that knows both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tritune.analysis.configs import ConfigResult
from tritune.domain.status import VariantStatus
from tritune.store.sqlite import MeasurementRecord, Store, VariantRecord


def config_result(variant: VariantRecord, measurements: Iterable[MeasurementRecord]) -> ConfigResult:
    return ConfigResult(
        name=variant.name,
        measurements=tuple(record.measurement for record in measurements),
        params=variant.params,
        is_default=variant.is_default,
        error=variant.error if variant.status == VariantStatus.FAILED else None,
    )


def config_results_of(
    variants: Iterable[VariantRecord], measurements: Mapping[int, Iterable[MeasurementRecord]]
) -> list[ConfigResult]:
    """Records already read (a report's snapshot): ``measurements`` by variant id."""
    return [config_result(v, measurements.get(v.id, ())) for v in variants]


def config_results(store: Store, run_id: int) -> list[ConfigResult]:
    """Every configuration of a run, as the store holds it now."""
    return [config_result(v, store.measurements(v.id)) for v in store.variants(run_id)]
