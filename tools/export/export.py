#!/usr/bin/env python3
"""lvu model exporter: writes ONNX files and a model manifest (manifest.json) for lvu's `packages/models`.

    .venv/bin/python tools/export/export.py --random --preset tiny --out models/tiny

--random builds the exact architectures (transformers' Dinov2Model and SiglipVisionModel, lvu's SVA and projector,
an embedding table for text) with seeded random weights. Presets: tiny (tests; a few hundred KB), small
(DINOv2-small/14@224, SigLIP-base/16@224; benchmarks), longvu (DINOv2-giant/14@378, SigLIP-so400m/14@384).
Every ONNX file is checked against PyTorch on a random input (max abs error in the manifest and printed).
--llm adds the LLM role: a Qwen2ForCausalLM decoder taking inputs_embeds with a KV cache (tiny: 2 layers, 64
wide; 7b: Qwen2-7B dimensions, whose fp32 weights alone exceed this machine's memory), plus a byte-level BPE
tokenizer.json with Qwen2's special tokens trained on a small built-in corpus (random weights need no real vocabulary).
--from-hf PATH_OR_ID (repeatable) takes real weights from a transformers checkpoint instead, the role chosen by the
checkpoint's model_type: dinov2 → dino, siglip / siglip_vision_model → siglip, qwen2 → llm (with its tokenizer.json).
Roles without a checkpoint keep random weights (the manifest says "mixed"). Hubs are unreachable on lvu's build
machines: there, --from-hf has been run on local directories written by save_pretrained, not on downloads.
--from-longvu PATH takes a downloaded LongVU checkpoint (Vision-CAIR/LongVU_*): its SVA (lvu's Sva has LongVU's
module structure and parameter names), mm_projector, image_newline, Qwen2 decoder (the text-embed role is its
embed_tokens) and tokenizer.json, the token grids and thresholds of its config.json, and the vision towers when the
checkpoint holds them (otherwise --from-hf or random). Never run on a real download here: tools/export/
test_from_longvu.py runs it on checkpoints written with LongVU's key names and published shapes.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, Dinov2Config, Dinov2Model, SiglipVisionConfig, SiglipVisionModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import longvu_ckpt  # noqa: E402
from lvu_llm import Qwen2WithCache, make_qwen2  # noqa: E402
from lvu_modules import DinoEncoder, Projector, SiglipEncoder, Sva  # noqa: E402

LLMS = {
    "tiny": dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, vocab=512, context=8192),
    "7b": dict(hidden=3584, layers=28, heads=28, kv_heads=4, intermediate=18944, vocab=152064, context=8192),
}
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SYSTEM = "You are a helpful assistant."
CORPUS = [
    "What happened in the video? A person walks across the parking lot and gets into a red car.",
    "Describe the scene. Two people talk near the entrance while a van drives past the camera.",
    "When did the truck arrive? The truck arrived at the loading dock after the gate opened.",
    "Is anyone in the room? The room is empty; the lights are on and the door is closed.",
    "Summarize the last hour of footage from the camera in the lobby.",
] * 20

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
    module.requires_grad_(False)  # FlopCounterMode's module tracker wants no leaf that requires grad
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
        ref = module(*args)
    refs = ref if isinstance(ref, tuple) else (ref,)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {n: a.numpy() for n, a in zip(input_names, args)})
    return max(float(np.abs(o - r.float().numpy()).max()) for o, r in zip(outs, refs))


def tower_config(role, preset_cfg, held):
    """A tower's config for weights held in a LongVU checkpoint: the preset's architecture, with the image size its
    position embeddings were trained at."""
    cfg = dict(preset_cfg)
    if role == "dino":
        n = held["embeddings.position_embeddings"].shape[1] - 1
    else:
        n = held["vision_model.embeddings.position_embedding.weight"].shape[0]
    cfg["image_size"] = int(round(n ** 0.5)) * cfg["patch_size"]
    return cfg


QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" + SYSTEM + "<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def write_hf_llm(decoder, tok, a, llm_name):
    """The decoder as a Hugging Face directory that vLLM (and transformers) load: config.json, model.safetensors,
    generation_config.json (stops at <|im_end|> and <|endoftext|>, as lvu does), tokenizer.json and
    tokenizer_config.json (with Qwen2's chat template). Returns the manifest's record of it."""
    out = os.path.join(a.out, a.hf_llm)
    os.makedirs(out, exist_ok=True)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
        a.hf_dtype or ("float32" if llm_name == "tiny" and not a.from_longvu and not a.from_hf else "bfloat16")]
    stops = [tok.token_to_id(t) for t in ("<|im_end|>", "<|endoftext|>")]
    decoder.generation_config.eos_token_id = [i for i in stops if i is not None]
    decoder.generation_config.pad_token_id = tok.token_to_id("<|endoftext|>")
    decoder.generation_config.do_sample = False
    decoder.config.eos_token_id = decoder.generation_config.eos_token_id[0]
    decoder.config.bos_token_id = None
    decoder.to(dtype).save_pretrained(out, safe_serialization=True)
    decoder.to(torch.float32)
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(a.out, "tokenizer_config.json")) as fh:
        tcfg = json.load(fh)
    tcfg.setdefault("chat_template", QWEN2_CHAT_TEMPLATE)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as fh:
        json.dump(tcfg, fh, indent=1)
    files = sorted(os.listdir(out))
    print(f"hugging face LLM ({str(dtype).removeprefix('torch.')}) → {out}: {', '.join(files)}", flush=True)
    return {"dir": a.hf_llm, "dtype": str(dtype).removeprefix("torch."), "files": files}


def io(name, shape, dtype="float32"):
    return {"name": name, "shape": shape, "dtype": dtype}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--random", action="store_true", help="random weights for every role without --from-hf")
    ap.add_argument("--from-hf", action="append", default=[], metavar="PATH_OR_ID",
                    help="a transformers checkpoint (directory or hub id) for the dino, siglip or llm role")
    ap.add_argument("--from-longvu", metavar="PATH",
                    help="a downloaded LongVU checkpoint directory: SVA, projector, newline, LLM (and towers if held)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--llm", choices=["none", "tiny", "7b"], default=None,
                    help="LLM role (default: tiny for the tiny preset, none otherwise)")
    ap.add_argument("--hf-llm", metavar="SUBDIR", default=None,
                    help="also write the LLM as a Hugging Face directory OUT/SUBDIR (config.json, safetensors, "
                         "tokenizer, generation_config) that vLLM serves with --enable-prompt-embeds; the text-embed "
                         "role is its embed_tokens, from the same weights")
    ap.add_argument("--hf-dtype", choices=["float32", "bfloat16", "float16"], default=None,
                    help="dtype of the Hugging Face weights (default: float32 for the tiny LLM, bfloat16 otherwise)")
    ap.add_argument("--skip-onnx-llm", action="store_true",
                    help="no llm.onnx (a 7B decoder in ONNX fp32 outgrows most machines; the tokenizer and chat "
                         "template stay in the manifest, so a served LLM can read lvu's inputs_embeds)")
    a = ap.parse_args()
    if not a.random and not a.from_hf and not a.from_longvu:
        ap.error("give --random, --from-hf, --from-longvu, or a combination")
    p = PRESETS[a.preset]
    pretrained = {}
    lv = None  # the LongVU checkpoint, split by role
    if a.from_longvu:
        lv_cfg = longvu_ckpt.load_config(a.from_longvu)
        lv = longvu_ckpt.split_longvu(longvu_ckpt.load_state_dict(a.from_longvu))
        g = longvu_ckpt.geometry(lv_cfg, lv["sva"])
        p = {**p, "side": g["side"], "low": g["low"], "window": g["window"],
             "sva": dict(dim=g["dim"], depth=g["depth"], heads=g["heads"]),
             "thresholds": (g["dino_threshold"], g["stc_threshold"])}
        for role in ("sva", "projector"):
            if not lv[role]:
                ap.error(f"{a.from_longvu}: the checkpoint has no {role} weights (model.{role}…)")
        if lv["unused"]:
            print(f"from-longvu: {len(lv['unused'])} tensors not used: {lv['unused'][:5]}", flush=True)
    for ref in a.from_hf:
        mt = AutoConfig.from_pretrained(ref).model_type
        role = {"dinov2": "dino", "siglip": "siglip", "siglip_vision_model": "siglip", "qwen2": "llm"}.get(mt)
        if role is None:
            ap.error(f"{ref}: model_type {mt!r} is not one of dinov2, siglip, qwen2")
        pretrained[role] = ref
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    S, R = p["side"], p.get("window", 2)
    M = R * S
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

    # the two vision towers: (role, backbone class, config class, LongVU wrapper, processor mean/std)
    towers = [("dino", Dinov2Model, Dinov2Config, DinoEncoder, DINO_MEAN, DINO_STD),
              ("siglip", SiglipVisionModel, SiglipVisionConfig, SiglipEncoder, SIGLIP_MEAN, SIGLIP_STD)]
    cfgs = {}
    for role, model_cls, cfg_cls, wrapper, mean, std in towers:
        held = lv["towers"].get(0 if role == "siglip" else 1) if lv else None
        if role in pretrained:
            backbone = model_cls.from_pretrained(pretrained[role], attn_implementation="eager").eval()
        elif held:
            backbone = model_cls(cfg_cls(**tower_config(role, p[role], held))).eval()
            longvu_ckpt.load_strict(backbone, held, f"vision tower {role}")
            pretrained[role] = f"{a.from_longvu} (vision_tower_aux_list)"
        else:
            backbone = model_cls(cfg_cls(**p[role])).eval()
        cfg = cfgs[role] = backbone.config
        # DINOv2 interpolates its position embeddings: LongVU feeds it 378 px whatever the checkpoint's size
        size = p[role]["image_size"] if role == "dino" else cfg.image_size
        add(role, wrapper(backbone, M), (torch.randn(2, 3, size, size),),
            [io("pixel_values", ["batch", 3, size, size])], [io("tokens", ["batch", M * M, cfg.hidden_size])],
            {"pixel_values": {0: "batch"}, "tokens": {0: "batch"}},
            {"preprocess": {"size": size, "mean": mean, "std": std, "pad": "square"}}, per_frame=2)
    dcfg, scfg = cfgs["dino"], cfgs["siglip"]

    sv = p["sva"]
    sva = Sva(S, sv["dim"], dcfg.hidden_size, scfg.hidden_size, sv["depth"], sv["heads"], R).eval()
    if lv:
        longvu_ckpt.load_strict(sva, lv["sva"], "the SVA")
    key_mask = torch.ones(2, M * M)
    key_mask[1, : M * (M // 4)] = 0  # the second example has padding rows on top, like a letterboxed frame
    add("sva", sva, (torch.randn(2, M * M, dcfg.hidden_size), torch.randn(2, M * M, scfg.hidden_size), key_mask),
        [io("dino_tokens", ["batch", M * M, dcfg.hidden_size]), io("siglip_tokens", ["batch", M * M, scfg.hidden_size]),
         io("key_mask", ["batch", M * M])],
        [io("queries", ["batch", S * S, sv["dim"]])],
        {"dino_tokens": {0: "batch"}, "siglip_tokens": {0: "batch"}, "key_mask": {0: "batch"}, "queries": {0: "batch"}},
        per_frame=2)

    llm_name = a.llm or ("tiny" if a.preset == "tiny" else "none")
    llm = LLMS.get(llm_name)
    hf_llm = None
    tok_dir = pretrained.get("llm")
    if lv and lv["llm"] and a.llm != "none" and "llm" not in pretrained:
        from transformers import Qwen2ForCausalLM
        hf_llm = Qwen2ForCausalLM(longvu_ckpt.qwen2_config(lv_cfg)).eval()
        longvu_ckpt.load_strict(hf_llm, lv["llm"], "the Qwen2 decoder")
        pretrained["llm"] = tok_dir = a.from_longvu
    elif "llm" in pretrained:
        from transformers import Qwen2ForCausalLM
        hf_llm = Qwen2ForCausalLM.from_pretrained(pretrained["llm"], attn_implementation="eager").eval()
    if hf_llm is not None:
        c = hf_llm.config
        llm = dict(hidden=c.hidden_size, layers=c.num_hidden_layers, heads=c.num_attention_heads,
                   kv_heads=c.num_key_value_heads, intermediate=c.intermediate_size, vocab=c.vocab_size,
                   context=min(c.max_position_embeddings, 32768))
        if lv:  # LongVU's budget is its training length, not Qwen2's position limit
            llm["context"] = g["context"]
    if llm:
        p = {**p, "llm_dim": llm["hidden"], "vocab": llm["vocab"]}
    lv_embed = lv["llm"].get("model.embed_tokens.weight") if lv else None
    if lv:
        H_lv = lv["projector"]["mm_projector.2.weight"].shape[0]
        if llm and H_lv != llm["hidden"]:
            ap.error(f"mm_projector's width {H_lv} differs from the LLM's hidden size {llm['hidden']}")
        p = {**p, "llm_dim": H_lv}
        if lv_embed is not None:
            p = {**p, "vocab": lv_embed.shape[0]}
    H = p["llm_dim"]
    proj = Projector(sv["dim"], H).eval()
    if lv:
        longvu_ckpt.load_strict(proj, lv["projector"], "mm_projector")
    add("projector", proj, (torch.randn(S * S, sv["dim"]),),
        [io("features", ["rows", sv["dim"]])], [io("embeds", ["rows", H])],
        {"features": {0: "rows"}, "embeds": {0: "rows"}})

    # the text embeddings are the LLM's own input embeddings when there is an LLM (query scores use embed_tokens)
    embed = torch.nn.Embedding(p["vocab"], H).eval()
    if llm:
        decoder = hf_llm or make_qwen2(llm["hidden"], llm["layers"], llm["heads"], llm["kv_heads"],
                                       llm["intermediate"], llm["vocab"], llm["context"])
        embed = decoder.get_input_embeddings().eval()
    elif lv_embed is not None:  # --llm none: the checkpoint's embed_tokens still give the query scores
        embed = torch.nn.Embedding.from_pretrained(lv_embed.float(), freeze=True).eval()
    add("text-embed", embed, (torch.randint(0, p["vocab"], (1, 7)),),
        [io("input_ids", ["batch", "tokens"], "int64")], [io("embeds", ["batch", "tokens", H])],
        {"input_ids": {0: "batch", 1: "tokens"}, "embeds": {0: "batch", 1: "tokens"}})

    llm_meta = None
    if a.hf_llm and (os.sep in a.hf_llm or a.hf_llm in (".", "..")):
        ap.error("--hf-llm takes a sub-directory name of --out (e.g. hf)")
    if a.hf_llm and not llm:
        ap.error("--hf-llm needs an LLM role (--llm tiny|7b, or a checkpoint with one)")
    if llm and not a.skip_onnx_llm:
        wrapped = Qwen2WithCache(decoder).eval()
        L, kvh, hd = llm["layers"], llm["kv_heads"], llm["hidden"] // llm["heads"]
        past = [f"past.{i}.{k}" for i in range(L) for k in ("key", "value")]
        present = [f"present.{i}.{k}" for i in range(L) for k in ("key", "value")]
        dyn = {"inputs_embeds": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
               "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
        dyn.update({n: {0: "batch", 2: "past"} for n in past})
        dyn.update({n: {0: "batch", 2: "total"} for n in present})
        example = (torch.randn(1, 3, H), torch.ones(1, 5, dtype=torch.int64), torch.arange(2, 5)[None],
                   *[torch.randn(1, kvh, 2, hd) for _ in past])
        inputs = ([io("inputs_embeds", ["batch", "seq", H]), io("attention_mask", ["batch", "total"], "int64"),
                   io("position_ids", ["batch", "seq"], "int64")] + [io(n, ["batch", kvh, "past", hd]) for n in past])
        outputs = [io("logits", ["batch", "seq", llm["vocab"]])] + [io(n, ["batch", kvh, "total", hd]) for n in present]
        add("llm", wrapped, example, inputs, outputs, dyn)
        # the decode step too: one new token on a longer cache
        path = os.path.join(a.out, "llm.onnx")
        step = (torch.randn(1, 1, H), torch.ones(1, 9, dtype=torch.int64), torch.tensor([[8]]),
                *[torch.randn(1, kvh, 8, hd) for _ in past])
        models["llm"]["maxAbsErrDecodeStep"] = verify(wrapped, step, path, [i["name"] for i in inputs])
        print(f"llm decode step max |onnx - torch| {models['llm']['maxAbsErrDecodeStep']:.2e}", flush=True)
    if llm:
        L, kvh, hd = llm["layers"], llm["kv_heads"], llm["hidden"] // llm["heads"]
        from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers, trainers
        hf_tok = os.path.join(tok_dir, "tokenizer.json") if tok_dir else None
        if hf_tok and not os.path.exists(hf_tok):
            ap.error(f"{tok_dir} has no tokenizer.json")
        if hf_tok:
            tok = Tokenizer.from_file(hf_tok)  # the checkpoint's own tokenizer, unchanged
        else:
            tok = Tokenizer(tmodels.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=min(llm["vocab"], 512), special_tokens=SPECIAL,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
            tok.train_from_iterator(CORPUS, trainer)
        tok.save(os.path.join(a.out, "tokenizer.json"))
        hf_cfg = os.path.join(tok_dir, "tokenizer_config.json") if tok_dir else None
        if hf_cfg and os.path.exists(hf_cfg):
            import shutil
            shutil.copyfile(hf_cfg, os.path.join(a.out, "tokenizer_config.json"))
        else:
            with open(os.path.join(a.out, "tokenizer_config.json"), "w") as fh:
                json.dump({"model_max_length": llm["context"], "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                           "bos_token": None, "add_bos_token": False, "tokenizer_class": "Qwen2Tokenizer"}, fh)
        llm_meta = {"layers": L, "kvHeads": kvh, "headDim": hd, "vocabSize": llm["vocab"],
                    "contextTokens": llm["context"], "tokenizer": "tokenizer.json",
                    "tokenizerConfig": "tokenizer_config.json", "chatTemplate": "qwen2", "system": SYSTEM,
                    "stopTokens": ["<|im_end|>", "<|endoftext|>"]}
        if a.hf_llm:
            llm_meta["huggingFace"] = write_hf_llm(decoder, tok, a, llm_name)

    newline = (torch.randn(H) * 0.02).numpy().astype(np.float32)
    if lv and lv["newline"] is not None:
        newline = lv["newline"].float().numpy().astype(np.float32)
        if newline.shape != (H,):
            ap.error(f"{a.from_longvu}: image_newline has shape {newline.shape}, the projector's width is {H}")
    newline.tofile(os.path.join(a.out, "newline.f32"))
    manifest = {
        "format": "lvu-models/1",
        "preset": a.preset,
        "weights": "random" if not pretrained else ("pretrained" if not a.random else "mixed"),
        "pretrained": pretrained,
        "seed": a.seed,
        "longvu": {"highGridSide": S, "lowGridSide": p["low"], "svaDim": sv["dim"], "llmDim": H,
                   "vocabSize": p["vocab"], "newline": "newline.f32",
                   "dinoThreshold": p.get("thresholds", (0.83, 0.7))[0],
                   "stcThreshold": p.get("thresholds", (0.83, 0.7))[1]},
        "models": models,
        **({"llm": llm_meta} if llm_meta else {}),
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(json.dumps({"out": a.out, "maxAbsErrVsTorch": report}))


if __name__ == "__main__":
    main()
