#!/usr/bin/env bash
# Wheels for a GPU machine without internet that already has torch and CUDA: everything else the
# benchmarks need (PyAV, decord and this package's other requirements, torch excluded), downloaded
# here into .wheels/ (git-ignored) so they travel with the checkout. On the GPU machine:
#     pip install --no-index --find-links .wheels -r .wheels/requirements.txt
#     pip install --no-index --no-deps --no-build-isolation -e .
#     python benchmarks/gpu_throughput.py --json gpu.json
# Usage: bash benchmarks/bring-wheels.sh [PYTHON_VERSION] [PLATFORM]
#   defaults: the Python running this script, manylinux2014_x86_64 (pip's platform tag).
set -euo pipefail
cd "$(dirname "$0")/.."
pyver="${1:-$(python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}"
platform="${2:-manylinux2014_x86_64}"
dest=.wheels
mkdir -p "$dest"
# The pinned versions of what the package and the benchmarks import, torch excluded (the GPU
# machine keeps its own CUDA build); the workflow and analysis tools are not needed there.
grep -E '^(numpy|decord|av|pillow|safetensors|pandas|pyyaml|tqdm|requests|jsonschema)==' \
    requirements.txt > "$dest/requirements.txt"
pip download --dest "$dest" --only-binary=:all: --python-version "$pyver" \
    --platform "$platform" --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -r "$dest/requirements.txt"
# Build backend of the editable install (pip install -e . with --no-build-isolation needs it).
pip download --dest "$dest" --only-binary=:all: --python-version "$pyver" \
    --platform "$platform" --no-deps setuptools wheel
echo "wheels for Python $pyver ($platform) in $dest/:"
ls "$dest"
