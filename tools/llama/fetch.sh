#!/usr/bin/env bash
# llama.cpp as PyPI ships it inside llama-cpp-python's source distribution (pinned version and sha256), once per
# machine under .cache/llama/VERSION (the directory is the cache):
#   tools/llama/fetch.sh converter   extracts llama.cpp's own GGUF converter (convert_hf_to_gguf.py, conversion/,
#                                    gguf-py/) and prints its directory
#   tools/llama/fetch.sh server      also builds llama.cpp's C++ OpenAI-compatible server (tools/server, cmake +
#                                    ninja, ~6 min on 2 cores) and prints the llama-server binary's path
# The Python server (llama-cpp-python[server], tools/requirements-llama.txt) is built by pip from the same sdist.
set -euo pipefail
WHAT="${1:?converter or server}"
VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="$ROOT/.cache/llama/$VERSION"
SRC="$DEST/src/llama_cpp_python-$VERSION/vendor/llama.cpp"
done_converter() { [ -f "$DEST/.extracted" ]; }
done_server() { [ -x "$DEST/bin/llama-server" ]; }
print() { if [ "$WHAT" = server ]; then echo "$DEST/bin/llama-server"; else echo "$SRC"; fi; }
case "$WHAT" in converter | server) ;; *) echo "usage: $0 converter|server" >&2; exit 2 ;; esac
if done_converter && { [ "$WHAT" = converter ] || done_server; }; then print; exit 0; fi
mkdir -p "$ROOT/.cache"
exec 9>"$ROOT/.cache/llama.lock.$VERSION"
flock 9
if ! done_converter; then
  py="$("$ROOT/tools/python-env.sh")"
  echo "== downloading llama-cpp-python $VERSION's source from PyPI" >&2
  rm -rf "$DEST/dl" "$DEST/src"
  "$py" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$DEST/dl" >&2
  tarball="$DEST/dl/llama_cpp_python-$VERSION.tar.gz"
  echo "$SHA256  $tarball" | sha256sum -c --quiet - >&2
  mkdir -p "$DEST/src"
  tar -xzf "$tarball" -C "$DEST/src"
  rm -rf "$DEST/dl"
  touch "$DEST/.extracted"
fi
if [ "$WHAT" = server ] && ! done_server; then
  echo "== building llama.cpp's llama-server (once; ~6 min on 2 cores)" >&2
  gen=()
  if command -v ninja >/dev/null; then gen=(-G Ninja); fi
  log="$DEST/build.log"
  if ! { cmake -S "$SRC" -B "$DEST/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF &&
    cmake --build "$DEST/build" --target llama-server -j"$(nproc)"; } >"$log" 2>&1; then
    tail -30 "$log" >&2
    echo "llama-server did not build: $log has the whole log (cmake, ninja or make, and g++ are needed)" >&2
    exit 1
  fi
  mkdir -p "$DEST/bin"
  cp "$DEST/build/bin/llama-server" "$DEST/bin/llama-server.tmp"
  mv "$DEST/bin/llama-server.tmp" "$DEST/bin/llama-server"
  rm -rf "$DEST/build"
fi
print
