"""prepare proves its config: the written model is loaded in an embedded Triton (one server, one
load) and answers one request made of the validation inputs, compared with the reference. What
goes wrong is one line naming Triton's reason; no Triton on this host is a note, not a problem.

``served_feeds`` and ``compare_served`` are pure (the request's tensors as the config declares
them, and the verdict); ``serve_check`` is the one place that starts a server."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tritonclient.grpc import model_config_pb2 as mc

from tritune.errors import TrituneError
from tritune.prepare.options import Tolerance
from tritune.triton.model_config import SCALARS_PARAMETER

SKIPPED = "serve check skipped"


def _rows(config: mc.ModelConfig, feeds: Mapping[str, np.ndarray]) -> int | None:
    """The rows one request carries: None without batching, else at most max_batch_size."""
    if config.max_batch_size <= 0:
        return None
    return min(config.max_batch_size, min(int(a.shape[0]) for a in feeds.values()))


def served_feeds(config: mc.ModelConfig, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The validation inputs shaped as a client sends them to ``config``: a non-batching model's
    scalar as [1]; a batching model's first rows (within max_batch_size), a per-sample scalar as
    [rows, 1]."""
    scalars = set(config.parameters[SCALARS_PARAMETER].string_value.split(",")) - {""}
    rows = _rows(config, feeds)
    shaped = {}
    for name, array in feeds.items():
        if rows is None:
            shaped[name] = array.reshape(1) if name in scalars else array
        else:
            part = array[:rows]
            shaped[name] = part.reshape(rows, 1) if part.ndim == 1 else part
    return shaped


def compare_served(
    config: mc.ModelConfig,
    feeds: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    served: Mapping[str, np.ndarray],
    tolerance: Tolerance,
) -> str | None:
    """None when every output Triton gave matches the reference (within ``tolerance``), else
    the problem in one line."""
    rows = _rows(config, feeds)
    for name, expected in reference.items():
        if name not in served:
            return f"Triton served {config.name!r} without its output {name!r}: check the config's outputs"
        want = expected if rows is None else expected[:rows]
        got = served[name]
        if got.size != want.size:
            return (
                f"Triton served {config.name!r} with output {name!r} of shape {list(got.shape)}, the model gives "
                f"{list(want.shape)}: check the config's dims"
            )
        got = got.reshape(want.shape)
        if not np.allclose(got, want, atol=tolerance.atol, rtol=tolerance.rtol, equal_nan=True):
            worst = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            return (
                f"Triton served {config.name!r} with output {name!r} differing from the model run directly "
                f"(max abs difference {worst:.3g}; allowed {tolerance.atol:g} + {tolerance.rtol:g} x |reference|)"
            )
    return None


def serve_check(
    repository: Path,
    config: mc.ModelConfig,
    feeds: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    tolerance: Tolerance,
) -> tuple[str | None, str | None]:
    """(problem, note): load ``config.name`` from ``repository`` in an embedded Triton and send
    one request; a problem is one line with Triton's reason, the note says what was proven or
    why the check was skipped."""
    from tritune.triton.control import ModelControl
    from tritune.triton.infer import InferClient
    from tritune.triton.locate import find_triton
    from tritune.triton.server import EmbeddedTriton

    name = config.name
    try:
        install = find_triton()
    except TrituneError as error:
        return None, f"{SKIPPED}: {error.message}"
    request = served_feeds(config, feeds)
    try:
        # Auto-complete on, as a user's server runs: the check is for the server they deploy on.
        with EmbeddedTriton(repository, install=install) as server, ModelControl(server) as control:
            try:
                control.load(name)
            except TrituneError as error:
                reason = error.message.splitlines()[0].removeprefix(f"model {name!r} failed to load: ")
                return f"the written config.pbtxt does not load in Triton: {reason}", None
            try:
                with InferClient(server.endpoints) as client:
                    served = client.infer(name, request)
            except TrituneError as error:
                reason = error.message.splitlines()[0].removeprefix(f"inference on {name!r} failed: ")
                return f"the written config.pbtxt loads in Triton but a request fails: {reason}", None
    except TrituneError as error:
        return None, f"{SKIPPED}: {error.message.splitlines()[0]}"
    problem = compare_served(config, feeds, reference, served, tolerance)
    if problem:
        return problem, None
    shown = ", ".join(f"{n} {list(a.shape)}" for n, a in request.items())
    return None, f"served by Triton: config.pbtxt loaded and answered one request ({shown})"
