"""Helpers shared by the exporter's checkpoint tests (test_from_hf.py, test_from_longvu.py)."""
import os

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers


def write_tokenizer(directory: str, vocab: int) -> Tokenizer:
    """A byte-level BPE tokenizer.json with Qwen2's special tokens, as a checkpoint would ship it."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["a camera watches the road"] * 10, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.save(os.path.join(directory, "tokenizer.json"))
    return tok


def assert_llm_matches(out: str, qwen, tokens: int = 5) -> None:
    """The exported llm.onnx (empty KV cache) gives the checkpoint decoder's logits."""
    c = qwen.config
    e = torch.randn(1, tokens, c.hidden_size)
    with torch.no_grad():
        ref = qwen(inputs_embeds=e).logits.numpy()
    feeds = {"inputs_embeds": e.numpy(), "attention_mask": np.ones((1, tokens), np.int64),
             "position_ids": np.arange(tokens, dtype=np.int64)[None]}
    head_dim = c.hidden_size // c.num_attention_heads
    for i in range(c.num_hidden_layers):
        for kv in ("key", "value"):
            feeds[f"past.{i}.{kv}"] = np.zeros((1, c.num_key_value_heads, 0, head_dim), np.float32)
    got = ort.InferenceSession(os.path.join(out, "llm.onnx")).run(["logits"], feeds)[0]
    assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()
