"""Cheaper variants of an exported model directory's networks, recorded in its manifest.

    python tools/export/variants.py DIR [--roles dino,siglip,sva] [--kinds int8,float16] [--use int8]

- int8: onnxruntime's dynamic quantization (weights int8 per channel, activations quantized at run time): MatMul and
  Gemm become MatMulInteger/DynamicQuantizeLinear, which CPUs with VNNI/AVX2 run faster than float32. On AVX2
  without VNNI, onnxruntime's u8×s8 kernel (VPMADDUBSW) can saturate; 7-bit weights (`reduce_range`) avoid it at the
  same speed. Both are written and the one with the smaller error against float32 is kept (`reduceRange` in the
  manifest): on the `small` SigLIP, reduce_range cut the largest error from 2.6 to 0.27; on DINOv2 full range
  was better (0.12 against 0.23);
- float16: weights and activations in float16 with float32 inputs and outputs (onnxruntime's converter), half the
  file; on CPUs without float16 arithmetic onnxruntime computes through casts, so it is for GPUs or disk.

Each variant is run next to the float32 file on the same random input and its largest absolute difference is
recorded (`maxAbsErrVsFloat32`). `--use KIND` sets the manifest's `precision`, which the engine loads unless told
otherwise (`engine.precision`).
"""
import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort


def _feeds(sess, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 2 for d in i.shape]
        if "int64" in i.type:
            feeds[i.name] = rng.integers(0, 8, shape).astype(np.int64)
        elif i.name == "key_mask":
            feeds[i.name] = np.ones(shape, np.float32)
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _max_err(ref_path, path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    a = ort.InferenceSession(ref_path, opts, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    f = _feeds(a)
    return float(max(np.max(np.abs(x.astype(np.float32) - y.astype(np.float32)))
                     for x, y in zip(a.run(None, f), b.run(None, f))))


def int8(src, dst):
    """Dynamic int8, full-range and reduce_range weights; keeps the one closer to float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst + ".pre.onnx"
    quant_pre_process(src, pre, skip_symbolic_shape=True)
    tried = []
    for reduce_range in (False, True):
        out = dst + (".rr.onnx" if reduce_range else ".full.onnx")
        quantize_dynamic(pre, out, weight_type=QuantType.QInt8, per_channel=True, reduce_range=reduce_range,
                         op_types_to_quantize=["MatMul", "Gemm"])
        tried.append((_max_err(src, out), reduce_range, out))
    os.remove(pre)
    err, reduce_range, best = min(tried)
    os.replace(best, dst)
    for _, _, out in tried:
        if out != best:
            os.remove(out)
    return {"reduceRange": reduce_range}


def float16(src, dst):
    from onnxruntime.transformers.float16 import convert_float_to_float16

    m = convert_float_to_float16(onnx.load(src), keep_io_types=True)
    onnx.save(m, dst)
    return {}


KINDS = {"int8": int8, "float16": float16}


def write_variants(out_dir, roles=("dino", "siglip", "sva"), kinds=("int8", "float16"), use=None):
    path = os.path.join(out_dir, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    for role in roles:
        spec = manifest["models"].get(role)
        if not spec:
            continue
        src = os.path.join(out_dir, spec["file"])
        for kind in kinds:
            name = f"{role}.{kind}.onnx"
            extra = KINDS[kind](src, os.path.join(out_dir, name))
            err = _max_err(src, os.path.join(out_dir, name))
            spec.setdefault("variants", {})[kind] = {"file": name, "maxAbsErrVsFloat32": err, **extra}
            print(f"{role:8s} {kind:8s} {os.path.getsize(os.path.join(out_dir, name)) / 2**20:8.1f} MiB  "
                  f"max |{kind} - float32| {err:.2e} {extra or ''}", flush=True)
    if use:
        manifest["precision"] = use
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--roles", default="dino,siglip,sva")
    ap.add_argument("--kinds", default="int8,float16")
    ap.add_argument("--use", choices=sorted(KINDS), default=None)
    a = ap.parse_args()
    write_variants(a.dir, a.roles.split(","), a.kinds.split(","), a.use)


if __name__ == "__main__":
    main()
