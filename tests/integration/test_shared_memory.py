"""Inputs in system shared memory (``--shared-memory system``) against the real embedded Triton:
the requests carry no input bytes, the server answers them from the region, and the region is
unregistered and removed when the driver closes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tritune.cli import cli
from tritune.domain.measurement import MeasurementStatus
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import UsageError
from tritune.loadgen import LoadDriver, LoadSpec, MeasureOptions, StabilityCriteria, WindowSpec
from tritune.loadgen.shm import InputRegion, check_local, layout
from tritune.testing.models import mlp_model
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

SHM = MeasureOptions(
    window=WindowSpec(window_ns=300_000_000),
    stability=StabilityCriteria(threshold=0.5, max_windows=6),
    shared_memory="system",
)


@pytest.fixture(scope="module")
def shm_model(triton_server: EmbeddedTriton, control: ModelControl, model_dir: Path) -> str:
    onnx = mlp_model(model_dir / "shm_mlp.onnx", width=256, depth=1)  # 1 KB of input per row
    deploy_onnx(triton_server.model_repository, "shm_mlp", onnx, ServingConfig(8, dynamic_batching=DynamicBatching()))
    control.load("shm_mlp")
    return "shm_mlp"


def _regions(server: EmbeddedTriton) -> list[dict[str, object]]:
    return list(json.loads(server.endpoints.api()._send("/systemsharedmemory/status")))


def _ours() -> list[Path]:
    return sorted(Path("/dev/shm").glob("tritune-in-*"))


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_requests_read_their_inputs_from_shared_memory(
    triton_server: EmbeddedTriton, shm_model: str, protocol: str
) -> None:
    before = _ours()
    options = MeasureOptions(**{**SHM.__dict__, "protocol": protocol})
    with LoadDriver(triton_server, shm_model, options) as driver:
        target = driver.target(4)
        # The request names the region instead of carrying 4 x 256 float32s (4 KB).
        assert all(len(p) < 1024 for p in target.payloads), [len(p) for p in target.payloads]
        (region,) = [r for r in _regions(triton_server) if str(r["name"]).startswith("tritune-in-")]
        assert int(str(region["byte_size"])) >= 4 * 256 * 4
        result = driver.measure(LoadSpec.concurrency(2, batch_size=4))
        # A request without its bytes is refused unless the server read them from the region.
        assert result.status in (MeasurementStatus.OK, MeasurementStatus.UNSTABLE), result.reason
        assert result.client is not None and result.client.completed > 0 and result.client.failed == 0
    assert not [r for r in _regions(triton_server) if str(r["name"]).startswith("tritune-in-")]
    assert _ours() == before  # the file went with the driver


def test_perf_command_takes_the_flag(triton_server: EmbeddedTriton, shm_model: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["perf", shm_model, "-u", triton_server.endpoints.http, "--shared-memory", "system", "-b", "2"]
        + ["--concurrency-range", "1", "-p", "300", "-s", "50", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["metrics"]["perf_throughput"] > 0


def test_a_region_is_laid_out_aligned_and_a_remote_server_is_refused(triton_server: EmbeddedTriton) -> None:
    feeds = [{"a": np.zeros((2, 3), np.float32), "s": np.array(["x"], dtype=np.object_)}, {"a": np.ones(5, np.int8)}]
    slots, size = layout("r", feeds)
    assert [{k: (v.offset, v.byte_size) for k, v in s.items()} for s in slots] == [{"a": (0, 24)}, {"a": (64, 5)}]
    assert size == 128  # BYTES stay in the request
    check_local("localhost:8000")
    with pytest.raises(UsageError, match="--shared-memory system needs the server on this host, not triton.example"):
        check_local("triton.example:8000")
    # A region is written as laid out: the server reads the very values.
    region = InputRegion(triton_server.endpoints.api(), feeds[1:])
    try:
        assert region.path.read_bytes()[:5] == bytes(5 * [1])
    finally:
        region.close()
    assert not region.path.exists()
