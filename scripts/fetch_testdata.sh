#!/usr/bin/env bash
# Fetch the test photos that ship inside the scikit-image wheel (PyPI) and
# extract them into DEST/skimage/ (DEST defaults to target/testdata).
#
#   scripts/fetch_testdata.sh [DEST]
#
# Idempotent: the wheel is downloaded once into ~/.cache/pith/wheels and a
# photo is only rewritten when it is missing or differs from the wheel's copy.
# Needs only python3 with pip (installed with apt-get if missing).
set -euo pipefail

SKIMAGE_VERSION="${SKIMAGE_VERSION:-0.26.0}"
DEST="${1:-target/testdata}"
WHEELS="${PITH_WHEELS:-$HOME/.cache/pith/wheels}"
PY="${PYTHON:-python3}"

# The plain photos (and a few photo-like scans) in skimage/data/, with what they show.
PHOTOS=(
  "astronaut.png:astronaut Eileen Collins in orange flight suit, US flag behind (512x512 RGB)"
  "chelsea.png:Chelsea the tabby cat, close-up (451x300 RGB)"
  "coffee.png:cup of coffee on a saucer with a spoon (600x400 RGB)"
  "rocket.jpg:SpaceX Falcon 9 rocket lifting off from the launch pad (640x427 RGB)"
  "motorcycle_left.png:red Yamaha motorcycle in a garage, left stereo view (741x500 RGB)"
  "motorcycle_right.png:red Yamaha motorcycle in a garage, right stereo view (741x500 RGB)"
  "hubble_deep_field.jpg:Hubble deep field, many galaxies on black (1000x872 RGB)"
  "retina.jpg:fundus photo of a human retina (1411x1411 RGB)"
  "ihc.png:immunohistochemistry microscope slide, stained tissue (512x512 RGB)"
  "camera.png:the cameraman: man with a camera on a tripod (512x512 grey)"
  "coins.png:Greek coins on a dark background (384x303 grey)"
  "moon.png:surface of the moon (512x512 grey)"
  "horse.png:black silhouette of a horse on white, not a photo (400x328 RGBA)"
  "page.png:photo of a printed book page, text 'Region-based segmentation' (384x191 grey)"
  "text.png:handwritten maths on paper, photographed at an angle (448x172 grey)"
  "brick.png:brick wall texture (512x512 grey)"
  "grass.png:grass texture (512x512 grey)"
  "gravel.png:gravel texture (512x512 grey)"
)

if ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "fetch_testdata: pip missing for $PY, installing python3-pip with apt-get"
  apt-get update -q && apt-get install -y -q python3-pip
fi

mkdir -p "$WHEELS" "$DEST/skimage"
shopt -s nullglob
wheel=( "$WHEELS"/scikit_image-"$SKIMAGE_VERSION"-cp311-*manylinux*x86_64*.whl )
if [ ${#wheel[@]} -eq 0 ]; then
  echo "fetch_testdata: downloading scikit-image==$SKIMAGE_VERSION wheel into $WHEELS"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d "$WHEELS" "scikit-image==$SKIMAGE_VERSION"
  wheel=( "$WHEELS"/scikit_image-"$SKIMAGE_VERSION"-cp311-*manylinux*x86_64*.whl )
else
  echo "fetch_testdata: wheel already present: ${wheel[0]}"
fi
if [ ${#wheel[@]} -eq 0 ]; then
  echo "fetch_testdata: ERROR: scikit-image wheel not found after download" >&2
  exit 1
fi

names=()
for entry in "${PHOTOS[@]}"; do names+=("${entry%%:*}"); done

"$PY" - "${wheel[0]}" "$DEST/skimage" "${names[@]}" <<'EOF'
import hashlib, os, sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
z = zipfile.ZipFile(wheel)
written = same = 0
for name in names:
    data = z.read("skimage/data/" + name)
    out = os.path.join(dest, name)
    if os.path.exists(out):
        with open(out, "rb") as f:
            if hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest():
                same += 1
                continue
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    written += 1
    print(f"fetch_testdata: extracted {name} ({len(data)} bytes)")
print(f"fetch_testdata: {written} written, {same} already up to date, in {dest}")
EOF

{
  echo "# test photos from scikit-image $SKIMAGE_VERSION (skimage/data/), BSD-licensed"
  for entry in "${PHOTOS[@]}"; do printf '%s\t%s\n' "${entry%%:*}" "${entry#*:}"; done
} > "$DEST/skimage/INDEX.tsv"
echo "fetch_testdata: done ($DEST/skimage, see INDEX.tsv)"
