"""Per-token int8 quantisation of weight MatMuls (workbench.core.onnx_per_token), on small graphs run by ONNX Runtime:
results close to float32, each token's grid its own (an outlier elsewhere in the batch changes nothing), one
quantisation per shared input, the bias folded in, and a clear error for a graph with nothing to quantise."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.onnx_per_token import quantise_per_token, quantised_weights

K, N = 64, 48


def graph_with_shared_input(path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """x (batch, tokens, K) -> two weight MatMuls reading x (one with a bias Add, one without), then a Relu."""
    weights = {"w1": rng.normal(0, 0.05, (K, N)).astype(np.float32), "w2": rng.normal(0, 0.05, (K, N)).astype(np.float32),
               "b1": rng.normal(0, 0.5, N).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"], name="first"),
             helper.make_node("Add", ["m1", "b1"], ["y1"], name="first_bias"),
             helper.make_node("MatMul", ["x", "w2"], ["m2"], name="second"),
             helper.make_node("Relu", ["m2"], ["y2"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", K])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "tokens", N]) for name in ("y1", "y2")],
        [numpy_helper.from_array(value, name) for name, value in weights.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return weights


def run(path, x: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})


@pytest.fixture
def quantised(tmp_path):
    rng = np.random.default_rng(7)
    weights = graph_with_shared_input(tmp_path / "float.onnx", rng)
    count = quantise_per_token(tmp_path / "float.onnx", tmp_path / "int8.onnx")
    return tmp_path, weights, count, rng


def test_results_stay_close_to_float32_on_skewed_tokens(quantised):
    path, weights, count, rng = quantised
    assert count == 2
    x = rng.normal(0, 1, (2, 5, K)).astype(np.float32)
    x[0, 1] = np.abs(x[0, 1]) * 3  # a token of positive values only: the asymmetric grid spends nothing below 0
    x[1, 2, 3] = 40.0  # a token with one large activation
    exact = run(path / "float.onnx", x)
    fast = run(path / "int8.onnx", x)
    for got, want in zip(fast, exact, strict=True):
        assert got.shape == want.shape == (2, 5, N)
        per_token_error = np.abs(got - want).max(axis=-1) / np.abs(want).max(axis=-1)
        assert per_token_error.max() < 0.03, per_token_error


def test_a_tokens_result_does_not_depend_on_the_other_tokens_in_the_batch(quantised):
    path, _, _, rng = quantised
    text = rng.normal(0, 1, (1, 4, K)).astype(np.float32)
    neighbour = rng.normal(0, 1, (1, 4, K)).astype(np.float32)
    neighbour[0, 0, :8] = 500.0  # an outlier that would set a per-tensor range for the whole batch
    alone = run(path / "int8.onnx", text)[0]
    batched = run(path / "int8.onnx", np.concatenate([text, neighbour]))[0]
    np.testing.assert_array_equal(batched[:1], alone)


def test_a_shared_input_is_quantised_once_and_the_bias_add_is_folded(quantised):
    path, _, _, _ = quantised
    model = onnx.load(str(path / "int8.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("QuantizeLinear") == 1 and ops.count("MatMulIntegerToFloat") == 2
    assert "MatMul" not in ops and not any(node.name == "first_bias" for node in model.graph.node)
    assert {o.name for o in model.graph.output} == {"y1", "y2"}  # the graph's outputs keep their names
    assert not any(i.name in ("w1", "w2") for i in model.graph.initializer)  # float weights are gone


def test_weights_are_symmetric_int8_per_output_column():
    weight = np.array([[0.5, -2.0, 0.0], [-1.0, 1.0, 0.0]], dtype=np.float32)
    wq, scale = quantised_weights(weight)
    assert wq.dtype == np.int8 and scale.dtype == np.float32
    assert wq[:, 0].tolist() == [64, -127] and wq[:, 1].tolist() == [-127, 64]
    assert wq[:, 2].tolist() == [0, 0] and scale[2] == 1.0  # an all-zero column keeps a usable scale
    np.testing.assert_allclose(wq * scale, weight, atol=scale.max() / 2)


def test_a_graph_without_weight_matmuls_is_refused_plainly(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, K])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, K])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "relu.onnx"))
    with pytest.raises(ValueError, match="no MatMul with a float weight initializer"):
        quantise_per_token(tmp_path / "relu.onnx", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
