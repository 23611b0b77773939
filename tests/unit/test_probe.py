"""The server-Python probe without a server: its record, its layout, and what its reports mean."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import onnxruntime
import pytest

import tritune.runner
from tritune.domain.space import Dim, Dimension, SearchSpace
from tritune.errors import ServerError, UsageError
from tritune.triton.probe import (
    CUDA,
    PROBE_MODEL,
    ServerPython,
    check_gpu_runtime,
    describe_python,
    gpu_refusal,
    gpu_step_missing,
    gpu_variants_possible,
    install_fix,
    needs_probe,
    parse_server_python,
    server_mismatch,
    this_python,
    write_probe_model,
)

VENV = "/opt/venv"
CPU_ORT = ServerPython(
    executable=f"{VENV}/bin/python3",
    prefix=VENV,
    python_version="3.12.3",
    onnxruntime_version="1.20.1",
    onnxruntime_file=f"{VENV}/lib/python3.12/site-packages/onnxruntime/__init__.py",
    providers=("AzureExecutionProvider", "CPUExecutionProvider"),
    numpy_version="1.26.4",
    distributions=("onnxruntime",),
)
GPU_ORT = replace(
    CPU_ORT,
    onnxruntime_version="1.31.1",
    onnxruntime_file="/tmp/site/onnxruntime/__init__.py",
    providers=(CUDA, "CPUExecutionProvider"),
    distributions=("onnxruntime-gpu",),
)


def test_this_python_is_what_this_process_imports() -> None:
    here = this_python()
    assert here.onnxruntime_version == onnxruntime.__version__
    assert here.onnxruntime_file == onnxruntime.__file__
    assert here.providers == tuple(onnxruntime.get_available_providers())
    assert here.site == Path(onnxruntime.__file__).parent.parent
    assert here.onnxruntime_error is None


def test_the_probe_answer_parses_into_the_record() -> None:
    assert parse_server_python(json.dumps(describe_python())) == this_python()
    broken = parse_server_python(json.dumps({"prefix": VENV, "onnxruntime": {"error": "ModuleNotFoundError: x"}}))
    assert broken.onnxruntime_error == "ModuleNotFoundError: x" and broken.providers == ()
    assert broken.describe().startswith("no onnxruntime")
    with pytest.raises(ServerError, match="not JSON"):
        parse_server_python(b"<html>")
    with pytest.raises(ServerError, match="not an object"):
        parse_server_python("[1]")


def test_the_probe_is_laid_out_like_the_runner(tmp_path: Path) -> None:
    model_dir = write_probe_model(tmp_path)
    assert model_dir == tmp_path / PROBE_MODEL
    entry = Path(tritune.runner.__file__).parent / "entry_model.py"
    # The runner's own entry (its path set-up) imports tritune_runner.triton_model, the probe here.
    assert (model_dir / "1" / "model.py").read_text() == entry.read_text()
    assert "from tritune_runner.triton_model import TritonPythonModel" in entry.read_text()
    source = (model_dir / "1" / "tritune_runner" / "triton_model.py").read_text()
    compile(source, "triton_model.py", "exec")
    assert "def describe_python" in source and "class TritonPythonModel" in source
    assert f'name: "{PROBE_MODEL}"' in (model_dir / "config.pbtxt").read_text()


def test_the_same_onnxruntime_is_no_mismatch() -> None:
    assert server_mismatch(CPU_ORT, CPU_ORT) is None
    assert server_mismatch(this_python(), this_python()) is None


def test_a_server_without_the_gpu_provider_is_told_where_to_install_it() -> None:
    message = server_mismatch(GPU_ORT, CPU_ORT)
    assert message is not None
    assert message.startswith(
        f"the server's Python imports onnxruntime 1.20.1 from {VENV}/lib/python3.12/site-packages"
    )
    assert f"without {CUDA}: " in message
    assert message.endswith(f"{VENV}/bin/python -m pip install onnxruntime-gpu")
    assert "\n" not in message


def test_another_copy_of_the_same_providers_is_a_mismatch_too() -> None:
    other = replace(CPU_ORT, onnxruntime_version="1.19.0", onnxruntime_file="/elsewhere/onnxruntime/__init__.py")
    message = server_mismatch(CPU_ORT, other)
    assert message is not None and "1.19.0 from /elsewhere, tritune 1.20.1 from" in message
    # Not inside an environment: installed with --target into the folder it is imported from.
    assert message.endswith(
        "pip install --upgrade --no-deps --target /elsewhere onnxruntime==1.20.1 (it replaces /elsewhere/onnxruntime)"
    )


def test_a_server_python_without_onnxruntime() -> None:
    missing = replace(CPU_ORT, onnxruntime_version=None, onnxruntime_file=None, providers=(), onnxruntime_error="E")
    message = server_mismatch(GPU_ORT, missing)
    assert message == (
        f"the server's Python cannot import onnxruntime (E): {VENV}/bin/python -m pip uninstall -y onnxruntime "
        f"onnxruntime-gpu && {VENV}/bin/python -m pip install onnxruntime-gpu"
    )


def test_doctor_names_the_missing_gpu_step() -> None:
    assert gpu_step_missing(False, CPU_ORT, CPU_ORT) is None  # no GPU: nothing to take
    swap = gpu_step_missing(True, CPU_ORT, CPU_ORT)
    assert swap == (
        f"a GPU is present but onnxruntime 1.20.1 has no {CUDA}: "
        "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
    )
    both = replace(GPU_ORT, distributions=("onnxruntime", "onnxruntime-gpu"))
    assert "both onnxruntime and onnxruntime-gpu are installed" in str(gpu_step_missing(True, both, None))
    there = gpu_step_missing(True, GPU_ORT, CPU_ORT)
    assert there is not None and there.startswith(f"tritune has {CUDA} but the server's Python does not: ")
    assert gpu_step_missing(True, GPU_ORT, GPU_ORT) is None
    assert gpu_step_missing(True, GPU_ORT, None) is None  # no probe: nothing more to tell


def _space(kinds: tuple[str, ...] = ("KIND_CPU",), providers: tuple[tuple[str, ...], ...] = ((),)) -> SearchSpace:
    return SearchSpace((Dimension(Dim.INSTANCE_KIND, kinds), Dimension(Dim.EXECUTION_PROVIDERS, providers)))


def test_gpu_variants_are_kind_gpu_instances_or_gpu_providers() -> None:
    assert not gpu_variants_possible(_space())
    assert gpu_variants_possible(_space(kinds=("KIND_CPU", "KIND_GPU")))
    assert gpu_variants_possible(_space(providers=((), (CUDA, "CPUExecutionProvider"))))
    assert gpu_variants_possible(_space(providers=(("TensorrtExecutionProvider",),)))
    assert not gpu_variants_possible(_space(providers=(("CPUExecutionProvider",),)))
    on_default = SearchSpace((Dimension(Dim.INSTANCE_COUNT, (1, 2)),), default={Dim.INSTANCE_KIND: "KIND_GPU"})
    assert gpu_variants_possible(on_default)
    assert not gpu_variants_possible(SearchSpace((Dimension(Dim.INSTANCE_COUNT, (1, 2)),)))


def test_the_probe_runs_only_on_a_gpu_host_for_tritunes_runner_with_gpu_variants() -> None:
    gpu_space = _space(kinds=("KIND_GPU",))
    assert needs_probe(gpu_space, gpus=True, own_backend=False)
    assert not needs_probe(gpu_space, gpus=False, own_backend=False)  # CPU host: runs unchanged
    assert not needs_probe(gpu_space, gpus=True, own_backend=True)  # the user's backend, not the runner
    assert not needs_probe(_space(), gpus=True, own_backend=False)


def test_gpu_variants_without_cuda_in_the_server_are_refused_with_the_fix() -> None:
    assert gpu_refusal(GPU_ORT) is None
    refusal = gpu_refusal(CPU_ORT)
    assert refusal is not None and refusal.startswith(f"GPU variants need {CUDA}, but the server's Python has ")
    assert f"{VENV}/bin/python -m pip install onnxruntime-gpu" in refusal
    assert refusal.endswith("(or search CPU variants only: cpu_only: true)")


def test_no_probe_no_server_call() -> None:
    # Where no probe is due, the server is never touched (None would fail at the first call).
    check_gpu_runtime(_space(kinds=("KIND_GPU",)), None, None, Path("/nonexistent"), gpus=False, own_backend=False)  # type: ignore[arg-type]


def test_a_refusal_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tritune.triton.probe as probe

    monkeypatch.setattr(probe, "probe_server_python", lambda *args: CPU_ORT)
    with pytest.raises(UsageError, match=f"GPU variants need {CUDA}"):
        check_gpu_runtime(_space(kinds=("KIND_GPU",)), None, None, Path("."), gpus=True, own_backend=False)  # type: ignore[arg-type]
    monkeypatch.setattr(probe, "probe_server_python", lambda *args: GPU_ORT)
    check_gpu_runtime(_space(kinds=("KIND_GPU",)), None, None, Path("."), gpus=True, own_backend=False)  # type: ignore[arg-type]


def test_install_fix_inside_an_environment() -> None:
    assert install_fix(CPU_ORT) == (
        f"{VENV}/bin/python -m pip uninstall -y onnxruntime onnxruntime-gpu && {VENV}/bin/python -m pip install "
        "onnxruntime-gpu"
    )
