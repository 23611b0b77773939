"""From the store to the analysis' plain records (the only place that knows both)."""

from __future__ import annotations

from tritune.analysis.configs import ConfigResult
from tritune.store import Store, VariantStatus


def config_results(store: Store, run_id: int) -> list[ConfigResult]:
    results = []
    for variant in store.variants(run_id):
        measurements = tuple(record.measurement for record in store.measurements(variant.id))
        results.append(
            ConfigResult(
                name=variant.name,
                measurements=measurements,
                params=variant.params,
                is_default=variant.is_default,
                error=variant.error if variant.status == VariantStatus.FAILED else None,
            )
        )
    return results
