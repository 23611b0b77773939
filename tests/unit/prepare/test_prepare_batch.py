import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from prepare_models import pinned_model, scalar_input_model, view_one_model
from tritune.prepare.batch import detect_batch, link_output_batch, make_batch_dynamic, reshape_suspects
from tritune.prepare.transforms import drop_initializer_inputs
from tritune.testing.models import dtype_zoo_model


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_detects_fixed_dynamic_and_missing_batch(tmp_path):
    assert detect_batch(view_one_model()).kind == "fixed"
    assert detect_batch(view_one_model()).size == 1
    zoo = onnx.load(str(dtype_zoo_model(tmp_path / "zoo.onnx")))
    assert detect_batch(zoo).kind == "dynamic"
    none = detect_batch(scalar_input_model())
    assert none.kind == "none" and "scalar" in none.reason


def test_inputs_with_different_first_dims_have_no_batch():
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])],
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
    )
    info = detect_batch(helper.make_model(graph))
    assert info.kind == "none" and "differ" in info.reason


def test_view_one_reshape_is_unpinned_and_computes_the_same_per_sample():
    original = view_one_model()
    dynamic, changes = make_batch_dynamic(original, 1)
    assert any("flatten_view" in c and "[1, -1] -> [0, -1]" in c for c in changes)
    assert dynamic.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert dynamic.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    batch = np.random.default_rng(0).standard_normal((3, 2, 3)).astype(np.float32)
    batched = _run(dynamic, batch)
    singles = np.concatenate([_run(original, batch[i : i + 1]) for i in range(3)])
    assert batched.shape == (3, 4)
    np.testing.assert_allclose(batched, singles, rtol=1e-6, atol=1e-6)
    # The original model object is untouched.
    assert original.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1


def test_without_the_reshape_fix_a_batch_of_three_fails():
    dynamic, changes = make_batch_dynamic(view_one_model(), 1, fix_reshapes=False)
    assert not any("Reshape" in c for c in changes)
    with pytest.raises(Exception, match="MatMul"):  # [1, 18] @ [6, 4]: the pin shows as an error
        _run(dynamic, np.ones((3, 2, 3), np.float32))


def test_an_unfixable_pin_is_left_alone_but_named_as_a_suspect():
    model = pinned_model()
    dynamic, changes = make_batch_dynamic(model, 1)
    assert not any("Reshape" in c for c in changes)  # the [-1] reshape input has no batch of 1 to copy
    assert _run(dynamic, np.ones((3, 4), np.float32)).shape == (1, 12)  # silently wrong
    suspects = reshape_suspects(model, 1)
    assert [s.node for s in suspects] == ["to_row"]
    assert "[1, -1]" in suspects[0].describe()


def test_link_output_batch_marks_fixed_output_dims():
    model = view_one_model()
    changes = link_output_batch(model)
    assert changes == ["output 'y': first dimension 1 -> 'batch'"]
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_initializers_listed_as_inputs_are_dropped_from_the_inputs():
    model = view_one_model()
    model.ir_version = 3
    model.graph.input.extend(
        [helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in model.graph.initializer]
    )
    changes = drop_initializer_inputs(model)
    assert [v.name for v in model.graph.input] == ["x"]
    assert model.ir_version == 4
    assert "2 initializer(s)" in changes[0]
    assert drop_initializer_inputs(model) == []


def _with_allowzero(model: onnx.ModelProto, shape: list[int]) -> onnx.ModelProto:
    model.graph.node[0].attribute.append(helper.make_attribute("allowzero", 1))
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.array(shape, dtype=np.int64), "flat_shape"))
    return model


def test_allowzero_reshape_gets_minus_one_and_is_left_alone_when_minus_one_is_taken():
    # allowzero=1 (the dynamo exporter's choice) makes 0 a literal size, so -1 must carry the batch.
    dynamic, changes = make_batch_dynamic(_with_allowzero(view_one_model(), [1, 6]), 1)
    assert any("[1, 6] -> [-1, 6]" in c for c in changes)
    assert _run(dynamic, np.ones((3, 2, 3), np.float32)).shape == (3, 4)
    _, changes = make_batch_dynamic(_with_allowzero(view_one_model(), [1, -1]), 1)
    assert not any("Reshape" in c for c in changes)
