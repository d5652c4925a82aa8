#!/usr/bin/env python3
"""Reads lvu's prompt-embeds requests the way vLLM does, and decodes from them with Hugging Face transformers.

    python tools/export/check_prompt_embeds.py CASES.json

CASES.json: {"hf": DIR, "cases": [{"body": FILE, "embeds": FILE (float32, rows × hidden, what lvu composed),
"ids": [lvu's greedy token ids from the same embeddings at the wire dtype's precision], "text": lvu's answer}]}.

For each body: the `prompt_embeds` field is decoded exactly as vLLM's `load_prompt_embeds` does (strict base64,
`torch.load(weights_only=True, map_location="cpu")`, a float32/bfloat16/float16 `torch.Tensor`, `to_dense`, a
leading batch dimension squeezed), compared with lvu's float32 embeddings cast to the wire dtype (bit for bit), and
greedy-decoded by transformers' Qwen2ForCausalLM loaded from the exported directory. Prints one JSON object.
"""
import base64
import io
import json
import sys

import numpy as np
import torch
from transformers import AutoTokenizer, Qwen2ForCausalLM


def load_like_vllm(embed: str) -> torch.Tensor:
    tensor = torch.load(io.BytesIO(base64.b64decode(embed, validate=True)), weights_only=True,
                        map_location=torch.device("cpu"))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype in (torch.float32, torch.bfloat16, torch.float16)
    tensor = tensor.to_dense()
    if tensor.dim() > 2:
        tensor = tensor.squeeze(0)
        assert tensor.dim() == 2
    return tensor


def main():
    spec = json.load(open(sys.argv[1]))
    model = Qwen2ForCausalLM.from_pretrained(spec["hf"], attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(spec["hf"])
    out = []
    for case in spec["cases"]:
        body = json.load(open(case["body"]))
        t = load_like_vllm(body["prompt_embeds"])
        ref = torch.from_numpy(np.fromfile(case["embeds"], dtype=np.float32).reshape(t.shape[0], -1))
        same_bits = bool(torch.equal(t, ref.to(t.dtype)))
        with torch.no_grad():
            gen = model.generate(inputs_embeds=t.to(model.dtype)[None], attention_mask=torch.ones(1, t.shape[0],
                                 dtype=torch.long), max_new_tokens=body["max_tokens"], do_sample=False,
                                 num_beams=1)
        ids = gen[0].tolist()
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        while ids and ids[-1] in eos:  # transformers returns the stop token; lvu does not
            ids.pop()
        out.append({"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                    "bytes": len(base64.b64decode(body["prompt_embeds"])), "sameBits": same_bits,
                    "maxAbsErrVsFloat32": float((t.float() - ref).abs().max()),
                    "hfIds": ids, "lvuIds": case["ids"], "sameIds": ids == case["ids"],
                    "hfText": tok.decode(ids, skip_special_tokens=True), "lvuText": case["text"]})
    print(json.dumps({"torch": torch.__version__, "cases": out}))


if __name__ == "__main__":
    main()
