"""The WordNet hypernyms of the starter set's classes: ImageNet-1k's (whose names are WordNet synsets' words) and
COCO's (mapped to their WordNet nouns), from Princeton WordNet 3.0 as Debian's wordnet-base ships it (data.noun,
index.noun). A question word then matches a class's hyponyms: "bird" the 55 ImageNet birds, "vehicle" COCO's cars,
buses, trucks, boats...

  hypernyms(wordnet_dir, imagenet_lines, coco_names) -> {"imagenet": [[lemma, ...], ...], "coco": [...], "unmapped"}

Each class's list holds the lemmas (lower case, spaces) of its own synset and of every hypernym up the tree, general
ones (entity, object, whole, artifact, ... at depth < 4) left out: they would match everything.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

from common import FetchError, run, say, sha256

_HERE = os.path.dirname(os.path.abspath(__file__))

# WordNet's most general nouns: too general for a question word to pick classes with
TOO_GENERAL = {"artifact", "artefact", "instrumentality", "instrumentation", "living thing", "animate thing",
               "physical object", "unit", "whole", "object", "thing", "entity", "physical entity", "matter",
               "abstraction", "abstract entity", "causal agent", "cause", "causal agency", "organism", "being",
               "substance", "solid", "part", "portion", "group", "grouping", "relation", "attribute", "measure",
               "psychological feature", "event", "communication", "location"}

# COCO's supercategory of each class (its annotations' `supercategory`), which picks the WordNet sense
COCO_SUPER = ["person"] + ["vehicle"] * 8 + ["outdoor"] * 5 + ["animal"] * 10 + ["accessory"] * 5 + ["sports"] * 10 + \
    ["kitchen"] * 7 + ["food"] * 10 + ["furniture"] * 6 + ["electronic"] * 6 + ["appliance"] * 5 + ["indoor"] * 7
# the WordNet concept a sense of a class in that supercategory descends from
SUPER_ANCESTOR = {"person": "person", "vehicle": "conveyance", "animal": "animal", "food": "food"}
# COCO names that are not WordNet lemmas, as the WordNet noun they stand for
COCO_WORDNET = {"sports ball": "ball", "potted plant": "pot plant", "hair drier": "hand blower",
                "tv": "television receiver", "cell phone": "cellular telephone", "remote": "remote control",
                "fire hydrant": "fireplug", "stop sign": "street sign", "teddy bear": "teddy", "wine glass": "wineglass",
                "hot dog": "hotdog", "motorcycle": "motorcycle", "couch": "sofa", "donut": "doughnut",
                "laptop": "laptop", "dining table": "dining table", "skis": "ski"}


def _read(wordnet_dir):
    """Synsets by offset: (lemmas, hypernym offsets); the noun index: lemma -> synset offsets in sense order."""
    synsets = {}
    with open(os.path.join(wordnet_dir, "data.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue  # the licence header
            fields = line.split(" | ")[0].split()
            offset, n = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].lower().replace("_", " ") for i in range(n)]
            # strip WordNet's adjective markers, e.g. "(p)"
            lemmas = [w.split("(")[0] for w in lemmas]
            k = 4 + 2 * n
            p = int(fields[k])
            hyper = [fields[k + 1 + 4 * j + 1] for j in range(p) if fields[k + 1 + 4 * j] in ("@", "@i")]
            synsets[offset] = (lemmas, hyper)
    index = {}
    with open(os.path.join(wordnet_dir, "index.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, n_senses, p = fields[0].replace("_", " "), int(fields[2]), int(fields[3])
            index[lemma] = fields[-n_senses:]
            del p
    return synsets, index


def _ancestors(synsets, offset):
    """Each synset up the tree (this one first) with its depth from the root (the longest path's)."""
    out, depth = {}, {}

    def walk(o):
        if o in depth:
            return depth[o]
        lemmas, hyper = synsets[o]
        d = 1 + max((walk(h) for h in hyper), default=-1)
        depth[o] = d
        return d

    stack = [offset]
    while stack:
        o = stack.pop()
        if o in out:
            continue
        out[o] = True
        stack.extend(synsets[o][1])
    return [(o, walk(o)) for o in out]


def _lemmas(synsets, offset):
    seen = []
    for o, d in _ancestors(synsets, offset):
        for w in synsets[o][0]:
            if d >= 4 and w not in TOO_GENERAL and w not in seen:
                seen.append(w)
    return seen


def hypernyms(wordnet_dir, imagenet_lines, coco_names):
    synsets, index = _read(wordnet_dir)
    organism = next(o for o in index["organism"] if "organism" in synsets[o][0])
    animal = next(o for o in index["animal"] if "animal" in synsets[o][0])
    has = lambda o, target: any(a == target for a, _ in _ancestors(synsets, o))  # noqa: E731
    unmapped = []
    used = set()
    imagenet = []
    for i, line in enumerate(imagenet_lines):
        names = [w.strip().lower() for w in line.split(",") if w.strip()]
        cands = [o for o in index.get(names[0], []) if set(names) <= set(synsets[o][0]) or len(names) == 1]
        # ImageNet-1k's first 398 classes are organisms, the rest are not; a name given twice ("crane", "maillot")
        # is two senses: the one not taken yet
        cands = [o for o in cands if has(o, organism) == (i < 398)] or cands
        cands = [o for o in cands if o not in used] or cands
        if not cands:
            unmapped.append(("imagenet", line.strip()))
            imagenet.append([names[0]])
            continue
        used.add(cands[0])
        imagenet.append(_lemmas(synsets, cands[0]))
    coco = []
    for name, sup in zip(coco_names, COCO_SUPER):
        word = COCO_WORDNET.get(name, name)
        cands = index.get(word, [])
        want = SUPER_ANCESTOR.get(sup)
        if want:
            target = [o for o in index[want] if want in synsets[o][0]]
            cands = [o for o in cands if any(has(o, t) for t in target)] or cands
        elif sup != "animal":
            cands = [o for o in cands if not has(o, animal)] or cands
        if not cands:
            unmapped.append(("coco", name))
            coco.append([name])
            continue
        lemmas = _lemmas(synsets, cands[0])
        coco.append([name] + [w for w in lemmas if w != name])
    return {"imagenet": imagenet, "coco": coco, "unmapped": unmapped}


def wordnet_step(dest, downloads, WORDNET, HYPERNYMS):
    """wordnet-hypernyms.json: each ImageNet and COCO class's WordNet lemmas up the tree. Without apt-get (not a
    Debian system) or the archive, skipped with a reason: the set works without, questions match class names only."""
    out = os.path.join(dest, HYPERNYMS)
    src = os.path.join(downloads, "wordnet")
    pinned = WORDNET["files"]
    inputs = sha256(os.path.join(_HERE, "imagenet_classes.txt")) + sha256(os.path.join(_HERE, "coco_classes.txt"))
    stamp = os.path.join(dest, "." + HYPERNYMS + ".from")
    if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == inputs:
        say(step=HYPERNYMS, status="up to date")
        return
    if not all(os.path.exists(os.path.join(src, f)) and sha256(os.path.join(src, f)) == h for f, h in pinned.items()):
        tmp = tempfile.mkdtemp(dir=downloads, prefix=".partial-")
        try:
            r = subprocess.run(["apt-get", "download", WORDNET["package"]], cwd=tmp, capture_output=True, text=True,
                               timeout=600)
        except (FileNotFoundError, subprocess.TimeoutExpired) as e:
            say(step=HYPERNYMS, status="skipped", reason=f"apt-get download {WORDNET['package']}: {e}")
            return
        debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if r.returncode != 0 or not debs:
            say(step=HYPERNYMS, status="skipped", reason=(r.stderr or "no .deb").strip().splitlines()[-1][:200])
            return
        run(["dpkg-deb", "-x", os.path.join(tmp, debs[0]), os.path.join(tmp, "x")], "dpkg-deb -x wordnet-base",
            "dpkg-deb (Debian's dpkg) unpacks the package")
        os.makedirs(src, exist_ok=True)
        for f, h in pinned.items():
            got = sha256(os.path.join(tmp, "x/usr/share/wordnet", f))
            if got != h:
                raise FetchError("MODEL_INVALID", f"wordnet-base's {f} has sha256 {got}, not the pinned {h}",
                                 "the archive served other bytes than the pinned file: do not use it; report it")
            shutil.copyfile(os.path.join(tmp, "x/usr/share/wordnet", f), os.path.join(src, f))
        shutil.rmtree(tmp, ignore_errors=True)
    imagenet = open(os.path.join(_HERE, "imagenet_classes.txt")).read().strip().split("\n")
    coco = open(os.path.join(_HERE, "coco_classes.txt")).read().strip().split("\n")
    h = hypernyms(src, imagenet, coco)
    with open(out + ".partial", "w") as f:
        json.dump(h, f)
    os.replace(out + ".partial", out)
    with open(stamp, "w") as f:
        f.write(inputs)
    say(step=HYPERNYMS, status="written", unmapped=len(h["unmapped"]))


if __name__ == "__main__":
    import json
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    imagenet_lines = open(os.path.join(here, "imagenet_classes.txt")).read().strip().split("\n")
    coco_names = open(os.path.join(here, "coco_classes.txt")).read().strip().split("\n")
    h = hypernyms(sys.argv[1], imagenet_lines, coco_names)
    print(json.dumps({"unmapped": h["unmapped"], "bird": sum("bird" in x for x in h["imagenet"]),
                      "dog": sum("dog" in x for x in h["imagenet"]),
                      "vehicle_coco": [c[0] for c in h["coco"] if "vehicle" in c],
                      "animal_coco": [c[0] for c in h["coco"] if "animal" in c],
                      "food_coco": [c[0] for c in h["coco"] if "food" in c],
                      "person": h["coco"][0][:12], "car": h["coco"][2][:12]}, indent=1))
