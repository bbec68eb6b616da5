#!/usr/bin/env python3
"""Write a large text-only PDF for pith's ingest memory benchmark.

Usage: scripts/make_big_pdf.py OUT.pdf [--pages N] [--words-per-page W] [--seed S]

The benchmark measures peak RSS while pith indexes one long PDF (1,000 pages
by default). Each page has a heading "Page K" followed by about W (default
350) words of pseudo-English prose: sentences of 8-20 words drawn from a
built-in list of a few hundred common English words, grouped into paragraphs
of 3-6 sentences. That is roughly the text density of a real book or manual
page, so extraction, chunking and embedding see a realistic volume of text
(about 2,000 characters per page) while the file stays small and needs no
download.

Output is deterministic: a seeded random.Random drives all choices and the
PDF carries a fixed creation date, so the same arguments and fpdf2 version
give the same bytes. Text uses the core Helvetica font (no font file needed);
page streams are zlib-compressed as in most real-world PDFs.

Dependencies: Python stdlib and fpdf2 (the pinned version is installed with
pip on demand if fpdf is missing).
"""

import argparse
import datetime
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_doc_fixtures import ensure_fpdf  # noqa: E402  (pins and installs fpdf2)
PDF_DATE = datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)

# A few hundred common English words (function words, nouns, verbs,
# adjectives, adverbs), so the prose has a natural mix of short and long words.
WORDS = """
the of and to in is that it was for on are as with his they at be this from
have or by one had not but what all were when we there can an your which their
said if do will each about how up out them then she many some so these would
other into has more her two like him see time could no make than first been its
who now people my made over did down only way find use may water long little
very after words called just where most know get through back much before go
good new write our used me man too any day same right look think also around
another came come work three word must because does part even place well such
here take why things help put years different away again off went old number
great tell men say small every found still between name should home big give
air line set own under read last never us left end along while might next sound
below saw something thought both few those always looked show large often
together asked house world going want school important until form food keep
children feet land side without boy once animals life enough took sometimes
four head above kind began almost live page got earth need far hand high year
mother light parts country father let night following picture being study
second eyes soon times story boys since white days ever paper hard near
sentence better best across during today others however sure means knew try
told young miles sun ways thing whole hear example heard several change answer
room sea against top turned learn point city play toward five using himself
usually money seen car morning given river list problem field early dark
garden market winter summer village letter window table question kitchen
family history science music voice power road island forest mountain bridge
harbour train station library teacher doctor engine machine report evening
quietly slowly carefully clearly suddenly certainly probably simply rather
quite already perhaps nearly recent common simple strong bright careful quiet
ancient modern public private local national natural central special general
build carry follow open close start finish bring hold speak listen remember
explain decide travel measure describe consider include continue return
""".split()

# A few words that may open a sentence, for variety.
OPENERS = [
    "However", "Meanwhile", "Later", "In the morning", "Before long",
    "At first", "After that", "Even so", "For example", "In the end",
    "Every year", "On the other hand", "Still", "Of course", "By evening",
]


def sentence(rng):
    """One sentence of 8-20 words: capitalised, maybe a comma, full stop."""
    n = rng.randint(8, 20)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.15:
        # An opener phrase counts towards the word total.
        opener = rng.choice(OPENERS).split()
        words = opener + words[len(opener):]
        words[len(opener) - 1] += ","
    elif n >= 12 and rng.random() < 0.4:
        words[rng.randint(4, n - 5)] += ","
    words[0] = words[0][0].upper() + words[0][1:]
    end = "." if rng.random() < 0.92 else rng.choice(["?", "!"])
    return " ".join(words) + end, n


def page_paragraphs(rng, target_words):
    """Paragraphs (lists of sentences) totalling about target_words words."""
    paragraphs, total = [], 0
    while total < target_words:
        para = []
        for _ in range(rng.randint(3, 6)):
            text, n = sentence(rng)
            para.append(text)
            total += n
            if total >= target_words:
                break
        paragraphs.append(" ".join(para))
    return paragraphs, total


def build(out_path, pages, words_per_page, seed):
    fpdf = ensure_fpdf()
    rng = random.Random(seed)
    pdf = fpdf.FPDF(format="A4", unit="mm")
    pdf.set_creation_date(PDF_DATE)
    pdf.set_title(f"Benchmark document ({pages} pages)")
    pdf.set_author("pith scripts/make_big_pdf.py")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(20, 20, 20)
    total_words = 0
    for k in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, f"Page {k}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 10.5)
        paragraphs, n = page_paragraphs(rng, words_per_page)
        total_words += n
        for para in paragraphs:
            pdf.multi_cell(0, 5, para, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
        if pdf.get_y() > pdf.h - 15:
            raise SystemExit(f"page {k} overflowed; lower --words-per-page")
    pdf.output(out_path)
    return total_words


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output PDF path")
    ap.add_argument("--pages", type=int, default=1000, help="page count (default 1000)")
    ap.add_argument("--words-per-page", type=int, default=350,
                    help="approximate words per page (default 350)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = ap.parse_args()
    if args.pages < 1 or args.words_per_page < 1:
        ap.error("--pages and --words-per-page must be positive")
    t0 = time.monotonic()
    words = build(args.out, args.pages, args.words_per_page, args.seed)
    print(f"wrote {args.out}: {args.pages} pages, {words} words, "
          f"{time.monotonic() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
