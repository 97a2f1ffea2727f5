#!/usr/bin/env bash
# Prints a checksum line per notebook and library file, so `make check-sync` can tell whether
# nbdev_export / nbdev_clean changed anything (works with or without git, committed or not).
set -euo pipefail
cd "$(dirname "$0")/.."
find nbs galnb -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' -print0 \
  | sort -z | xargs -0 sha256sum
