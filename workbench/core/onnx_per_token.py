"""Per-token int8 quantisation of an ONNX graph's weight MatMuls: `quantise_per_token(source, target)`.

Every MatMul whose second input is a float weight initializer W (K x N) becomes an int8 matrix product:
- W is quantised once, symmetric int8 per output column: W ~ Wq * ws (ws: N scales);
- its input X (any leading shape, K last) is quantised at run time per row, that is per token, asymmetric uint8:
  s = (max(X_row, 0) - min(X_row, 0)) / 255, z = round(-min(X_row, 0) / s), q = clip(round(X_row / s) + z, 0, 255),
  so X_row ~ s (q - z); one quantisation serves every MatMul that reads the same X (query, key and value);
- the product is X W ~ s (q Wq) ws - s z colsum(Wq) ws, and a bias Add that follows (an N-vector initializer) is
  folded in: ONNX Runtime's MatMulIntegerToFloat gives (q Wq) ws on int8 kernels (VNNI where the CPU has it),
  a Mul applies the row scale s, and one Gemm adds the zero-point correction and the bias
  ([-s z, 1] (M x 2) times [colsum(Wq) ws; bias] (2 x N), onto the product). Measured and refused: one product
  for query, key and value side by side, split after (no faster: the split copies what the merge saves).

Activations quantised per token keep a text's outliers (the special tokens' large activations) from coarsening every
other token's grid, and a text's vector does not depend on the texts batched with it. This is ZeroQuant's
token-wise activation quantisation (Yao et al. 2022, "ZeroQuant: Efficient and Affordable Post-Training
Quantization for Large-Scale Transformers") with per-channel int8 weights; ONNX Runtime's own `quantize_dynamic`
quantises activations per tensor, one range per batch, which costs the bundled MiniLM its quality here (see
workbench.core.onnx_export). Only standard ONNX operators and MatMulIntegerToFloat (com.microsoft, CPU) are used,
with documented semantics: its a_scale is the scalar 1 and the row scale is a separate Mul.

Errors: `ValueError` when the graph has no weight MatMul to quantise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MICROSOFT = "com.microsoft"


def quantised_weights(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output column: (Wq int8 (K, N), ws float32 (N,)) with weight ~ Wq * ws."""
    scale = np.abs(weight).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(weight / scale), -127, 127).astype(np.int8), scale.astype(np.float32)


class _Rewriter:
    """Builds the replacement nodes and initializers for one graph."""

    def __init__(self, graph) -> None:
        from onnx import TensorProto, numpy_helper

        floats = [i for i in graph.initializer if i.data_type == TensorProto.FLOAT]
        self.weights = {i.name: numpy_helper.to_array(i) for i in floats if len(i.dims) == 2}
        self.bias_vectors = {i.name: i for i in floats if len(i.dims) == 1}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.new_initializers: list = []
        self.quantised_inputs: dict[str, str] = {}
        for name, value in {"pt/zero": np.array(0, np.float32), "pt/one": np.array(1, np.float32),
                            "pt/inv255": np.array(1 / 255, np.float32), "pt/eps": np.array(1e-12, np.float32),
                            "pt/zp0": np.array(0, np.uint8), "pt/flat": np.array([-1], np.int64),
                            "pt/first": np.array([0], np.int64), "pt/last": np.array([-1], np.int64)}.items():
            self.constant(name, value)

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.new_initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def quantise_input(self, x: str, k: int) -> tuple[str, list]:
        """The nodes that quantise X per row, once per X: returns (prefix of their outputs, nodes to insert)."""
        from onnx import TensorProto, helper

        if x in self.quantised_inputs:
            return self.quantised_inputs[x], []
        p = f"pt/in{len(self.quantised_inputs)}/"
        self.quantised_inputs[x] = p
        node = helper.make_node
        return p, [
            node("Reshape", [x, self.constant(p + "rows_shape", np.array([-1, k], np.int64))], [p + "rows"]),
            node("ReduceMax", [p + "rows"], [p + "row_max"], axes=[1], keepdims=1),
            node("ReduceMin", [p + "rows"], [p + "row_min"], axes=[1], keepdims=1),
            node("Max", [p + "row_max", "pt/zero"], [p + "hi"]),  # the range always holds 0
            node("Min", [p + "row_min", "pt/zero"], [p + "lo"]),
            node("Sub", [p + "hi", p + "lo"], [p + "range"]),
            node("Mul", [p + "range", "pt/inv255"], [p + "s_raw"]),
            node("Max", [p + "s_raw", "pt/eps"], [p + "s"]),  # (M, 1) row scales
            node("Div", [p + "lo", p + "s"], [p + "lo_steps"]),
            node("Round", [p + "lo_steps"], [p + "minus_z"]),  # -z, (M, 1)
            node("Mul", [p + "minus_z", p + "s"], [p + "minus_sz"]),
            node("Shape", [p + "minus_sz"], [p + "column_shape"]),
            node("Expand", ["pt/one", p + "column_shape"], [p + "ones"]),
            node("Concat", [p + "minus_sz", p + "ones"], [p + "correction_rows"], axis=1),  # (M, 2): [-s z, 1]
            node("Neg", [p + "minus_z"], [p + "z"]),
            node("Reshape", [p + "s", "pt/flat"], [p + "s_flat"]),
            node("Reshape", [p + "z", "pt/flat"], [p + "z_flat"]),
            node("Cast", [p + "z_flat"], [p + "zero_points"], to=TensorProto.UINT8),
            node("QuantizeLinear", [p + "rows", p + "s_flat", p + "zero_points"], [p + "q"], axis=0),
            node("Shape", [x], [p + "shape"]),
            node("Slice", [p + "shape", "pt/first", "pt/last"], [p + "leading"]),
        ]

    def bias_after(self, matmul, n: int):
        """The Add that adds an N-vector initializer to this MatMul's output alone, with that vector's name."""
        after = self.consumers.get(matmul.output[0], [])
        if len(after) != 1 or after[0].op_type != "Add":
            return None, None
        other = [name for name in after[0].input if name != matmul.output[0]]
        if len(other) == 1 and other[0] in self.bias_vectors and tuple(self.bias_vectors[other[0]].dims) == (n,):
            return after[0], other[0]
        return None, None

    def replace(self, matmul) -> tuple[list, object | None]:
        """Nodes that replace `matmul` (and its bias Add, returned second when folded)."""
        from onnx import helper, numpy_helper

        weight = self.weights[matmul.input[1]].astype(np.float32)
        k, n = weight.shape
        wq, ws = quantised_weights(weight)
        p, nodes = self.quantise_input(matmul.input[0], k)
        o = f"pt/{matmul.name or matmul.output[0]}/"
        bias_add, bias_name = self.bias_after(matmul, n)
        bias = (numpy_helper.to_array(self.bias_vectors[bias_name]).astype(np.float32) if bias_add is not None
                else np.zeros(n, np.float32))
        column_sums = (wq.astype(np.float64).sum(axis=0) * ws).astype(np.float32)
        out = bias_add.output[0] if bias_add is not None else matmul.output[0]
        node = helper.make_node
        nodes += [
            node("MatMulIntegerToFloat", [p + "q", self.constant(o + "wq", wq), "pt/one",
                                          self.constant(o + "ws", ws), "pt/zp0"], [o + "qw"], domain=MICROSOFT),
            node("Mul", [o + "qw", p + "s"], [o + "sqw"]),
            # s (q Wq) ws + [-s z, 1] @ [colsum(Wq) ws; bias]: the zero-point correction and the bias in one Gemm
            node("Gemm", [p + "correction_rows", self.constant(o + "correction", np.vstack([column_sums, bias])),
                          o + "sqw"], [o + "rows_out"]),
            node("Concat", [p + "leading", self.constant(o + "n", np.array([n], np.int64))], [o + "shape"], axis=0),
            node("Reshape", [o + "rows_out", o + "shape"], [out]),
        ]
        return nodes, bias_add


def quantise_per_token(source: str | Path, target: str | Path) -> int:
    """Write `target`: `source` with every weight MatMul quantised per token (see the module docstring).
    Returns how many MatMuls were quantised; raises ValueError when there are none."""
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    graph = model.graph
    rewriter = _Rewriter(graph)
    dropped: set[int] = set()
    nodes: list = []
    quantised = 0
    for node in graph.node:
        if id(node) in dropped:
            continue
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in rewriter.weights:
            replacement, bias_add = rewriter.replace(node)
            nodes += replacement  # in the MatMul's place: its input exists, the folded Add's readers come later
            if bias_add is not None:
                dropped.add(id(bias_add))
            quantised += 1
        else:
            nodes.append(node)
    if not quantised:
        raise ValueError(f"{source}: no MatMul with a float weight initializer to quantise")
    graph.initializer.extend(rewriter.new_initializers)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == MICROSOFT for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MICROSOFT, 1))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return quantised
