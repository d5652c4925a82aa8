#!/usr/bin/env python3
"""Exercises --from-hf without a hub: writes transformers checkpoints (random weights, the published architectures'
layout at small sizes) with save_pretrained, exactly as a download would lay them out, exports from them, and checks
that each exported ONNX file computes what the checkpoint computes. Exit status 0 = pass."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer
from transformers import Dinov2Config, Dinov2Model, Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from checkpoint_testing import assert_llm_matches, write_tokenizer  # noqa: E402
from lvu_modules import resize_tokens  # noqa: E402

torch.manual_seed(123)
root = tempfile.mkdtemp(prefix="lvu-from-hf-")
dino_dir, sig_dir, llm_dir, out = (os.path.join(root, d) for d in ("dinov2", "siglip", "qwen2", "out"))
dino = Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                patch_size=14, image_size=112)).eval()
dino.save_pretrained(dino_dir)
sig = SiglipVisionModel(SiglipVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=64, patch_size=16, image_size=128)).eval()
sig.save_pretrained(sig_dir)
qwen = Qwen2ForCausalLM(Qwen2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                    intermediate_size=128, vocab_size=300, max_position_embeddings=4096)).eval()
qwen.save_pretrained(llm_dir)
tok = write_tokenizer(llm_dir, 300)

subprocess.run([sys.executable, os.path.join(here, "export.py"), "--random", "--preset", "tiny", "--out", out,
                "--from-hf", dino_dir, "--from-hf", sig_dir, "--from-hf", llm_dir], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
m = json.load(open(os.path.join(out, "manifest.json")))
assert m["weights"] == "mixed", m["weights"]
assert set(m["pretrained"]) == {"dino", "siglip", "llm"}, m["pretrained"]
assert m["llm"]["vocabSize"] == 300 and m["models"]["llm"]["outputs"][0]["shape"][2] == 300

x = torch.randn(1, 3, 112, 112)
with torch.no_grad():
    ref = resize_tokens(dino(pixel_values=x).last_hidden_state[:, 1:, :], 8).numpy()
got = ort.InferenceSession(os.path.join(out, "dino.onnx")).run(None, {"pixel_values": x.numpy()})[0]
assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()
y = torch.randn(1, 3, 128, 128)
with torch.no_grad():
    ref = resize_tokens(sig(pixel_values=y, output_hidden_states=True).hidden_states[-1], 8).numpy()
got = ort.InferenceSession(os.path.join(out, "siglip.onnx")).run(None, {"pixel_values": y.numpy()})[0]
assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()
assert_llm_matches(out, qwen)
exported = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
assert exported.to_str() == tok.to_str(), "the checkpoint's tokenizer must be exported unchanged"
print(json.dumps({"ok": True, "dir": out, "pretrained": sorted(m["pretrained"])}))
