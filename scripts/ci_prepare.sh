#!/usr/bin/env bash
# Prepare a CI job that runs the program: the virtualenv from the pinned
# requirements, which `python3 -m venv` builds only when Debian's
# python3-venv is installed (the node:20-bookworm job image lacks it).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import ensurepip" 2>/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends python3-venv
fi
make --no-print-directory .venv/.installed
