"""`tritune profile --model-repository`: models tritune did not write, each served by its own
backend (here Triton's Python backend, one model running ONNX Runtime inside), on the embedded
server. Variants change only the searched fields; the user's files are never touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from cli_runner import run_in_process
from profile_flags import SHORT_MEASUREMENT
from tritune.testing.processes import wait_until_gone
from tritune.testing.user_repository import write_user_repository
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

FAST = [
    *SHORT_MEASUREMENT,
    "--run-config-search-mode",
    "brute",
    "--run-config-search-max-instance-count",
    "2",
    "--run-config-search-min-model-batch-size",
    "4",
    "--run-config-search-max-model-batch-size",
    "4",
    "--run-config-search-min-concurrency",
    "2",
    "--run-config-search-max-concurrency",
    "2",
]
# The fields a variant may change, as protobuf text prints them.
SEARCHED = re.compile(
    r"^\s*(instance_group \{|count: |kind: |max_batch_size: |dynamic_batching \{|"
    r"max_queue_delay_microseconds: |preferred_batch_size: |\})"
)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow  # three brute searches; the fast tier's ensemble profiles a user's repository too
def test_repository_models_are_profiled_with_their_own_backend(tmp_path: Path) -> None:
    repository = write_user_repository(tmp_path / "models")
    before = _snapshot(repository)
    out, export = tmp_path / "out", tmp_path / "exported"
    result = run_in_process(
        *["profile", "--model-repository", str(repository), "--profile-models", "scaled,offset,fixed"],
        *["--export-path", str(out), "--export", str(export), "--json", "--no-report", *FAST],
        *["--confirm-rounds", "0"],  # three brute searches are what is tested, not the confirm step
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = {s["model"]: s for s in json.loads(result.stdout)}
    assert set(summaries) == {"scaled", "offset", "fixed"}
    assert _snapshot(repository) == before, "the user's repository changed"

    runs = out / "tritune_runs"
    for name, summary in summaries.items():
        assert summary["best"] and summary["configurations"] >= 2, name
        best = runs / name / "best"
        exported = from_pbtxt((export / name / "config.pbtxt").read_text())
        assert exported.backend == "python" and (export / name / "1" / "model.py").is_file(), name
        assert (best / "config.pbtxt").read_text() == (export / name / "config.pbtxt").read_text()
        changed = [
            line[1:]
            for line in (best / "config.diff").read_text().splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        assert all(SEARCHED.match(line) for line in changed), (name, changed)
    scaled = from_pbtxt((export / "scaled" / "config.pbtxt").read_text())
    assert {k: v.string_value for k, v in scaled.parameters.items()} == {"scale": "2.0", "intra_op_threads": "1"}
    assert [t.name for t in scaled.input] == ["x"] and scaled.name == "scaled"
    offset = from_pbtxt((export / "offset" / "config.pbtxt").read_text())
    assert offset.parameters["offset"].string_value == "1.5" and not offset.input  # auto-complete's, as in the file

    # The model that does not batch was never given a batch size or dynamic batching.
    fixed_variants = sorted((runs / "fixed" / "output_model_repository").glob("fixed_config_*/config.pbtxt"))
    assert len(fixed_variants) == summaries["fixed"]["configurations"] >= 2
    for path in fixed_variants:
        config = from_pbtxt(path.read_text())
        assert config.max_batch_size == 0 and not config.HasField("dynamic_batching"), path
    # The default configuration is the user's config as it is.
    default = from_pbtxt(
        (runs / "scaled" / "output_model_repository" / "scaled_config_default" / "config.pbtxt").read_text()
    )
    assert default.max_batch_size == 8 and not default.HasField("dynamic_batching")

    # The exported entry serves on a fresh server, with the user's own code and parameters.
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
    (expected,) = ort.InferenceSession(str(repository / "scaled" / "1" / "mlp.onnx")).run(["y"], {"x": x})
    with EmbeddedTriton(export) as server, ModelControl(server) as control:
        control.load("scaled")
        with InferClient(server.endpoints, "grpc") as client:
            y = client.infer("scaled", {"x": x})["y"]
    np.testing.assert_allclose(y, 2.0 * expected, rtol=1e-5)
    assert wait_until_gone(str(export)) == []
    assert wait_until_gone(str(out)) == []
