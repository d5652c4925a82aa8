#!/usr/bin/env python3
"""Exercises --from-longvu without a download (exit status 0 = pass).

1. Published shapes: the key names and shapes of LongVU_Qwen2_7B's SVA, projector, newline and query (written out
   below from the release's module structure, not from lvu's modules) must be exactly the state dict of lvu's Sva
   and Projector at the released sizes (built on the meta device: no memory), and split_longvu must route a full
   7B-shaped state dict (decoder and towers included) without leaving a tensor behind.
2. Numbers: a small checkpoint with the same names (random tensors, config.json with Cambrian's fields, a
   tokenizer.json) goes through export.py --from-longvu; the SVA ONNX file must compute what an independent NumPy
   transcription of LongVU's forward computes (per window, masked keys included), and the projector, newline, text
   embeddings, decoder and thresholds must be the checkpoint's.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import Qwen2Config, Qwen2ForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import longvu_ckpt  # noqa: E402
from checkpoint_testing import assert_llm_matches, write_tokenizer  # noqa: E402
from lvu_modules import Projector, Sva  # noqa: E402


def published_keys(D, Cs, Cd, depth, H, window=2):
    """LongVU's connector state dict: name → shape (mm_projector_aux_0 = SigLIP, _1 = DINOv2)."""
    k = {}
    for i, C in enumerate([Cs, Cd]):
        p = f"model.mm_projector_aux_{i}."
        k.update({p + "0.weight": (D, C), p + "0.bias": (D,), p + "2.weight": (D, D), p + "2.bias": (D,),
                  p + "3.weight": (D,), p + "3.bias": (D,)})
    for layer in range(depth):
        p = f"model.vision_sampler_0.layers.{layer}."
        k.update({p + "proj_context.weight": (D, D), p + "proj_in.weight": (D, 2 * D),
                  p + "proj_out.linear_1.weight": (D, D), p + "proj_out.linear_2.weight": (D, D),
                  p + "norm.weight": (D,), p + "norm.bias": (D,), p + "cross_attn.o_proj.weight": (D, D)})
        for proj in ["q_proj"] + [f"{kv}_proj_{i}" for i in range(2) for kv in "kv"]:
            k.update({p + f"cross_attn.{proj}.0.weight": (D,), p + f"cross_attn.{proj}.0.bias": (D,),
                      p + f"cross_attn.{proj}.1.weight": (D, D)})
        for i in range(2):
            k[p + f"pos_embed_{i}"] = (window * window, D)
    k["model.vision_query"] = (1, D)
    k.update({"model.mm_projector.0.weight": (H, D), "model.mm_projector.0.bias": (H,),
              "model.mm_projector.2.weight": (H, H), "model.mm_projector.2.bias": (H,), "model.image_newline": (H,)})
    return k


# 1. the released sizes: SVA 1024 wide, 3 layers, SigLIP-so400m 1152, DINOv2-giant 1536, Qwen2-7B 3584
pub = published_keys(1024, 1152, 1536, 3, 3584)
with torch.device("meta"):
    sva = Sva(12, 1024, 1536, 1152, 3, 16)
    proj = Projector(1024, 3584)
    qwen7b = Qwen2ForCausalLM(Qwen2Config(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28,
                                          num_key_value_heads=4, intermediate_size=18944, vocab_size=152064))
ours = {f"model.{k}": tuple(v.shape) for k, v in list(sva.state_dict().items()) + list(proj.state_dict().items())}
ours["model.image_newline"] = (3584,)
assert ours == pub, {"only in lvu": sorted(set(ours) - set(pub)), "only in LongVU": sorted(set(pub) - set(ours)),
                     "shape": [k for k in pub if k in ours and ours[k] != pub[k]]}
full = {k: torch.empty(s, device="meta") for k, s in pub.items()}
full.update(qwen7b.state_dict())  # model.embed_tokens / model.layers.* / model.norm / lm_head
full["model.vision_tower_aux_list.0.vision_tower.vision_model.post_layernorm.weight"] = torch.empty(1152, device="meta")
full["model.vision_tower_aux_list.1.vision_tower.layernorm.weight"] = torch.empty(1536, device="meta")
routed = longvu_ckpt.split_longvu(full)
assert not routed["unused"], routed["unused"][:5]
assert len(routed["sva"]) == sum(1 for k in pub if "mm_projector." not in k and "image_newline" not in k)
assert len(routed["projector"]) == 4 and routed["newline"] is not None
assert len(routed["llm"]) == len(qwen7b.state_dict()) and set(routed["towers"]) == {0, 1}
with torch.device("meta"):
    sva.load_state_dict({k[len("model."):]: v for k, v in full.items() if k[len("model."):] in sva.state_dict()},
                        assign=True)

# 2. a small checkpoint through export.py
torch.manual_seed(7)
D, Cs, Cd, DEPTH, H, VOCAB, S = 32, 24, 40, 2, 64, 300, 4
M = 2 * S
root = tempfile.mkdtemp(prefix="lvu-from-longvu-")
ckpt, out = os.path.join(root, "LongVU_tiny"), os.path.join(root, "out")
os.makedirs(ckpt)
qcfg = dict(hidden_size=H, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
            vocab_size=VOCAB, max_position_embeddings=32768, tie_word_embeddings=False)
qwen = Qwen2ForCausalLM(Qwen2Config(**qcfg)).eval()
sd = {k: torch.randn(s) * (0.2 if len(s) > 1 else 1.0) for k, s in published_keys(D, Cs, Cd, DEPTH, H).items()}
for k in sd:
    if k.endswith((".3.weight", ".0.weight")) and sd[k].ndim == 1:  # LayerNorm gains near 1
        sd[k] = 1 + 0.1 * sd[k]
sd.update({k: v.contiguous() for k, v in qwen.state_dict().items()})
save_file(sd, os.path.join(ckpt, "model.safetensors"))
config = {"model_type": "cambrian_qwen", "architectures": ["CambrianQwenForCausalLM"], **qcfg,
          "mm_projector_type": "sva", "image_token_len": S * S, "lowres_token": 2, "vision_hidden_size": D,
          "connector_depth": DEPTH, "num_query_group": 1, "query_num_list": [S * S], "connector_only": True,
          "mm_vision_tower_aux_token_len_list": [M * M, M * M], "dino_threshold": 0.81, "drop_threshold": 0.75,
          "tokenizer_model_max_length": 8192, "highres": True}
json.dump(config, open(os.path.join(ckpt, "config.json"), "w"))
tok = write_tokenizer(ckpt, VOCAB)

# tiny towers with the matching hidden sizes (random: the towers are not in this checkpoint)
r = subprocess.run([sys.executable, os.path.join(here, "export.py"), "--random", "--preset", "tiny", "--out", out,
                    "--from-longvu", ckpt], capture_output=True, text=True)
assert r.returncode != 0 and "does not match" in (r.stdout + r.stderr), "tower widths differ from the checkpoint's"
# the checkpoint's aux projectors expect SigLIP 24 / DINOv2 40 wide: give the towers those widths through --from-hf
from transformers import Dinov2Config, Dinov2Model, SiglipVisionConfig, SiglipVisionModel  # noqa: E402
Dinov2Model(Dinov2Config(hidden_size=Cd, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         patch_size=14, image_size=112)).save_pretrained(os.path.join(root, "dino"))
SiglipVisionModel(SiglipVisionConfig(hidden_size=Cs, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                     patch_size=16, image_size=128)).save_pretrained(os.path.join(root, "siglip"))
subprocess.run([sys.executable, os.path.join(here, "export.py"), "--preset", "tiny", "--out", out,
                "--from-longvu", ckpt, "--from-hf", os.path.join(root, "dino"), "--from-hf",
                os.path.join(root, "siglip"), "--hf-llm", "hf"], check=True, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
m = json.load(open(os.path.join(out, "manifest.json")))
assert m["weights"] == "pretrained", m["weights"]
lvm = m["longvu"]
assert (lvm["highGridSide"], lvm["lowGridSide"], lvm["svaDim"], lvm["llmDim"], lvm["vocabSize"]) == (S, 2, D, H, VOCAB)
assert (lvm["dinoThreshold"], lvm["stcThreshold"]) == (0.81, 0.75)
assert m["llm"]["contextTokens"] == 8192

P = {k: v.double().numpy() for k, v in sd.items()}


def ln(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b


erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def longvu_sva(sig, din, mask):
    """LongVU's SVA for one frame, window by window (cambrian_arch + vision_sampler, connector_only)."""
    aux = []
    for i, t in enumerate([sig, din]):
        p = f"model.mm_projector_aux_{i}."
        h = gelu(t @ P[p + "0.weight"].T + P[p + "0.bias"]) @ P[p + "2.weight"].T + P[p + "2.bias"]
        aux.append(ln(h, P[p + "3.weight"], P[p + "3.bias"]))
    context = aux[0].mean(0)
    grid_mask = mask.reshape(M, M)
    outs = np.zeros((S * S, D))
    heads, dh = 16, D // 16
    for qy in range(S):
        for qx in range(S):
            rows, cols = slice(2 * qy, 2 * qy + 2), slice(2 * qx, 2 * qx + 2)
            wins = [a.reshape(M, M, D)[rows, cols].reshape(4, D) for a in aux]
            wmask = grid_mask[rows, cols].reshape(4) > 0.5
            if not wmask.any():
                wmask[:] = True
            x = P["model.vision_query"][0]
            for layer in range(DEPTH):
                p = f"model.vision_sampler_0.layers.{layer}."
                residual = x
                x = np.concatenate([x, context @ P[p + "proj_context.weight"].T]) @ P[p + "proj_in.weight"].T

                def nl(v, name):
                    return ln(v, P[p + f"cross_attn.{name}.0.weight"], P[p + f"cross_attn.{name}.0.bias"]) @ \
                        P[p + f"cross_attn.{name}.1.weight"].T
                q = nl(x, "q_proj")
                keys = np.concatenate([nl(wins[i] + P[p + f"pos_embed_{i}"], f"k_proj_{i}") for i in range(2)])
                vals = np.concatenate([nl(wins[i] + P[p + f"pos_embed_{i}"], f"v_proj_{i}") for i in range(2)])
                allowed = np.concatenate([wmask, wmask])
                att_out = np.zeros(D)
                for hh in range(heads):
                    sl = slice(hh * dh, (hh + 1) * dh)
                    sc = keys[:, sl] @ q[sl] / math.sqrt(dh)
                    sc = np.where(allowed, sc, -np.inf)
                    w = np.exp(sc - sc.max())
                    w /= w.sum()
                    att_out[sl] = w @ vals[:, sl]
                x = x + att_out @ P[p + "cross_attn.o_proj.weight"].T
                x = ln(x, P[p + "norm.weight"], P[p + "norm.bias"])
                x = gelu(x @ P[p + "proj_out.linear_1.weight"].T) @ P[p + "proj_out.linear_2.weight"].T
                x = x + residual
            outs[qy * S + qx] = x
    return outs


sig = np.random.default_rng(1).standard_normal((2, M * M, Cs)).astype(np.float32)
din = np.random.default_rng(2).standard_normal((2, M * M, Cd)).astype(np.float32)
mask = np.ones((2, M * M), np.float32)
mask[1].reshape(M, M)[:, :3] = 0  # frame 2: the 3 left columns are padding (a whole window column is masked)
got = ort.InferenceSession(os.path.join(out, "sva.onnx")).run(
    None, {"dino_tokens": din, "siglip_tokens": sig, "key_mask": mask})[0]
for b in range(2):
    ref = longvu_sva(sig[b].astype(np.float64), din[b].astype(np.float64), mask[b])
    err = np.abs(got[b] - ref).max()
    assert err < 1e-3, (b, err)
masked_effect = np.abs(got[1] - ort.InferenceSession(os.path.join(out, "sva.onnx")).run(
    None, {"dino_tokens": din[1:], "siglip_tokens": sig[1:], "key_mask": np.ones((1, M * M), np.float32)})[0][0]).max()
assert masked_effect > 1e-3, "the key mask must change the windows it covers"

feats = np.random.default_rng(3).standard_normal((5, D)).astype(np.float32)
got = ort.InferenceSession(os.path.join(out, "projector.onnx")).run(None, {"features": feats})[0]
ref = gelu(feats @ P["model.mm_projector.0.weight"].T + P["model.mm_projector.0.bias"]) @ \
    P["model.mm_projector.2.weight"].T + P["model.mm_projector.2.bias"]
assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()
newline = np.fromfile(os.path.join(out, "newline.f32"), np.float32)
assert np.array_equal(newline, sd["model.image_newline"].numpy())
ids = np.array([[1, 5, 17, 299]], np.int64)
got = ort.InferenceSession(os.path.join(out, "text-embed.onnx")).run(None, {"input_ids": ids})[0][0]
assert np.array_equal(got, sd["model.embed_tokens.weight"].numpy()[ids[0]])
assert_llm_matches(out, qwen)
assert Tokenizer.from_file(os.path.join(out, "tokenizer.json")).to_str() == tok.to_str()
# --hf-llm: the checkpoint's Qwen2 decoder as the Hugging Face directory a server loads (bfloat16, LongVU's dtype)
hf = Qwen2ForCausalLM.from_pretrained(os.path.join(out, "hf"), dtype="auto").eval()
assert hf.dtype == torch.bfloat16, hf.dtype
for k, v in qwen.state_dict().items():
    assert torch.equal(hf.state_dict()[k], v.to(torch.bfloat16)), k
assert json.load(open(os.path.join(out, "manifest.json")))["llm"]["huggingFace"]["dir"] == "hf"
print(json.dumps({"ok": True, "dir": out, "publishedKeys": len(pub), "routed7b": len(full)}))
