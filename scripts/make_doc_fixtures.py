#!/usr/bin/env python3
"""Generate document-ingestion test fixtures for pith.

Usage: scripts/make_doc_fixtures.py OUT_DIR

Makes, under OUT_DIR:

  docs/       one folder to ingest as a whole: a text PDF (report.pdf), a PDF
              whose second page is only a raster image (scanned.pdf), DOCX,
              PPTX, XLSX, ODT, ODP, ODS and EPUB files, a PNG that carries
              text (sign.png), and four bad files that must each fail
              cleanly: an encrypted PDF (locked.pdf), a zip bomb
              (bomb.docx) and a "billion laughs" XML entity bomb
              (laughs.odt), and a spreadsheet whose two cells span 17 billion
              (cells.xlsx).
  ocr/        12 clean text images clean-NN.png, each with clean-NN.txt
              holding the exact true text (for a character-error-rate eval).
  ocr-hard/   the same 12 sentences with gaussian noise (noisy-NN), blur
              (blur-NN) and a 5 degree rotation (rot-NN), each with its .txt.
  manifest.json  {"version": SCRIPT_VERSION, "files": {path: sha256}}.

Everything is fixed content and fixed seeds; zip entries carry a fixed
timestamp and PDFs a fixed creation date, so re-running gives the same bytes
for the same library versions (Pillow, zlib, fpdf2). If manifest.json exists
with the current SCRIPT_VERSION the script exits at once (idempotent); bump
SCRIPT_VERSION whenever the fixtures change.

Office/EPUB files are written directly as zip + XML with the stdlib rather
than converted with LibreOffice: LibreOffice is a huge dependency, slow to
start, not byte-reproducible (it stamps dates, ids and its version), and it
would hide exactly what each fixture contains. Hand-written XML keeps every
fixture minimal, exact and reviewable. PDFs come from fpdf2 (pure Python).

Dependencies: Python stdlib, Pillow, numpy, fpdf2 (installed on demand), the
DejaVu fonts (Debian package fonts-dejavu-core).
"""

import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SCRIPT_VERSION = 2
FPDF2_VERSION = "2.8.4"

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = {
    "sans": os.path.join(FONT_DIR, "DejaVuSans.ttf"),
    "serif": os.path.join(FONT_DIR, "DejaVuSerif.ttf"),
    "mono": os.path.join(FONT_DIR, "DejaVuSansMono.ttf"),
}

# Fixed timestamps so output is reproducible.
ZIP_DATE = (2026, 1, 1, 0, 0, 0)
PDF_DATE = datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)
ISO_DATE = "2026-01-01T00:00:00Z"

HERON_SENTENCE = (
    "The lighthouse keeper counted forty-two herons resting on the northern "
    "breakwater at dawn."
)

# Sentences for the OCR evaluation: ordinary words, some digits, mixed case.
OCR_SENTENCES = [
    "The train to Bristol leaves at 9 from platform 4.",
    "Please bring two pencils, a ruler and your library card tomorrow.",
    "Our neighbours planted 12 apple trees along the river path last spring.",
    "The museum opens at 10 and closes early on Sundays.",
    "Maria bought three loaves of bread, some cheese and a jar of honey.",
    "In 1998 the village built a new school beside the old church.",
    "Turn left at the bakery, then walk past the green post office.",
    "The recipe needs 250 grams of flour and two large eggs.",
    "Daniel wrote a long letter to his grandmother in Canada.",
    "Heavy rain is expected on Tuesday, so the match may be delayed.",
    "She counted 47 boats in the harbour before the sun went down.",
    "Every Friday the library hosts a quiet reading hour for children.",
]


# --------------------------------------------------------------------------
# helpers


def ensure_fpdf():
    """Import fpdf2, installing the pinned version if it is missing."""
    try:
        import fpdf  # noqa: F401
    except ImportError:
        print(f"installing fpdf2=={FPDF2_VERSION}", file=sys.stderr)
        subprocess.check_call(
            [sys.executable, "-m", "pip", "install", "-q",
             "--disable-pip-version-check", f"fpdf2=={FPDF2_VERSION}"]
        )
    import fpdf

    if getattr(fpdf, "__version__", "") != FPDF2_VERSION:
        print(f"note: fpdf2 {fpdf.__version__} found, fixtures were designed "
              f"with {FPDF2_VERSION}; PDF bytes may differ", file=sys.stderr)
    return fpdf


def check_fonts():
    if not os.path.isdir(FONT_DIR) or not all(map(os.path.isfile, FONTS.values())):
        print(f"DejaVu fonts not found in {FONT_DIR}; "
              "run: apt-get install fonts-dejavu-core", file=sys.stderr)
        sys.exit(1)


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def zip_info(name, compress=zipfile.ZIP_DEFLATED, level=9):
    """A ZipInfo with a fixed timestamp and permissions (reproducible)."""
    zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    zi.compress_type = compress
    zi.external_attr = 0o644 << 16
    if compress == zipfile.ZIP_DEFLATED:
        try:  # Python >= 3.13
            zi.compress_level = level
        except AttributeError:  # Python <= 3.12
            zi._compresslevel = level
    return zi


def write_zip(path, entries, stored_first=None):
    """Write a zip from [(name, str|bytes)]. `stored_first` is an optional
    (name, content) written first and uncompressed (ODF/EPUB `mimetype`)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        if stored_first:
            name, data = stored_first
            zf.writestr(zip_info(name, zipfile.ZIP_STORED), data)
        for name, data in entries:
            if isinstance(data, str):
                data = data.encode("utf-8")
            zf.writestr(zip_info(name), data)


def xml(body):
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body.strip() + "\n"


def wrap_words(text, font, max_width):
    """Greedy word wrap to lines no wider than max_width pixels."""
    lines, cur = [], ""
    for word in text.split():
        trial = f"{cur} {word}" if cur else word
        if cur and font.getlength(trial) > max_width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def render_text(text, font_path, size, max_line_width, margin, min_size=None):
    """Black text on a white grayscale image, wrapped; returns the image.
    min_size=(w, h) pads the canvas (text starts at the margin)."""
    font = ImageFont.truetype(font_path, size)
    lines = wrap_words(text, font, max_line_width)
    line_h = int(round(size * 1.35))
    width = int(max(font.getlength(l) for l in lines)) + 2 * margin
    height = line_h * len(lines) + 2 * margin
    if min_size:
        width, height = max(width, min_size[0]), max(height, min_size[1])
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_h), line, font=font, fill=0)
    return img


def png_bytes(img):
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def new_pdf(fpdf):
    pdf = fpdf.FPDF(format="A4", unit="mm")
    pdf.set_creation_date(PDF_DATE)
    pdf.set_producer("pith make_doc_fixtures")
    pdf.set_creator("pith make_doc_fixtures")
    pdf.set_auto_page_break(True, margin=20)
    return pdf


# --------------------------------------------------------------------------
# PDF


REPORT_PAGES = [
    "The main lamp was cleaned and its brass fittings polished during the first "
    "week of the quarter. A new set of mantles arrived from the mainland supplier. "
    "The lamp now turns once every twenty seconds without any grinding noise.",

    "Three strong gales crossed the headland in November. Rain gauges recorded "
    "nearly twice the usual rainfall for the season. The storm shutters held, "
    "although one window in the store room cracked.",

    "Birdwatchers from the county society visited on a calm and misty morning. "
    + HERON_SENTENCE + " Several cormorants dried their wings on the rocks below "
    "the tower. The society has asked to return in the spring.",

    "Visitor numbers rose to six hundred during the school holidays. Most guests "
    "climbed the spiral staircase to the gallery. The small gift shop sold out of "
    "postcards twice.",

    "The outer walls need a fresh coat of white paint before summer. Two gutters "
    "must be replaced and the boat slipway repaired. The budget for these works "
    "will be discussed at the next trustees meeting.",
]


def make_report_pdf(fpdf, path):
    pdf = new_pdf(fpdf)
    pdf.set_title("Quarterly Lighthouse Report")
    pdf.set_author("Ada Keeper")
    for n, prose in enumerate(REPORT_PAGES, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 12, f"Page {n}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font("Helvetica", "", 12)
        pdf.multi_cell(0, 7, prose, new_x="LMARGIN", new_y="NEXT")
    pdf.output(path)


SCAN_SENTENCE = "The orchard ladder leans against the old stone wall near the cider press."


def make_scanned_pdf(fpdf, path):
    pdf = new_pdf(fpdf)
    pdf.set_title("Orchard Survey")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 14)
    pdf.multi_cell(0, 8, "This cover page introduces the orchard survey.",
                   new_x="LMARGIN", new_y="NEXT")
    # Page 2: a 150 dpi A4 raster "scan", no text layer at all.
    w, h, margin = 1240, 1754, 120
    scan = render_text(SCAN_SENTENCE, FONTS["sans"], 48, w - 2 * margin, margin,
                       min_size=(w, h))
    pdf.add_page()
    pdf.image(scan, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(path)


def make_locked_pdf(fpdf, path):
    pdf = new_pdf(fpdf)
    pdf.set_encryption(owner_password="owner-secret", user_password="secret",
                       encryption_method="RC4")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 14)
    pdf.multi_cell(0, 8, "This locked page describes the vault inventory.")
    pdf.output(path)


# --------------------------------------------------------------------------
# DOCX

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
CORE_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"


def root_rels(main_part):
    return xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  <Relationship Id="rId1" Type="{OFFICE_DOC_REL}" Target="{main_part}"/>
  <Relationship Id="rId2" Type="{CORE_REL}" Target="docProps/core.xml"/>
</Relationships>""")


def core_props(title, creator):
    return xml(f"""
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <dc:title>{title}</dc:title>
  <dc:creator>{creator}</dc:creator>
  <dcterms:created xsi:type="dcterms:W3CDTF">{ISO_DATE}</dcterms:created>
</cp:coreProperties>""")


def docx_content_types():
    return xml(f"""
<Types xmlns="{CT_NS}">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="xml" ContentType="application/xml"/>
  <Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
  <Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
  <Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>""")


DOCX_STYLES = xml(f"""
<w:styles xmlns:w="{W_NS}">
  <w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
  <w:style w:type="paragraph" w:styleId="Heading1">
    <w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/>
    <w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="32"/></w:rPr>
  </w:style>
</w:styles>""")

DOCX_DOC_RELS = xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>""")


def docx_document(body_xml):
    return xml(f"""
<w:document xmlns:w="{W_NS}" xmlns:r="{R_NS}">
  <w:body>
{body_xml}
    <w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr>
  </w:body>
</w:document>""")


def make_notes_docx(path):
    body = """
    <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Tomatoes</w:t></w:r></w:p>
    <w:p><w:r><w:t>Tomato seedlings need eight hours of sunlight and warm soil.</w:t></w:r></w:p>
    <w:p><w:r><w:t>Water them early</w:t></w:r><w:r><w:tab/><w:t>and tie them to canes</w:t></w:r><w:r><w:br/><w:t>once they reach knee height.</w:t></w:r></w:p>
    <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Compost</w:t></w:r></w:p>
    <w:p><w:r><w:t xml:space="preserve">Turn the compost </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>heap every fortnight</w:t></w:r><w:r><w:t xml:space="preserve"> to keep it aerobic.</w:t></w:r></w:p>"""
    write_zip(path, [
        ("[Content_Types].xml", docx_content_types()),
        ("_rels/.rels", root_rels("word/document.xml")),
        ("word/document.xml", docx_document(body)),
        ("word/_rels/document.xml.rels", DOCX_DOC_RELS),
        ("word/styles.xml", DOCX_STYLES),
        ("docProps/core.xml", core_props("Garden Notes", "Bo Green")),
    ])


def make_bomb_docx(path, total=300 * 1024 * 1024):
    """A DOCX whose word/document.xml really inflates to `total` bytes
    (mostly spaces inside one w:t). Streamed: never held in memory."""
    prefix = (xml(f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r>')[:-1]
              + '<w:t xml:space="preserve">Bomb').encode()
    suffix = b"</w:t></w:r></w:p></w:body></w:document>\n"
    chunk = b" " * (1 << 20)
    remaining = total - len(prefix) - len(suffix)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zip_info("[Content_Types].xml"), docx_content_types())
        zf.writestr(zip_info("_rels/.rels"), root_rels("word/document.xml"))
        zf.writestr(zip_info("docProps/core.xml"), core_props("Bomb", "Nobody"))
        with zf.open(zip_info("word/document.xml"), "w", force_zip64=True) as f:
            f.write(prefix)
            while remaining > 0:
                n = min(remaining, len(chunk))
                f.write(chunk[:n])
                remaining -= n
            f.write(suffix)


# --------------------------------------------------------------------------
# PPTX

A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"
REL_BASE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

PPTX_THEME = xml(f"""
<a:theme xmlns:a="{A_NS}" name="Plain">
  <a:themeElements>
    <a:clrScheme name="Plain">
      <a:dk1><a:srgbClr val="000000"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1>
      <a:dk2><a:srgbClr val="1F1F1F"/></a:dk2><a:lt2><a:srgbClr val="EEEEEE"/></a:lt2>
      <a:accent1><a:srgbClr val="4472C4"/></a:accent1><a:accent2><a:srgbClr val="ED7D31"/></a:accent2>
      <a:accent3><a:srgbClr val="A5A5A5"/></a:accent3><a:accent4><a:srgbClr val="FFC000"/></a:accent4>
      <a:accent5><a:srgbClr val="5B9BD5"/></a:accent5><a:accent6><a:srgbClr val="70AD47"/></a:accent6>
      <a:hlink><a:srgbClr val="0563C1"/></a:hlink><a:folHlink><a:srgbClr val="954F72"/></a:folHlink>
    </a:clrScheme>
    <a:fontScheme name="Plain">
      <a:majorFont><a:latin typeface="Arial"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont>
      <a:minorFont><a:latin typeface="Arial"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont>
    </a:fontScheme>
    <a:fmtScheme name="Plain">
      <a:fillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:fillStyleLst>
      <a:lnStyleLst><a:ln w="6350"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln w="12700"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln w="19050"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln></a:lnStyleLst>
      <a:effectStyleLst><a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle></a:effectStyleLst>
      <a:bgFillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst>
    </a:fmtScheme>
  </a:themeElements>
</a:theme>""")

EMPTY_SPTREE = ('<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/>'
                '<p:nvPr/></p:nvGrpSpPr><p:grpSpPr/></p:spTree></p:cSld>')

PPTX_MASTER = xml(f"""
<p:sldMaster xmlns:a="{A_NS}" xmlns:r="{R_NS}" xmlns:p="{P_NS}">
  {EMPTY_SPTREE}
  <p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/>
  <p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst>
</p:sldMaster>""")

PPTX_MASTER_RELS = xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  <Relationship Id="rId1" Type="{REL_BASE}/slideLayout" Target="../slideLayouts/slideLayout1.xml"/>
  <Relationship Id="rId2" Type="{REL_BASE}/theme" Target="../theme/theme1.xml"/>
</Relationships>""")

PPTX_LAYOUT = xml(f"""
<p:sldLayout xmlns:a="{A_NS}" xmlns:r="{R_NS}" xmlns:p="{P_NS}" type="blank">
  {EMPTY_SPTREE}
  <p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr>
</p:sldLayout>""")

PPTX_LAYOUT_RELS = xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  <Relationship Id="rId1" Type="{REL_BASE}/slideMaster" Target="../slideMasters/slideMaster1.xml"/>
</Relationships>""")

PPTX_SLIDE_RELS = xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  <Relationship Id="rId1" Type="{REL_BASE}/slideLayout" Target="../slideLayouts/slideLayout1.xml"/>
</Relationships>""")

SLIDES = [
    ["Migration Plan", "Moving the seabird archive to the new server."],
    ["Penguins", "Slide two explains the penguin migration along the coast."],
    ["Volunteers", "Slide three lists the volunteers for the beach cleanup."],
]


def pptx_shape(shape_id, name, y, text):
    return f"""
    <p:sp>
      <p:nvSpPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>
      <p:spPr><a:xfrm><a:off x="457200" y="{y}"/><a:ext cx="8229600" cy="1143000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr>
      <p:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r><a:rPr lang="en-GB"/><a:t>{text}</a:t></a:r></a:p></p:txBody>
    </p:sp>"""


def pptx_slide(title, body):
    return xml(f"""
<p:sld xmlns:a="{A_NS}" xmlns:r="{R_NS}" xmlns:p="{P_NS}">
  <p:cSld><p:spTree>
    <p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>
    {pptx_shape(2, "Title", 457200, title)}
    {pptx_shape(3, "Body", 1828800, body)}
  </p:spTree></p:cSld>
  <p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr>
</p:sld>""")


def make_deck_pptx(path):
    n = len(SLIDES)
    slide_overrides = "".join(
        f'<Override PartName="/ppt/slides/slide{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>'
        for i in range(1, n + 1))
    content_types = xml(f"""
<Types xmlns="{CT_NS}">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="xml" ContentType="application/xml"/>
  <Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>
  <Override PartName="/ppt/slideMasters/slideMaster1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slideMaster+xml"/>
  <Override PartName="/ppt/slideLayouts/slideLayout1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slideLayout+xml"/>
  <Override PartName="/ppt/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>
  {slide_overrides}
  <Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>""")
    # rId1 = master, rId2 = theme, rId3.. = slides (in order).
    sld_ids = "".join(f'<p:sldId id="{256 + i}" r:id="rId{3 + i}"/>' for i in range(n))
    presentation = xml(f"""
<p:presentation xmlns:a="{A_NS}" xmlns:r="{R_NS}" xmlns:p="{P_NS}">
  <p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>
  <p:sldIdLst>{sld_ids}</p:sldIdLst>
  <p:sldSz cx="9144000" cy="6858000" type="screen4x3"/>
  <p:notesSz cx="6858000" cy="9144000"/>
</p:presentation>""")
    slide_rels = "".join(
        f'<Relationship Id="rId{3 + i}" Type="{REL_BASE}/slide" Target="slides/slide{1 + i}.xml"/>'
        for i in range(n))
    pres_rels = xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  <Relationship Id="rId1" Type="{REL_BASE}/slideMaster" Target="slideMasters/slideMaster1.xml"/>
  <Relationship Id="rId2" Type="{REL_BASE}/theme" Target="theme/theme1.xml"/>
  {slide_rels}
</Relationships>""")
    entries = [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", root_rels("ppt/presentation.xml")),
        ("docProps/core.xml", core_props("Migration Plan", "Pim Tern")),
        ("ppt/presentation.xml", presentation),
        ("ppt/_rels/presentation.xml.rels", pres_rels),
        ("ppt/slideMasters/slideMaster1.xml", PPTX_MASTER),
        ("ppt/slideMasters/_rels/slideMaster1.xml.rels", PPTX_MASTER_RELS),
        ("ppt/slideLayouts/slideLayout1.xml", PPTX_LAYOUT),
        ("ppt/slideLayouts/_rels/slideLayout1.xml.rels", PPTX_LAYOUT_RELS),
        ("ppt/theme/theme1.xml", PPTX_THEME),
    ]
    for i, (title, body) in enumerate(SLIDES, start=1):
        entries.append((f"ppt/slides/slide{i}.xml", pptx_slide(title, body)))
        entries.append((f"ppt/slides/_rels/slide{i}.xml.rels", PPTX_SLIDE_RELS))
    write_zip(path, entries)


# --------------------------------------------------------------------------
# XLSX

SS_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

XLSX_SHEETS = {
    "Expenses": [
        ["Item", "Amount", "Month"],
        ["Dome motor service", 480, "January"],
        ["Heating oil", 310, "January"],
        ["Star chart prints", 95.5, "February"],
        ["Replacement telescope lens", 1250, "March"],
        ["Visitor guidebooks", 220, "April"],
    ],
    "Staff": [
        ["Name", "Role"],
        ["Marta Quill", "Night astronomer"],
        ["Tomas Reed", "Groundskeeper"],
        ["Lena Frost", "Education officer"],
    ],
}


def col_letter(i):
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


def make_budget_xlsx(path):
    strings, index = [], {}

    def sst(s):
        if s not in index:
            index[s] = len(strings)
            strings.append(s)
        return index[s]

    sheets_xml = []
    for rows in XLSX_SHEETS.values():
        row_xml = []
        for r, row in enumerate(rows, start=1):
            cells = []
            for c, value in enumerate(row):
                ref = f"{col_letter(c)}{r}"
                if isinstance(value, str):
                    cells.append(f'<c r="{ref}" t="s"><v>{sst(value)}</v></c>')
                else:  # plain numeric cell, value stored inline
                    cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            row_xml.append(f'<row r="{r}">{"".join(cells)}</row>')
        dim = f"A1:{col_letter(len(rows[0]) - 1)}{len(rows)}"
        sheets_xml.append(xml(f"""
<worksheet xmlns="{SS_NS}" xmlns:r="{R_NS}">
  <dimension ref="{dim}"/>
  <sheetData>{"".join(row_xml)}</sheetData>
</worksheet>"""))

    names = list(XLSX_SHEETS)
    shared = xml(f"""
<sst xmlns="{SS_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">
{"".join(f"<si><t>{s}</t></si>" for s in strings)}
</sst>""")
    workbook = xml(f"""
<workbook xmlns="{SS_NS}" xmlns:r="{R_NS}">
  <sheets>{"".join(f'<sheet name="{n}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, start=1))}</sheets>
</workbook>""")
    k = len(names)
    wb_rels = xml(f"""
<Relationships xmlns="{PKG_RELS_NS}">
  {"".join(f'<Relationship Id="rId{i}" Type="{REL_BASE}/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, k + 1))}
  <Relationship Id="rId{k + 1}" Type="{REL_BASE}/sharedStrings" Target="sharedStrings.xml"/>
  <Relationship Id="rId{k + 2}" Type="{REL_BASE}/styles" Target="styles.xml"/>
</Relationships>""")
    styles = xml(f"""
<styleSheet xmlns="{SS_NS}">
  <fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
  <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
  <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
  <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
  <cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>
  <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>""")
    sheet_ct = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, k + 1))
    content_types = xml(f"""
<Types xmlns="{CT_NS}">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="xml" ContentType="application/xml"/>
  <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
  {sheet_ct}
  <Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
  <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
  <Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>""")
    entries = [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", root_rels("xl/workbook.xml")),
        ("docProps/core.xml", core_props("Observatory Budget", "Ada Keeper")),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", wb_rels),
        ("xl/sharedStrings.xml", shared),
        ("xl/styles.xml", styles),
    ]
    for i, sheet in enumerate(sheets_xml, start=1):
        entries.append((f"xl/worksheets/sheet{i}.xml", sheet))
    write_zip(path, entries)


def make_cells_bomb_xlsx(path):
    """A spreadsheet bomb of a few KB: the budget workbook with its first
    sheet replaced by two cells, A1 and XFD1048576, whose bounding box is
    17 billion cells (a reader that allocates the box runs out of memory)."""
    tmp = path + ".tmp"
    make_budget_xlsx(tmp)
    with zipfile.ZipFile(tmp) as z:
        entries = [(n, z.read(n)) for n in z.namelist()]
    os.remove(tmp)
    sheet = xml(f"""
<worksheet xmlns="{SS_NS}"><sheetData>
  <row r="1"><c r="A1"><v>1</v></c></row>
  <row r="1048576"><c r="XFD1048576"><v>2</v></c></row>
</sheetData></worksheet>""")
    write_zip(path, [(n, sheet if n == "xl/worksheets/sheet1.xml" else d) for n, d in entries])


# --------------------------------------------------------------------------
# OpenDocument (ODT, ODP, ODS)

ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
)


def odf_meta(title):
    return xml(f"""
<office:document-meta {ODF_NS} office:version="1.2">
  <office:meta>
    <dc:title>{title}</dc:title>
    <meta:creation-date>{ISO_DATE[:-1]}</meta:creation-date>
  </office:meta>
</office:document-meta>""")


def odf_manifest(mimetype, parts):
    lines = "\n".join(
        f'  <manifest:file-entry manifest:full-path="{p}" manifest:media-type="text/xml"/>'
        for p in parts)
    return xml(f"""
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
  <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="{mimetype}"/>
{lines}
</manifest:manifest>""")


def write_odf(path, mimetype, title, content, styles=None, content_prefix=""):
    """content_prefix goes between the XML declaration and the root element
    (used for the DOCTYPE of the entity bomb)."""
    parts = {"content.xml": xml(content_prefix + "\n" + content), "meta.xml": odf_meta(title)}
    if styles:
        parts["styles.xml"] = xml(styles)
    entries = [("META-INF/manifest.xml", odf_manifest(mimetype, list(parts)))]
    entries += list(parts.items())
    write_zip(path, entries, stored_first=("mimetype", mimetype))


ODT_MIME = "application/vnd.oasis.opendocument.text"


def odt_content(body):
    return f"""
<office:document-content {ODF_NS} office:version="1.2">
  <office:body>
    <office:text>
{body}
    </office:text>
  </office:body>
</office:document-content>"""


def make_memo_odt(path):
    body = """
      <text:h text:outline-level="1">Ferry Schedule</text:h>
      <text:p>The morning ferry now departs at seven fifteen from pier nine.</text:p>
      <text:p>Tickets are sold at the <text:span>harbour office</text:span> beside the fish market.</text:p>
      <text:p>Please bring exact<text:s/>change for the crossing.</text:p>"""
    write_odf(path, ODT_MIME, "Harbour Memo", odt_content(body))


def make_laughs_odt(path):
    entities = ['<!ENTITY lol "lol">']
    prev = "lol"
    for i in range(1, 10):
        name = f"lol{i}"
        entities.append(f'<!ENTITY {name} "{("&" + prev + ";") * 10}">')
        prev = name
    doctype = "<!DOCTYPE office:document-content [\n  " + "\n  ".join(entities) + "\n]>"
    body = "      <text:p>&lol9;</text:p>"
    write_odf(path, ODT_MIME, "Laughs", odt_content(body), content_prefix=doctype)


ODP_STYLES = f"""
<office:document-styles {ODF_NS} office:version="1.2">
  <office:automatic-styles>
    <style:page-layout style:name="PM1">
      <style:page-layout-properties fo:page-width="28cm" fo:page-height="21cm" style:print-orientation="landscape"/>
    </style:page-layout>
  </office:automatic-styles>
  <office:master-styles>
    <style:master-page style:name="Default" style:page-layout-name="PM1"/>
  </office:master-styles>
</office:document-styles>"""


def odp_frame(text):
    return f"""
        <draw:frame svg:x="2cm" svg:y="3cm" svg:width="24cm" svg:height="4cm">
          <draw:text-box><text:p>{text}</text:p></draw:text-box>
        </draw:frame>"""


def make_talk_odp(path):
    content = f"""
<office:document-content {ODF_NS} office:version="1.2">
  <office:body>
    <office:presentation>
      <draw:page draw:name="Intro" draw:master-page-name="Default">{odp_frame("An evening talk about island geology.")}
      </draw:page>
      <draw:page draw:name="Volcanoes" draw:master-page-name="Default">{odp_frame("Volcanic ash can ground flights across the whole continent.")}
      </draw:page>
    </office:presentation>
  </office:body>
</office:document-content>"""
    write_odf(path, "application/vnd.oasis.opendocument.presentation", "Island Geology",
              content, styles=ODP_STYLES)


def make_ledger_ods(path):
    rows = [("Date", "Entry"), ("2026-01-04", "Bought copper kettle for the tea room")]
    row_xml = "".join(
        "<table:table-row>"
        + "".join(f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
                  for v in row)
        + "</table:table-row>"
        for row in rows)
    content = f"""
<office:document-content {ODF_NS} office:version="1.2">
  <office:body>
    <office:spreadsheet>
      <table:table table:name="Ledger">
        <table:table-column table:number-columns-repeated="2"/>
        {row_xml}
      </table:table>
    </office:spreadsheet>
  </office:body>
</office:document-content>"""
    write_odf(path, "application/vnd.oasis.opendocument.spreadsheet", "Ledger", content)


# --------------------------------------------------------------------------
# EPUB


def xhtml(title, body):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en" xml:lang="en">
<head><title>{title}</title></head>
<body>
{body}
</body>
</html>
"""


def make_novel_epub(path):
    container = xml("""
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>""")
    opf = xml(f"""
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid" xml:lang="en">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="bookid">urn:uuid:6f1c2a8e-4b0d-4e55-9a53-0c1f2d3e4a5b</dc:identifier>
    <dc:title>The Clockmaker</dc:title>
    <dc:creator>Ivo Spring</dc:creator>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">{ISO_DATE}</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ch1" href="chapter1.xhtml" media-type="application/xhtml+xml"/>
    <item id="ch2" href="chapter2.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine>
    <itemref idref="ch1"/>
    <itemref idref="ch2"/>
  </spine>
</package>""")
    nav = xhtml("Contents", """<nav epub:type="toc" id="toc">
  <h1>Contents</h1>
  <ol>
    <li><a href="chapter1.xhtml">Chapter One</a></li>
    <li><a href="chapter2.xhtml">Chapter Two</a></li>
  </ol>
</nav>""")
    ch1 = xhtml("Chapter One", """<h1>Chapter One</h1>
<p>The clockmaker wound the brass pendulum before sunrise.</p>
<p>His apprentice swept the shavings from the bench.</p>""")
    ch2 = xhtml("Chapter Two", """<h1>Chapter Two</h1>
<p>A silver fox watched the workshop from the snowy hedge.</p>""")
    write_zip(path, [
        ("META-INF/container.xml", container),
        ("OEBPS/content.opf", opf),
        ("OEBPS/nav.xhtml", nav),
        ("OEBPS/chapter1.xhtml", ch1),
        ("OEBPS/chapter2.xhtml", ch2),
    ], stored_first=("mimetype", "application/epub+zip"))


# --------------------------------------------------------------------------
# images


def make_sign_png(path):
    w, h, size = 1200, 500, 56
    font = ImageFont.truetype(FONTS["sans"], size)
    lines = wrap_words("Invoice number 4471 is due on Friday", font, w - 160)
    line_h = int(size * 1.4)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    y = (h - line_h * len(lines)) // 2
    for i, line in enumerate(lines):
        x = (w - font.getlength(line)) / 2
        draw.text((x, y + i * line_h), line, font=font, fill=0)
    write_bytes(path, png_bytes(img))


def make_ocr_sets(out):
    fonts = [FONTS["sans"], FONTS["serif"], FONTS["mono"]]
    sizes = [28, 36, 48]
    for i, sentence in enumerate(OCR_SENTENCES):
        nn = f"{i + 1:02d}"
        # Fonts cycle every image, sizes every three images: 9 combinations.
        img = render_text(sentence, fonts[i % 3], sizes[(i // 3) % 3], 900, 40)
        truth = sentence.encode("utf-8")  # single spaces, no trailing newline

        variants = {f"ocr/clean-{nn}": img}
        rng = np.random.default_rng(1000 + i)
        noise = rng.normal(0.0, 25.0, size=(img.height, img.width))
        noisy = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255)
        variants[f"ocr-hard/noisy-{nn}"] = Image.fromarray(np.round(noisy).astype(np.uint8), "L")
        variants[f"ocr-hard/blur-{nn}"] = img.filter(ImageFilter.GaussianBlur(1.5))
        variants[f"ocr-hard/rot-{nn}"] = img.rotate(5, resample=Image.BICUBIC, expand=True,
                                                    fillcolor=255)
        for stem, im in variants.items():
            write_bytes(os.path.join(out, stem + ".png"), png_bytes(im))
            write_bytes(os.path.join(out, stem + ".txt"), truth)


# --------------------------------------------------------------------------
# checks and manifest


def pdftotext(*args):
    r = subprocess.run(["pdftotext", *args, "-"], capture_output=True, text=True)
    return r.returncode, r.stdout


def self_check(docs):
    """Cheap sanity checks with poppler's pdftotext, when it is installed."""
    if not shutil.which("pdftotext"):
        print("pdftotext not found: skipping PDF checks", file=sys.stderr)
        return
    report = os.path.join(docs, "report.pdf")
    rc, text = pdftotext("-f", "3", "-l", "3", report)
    assert rc == 0 and HERON_SENTENCE in " ".join(text.split()), "heron sentence not on page 3"
    for page in (1, 2, 4, 5):
        _, text = pdftotext("-f", str(page), "-l", str(page), report)
        assert "heron" not in text and "breakwater" not in text, f"heron on page {page}"
    scanned = os.path.join(docs, "scanned.pdf")
    _, text = pdftotext("-f", "1", "-l", "1", scanned)
    assert "orchard survey" in text, "scanned.pdf page 1 lacks its text layer"
    rc, text = pdftotext("-f", "2", "-l", "2", scanned)
    assert rc == 0 and not text.strip(), "scanned.pdf page 2 has a text layer"
    locked = os.path.join(docs, "locked.pdf")
    rc, _ = pdftotext(locked)
    assert rc != 0, "locked.pdf opened without a password"
    rc, text = pdftotext("-upw", "secret", locked)
    assert rc == 0 and "vault" in text, "locked.pdf does not open with its password"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(out):
    files = {}
    for root, _, names in os.walk(out):
        for name in names:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, out).replace(os.sep, "/")
            if rel != "manifest.json":
                files[rel] = sha256_file(full)
    manifest = {"version": SCRIPT_VERSION, "files": dict(sorted(files.items()))}
    tmp = os.path.join(out, "manifest.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "manifest.json"))


def manifest_is_current(out):
    try:
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            return json.load(f).get("version") == SCRIPT_VERSION
    except (OSError, ValueError, AttributeError):
        return False


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = argv[1]
    if manifest_is_current(out):
        return 0
    check_fonts()
    fpdf = ensure_fpdf()
    docs = os.path.join(out, "docs")
    os.makedirs(docs, exist_ok=True)

    make_report_pdf(fpdf, os.path.join(docs, "report.pdf"))
    make_scanned_pdf(fpdf, os.path.join(docs, "scanned.pdf"))
    make_locked_pdf(fpdf, os.path.join(docs, "locked.pdf"))
    make_notes_docx(os.path.join(docs, "notes.docx"))
    make_bomb_docx(os.path.join(docs, "bomb.docx"))
    make_deck_pptx(os.path.join(docs, "deck.pptx"))
    make_budget_xlsx(os.path.join(docs, "budget.xlsx"))
    make_cells_bomb_xlsx(os.path.join(docs, "cells.xlsx"))
    make_memo_odt(os.path.join(docs, "memo.odt"))
    make_laughs_odt(os.path.join(docs, "laughs.odt"))
    make_talk_odp(os.path.join(docs, "talk.odp"))
    make_ledger_ods(os.path.join(docs, "ledger.ods"))
    make_novel_epub(os.path.join(docs, "novel.epub"))
    make_sign_png(os.path.join(docs, "sign.png"))
    make_ocr_sets(out)

    self_check(docs)
    write_manifest(out)  # last: its presence means a complete run
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
