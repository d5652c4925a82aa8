#!/usr/bin/env python3
"""Times the NumPy reference (tools/reference/longvu_ref.py) on the inputs bench/compress.ts wrote.

Prints one JSON object: per task the median seconds over --runs, the results (to cross-check ours) and peak RSS.
The read-path task calls the reference's own functions in the order of its build_layout (resolution_mode,
query_guided_selection, spatial_token_compression, then the concatenation of the chosen token blocks), on
projected tokens that already carry their newline tokens, as the engine caches them.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np


def median_time(fn, runs):
    times, out = [], fn()   # warm-up run, not counted (as on our side)
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def tokens_with_newline(grids, side, newline):
    """(T, side*side, D) grids -> (T, side*(side+1), D) with the newline after each row (square frames)."""
    T, _, D = grids.shape
    g = grids.reshape(T, side, side, D)
    nl = np.broadcast_to(newline.reshape(1, 1, 1, D), (T, side, 1, D))
    return np.concatenate([g, nl], axis=2).reshape(T, side * (side + 1), D)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--reference", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    sys.path.insert(0, a.reference)
    import longvu_ref as ref

    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    out = {"numpy": np.__version__, "tasks": {}}

    m = meta["temporal"]
    dino = np.fromfile(os.path.join(a.dir, "dino.f32"), dtype=np.float32).reshape(m["T"], m["P"], m["C"])
    med, times, (kept, _) = median_time(lambda: ref.temporal_reduction(dino, 16, 0.83), a.runs)
    out["tasks"]["temporal"] = {"median_s": med, "times_s": times, "kept": kept.tolist()}
    del dino

    cfg = ref.LongVUConfig()
    for key in ("assembly_113", "assembly_100"):
        m = meta[key]
        D = m["D"]
        hi = np.fromfile(os.path.join(a.dir, f"{key}_hi.f32"), dtype=np.float32).reshape(m["T"], 144, D)
        lo = np.fromfile(os.path.join(a.dir, f"{key}_lo.f32"), dtype=np.float32).reshape(m["T"], 64, D)
        newline = np.fromfile(os.path.join(a.dir, f"{key}_newline.f32"), dtype=np.float32)
        text = np.fromfile(os.path.join(a.dir, f"{key}_text.f32"), dtype=np.float32).reshape(-1, D)
        hi_t = tokens_with_newline(hi, 12, newline)
        lo_t = tokens_with_newline(lo, 8, newline)
        del hi, lo
        pre = m["text_pre_len"]

        def assemble():
            Tn = hi_t.shape[0]
            Lq = text.shape[0]
            mode = ref.resolution_mode(Tn, pre + 1 + Lq, cfg)["mode"]
            base = lo_t if mode == "mix" else hi_t
            B = cfg.tokenizer_model_max_length - cfg.inference_max_length - (pre + Lq)
            visual_len = base.shape[0] * base.shape[1]
            res = ["L" if mode == "mix" else "H"] * Tn
            qgs = None
            if mode == "mix":
                qgs = ref.query_guided_selection(lo_t, text, hi_t.shape[1], B)
                for p in qgs["highres_positions"]:
                    res[p] = "H"
            per_frame = [hi_t[i] if res[i] == "H" else lo_t[i] for i in range(Tn)]
            stc = None
            if B < visual_len and not (qgs and qgs["mix_token"]):
                stc = ref.spatial_token_compression(base, B, cfg.drop_threshold, cfg.stc_chunk, cfg.cos_eps)
                kept = {i: [] for i in range(Tn)}
                for (fp, t) in stc["final"]:
                    kept[fp].append(t)
                rows = [per_frame[i][kept[i]] for i in range(Tn) if kept[i]]
            else:
                rows = per_frame
            visual = np.concatenate(rows, axis=0)
            return mode, qgs, stc, visual

        med, times, (mode, qgs, stc, visual) = median_time(assemble, a.runs)
        out["tasks"][key] = {
            "median_s": med, "times_s": times, "mode": mode,
            "highres_positions": qgs["highres_positions"] if qgs else None,
            "stc_reduced_len": stc["reduced_len"] if stc else None,
            "final_visual_len": int(visual.shape[0]),
            "visual_sum": float(visual.astype(np.float64).sum()),
        }
        del hi_t, lo_t

    m = meta["stc"]
    D = m["D"]
    grids = np.fromfile(os.path.join(a.dir, "stc_hi.f32"), dtype=np.float32).reshape(m["T"], 144, D)
    newline = np.fromfile(os.path.join(a.dir, "stc_newline.f32"), dtype=np.float32)
    frames = tokens_with_newline(grids, 12, newline)
    del grids
    med, times, stc = median_time(
        lambda: ref.spatial_token_compression(frames, m["B"], cfg.drop_threshold, cfg.stc_chunk, cfg.cos_eps), a.runs)
    out["tasks"]["stc"] = {"median_s": med, "times_s": times, "reduced_len": stc["reduced_len"],
                           "force_remove": stc["force_remove"], "final_len": len(stc["final"])}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
