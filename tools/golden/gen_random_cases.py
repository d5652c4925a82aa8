#!/usr/bin/env python3
"""Random LongVU conformance cases from the NumPy reference (tools/reference/longvu_ref.py).

Draws random configurations (context size, grid sizes, aspect ratio, both thresholds, frame count, scene
structure, cap) so that every code path of the inference occurs: no DINO / DINO, cap, high / mix / overflow,
N_h, STC with and without force_remove, negative budgets. Each case has the same format as tests/golden.

    python gen_random_cases.py --reference tools/reference --out DIR --count 200 --seed 1
"""
import argparse
import json
import os
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="folder holding longvu_ref.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.reference))
    import longvu_ref as ref  # noqa: E402

    rnd = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    hws = [(384, 384), (720, 1280), (1280, 720), (480, 640), (640, 480), (1080, 1920), (100, 2000), (2000, 100)]
    made = 0
    attempt = 0
    while made < args.count:
        attempt += 1
        S = rnd.choice([2, 3, 4, 4, 6, 12])
        s = rnd.randint(1, S - 1) if S > 1 else 1
        T = rnd.choice([1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 48, 64, 90])
        hi_pf, lo_pf = S * (S + 1), s * (s + 1)
        # contexts around the interesting thresholds for this T and grid
        target = rnd.choice([T * lo_pf * 0.7, T * lo_pf * 1.2, T * hi_pf * 0.9, T * hi_pf * 1.3, 8192])
        pre = rnd.randint(0, 30)
        lq = rnd.randint(1, 40)
        ctx = max(16, int(target) + pre + lq + 16 + rnd.randint(-8, 8))
        if rnd.random() < 0.05:
            lq = ctx + rnd.randint(1, 50)          # question longer than the context
        scenes = []
        left = T
        while left > 0 and rnd.random() < 0.8:
            L = rnd.randint(1, max(1, left))
            scenes.append(L)
            left -= L
        spec = ref.CaseSpec(
            name=f"random_{args.seed}_{made:04d}", description="random configuration",
            T=T, S=S, s=s, C=rnd.choice([2, 4]), D=rnd.choice([4, 6, 8]), P=rnd.choice([2, 4]),
            Cd=rnd.choice([2, 4]), ctx=ctx, text_pre_len=pre, Lq=lq, frame_hw=rnd.choice(hws),
            dino_scenes=scenes, sva_moving=rnd.choice([0.0, 0.2, 0.5, 1.0]),
            drop_threshold=round(rnd.uniform(0.5, 0.9), 3), dino_threshold=round(rnd.uniform(0.6, 0.95), 3),
            max_frames_cap=rnd.choice([400, 400, max(1, T // 2 + 1)]), seed=rnd.randint(0, 10**6),
            dino_identical=rnd.random() < 0.05,
        )
        try:
            case = ref.make_case(spec, None, max_tries=20)
        except RuntimeError:
            continue          # no seed cleared the decision margins; draw another configuration
        except ZeroDivisionError:
            continue          # hi_pf == lo_pf after unpad: the official code itself divides by zero
        with open(os.path.join(args.out, spec.name + ".json"), "w") as fh:
            json.dump(case, fh, separators=(",", ":"))
        made += 1
    print(json.dumps({"cases": made, "attempts": attempt, "out": args.out}))


if __name__ == "__main__":
    main()
