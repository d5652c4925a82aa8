#!/usr/bin/env python3
"""lvu model exporter: writes ONNX files and a model manifest (manifest.json) for lvu's `packages/models`.

    .venv/bin/python tools/export/export.py --random --preset tiny --out models/tiny

--random builds the exact architectures (transformers' Dinov2Model and SiglipVisionModel, lvu's SVA and projector,
an embedding table for text) with seeded random weights. Presets: tiny (tests; a few hundred KB), small
(DINOv2-small/14@224, SigLIP-base/16@224; benchmarks), longvu (DINOv2-giant/14@378, SigLIP-so400m/14@384).
Every ONNX file is checked against PyTorch on a random input (max abs error in the manifest and printed).
The LLM role (Qwen2 decoder with inputs_embeds and KV cache) and --from-hf / --from-longvu are not written yet.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Dinov2Config, Dinov2Model, SiglipVisionConfig, SiglipVisionModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lvu_modules import DinoEncoder, Projector, SiglipEncoder, Sva  # noqa: E402

PRESETS = {
    "tiny": dict(
        side=4, low=2,
        dino=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  patch_size=14, image_size=112),
        siglip=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    patch_size=16, image_size=128),
        sva=dict(dim=32, depth=2, heads=4), llm_dim=64, vocab=512),
    "small": dict(
        side=12, low=8,
        dino=dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                  patch_size=14, image_size=224),
        siglip=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                    patch_size=16, image_size=224),
        sva=dict(dim=1024, depth=3, heads=16), llm_dim=896, vocab=151936),
    "longvu": dict(
        side=12, low=8,
        dino=dict(hidden_size=1536, num_hidden_layers=40, num_attention_heads=24, intermediate_size=6144,
                  patch_size=14, image_size=378, use_swiglu_ffn=True),
        siglip=dict(hidden_size=1152, num_hidden_layers=27, num_attention_heads=16, intermediate_size=4304,
                    patch_size=14, image_size=384),
        sva=dict(dim=1024, depth=3, heads=16), llm_dim=3584, vocab=152064),
}
DINO_MEAN, DINO_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SIGLIP_MEAN, SIGLIP_STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


def flops(module, *args):
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            module(*args)
    return int(fc.get_total_flops())


def export(module, args, path, input_names, output_names, dynamic):
    module.eval()
    torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic, opset_version=17, dynamo=False, do_constant_folding=True)


def verify(module, args, path, input_names):
    import onnxruntime as ort
    with torch.no_grad():
        ref = module(*args).float().numpy()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {n: a.numpy() for n, a in zip(input_names, args)})[0]
    return float(np.abs(out - ref).max())


def io(name, shape, dtype="float32"):
    return {"name": name, "shape": shape, "dtype": dtype}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--random", action="store_true", required=True,
                    help="random weights (the only mode implemented so far)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    p = PRESETS[a.preset]
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    S, M = p["side"], 2 * p["side"]
    models, report = {}, {}

    def add(role, module, args, inputs, outputs, dynamic, extra=None, per_frame=1):
        path = os.path.join(a.out, f"{role}.onnx")
        export(module, args, path, [i["name"] for i in inputs], [o["name"] for o in outputs], dynamic)
        err = verify(module, args, path, [i["name"] for i in inputs])
        n_params = sum(t.numel() for t in module.parameters())
        entry = {"file": f"{role}.onnx", "inputs": inputs, "outputs": outputs, "params": n_params,
                 "flopsPerFrame": flops(module, *args) // per_frame, "maxAbsErrVsTorch": err}
        entry.update(extra or {})
        models[role] = entry
        report[role] = err
        print(f"{role:11s} params {n_params:>12,d}  GFLOP/frame {entry['flopsPerFrame'] / 1e9:8.3f}  "
              f"max |onnx - torch| {err:.2e}", flush=True)

    dcfg = Dinov2Config(**p["dino"])
    dino = DinoEncoder(Dinov2Model(dcfg).eval(), M)
    dsize = p["dino"]["image_size"]
    add("dino", dino, (torch.randn(2, 3, dsize, dsize),),
        [io("pixel_values", ["batch", 3, dsize, dsize])], [io("tokens", ["batch", M * M, dcfg.hidden_size])],
        {"pixel_values": {0: "batch"}, "tokens": {0: "batch"}},
        {"preprocess": {"size": dsize, "mean": DINO_MEAN, "std": DINO_STD, "pad": "square"}}, per_frame=2)

    scfg = SiglipVisionConfig(**p["siglip"])
    siglip = SiglipEncoder(SiglipVisionModel(scfg).eval(), M)
    ssize = p["siglip"]["image_size"]
    add("siglip", siglip, (torch.randn(2, 3, ssize, ssize),),
        [io("pixel_values", ["batch", 3, ssize, ssize])], [io("tokens", ["batch", M * M, scfg.hidden_size])],
        {"pixel_values": {0: "batch"}, "tokens": {0: "batch"}},
        {"preprocess": {"size": ssize, "mean": SIGLIP_MEAN, "std": SIGLIP_STD, "pad": "square"}}, per_frame=2)

    sv = p["sva"]
    sva = Sva(S, sv["dim"], dcfg.hidden_size, scfg.hidden_size, sv["depth"], sv["heads"]).eval()
    add("sva", sva, (torch.randn(2, M * M, dcfg.hidden_size), torch.randn(2, M * M, scfg.hidden_size)),
        [io("dino_tokens", ["batch", M * M, dcfg.hidden_size]), io("siglip_tokens", ["batch", M * M, scfg.hidden_size])],
        [io("queries", ["batch", S * S, sv["dim"]])],
        {"dino_tokens": {0: "batch"}, "siglip_tokens": {0: "batch"}, "queries": {0: "batch"}}, per_frame=2)

    H = p["llm_dim"]
    proj = Projector(sv["dim"], H).eval()
    add("projector", proj, (torch.randn(S * S, sv["dim"]),),
        [io("features", ["rows", sv["dim"]])], [io("embeds", ["rows", H])],
        {"features": {0: "rows"}, "embeds": {0: "rows"}})

    embed = torch.nn.Embedding(p["vocab"], H).eval()
    add("text-embed", embed, (torch.randint(0, p["vocab"], (1, 7)),),
        [io("input_ids", ["batch", "tokens"], "int64")], [io("embeds", ["batch", "tokens", H])],
        {"input_ids": {0: "batch", 1: "tokens"}, "embeds": {0: "batch", 1: "tokens"}})

    newline = (torch.randn(H) * 0.02).numpy().astype(np.float32)
    newline.tofile(os.path.join(a.out, "newline.f32"))
    manifest = {
        "format": "lvu-models/1",
        "preset": a.preset,
        "weights": "random",
        "seed": a.seed,
        "longvu": {"highGridSide": S, "lowGridSide": p["low"], "svaDim": sv["dim"], "llmDim": H,
                   "vocabSize": p["vocab"], "newline": "newline.f32", "dinoThreshold": 0.83, "stcThreshold": 0.7},
        "models": models,
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(json.dumps({"out": a.out, "maxAbsErrVsTorch": report}))


if __name__ == "__main__":
    main()
