"""Domain records <-> JSON-able dicts, for the store (and the JSON summaries)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig


def serving_to_dict(serving: ServingConfig) -> dict[str, Any]:
    return dataclasses.asdict(serving)


def serving_from_dict(data: dict[str, Any]) -> ServingConfig:
    batching = data.get("dynamic_batching")
    runner = dict(data.get("runner") or {})
    if "execution_providers" in runner:
        runner["execution_providers"] = tuple(runner["execution_providers"])
    known = {f.name for f in dataclasses.fields(ServingConfig)}
    return ServingConfig(
        **{
            **{k: v for k, v in data.items() if k in known},
            "dynamic_batching": DynamicBatching(
                max_queue_delay_us=int(batching.get("max_queue_delay_us", 0)),
                preferred_batch_sizes=tuple(batching.get("preferred_batch_sizes", ())),
            )
            if batching is not None
            else None,
            "runner": RunnerOptions(**runner),
        }
    )


def load_to_dict(load: LoadPoint) -> dict[str, Any]:
    return {"mode": load.mode.value, "value": load.value, "batch_size": load.batch_size}


def load_from_dict(data: dict[str, Any]) -> LoadPoint:
    return LoadPoint(mode=LoadMode(data["mode"]), value=float(data["value"]), batch_size=int(data["batch_size"]))


def measurement_to_dict(measurement: Measurement) -> dict[str, Any]:
    return {
        "load": load_to_dict(measurement.load),
        "status": measurement.status.value,
        "metrics": dict(measurement.metrics),
        "error": measurement.error,
        "client_bound": measurement.client_bound,
        "warnings": list(measurement.warnings),
    }


def canonical_json(data: Any) -> str:
    """Stable text for a dict: the identity of a variant's parameters."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def measurement_from_row(
    load: LoadPoint, status: str, metrics_json: str, error: str | None, client_bound: int, warnings_json: str
) -> Measurement:
    return Measurement(
        load=load,
        status=MeasurementStatus(status),
        metrics={k: float(v) for k, v in json.loads(metrics_json).items()},
        error=error,
        client_bound=bool(client_bound),
        warnings=tuple(json.loads(warnings_json)),
    )
