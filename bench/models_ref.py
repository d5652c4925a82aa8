#!/usr/bin/env python3
"""Python baselines for bench/models.ts on the same ONNX files: onnxruntime (same threads) and PyTorch eager on the
exporter's modules (same architectures and sizes; random weights). Prints one JSON object."""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def timed(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batches", default="1,4,8")
    ap.add_argument("--matmul", required=True)
    a = ap.parse_args()
    import onnxruntime as ort
    import torch
    torch.set_num_threads(a.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "export"))
    from transformers import Dinov2Config, Dinov2Model, SiglipVisionConfig, SiglipVisionModel
    from export import PRESETS
    from lvu_modules import DinoEncoder, SiglipEncoder

    manifest = json.load(open(os.path.join(a.dir, "manifest.json")))
    preset = PRESETS[manifest["preset"]]
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    out = {"ort": {}, "torch": {}, "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__}}
    mm = ort.InferenceSession(a.matmul, so, providers=["CPUExecutionProvider"])
    n = mm.get_inputs()[0].shape[0]
    x = np.random.rand(n, n).astype(np.float32)
    t = timed(lambda: mm.run(None, {"a": x, "b": x}), a.runs)
    out["matmulGflops"] = 2 * n ** 3 / t / 1e9
    M = 2 * preset["side"]
    builders = {
        "dino": lambda: DinoEncoder(Dinov2Model(Dinov2Config(**preset["dino"])), M).eval(),
        "siglip": lambda: SiglipEncoder(SiglipVisionModel(SiglipVisionConfig(**preset["siglip"])), M).eval(),
    }
    for role in ("dino", "siglip"):
        spec = manifest["models"][role]
        size = spec["preprocess"]["size"]
        sess = ort.InferenceSession(os.path.join(a.dir, spec["file"]), so, providers=["CPUExecutionProvider"])
        module = builders[role]()
        for b in map(int, a.batches.split(",")):
            px = np.random.rand(b, 3, size, size).astype(np.float32)
            out["ort"][f"{role}/{b}"] = timed(lambda: sess.run(None, {"pixel_values": px}), a.runs) * 1000 / b
            tp = torch.from_numpy(px)
            with torch.no_grad():
                out["torch"][f"{role}/{b}"] = timed(lambda: module(tp), a.runs) * 1000 / b
    print(json.dumps(out))


if __name__ == "__main__":
    main()
