"""What the starter set's fetch steps share: the coded error, progress lines, checksums, running a client."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess


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


def file_entry(dest, name, source, licence):
    return {"sha256": sha256(os.path.join(dest, name)), "bytes": os.path.getsize(os.path.join(dest, name)),
            "source": source, "licence": licence}
