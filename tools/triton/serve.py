#!/usr/bin/env python3
"""Serves an lvu model directory's encoders on NVIDIA Triton Inference Server (nvidia-pytriton from PyPI bundles
the tritonserver binary; CPU is enough), each role a Triton model run by onnxruntime on the directory's own ONNX
file, reachable over the KServe v2 protocol (HTTP, with Triton's binary tensor extension, and gRPC).

    .venv-triton/bin/python tools/triton/serve.py MODEL_DIR [--http-port 8000] [--grpc-port 8001]
        [--roles dino,siglip,sva,projector,text-embed] [--threads 2] [--max-batch 0]

Model names are the roles (dino, siglip, sva, projector, text-embed); tensor names and dtypes are the manifest's.
Dimensions the manifest leaves symbolic are -1. Prints one JSON line {"ready": true, "http": …, "grpc": …} once
Triton serves every model, and serves until SIGTERM or SIGINT.
"""
import argparse
import json
import os
import signal
import sys

import numpy as np
import onnxruntime as ort
from pytriton.model_config import ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

DTYPES = {"float32": np.float32, "int64": np.int64, "float16": np.float16}


def role_callable(session, output_names):
    """pytriton hands an unbatched model a list of requests (each a mapping of input name to array)."""
    def infer(requests):
        return [dict(zip(output_names, session.run(output_names, dict(req.items())))) for req in requests]
    return infer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--http-port", type=int, default=8000)
    ap.add_argument("--grpc-port", type=int, default=0, help="default: --http-port + 1")
    ap.add_argument("--metrics-port", type=int, default=0)
    ap.add_argument("--roles", default="dino,siglip,sva,projector,text-embed")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    manifest = json.load(open(os.path.join(a.model_dir, "manifest.json")))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    cfg = TritonConfig(http_address="127.0.0.1", http_port=a.http_port, grpc_address="127.0.0.1",
                       grpc_port=a.grpc_port or a.http_port + 1, allow_metrics=a.metrics_port > 0,
                       metrics_port=a.metrics_port or None, log_verbose=0)
    triton = Triton(config=cfg)
    served = []
    for role in [r for r in a.roles.split(",") if r in manifest["models"]]:
        spec = manifest["models"][role]
        session = ort.InferenceSession(os.path.join(a.model_dir, spec["file"]), opts,
                                       providers=["CPUExecutionProvider"])
        dims = lambda t: tuple(d if isinstance(d, int) else -1 for d in t["shape"])  # noqa: E731
        triton.bind(
            model_name=role,
            infer_func=role_callable(session, [o["name"] for o in spec["outputs"]]),
            inputs=[Tensor(name=t["name"], dtype=DTYPES[t["dtype"]], shape=dims(t)) for t in spec["inputs"]],
            outputs=[Tensor(name=t["name"], dtype=DTYPES[t["dtype"]], shape=dims(t)) for t in spec["outputs"]],
            config=ModelConfig(batching=False),
            strict=False,
        )
        served.append(role)
    triton.run()
    print(json.dumps({"ready": True, "http": f"http://127.0.0.1:{a.http_port}", "grpc": a.grpc_port,
                      "models": served}), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        while not stop:
            signal.pause() if hasattr(signal, "pause") else None
    finally:
        triton.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
