"""The probe on the real embedded Triton: the stub's Python imports what this process imports."""

from __future__ import annotations

from pathlib import Path

import onnxruntime
import pytest

from tritune.triton.control import ModelControl
from tritune.triton.probe import PROBE_MODEL, probe_server_python, server_mismatch, this_python
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton


def test_the_server_python_imports_this_onnxruntime(
    triton_server: EmbeddedTriton, control: ModelControl, triton_repo: Path
) -> None:
    served = probe_server_python(control, triton_server.endpoints, triton_repo)
    assert served.onnxruntime_error is None
    assert served.onnxruntime_version == onnxruntime.__version__
    assert served.onnxruntime_file == onnxruntime.__file__
    assert served.providers == tuple(onnxruntime.get_available_providers())
    assert server_mismatch(this_python(), served) is None
    # One load, one answer, unloaded and its files gone: the repository is as it was.
    assert not control.is_ready(PROBE_MODEL)
    assert not (triton_repo / PROBE_MODEL).exists()
