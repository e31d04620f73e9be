#!/usr/bin/env bash
# Builds the sp-impact wheel (the command line as a Python package: pyproject.toml, maturin's
# bin bindings), installs it into a fresh virtual environment and runs `sp-impact run` there
# on the embedded sample from an empty directory, as an analyst without Rust would after
# `pip install`. Needs Python 3 with venv and, to build, the Rust toolchain; a release build
# (CARGO_TARGET_DIR is honoured, so a warm target folder makes it quick). Not part of CI.
#
#   bash packaging/build-wheel.sh [WHEEL_DIR]      # default: target/wheels
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
wheels="$(realpath -m "${1:-$root/target/wheels}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== build: maturin (bin bindings) in its own virtual environment"
python3 -m venv "$work/build"
"$work/build/bin/pip" install --quiet "maturin>=1.5,<2"
"$work/build/bin/maturin" --version
(cd "$root" && "$work/build/bin/maturin" build --release --out "$wheels")
wheel="$(ls -t "$wheels"/sp_impact-*.whl | head -1)"
echo "wheel: $wheel ($(du -h "$wheel" | cut -f1))"

echo "== install into a fresh virtual environment (no Rust involved from here)"
python3 -m venv "$work/user"
"$work/user/bin/pip" install --quiet "$wheel"
"$work/user/bin/sp-impact" --version

echo "== sp-impact run on the embedded sample, from an empty directory"
mkdir "$work/empty"
(cd "$work/empty" && "$work/user/bin/sp-impact" run)
ls "$work/empty/sp-impact-output/published"
echo "== ok: the wheel installs and runs without a Rust toolchain"
