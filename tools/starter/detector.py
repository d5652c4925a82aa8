"""The COCO detector's steps (`fetch.py --detector`): MB3-CenterNet's TF.js graph model → ONNX by tf2onnx, and its
manifest entry. Runs in the Python environment of tools/requirements-detector.txt (TensorFlow, tf2onnx)."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time

from common import FetchError, file_entry, run, say, sha256

HERE = os.path.dirname(os.path.abspath(__file__))
DETECTOR = "detector.onnx"


def tfjs_with_default_attrs(src, out):
    """The TF.js graph model with the attributes its converter left out put back (TensorFlow's own op definitions'
    defaults, and _FusedConv2D's TArgs: one T per extra argument), which tf2onnx's import needs; the weights are
    untouched (`out` sits next to the same .bin)."""
    from google.protobuf.json_format import MessageToDict
    from tensorflow.python.framework import op_def_registry

    with open(src) as f:
        model = json.load(f)
    for node in model["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if "num_args" in attr and "TArgs" not in attr:
            attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * int(attr["num_args"]["i"])}}
        op = op_def_registry.get(node["op"])
        for a in op.attr if op else []:
            if a.name not in attr and a.HasField("default_value"):
                attr[a.name] = MessageToDict(a.default_value)
    with open(out, "w") as f:
        json.dump(model, f)


def convert_detector(dest):
    """centernet.json (+ .bin) → detector.onnx by tf2onnx, with the graph's own decoded output (top 100 boxes)."""
    out = os.path.join(dest, DETECTOR)
    src = os.path.join(dest, "centernet.json")
    stamp = os.path.join(dest, "." + DETECTOR + ".from")
    from_ = sha256(src) + sha256(os.path.join(dest, "centernet.bin"))
    if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == from_:
        say(step=DETECTOR, status="up to date")
        return
    t0 = time.time()
    fixed = os.path.join(dest, ".centernet.attrs.json")
    try:
        tfjs_with_default_attrs(src, fixed)
    except ImportError:
        raise FetchError("FETCH_FAILED", "TensorFlow is not installed (the detector's converter needs it)",
                         "run it with the Python environment of tools/requirements-detector.txt")
    run(
        [sys.executable, "-m", "tf2onnx.convert", "--tfjs", fixed, "--output", out + ".partial", "--opset", "13",
         "--outputs", "tower_0/detections"],
        "tf2onnx (TF.js graph model → ONNX)",
        "run it with the Python environment of tools/requirements-detector.txt (TensorFlow, tf2onnx)",
    )
    os.replace(out + ".partial", out)
    os.remove(fixed)
    with open(stamp, "w") as f:
        f.write(from_)
    say(step=DETECTOR, status="converted", seconds=round(time.time() - t0, 1), sha256=sha256(out))


def detector_section(dest, sources):
    """The manifest's detector entry and files, when the detector was fetched (`--detector`)."""
    stamp = os.path.join(dest, "." + DETECTOR + ".from")
    if not (os.path.exists(os.path.join(dest, DETECTOR)) and os.path.exists(stamp)):
        return None, {}
    shutil.copyfile(os.path.join(HERE, "coco_classes.txt"), os.path.join(dest, "coco-classes.txt"))
    files = {
        name: file_entry(dest, name, {k: s[k] for k in ("registry", "package", "member")}, s["licence"])
        for name, s in sources.items()
    }
    files[DETECTOR] = file_entry(
        dest, DETECTOR, {"convertedFrom": "centernet.json", "by": "tf2onnx (tools/requirements-detector.txt)"},
        sources["centernet.json"]["licence"])
    files["coco-classes.txt"] = file_entry(
        dest, "coco-classes.txt", {"package": "@vladmandic/human (src/object/labels.ts)"},
        "MIT; the 80 COCO class names")
    model = {
        "file": DETECTOR,
        "input": "tower_0/images:0",
        "output": "tower_0/detections",
        # NHWC float pixels 0..255 of the frame padded to a square (the image the other encoders see; boxes are in it)
        "preprocess": {"size": 512, "layout": "NHWC", "resize": "pad", "scale": 1},
        "labels": "coco-classes.txt",
        # NMS at IoU 0.4 as the human library does; its score threshold 0.2 counts traffic cones and shadows as people
        # on vtest.avi, every person there scores over 0.3
        "minScore": 0.3,
        "iou": 0.4,
    }
    return model, files
