"""Reading a downloaded LongVU checkpoint (`Vision-CAIR/LongVU_Qwen2_7B` and its siblings) for `--from-longvu`.

A LongVU checkpoint is a transformers directory: `config.json` (model_type `cambrian_qwen`, a Qwen2Config plus the
Cambrian fields), `tokenizer.json`, and the weights as safetensors (one file or shards with an index) or
`pytorch_model*.bin`. Its state dict holds, under `model.`:

* the SVA: `mm_projector_aux_{0,1}.*` (0 = SigLIP, 1 = DINOv2), `vision_sampler_0.layers.{l}.*`, `vision_query`;
* `mm_projector.{0,2}.*` and `image_newline`;
* the Qwen2 decoder: `embed_tokens`, `layers.{l}`, `norm` (and `lm_head.weight` at the top level);
* possibly the (fine-tuned) towers: `vision_tower_aux_list.{0,1}.vision_tower.*` (SiglipVisionModel, Dinov2Model).

`split_longvu` sorts the keys into those groups with the names lvu's modules use (lvu_modules.Sva / Projector are
written with LongVU's names, so the mapping is a prefix change) and reports every key it did not place.
"""
import glob
import json
import os

import torch

SVA_PREFIXES = ("mm_projector_aux_", "vision_sampler_0.", "vision_query")
TOWER_PREFIX = "vision_tower_aux_list."
LLM_MODEL_PREFIXES = ("embed_tokens.", "layers.", "norm.")


def load_config(path: str) -> dict:
    cfg_path = os.path.join(path, "config.json")
    if not os.path.exists(cfg_path):
        raise SystemExit(f"{path}: no config.json; --from-longvu takes a downloaded LongVU checkpoint directory")
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    if cfg.get("mm_projector_type", "sva") != "sva":
        raise SystemExit(f"{path}: mm_projector_type {cfg.get('mm_projector_type')!r}; lvu supports LongVU's 'sva'")
    if cfg.get("num_query_group", 1) != 1:
        raise SystemExit(f"{path}: num_query_group {cfg['num_query_group']}; LongVU's released checkpoints use 1")
    return cfg


def load_state_dict(path: str) -> dict:
    """Every tensor of the checkpoint (safetensors shards or pytorch_model*.bin), on the CPU."""
    files = sorted(glob.glob(os.path.join(path, "*.safetensors")))
    if files:
        from safetensors.torch import load_file
        sd = {}
        for f in files:
            sd.update(load_file(f, device="cpu"))
        return sd
    files = sorted(glob.glob(os.path.join(path, "pytorch_model*.bin")))
    if not files:
        raise SystemExit(f"{path}: no *.safetensors or pytorch_model*.bin weights")
    sd = {}
    for f in files:
        sd.update(torch.load(f, map_location="cpu", weights_only=True))
    return sd


def split_longvu(sd: dict) -> dict:
    """{'sva': ..., 'projector': ..., 'newline': tensor, 'llm': ..., 'towers': {0: ..., 1: ...}, 'unused': [...]}"""
    out = {"sva": {}, "projector": {}, "newline": None, "llm": {}, "towers": {}, "unused": []}
    for key, t in sd.items():
        if key == "lm_head.weight":
            out["llm"][key] = t
            continue
        if not key.startswith("model."):
            out["unused"].append(key)
            continue
        k = key[len("model."):]
        if k.startswith(SVA_PREFIXES):
            out["sva"][k] = t
        elif k.startswith("mm_projector."):
            out["projector"][k] = t
        elif k == "image_newline":
            out["newline"] = t
        elif k.startswith(TOWER_PREFIX):
            rest = k[len(TOWER_PREFIX):]
            idx, _, sub = rest.partition(".")
            if not sub.startswith("vision_tower."):
                out["unused"].append(key)
                continue
            out["towers"].setdefault(int(idx), {})[sub[len("vision_tower."):]] = t
        elif k.startswith(LLM_MODEL_PREFIXES):
            out["llm"][key] = t
        else:
            out["unused"].append(key)
    return out


def geometry(cfg: dict, sd_sva: dict) -> dict:
    """The LongVU constants of the checkpoint: token grids, SVA width/depth/window, thresholds."""
    side = int(round(cfg.get("image_token_len", 144) ** 0.5))
    aux_tokens = cfg.get("mm_vision_tower_aux_token_len_list", [576, 576])
    aux_side = int(round(aux_tokens[0] ** 0.5))
    depth = len({k.split(".")[2] for k in sd_sva if k.startswith("vision_sampler_0.layers.")})
    dim = int(cfg.get("vision_hidden_size", 1024))
    return {"side": side, "low": int(cfg.get("lowres_token", 8)), "window": aux_side // side, "dim": dim,
            "depth": depth or int(cfg.get("connector_depth", 3)), "heads": 16,
            "dino_threshold": float(cfg.get("dino_threshold", 0.83)),
            "stc_threshold": float(cfg.get("drop_threshold", 0.7)),
            "context": int(cfg.get("tokenizer_model_max_length", 8192))}


def qwen2_config(cfg: dict):
    """The decoder's Qwen2Config from the checkpoint's cambrian_qwen config (a Qwen2Config with extra fields)."""
    from transformers import Qwen2Config
    known = set(Qwen2Config().to_dict())
    c = Qwen2Config(**{k: v for k, v in cfg.items() if k in known and k not in ("model_type", "architectures")})
    c._attn_implementation = "eager"
    return c


def load_strict(module: torch.nn.Module, sd: dict, what: str) -> None:
    try:
        missing, unexpected = module.load_state_dict(sd, strict=False)
    except RuntimeError as err:  # size mismatches
        raise SystemExit(f"LongVU checkpoint: {what} does not match lvu's module: {err}") from None
    if missing or unexpected:
        raise SystemExit(f"LongVU checkpoint: {what} does not match lvu's module: missing {missing[:8]}"
                         f"{'…' if len(missing) > 8 else ''}, unexpected {unexpected[:8]}"
                         f"{'…' if len(unexpected) > 8 else ''}")
