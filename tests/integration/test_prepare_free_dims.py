"""``tritune prepare`` of a batching model whose input has a free dimension besides the batch (a
sequence length): it says which dimension it filled in and with what, and the --input line that
sets it; given that line, it says nothing of the kind."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tritune.cli import main

pytestmark = pytest.mark.triton


def _sequence_sum(path: Path) -> Path:
    """y[batch] = sum over the sequence of x[batch, seq]."""
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
        "sequence_sum",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch"])],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, path)
    return path


def _notes(repo: Path) -> list[str]:
    return json.loads((repo / "seqsum" / "prepare_report.json").read_text())["notes"]


@pytest.mark.slow  # the full tier: the fast tier's models without batching fill free dimensions in too
def test_prepare_names_the_sequence_length_it_filled_in_and_the_input_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _sequence_sum(tmp_path / "seqsum.onnx")
    assert main(["prepare", str(model), "-o", str(tmp_path / "repo"), "--max-batch-size", "8"]) == 0
    out = capsys.readouterr()
    filled = [n for n in _notes(tmp_path / "repo") if n.startswith("free dimensions besides the batch")]
    assert filled and filled[0].startswith("free dimensions besides the batch filled in: x[1]=16 (")
    assert "to choose them: --input x:16" in _notes(tmp_path / "repo")
    assert "note: to choose them: --input x:16" in out.out + out.err
    assert (tmp_path / "repo" / "seqsum" / "config.pbtxt").exists()  # served, the check passed

    assert main(["prepare", str(model), "-o", str(tmp_path / "given"), "--max-batch-size", "8", "--input", "x:32"]) == 0
    assert not [n for n in _notes(tmp_path / "given") if "free dimensions" in n or "to choose" in n]
