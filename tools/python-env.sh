#!/usr/bin/env bash
# Creates (once) the project's Python virtualenv and installs requirement files into it; prints its python.
# Usage: tools/python-env.sh [REQUIREMENTS.txt ...]      (LVU_VENV overrides the location, default .venv;
# LVU_PYTHON the interpreter that creates it, default python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${LVU_VENV:-$root/.venv}"
# one creator at a time: test files call this concurrently
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
  "${LVU_PYTHON:-python3}" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
fi
for req in "$@"; do
  stamp="$venv/.installed-$(basename "$req")-$(sha1sum "$req" | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    "$venv/bin/python" -m pip install -q -r "$req" >&2
    touch "$stamp"
  fi
done
echo "$venv/bin/python"
