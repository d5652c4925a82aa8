#!/usr/bin/env bash
# Installs the Debian packages lvu's tests use, when they are missing (npm's `pretest` runs this):
# the ffmpeg CLI (benchmark baseline), real camera footage (opencv-doc's vtest.avi) and a real RTSP server
# (gst-rtsp-server through python3-gi; x264 from plugins-ugly), and a headless browser for the timeline page test
# (chromium), Prometheus's promtool (prometheus: its metrics linter) and iproute2 (loopback in the API fuzz test's
# network namespace); cmake, ninja and g++ build llama.cpp (llama-cpp-python[server] and llama-server, from PyPI's
# source), and Triton's Python backend (nvidia-pytriton) links the system's libpython3.11 (its virtualenv is made by
# /usr/bin/python3, python3-venv); systemd-analyze (systemd) checks the ops kit's unit.
# Needs root (or sudo) only if something is missing.
set -euo pipefail
PACKAGES="ffmpeg opencv-doc chromium prometheus iproute2 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  cmake ninja-build g++ libpython3.11 python3-venv systemd"
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "lvu tests need these Debian packages:$missing — install them as root (apt-get install$missing)" >&2
    exit 1
  fi
fi
echo "== installing Debian packages for the tests:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
