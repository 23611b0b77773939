"""``tritune prepare`` on PyTorch models: a torchvision ResNet-18 factory (random weights), a
TorchScript archive, an ExportedProgram with a static batch, a model that pins its batch, and
factories that fail."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tritune.cli import main
from tritune.errors import ModelError
from tritune.prepare import InputSpec, PrepareOptions, prepare_model
from tritune.prepare.record import InputRecord

pytestmark = pytest.mark.slow  # torch.export and dynamo: minutes on a 2-core host

FACTORIES = textwrap.dedent(
    """
    import torch
    import torchvision


    def resnet18():
        torch.manual_seed(0)
        return torchvision.models.resnet18(weights=None)


    class Pinned(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(12, 4)

        def forward(self, x):
            return self.fc(x.reshape(1, -1)[:, :12])  # the batch is folded away


    def pinned():
        torch.manual_seed(0)
        return Pinned()


    def broken():
        raise RuntimeError("checkpoint weights.bin not found")


    def not_a_module():
        return {"weights": 1}
    """
)


class SmallNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.conv(x))
        logits = self.fc(torch.flatten(h, 1))
        return logits, torch.softmax(logits, dim=1)


@pytest.fixture
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    module = "tritune_prepare_test_factories"
    (tmp_path / f"{module}.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


def test_resnet18_factory_exports_with_dynamic_batch_and_fp16_within_tolerance(factories, tmp_path):
    options = PrepareOptions(
        inputs=(InputSpec("x", (3, 32, 32)),), precisions=("fp32", "fp16"), max_batch_cap=2, max_batch_min_time_s=0.05
    )
    prepared = prepare_model(f"{factories}:resnet18", tmp_path / "repo", options=options)
    assert prepared.passed, prepared.problems
    assert prepared.name == "resnet18" and prepared.batch_dynamic
    report = prepared.report
    assert report.source.kind == "factory" and "PyTorch" in report.source.reference
    assert any("dynamo exporter at batch 2" in n for n in report.notes)
    assert report.batch.stacked_check is not None and report.batch.stacked_check.passed
    fp32, fp16 = (r.outputs[0] for r in report.validation.results)
    assert fp32.max_abs is not None and fp32.max_abs < 1e-4
    assert fp16.max_abs is not None and 0 < fp16.max_abs < 2e-2 and fp16.mismatched == 0
    print(f"resnet18 fp32 max abs {fp32.max_abs:.3g}; fp16 max abs {fp16.max_abs:.3g} rel {fp16.max_rel:.3g}")
    session = ort.InferenceSession(str(prepared.model_files["fp16"]), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    assert session.run(None, {"x": np.zeros((5, 3, 32, 32), np.float32)})[0].shape == (5, 1000)
    assert prepared.config is not None and prepared.config.max_batch_size in (1, 2)


def test_torchscript_archive_goes_through_the_torchscript_exporter(tmp_path):
    torch.manual_seed(0)
    traced = torch.jit.trace(SmallNet().eval(), torch.randn(2, 3, 8, 8))
    archive = tmp_path / "small.pt"
    torch.jit.save(traced, str(archive))
    options = PrepareOptions(inputs=(InputSpec("x", (3, 8, 8)),), max_batch_size=8)
    prepared = prepare_model(archive, tmp_path / "repo", options=options)
    assert prepared.passed, prepared.problems
    assert any("torchscript exporter" in n for n in prepared.report.notes)
    outputs = [o.name for o in prepared.report.validation.results[0].outputs]
    assert outputs == ["output_0", "output_1"]
    assert [o.name for o in prepared.config.output] == ["output_0", "output_1"]


def test_exported_program_with_a_static_batch_is_made_dynamic(tmp_path):
    torch.manual_seed(0)
    program = torch.export.export(SmallNet().eval(), (torch.randn(2, 3, 8, 8),))
    path = tmp_path / "small.pt2"
    torch.export.save(program, str(path))
    prepared = prepare_model(path, tmp_path / "repo", options=PrepareOptions(max_batch_size=4))
    assert prepared.passed, prepared.problems
    report = prepared.report
    assert report.batch.original == "fixed 2" and prepared.batch_dynamic
    # The program only runs at batch 2, so the reference ran 2 samples at a time: 3 -> 4.
    assert report.validation.inputs["x"] == InputRecord((4, 3, 8, 8), "float32")
    model = onnx.load(str(prepared.model_files["fp32"]))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # torch.flatten traced at batch 2 became Reshape [2, 256] (allowzero=1): rewritten to -1.
    assert any("[2, 256] -> [-1, 256]" in c for c in report.changes)


def test_pytorch_model_that_pins_its_batch_is_reported(factories, tmp_path, capsys):
    code = main(["prepare", f"{factories}:pinned", "-o", str(tmp_path / "repo"), "--input", "x:12"])
    err = capsys.readouterr().err
    assert code == 1
    assert "the batch dimension is pinned (output: shape [1, 4], expected [3, 4])" in err
    assert "has the constant shape [1, -1]" in err
    assert not (tmp_path / "repo" / "pinned" / "config.pbtxt").exists()


def test_factory_that_raises_is_a_clear_error(factories, tmp_path, capsys):
    assert main(["prepare", f"{factories}:broken", "-o", str(tmp_path / "repo"), "--input", "x:3"]) == 1
    err = capsys.readouterr().err
    assert f"the factory {factories}:broken raised RuntimeError: checkpoint weights.bin not found" in err
    options = PrepareOptions(inputs=(InputSpec("x", (3,)),))
    with pytest.raises(ModelError, match="not a torch.nn.Module"):
        prepare_model(f"{factories}:not_a_module", tmp_path / "repo", options=options)
    with pytest.raises(ModelError, match="cannot import 'no_such_module_here'"):
        prepare_model("no_such_module_here:build", tmp_path / "repo", options=options)


def test_example_shapes_that_do_not_fit_the_model_are_a_clear_error(factories, tmp_path, capsys):
    assert main(["prepare", f"{factories}:pinned", "-o", str(tmp_path / "repo"), "--input", "x:5"]) == 1
    err = capsys.readouterr().err
    assert "the model does not accept the example inputs (x [2, 5] float32)" in err
    assert main(["prepare", f"{factories}:pinned", "-o", str(tmp_path / "repo")]) == 2
    assert "give --input NAME:D1,D2[:DTYPE]" in capsys.readouterr().err
