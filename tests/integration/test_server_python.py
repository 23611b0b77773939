"""The probe on the real embedded Triton: the stub's Python imports what this process imports."""

from __future__ import annotations

import os
import subprocess
import sys
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


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tritune", "doctor"], capture_output=True, text=True, timeout=180, env=env
    )


def test_doctor_shows_the_server_python() -> None:
    result = _doctor(dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("server's Python: ") for line in lines)
    assert f"server's onnxruntime: onnxruntime {onnxruntime.__version__} from " in result.stdout


# An onnxruntime that lists CUDA in tritune's process and not inside the stub (where the backend's
# utilities are loaded): the motivating failure, whichever copy the stub's path order picks.
_FAKE_ORT = """
import sys
__version__ = "9.9.9"
def get_available_providers():
    inside_stub = "triton_python_backend_utils" in sys.modules
    return ["CPUExecutionProvider"] if inside_stub else ["CUDAExecutionProvider", "CPUExecutionProvider"]
"""


@pytest.mark.slow  # the full tier: the fast tier's doctor shows the server's Python
def test_doctor_fails_when_the_server_lacks_a_provider_tritune_has(tmp_path: Path) -> None:
    (tmp_path / "onnxruntime").mkdir()
    (tmp_path / "onnxruntime" / "__init__.py").write_text(_FAKE_ORT)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path[1:], env.get("PYTHONPATH", "")])
    result = _doctor(env)
    assert result.returncode == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("server's onnxruntime: "))
    # The stub now imports the same copy as tritune (PYTHONPATH first), so the fix names that copy.
    assert "without CUDAExecutionProvider" in row and "pip install" in row and "onnxruntime-gpu" in row, row
    assert "error: doctor found a problem in: server's onnxruntime" in result.stderr


def test_the_stub_imports_what_pythonpath_puts_first_as_tritune_does(tmp_path: Path) -> None:
    """An onnxruntime given on PYTHONPATH (say onnxruntime-gpu installed with --target) wins
    over the venv's in the server too: the entry model puts PYTHONPATH before site-packages."""
    (tmp_path / "onnxruntime").mkdir()
    (tmp_path / "onnxruntime" / "__init__.py").write_text(
        '__version__ = "9.9.9"\ndef get_available_providers():\n    return ["CPUExecutionProvider"]\n'
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = _doctor(env)
    row = next(line for line in result.stdout.splitlines() if line.startswith("server's onnxruntime: "))
    assert f"onnxruntime 9.9.9 from {tmp_path}" in row, result.stdout + result.stderr
