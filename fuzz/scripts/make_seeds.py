#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (idempotent: seed
files are named seed-*, libFuzzer's own additions are named by SHA-1)."""
import io
import os
import struct
import zlib

from PIL import Image, ImageDraw

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")

UNI = [
    "plain ascii text\n",
    "no\u00a0break\u00a0space and e\u0301 combining acute, n\u0303o\n",
    "emoji 😀🎉👩‍👩‍👧 and flags 🇫🇷\n",
    "中文文本，日本語のテキストです。한국어\n",
    "עברית: שלום עולם — العربية: مرحبا بالعالم\u200f\n",
    "Windows line\r\nendings\r\n\ttab\r\n",
    "Zalgo z\u0351\u0352\u0353a\u0300\u0301\u0302 and ZWJ \u200d ZWNJ \u200c BOM-in-middle \ufeff\n",
]
UNI_ALL = "".join(UNI)


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def images():
    im = Image.new("RGB", (7, 5), (200, 30, 30))
    dr = ImageDraw.Draw(im)
    dr.line((0, 0, 6, 4), fill=(10, 200, 10))
    out = {}
    for fmt, ext, kw in [
        ("PNG", "png", {}),
        ("GIF", "gif", {}),
        ("JPEG", "jpg", {"quality": 80}),
        ("BMP", "bmp", {}),
        ("TIFF", "tif", {}),
        ("WEBP", "webp", {"lossless": True}),
        ("WEBP", "lossy.webp", {"quality": 50}),
    ]:
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        out[ext] = b.getvalue()
    # Mode variety: grey, RGBA, palette, 16-bit PNG.
    for mode, ext in [("L", "grey.png"), ("RGBA", "rgba.png"), ("P", "pal.png"), ("I;16", "16bit.png"), ("LA", "la.png")]:
        b = io.BytesIO()
        im.convert(mode).save(b, "PNG")
        out[ext] = b.getvalue()
    # Progressive JPEG, grey JPEG, CMYK JPEG, and one with EXIF orientation 6.
    for name, src, kw in [
        ("prog.jpg", im, {"progressive": True}),
        ("grey.jpg", im.convert("L"), {}),
        ("cmyk.jpg", im.convert("CMYK"), {}),
    ]:
        b = io.BytesIO()
        src.save(b, "JPEG", **kw)
        out[name] = b.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6
    b = io.BytesIO()
    im.save(b, "JPEG", exif=exif.tobytes())
    out["exif6.jpg"] = b.getvalue()
    # Animated GIF (2 frames), tall strip and wide strip (aspect crop path).
    b = io.BytesIO()
    im.save(b, "GIF", save_all=True, append_images=[im.rotate(90, expand=True)], duration=10, loop=0)
    out["anim.gif"] = b.getvalue()
    for name, size in [("tall.png", (1, 40)), ("wide.png", (60, 2))]:
        b = io.BytesIO()
        Image.new("RGB", size, (1, 2, 3)).save(b, "PNG")
        out[name] = b.getvalue()
    # Compressed TIFF, 1-bit BMP.
    b = io.BytesIO()
    im.save(b, "TIFF", compression="tiff_lzw")
    out["lzw.tif"] = b.getvalue()
    b = io.BytesIO()
    im.convert("1").save(b, "BMP")
    out["1bit.bmp"] = b.getvalue()
    # A header claiming a huge image (must be refused, not allocated).
    png = out["png"]
    big = bytearray(png)
    big[16:24] = struct.pack(">II", 100000, 100000)
    big[29:33] = struct.pack(">I", zlib.crc32(bytes(big[12:29])))
    out["huge-header.png"] = bytes(big)
    return out


def main():
    imgs = images()
    for k, v in imgs.items():
        put("image", k, v)

    # detect: first byte picks the file name; rest is the head.
    put("detect", "png", b"\x06" + imgs["png"][:64])
    put("detect", "jpg", b"\x05" + imgs["jpg"][:64])
    put("detect", "gif", b"\x00" + imgs["gif"][:64])
    put("detect", "webp", b"\x07" + imgs["webp"][:64])
    put("detect", "html", b"\x01<!DOCTYPE html><html><body>hi</body></html>")
    put("detect", "html-ws", "\x02  \r\n<HTML lang=he><p>שלום</p>".encode())
    put("detect", "utf16le", b"\x03\xff\xfe" + "héllo wörld 😀".encode("utf-16-le"))
    put("detect", "utf16be", b"\x02\xfe\xff" + "<html>日本</html>".encode("utf-16-be"))
    put("detect", "unicode", b"\x0d" + UNI_ALL.encode())
    put("detect", "binary", b"\x07\x00\x01\x02\x03binary\x00")
    put("detect", "pdf", b"\x08%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    put("detect", "zip", b"\x0aPK\x03\x04\x14\x00\x00\x00")

    # text_decode: several encodings, HTML and plain.
    html = (
        "<!DOCTYPE html><html><head><title>Café — 日本</title><style>p{}</style></head>"
        "<body><h1>Invoice\u00a0№ 42</h1><p>Total <b>€42</b> &amp; &eacute; &#x1F600;</p>"
        "<table><tr><td>שלום</td><td>مرحبا</td></tr></table><ul><li>e\u0301</li></ul>"
        "<pre>\tcode\r\n</pre><script>x()</script><a href='x'>link</a></body></html>\r\n"
    )
    put("text_decode", "utf8.html", html)
    put("text_decode", "utf8-bom.txt", b"\xef\xbb\xbf" + UNI_ALL.encode())
    put("text_decode", "unicode.txt", UNI_ALL)
    put("text_decode", "markdown.md", "# Heading with emoji 😀\n\nSome *text* with NBSP\u00a0here.\r\n")
    put("text_decode", "utf16le-bom.html", b"\xff\xfe" + html.encode("utf-16-le"))
    put("text_decode", "utf16be-bom.txt", b"\xfe\xff" + UNI_ALL.encode("utf-16-be"))
    put("text_decode", "cp1252.txt", "\u201cCafé\u201d costs €10 at the café near the station\r\n".encode("cp1252"))
    put("text_decode", "cp1252.html", "<html><body><p>Ærøskøbing – naïve façade</p></body></html>".encode("cp1252"))
    put("text_decode", "sjis.txt", "日本語のテキストです。東京の天気は晴れです。\r\n".encode("shift_jis"))
    put("text_decode", "sjis.html", "<html><title>天気</title><body>東京の天気は晴れです。</body></html>".encode("shift_jis"))
    put("text_decode", "gbk.txt", "中文文本，简体字的测试。".encode("gbk"))
    put("text_decode", "koi8r.txt", "Привет, мир! Это тест кодировки.".encode("koi8_r"))
    put("text_decode", "invalid-utf8.txt", b"caf\xe9 au lait \xff\xfe not a bom here \xc3")
    put("text_decode", "nested.html", "<div>" * 50 + "deep ✓" + "</div>" * 50)

    # chunker: byte 0 -> size, byte 1 -> overlap, rest text.
    long_en = ("The quick brown fox jumps over the lazy dog. " * 12)
    put("chunker", "en-small", b"\x08\x02" + long_en.encode())
    put("chunker", "unicode", b"\x05\x01" + UNI_ALL.encode())
    put("chunker", "cjk", b"\x03\x01" + ("東京の天気は晴れです。" * 10).encode())
    put("chunker", "emoji", b"\x02\x01" + ("😀👩‍👩‍👧 🇫🇷 " * 10).encode())
    put("chunker", "rtl", b"\x04\x00" + ("שלום עולם مرحبا بالعالم " * 8).encode())
    put("chunker", "combining", b"\x06\x05" + ("e\u0301\u0302 a\u0308 n\u0303 " * 20).encode())
    put("chunker", "nbsp-crlf", b"\x04\x03" + ("word\u00a0word\r\nline\t" * 15).encode())
    put("chunker", "invalid", b"\x04\x01caf\xe9 \xff\xfe text \xf0\x9f\x98")

    # snippet: 2 bytes max (LE), text, 0xFF, query.
    def snip(max_, text, q):
        return struct.pack("<H", max_) + text.encode() + b"\xff" + q.encode()
    put("snippet", "cats", snip(200, "Nothing here. The cats were sleeping on the sofa all day.", "cat sleeps"))
    put("snippet", "nbsp", snip(60, "x" * 150 + "\u00a0word" + "y " * 20 + " target here", "target"))
    put("snippet", "unicode", snip(40, UNI_ALL, "text emoji café"))
    put("snippet", "cjk", snip(30, "東京の天気は晴れです。 tokyo weather 東京", "tokyo"))
    put("snippet", "rtl", snip(25, "עברית שלום world مرحبا hello world", "world hello"))
    put("snippet", "crlf", snip(20, "line one\r\nline two\r\n\tcafe\u0301 line three", "line cafe"))
    put("snippet", "emoji", snip(12, "😀😀😀 party 🎉🎉 time 😀", "party time"))
    put("snippet", "zero", snip(0, "some text", "text"))

    # query: fields q,k,kind,path,after,before,offset,mode,ext separated by 0xFF.
    def qry(*fields):
        return b"\xff".join(f.encode() for f in fields)
    put("query", "simple", qry("cats sleeping"))
    put("query", "all", qry("invoice 2023", "20", "text", "/docs/", "2023-01-01", "1700000000", "5", "bm25", "pdf,.TXT, md"))
    put("query", "syntax", qry('title:"quick fox" AND -body:dog OR (path:café^2)', "200", "image", "", "", "", "10000", "vector", ""))
    put("query", "ranges", qry("id:[1 TO 5] item:>3 body:a* ~2 \"phrase\"~3", "1", "all"))
    put("query", "unicode", qry("日本語 שלום مرحبا 😀 e\u0301 no\u00a0break", "10", "texts", "/ž/写真/", "2024-02-29", "", "", "hybrid", "jpg,JPEG"))
    put("query", "crlf", qry("line\r\nbreak\ttab", " 7 ", " text ", "\r\n", " 1970-01-01 ", "-5"))
    put("query", "bad", qry("q", "0", "video", "", "2023-02-31", "abc", "10001", "fuzzy"))
    put("query", "weird", qry('"unclosed (paren [range TO * AND OR NOT +-:^~*', "", "", "%_%", "", "", "", "", "%,_,'"))


if __name__ == "__main__":
    main()
