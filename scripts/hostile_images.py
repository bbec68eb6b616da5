#!/usr/bin/env python3
"""Write a folder of hostile images (the hardening issue's list) for
measuring `pith ingest` and the upload endpoint under them:

    16000x1 and 1x16000 strips, a PNG header claiming 100000x100000, a real
    PNG decompression bomb (20000x20000 grey, ~0.4 MB on disk, 400 Mpx),
    a 10,000-frame GIF, and a TIFF whose header claims 65000x65000 in a
    4 GB strip.

    scripts/hostile_images.py target/hostile
"""
import struct
import sys
import zlib
from pathlib import Path


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(w, h, color_type=0, rows=None):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if rows is not None:
        out += chunk(b"IDAT", rows)
    return out + chunk(b"IEND", b"")


def bomb(w, h):
    # Every row: filter byte 0 + w zero bytes, compressed as one stream.
    z = zlib.compressobj(9)
    row = b"\0" * (w + 1)
    parts = [z.compress(row) for _ in range(h)]
    parts.append(z.flush())
    return png(w, h, 0, b"".join(parts))


def strip(w, h):
    rows = b"".join(b"\0" + bytes((x * 7) % 256 for x in range(w)) for _ in range(h))
    return png(w, h, 0, zlib.compress(rows))


def tiff_claiming(w, h):
    entries = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 200), (278, 4, h), (279, 4, 4_000_000_000)]
    out = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, val in entries:
        out += struct.pack("<HHII", tag, typ, 1, val)
    out += struct.pack("<I", 0)
    return out.ljust(256, b"\0")


def gif_frames(n):
    from PIL import Image
    frames = []
    for i in range(n):
        im = Image.new("L", (8, 8), 0)
        im.putpixel((i % 8, (i // 8) % 8), 255)
        im.putpixel((7 - (i // 64) % 8, 7 - (i // 512) % 8), 128)
        frames.append(im)
    return frames


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/hostile")
    out.mkdir(parents=True, exist_ok=True)
    (out / "strip_16000x1.png").write_bytes(strip(16000, 1))
    (out / "strip_1x16000.png").write_bytes(strip(1, 16000))
    (out / "header_100000x100000.png").write_bytes(png(100_000, 100_000))
    (out / "bomb_20000x20000.png").write_bytes(bomb(20000, 20000))
    (out / "tiff_claims_4gb.tif").write_bytes(tiff_claiming(65000, 65000))
    frames = gif_frames(10_000)
    frames[0].save(out / "frames_10000.gif", save_all=True, append_images=frames[1:], duration=10, loop=0, optimize=False)
    for p in sorted(out.iterdir()):
        print(f"{p.stat().st_size:>10}  {p.name}")


if __name__ == "__main__":
    main()
