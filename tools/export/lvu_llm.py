"""The LLM role: a Qwen2 decoder (transformers' Qwen2ForCausalLM) taking `inputs_embeds` with a KV cache.

ONNX signature (per layer i, kv heads × head dim):
  inputs  inputs_embeds [batch, seq, H] float32, attention_mask [batch, past+seq] int64, position_ids [batch, seq]
          int64, past.i.key / past.i.value [batch, kv_heads, past, head_dim] float32
  outputs logits [batch, seq, vocab] float32, present.i.key / present.i.value [batch, kv_heads, past+seq, head_dim]
"""
import torch
from torch import nn
from transformers import Qwen2Config, Qwen2ForCausalLM
from transformers.cache_utils import DynamicCache


class Qwen2WithCache(nn.Module):
    def __init__(self, model: Qwen2ForCausalLM):
        super().__init__()
        self.model = model
        self.layers = model.config.num_hidden_layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        # the causal + padding mask as a 4-D additive mask built with plain ops (transformers' own mask builder uses
        # vmap, which ONNX export cannot trace); transformers uses a 4-D mask as given
        seq = inputs_embeds.shape[1]
        total = attention_mask.shape[1]
        q_idx = torch.arange(seq, device=inputs_embeds.device).unsqueeze(1) + (total - seq)
        k_idx = torch.arange(total, device=inputs_embeds.device).unsqueeze(0)
        allowed = (k_idx <= q_idx).unsqueeze(0).unsqueeze(0) & (attention_mask[:, None, None, :] > 0)
        mask = torch.zeros(allowed.shape, dtype=inputs_embeds.dtype).masked_fill(
            ~allowed, torch.finfo(inputs_embeds.dtype).min)
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(inputs_embeds=inputs_embeds, attention_mask=mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True, return_dict=True)
        present = []
        for i in range(self.layers):
            layer = out.past_key_values.layers[i]
            present.extend([layer.keys, layer.values])
        return (out.logits, *present)


def make_qwen2(hidden, layers, heads, kv_heads, intermediate, vocab, max_pos):
    cfg = Qwen2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv_heads, intermediate_size=intermediate, vocab_size=vocab,
                      max_position_embeddings=max_pos, tie_word_embeddings=False, use_sliding_window=False)
    cfg._attn_implementation = "eager"
    return Qwen2ForCausalLM(cfg).eval()
