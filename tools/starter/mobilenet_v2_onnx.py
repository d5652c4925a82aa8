"""torchvision's MobileNetV2 (ImageNet-1k) as an ONNX graph, built from the checkpoint's arrays with NumPy and the
`onnx` package alone (no PyTorch: the starter set must not need a 7 GB environment).

The graph follows torchvision.models.mobilenet_v2 (inverted residual blocks t,c,n,s = LongVU-independent ImageNet
settings) with each BatchNorm folded into its convolution (eps 1e-5, inference statistics). Input `pixels`
[N, 3, S, S] normalised with the ImageNet mean/std; outputs:
  features [N, 1280, S/32, S/32]  the last feature map (12×12 at S = 384),
  cam      [N, 1000, S/32, S/32]  class logits per cell (the classifier applied to each cell: class activation maps),
  logits   [N, 1000]              the classifier on the average-pooled features, as torchvision computes it.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
EPS = 1e-5


class _Graph:
    def __init__(self, sd):
        self.sd = sd
        self.nodes, self.inits = [], []
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def conv_bn(self, x, conv, bn, stride, groups, relu6):
        w = self.sd[f"{conv}.weight"].astype(np.float64)
        g, b = self.sd[f"{bn}.weight"], self.sd[f"{bn}.bias"]
        mean, var = self.sd[f"{bn}.running_mean"], self.sd[f"{bn}.running_var"]
        scale = g / np.sqrt(var + EPS)
        wf = (w * scale[:, None, None, None]).astype(np.float32)
        bf = (b - mean * scale).astype(np.float32)
        k = w.shape[-1]
        y = self.name("conv")
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, self.const(wf, "w"), self.const(bf, "b")],
                [y],
                strides=[stride, stride],
                pads=[(k - 1) // 2] * 4,
                group=groups,
                kernel_shape=[k, k],
            )
        )
        if not relu6:
            return y
        z = self.name("relu6")
        self.nodes.append(
            helper.make_node("Clip", [y, self.const(np.float32(0), "lo"), self.const(np.float32(6), "hi")], [z])
        )
        return z


def build(sd) -> onnx.ModelProto:
    g = _Graph(sd)
    x = g.conv_bn("pixels", "features.0.0", "features.0.1", 2, 1, True)
    inp, i = 32, 1
    for t, c, n, s in SETTINGS:
        for r in range(n):
            stride = s if r == 0 else 1
            hidden = inp * t
            p = f"features.{i}.conv"
            y, k = x, 0
            if t != 1:
                y = g.conv_bn(y, f"{p}.0.0", f"{p}.0.1", 1, 1, True)
                k = 1
            y = g.conv_bn(y, f"{p}.{k}.0", f"{p}.{k}.1", stride, hidden, True)
            y = g.conv_bn(y, f"{p}.{k + 1}", f"{p}.{k + 2}", 1, 1, False)
            if stride == 1 and inp == c:
                z = g.name("add")
                g.nodes.append(helper.make_node("Add", [x, y], [z]))
                y = z
            x, inp, i = y, c, i + 1
    feats = g.conv_bn(x, "features.18.0", "features.18.1", 1, 1, True)
    g.nodes.append(helper.make_node("Identity", [feats], ["features"]))
    wc, bc = sd["classifier.1.weight"], sd["classifier.1.bias"]
    g.nodes.append(
        helper.make_node(
            "Conv",
            ["features", g.const(wc[:, :, None, None].astype(np.float32), "wc"), g.const(bc.astype(np.float32), "bc")],
            ["cam"],
            kernel_shape=[1, 1],
        )
    )
    pooled = g.name("pool")
    g.nodes.append(helper.make_node("GlobalAveragePool", ["features"], [pooled]))
    flat = g.name("flat")
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    g.nodes.append(
        helper.make_node("Gemm", [flat, g.const(wc.astype(np.float32), "wl"), g.const(bc.astype(np.float32), "bl")], ["logits"], transB=1)
    )
    graph = helper.make_graph(
        g.nodes,
        "mobilenet_v2",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, "side", "side"])],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1280, "grid", "grid"]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["batch", 1000, "grid", "grid"]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1000]),
        ],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="lvu-starter")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
