#!/usr/bin/env python3
"""A tiny Qwen2-VL with random weights, as the two GGUF files llama.cpp's server loads (model + mmproj).

    .venv/bin/python tools/export/vlm_gguf.py --converter DIR --out OUT

Builds transformers' Qwen2VLForConditionalGeneration at a tiny size (2 text layers 64 wide with M-RoPE; a 3-layer
vision tower with 14-pixel patches merged 2×2 — Qwen2-VL's image-token arithmetic at any size), with a byte-level BPE
tokenizer that has Qwen2-VL's special tokens (<|im_start|>, <|im_end|>, <|vision_start|>, <|vision_end|>,
<|image_pad|>), saves it with save_pretrained, and converts it with llama.cpp's own converter (convert_hf_to_gguf.py
and its conversion package, taken from the llama-cpp-python sdist by tools/llama/fetch-converter.sh; gguf from PyPI):
OUT/model.gguf (f32) and OUT/mmproj.gguf (projector type qwen2vl_merger). The converter identifies BPE
pre-tokenizers by a hash of known downloads; this trained tokenizer uses GPT-2's split, so it is told "gpt-2".
Random weights answer nonsense: this model exists to prove the protocol, the image-token costs and the server's
behaviour, not answers.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers, trainers
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
           "<|video_pad|>"]
CORPUS = [
    "Frames of the stream in time order, each after its timestamp. What happened, and when?",
    "A person walks across the parking lot at 00:12 and gets into a red car at 00:31.",
    "Two people talk near the entrance while a van drives past the camera.",
    "The truck arrived at the loading dock after the gate opened; the room is empty.",
] * 25
# content is a string or a list of parts ({"type": "text"}; llama-cpp-python turns images into its media marker)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--converter", required=True, help="directory with llama.cpp's convert_hf_to_gguf.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--context", type=int, default=8192)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    hf = os.path.join(a.out, "hf")
    os.makedirs(hf, exist_ok=True)

    tok = Tokenizer(tmodels.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(os.path.join(hf, "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in SPECIAL}
    vocab = tok.get_vocab_size()
    with open(os.path.join(hf, "tokenizer_config.json"), "w") as fh:
        json.dump({"model_max_length": a.context, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                   "bos_token": None, "add_bos_token": False, "tokenizer_class": "Qwen2Tokenizer",
                   "chat_template": CHAT_TEMPLATE}, fh, indent=1)

    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=a.context,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, rms_norm_eps=1e-6,
                         tie_word_embeddings=False, eos_token_id=ids["<|im_end|>"]),
        vision_config=dict(depth=3, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        eos_token_id=ids["<|im_end|>"], tie_word_embeddings=False,
        architectures=["Qwen2VLForConditionalGeneration"])
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.save_pretrained(hf, safe_serialization=True)
    with open(os.path.join(hf, "preprocessor_config.json"), "w") as fh:
        json.dump({"image_processor_type": "Qwen2VLImageProcessor", "patch_size": 14, "merge_size": 2,
                   "temporal_patch_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_std": [0.26862954, 0.26130258, 0.27577711], "min_pixels": 3136,
                   "max_pixels": 12845056}, fh, indent=1)

    # llama.cpp's converter, its pre-tokenizer lookup told what this tokenizer is
    shim = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import conversion.base as b; "
        "b.TextModel.get_vocab_base_pre = lambda self, tok: 'gpt-2'; "
        "import runpy; sys.argv[0] = 'convert_hf_to_gguf.py'; "
        "runpy.run_path(sys.path[0] + '/convert_hf_to_gguf.py', run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}
    for extra, name in (([], "model.gguf"), (["--mmproj"], "mmproj.gguf")):
        subprocess.run([sys.executable, "-c", shim, a.converter, hf, "--outtype", "f32", "--outfile",
                        os.path.join(a.out, name), *extra], check=True, env=env)
    print(json.dumps({"out": a.out, "model": os.path.join(a.out, "model.gguf"),
                      "mmproj": os.path.join(a.out, "mmproj.gguf"), "vocab": vocab, "special": ids,
                      "context": a.context}))


if __name__ == "__main__":
    main()
