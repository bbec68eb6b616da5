#!/usr/bin/env bash
# Debian packages pith's build and tests need; installs only what is missing.
# (python3-torch, for exporting models, is installed by scripts/fetch_models.py.)
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v python3 >/dev/null || need+=(python3 python3-pip)
# The llama.cpp server for the chat proxy test is compiled into a venv.
command -v c++ >/dev/null || need+=(g++)
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
command -v chromium >/dev/null || need+=(chromium)
# Media: ffmpeg/ffprobe decode video frames and audio symphonia cannot read;
# espeak-ng speaks the sentences the speech tests transcribe.
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
# Documents: tesseract reads the text in images and scanned pages; pdftotext
# (poppler) is the reference `pith eval pdf` compares PDFium with; the DejaVu
# fonts draw the OCR test images.
command -v tesseract >/dev/null || need+=(tesseract-ocr)
[ -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ] || need+=(tesseract-ocr-eng)
command -v pdftotext >/dev/null || need+=(poppler-utils)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
command -v cargo >/dev/null || { echo "cargo (Rust toolchain) is required: https://rustup.rs"; exit 1; }
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi
