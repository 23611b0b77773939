"""Domain records <-> the JSON text of the store's columns."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig


def serving_to_dict(serving: ServingConfig) -> dict[str, Any]:
    data = dataclasses.asdict(serving)
    # Written only when set, so a variant without backend knobs is stored as it always was,
    for later in ("backend_options", "gpus", "steps"):  # as the GPU selection (--gpus) is, and an ensemble's steps
        if not data[later]:
            del data[later]
    if serving.steps:
        data["steps"] = [[name, serving_to_dict(step)] for name, step in serving.steps]
    return data


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
            # Absent in stores written before backend knobs: none set.
            "backend_options": tuple((str(k), str(v)) for k, v in data.get("backend_options") or ()),
            "steps": tuple((str(name), serving_from_dict(step)) for name, step in data.get("steps") or ()),
        }
    )


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
