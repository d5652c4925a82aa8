#!/usr/bin/env python3
"""Writes a single-MatMul ONNX model (n×n · n×n, float32): the machine's peak for onnxruntime."""
import sys

import onnx
from onnx import TensorProto, helper

n, path = int(sys.argv[1]), sys.argv[2]
g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "matmul",
                      [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
                       helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
                      [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
