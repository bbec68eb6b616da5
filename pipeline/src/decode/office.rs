//! Office files and e-books as sections of text: DOCX and ODT (a section per
//! heading), PPTX and ODP (per slide), XLSX, XLS and ODS (per run of rows of a
//! sheet, through `calamine`), EPUB (per spine chapter, through the HTML path).
//!
//! These are zip containers of XML, so both classic attacks are bounded
//! here: every entry is read through a counter that stops at `MAX_ENTRY`
//! decompressed bytes and the whole file at `MAX_TOTAL` (a zip bomb is one
//! clear error), and XML that declares entities in a DOCTYPE is refused
//! before any is expanded ("billion laughs"; quick-xml never expands custom
//! entities anyway, so the check only makes the refusal explicit).

use std::io::Read;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};

use crate::types::Kind;

const MAX_ENTRY: u64 = 64 << 20;
const MAX_TOTAL: u64 = 256 << 20;
const MAX_ENTRIES: usize = 20_000;
/// Rows read per sheet, and rows per section (a chunk names its rows).
const MAX_ROWS: usize = 20_000;
const ROWS_PER_SECTION: usize = 40;
/// Cells a sheet's bounding box may hold: calamine allocates the whole box.
const MAX_CELLS: u64 = 4_000_000;
/// Legacy binary spreadsheets are read whole by calamine.
const MAX_XLS_BYTES: u64 = 32 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docx,
    Pptx,
    Xlsx,
    Xls,
    Odt,
    Odp,
    Ods,
    Epub,
}

impl Format {
    pub fn kind(self) -> Kind {
        match self {
            Format::Docx | Format::Odt => Kind::Document,
            Format::Pptx | Format::Odp => Kind::Slides,
            Format::Xlsx | Format::Xls | Format::Ods => Kind::Spreadsheet,
            Format::Epub => Kind::Ebook,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Format::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Xls => "application/vnd.ms-excel",
            Format::Odt => "application/vnd.oasis.opendocument.text",
            Format::Odp => "application/vnd.oasis.opendocument.presentation",
            Format::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            Format::Epub => "application/epub+zip",
        }
    }

    pub fn from_ext(ext: &str) -> Option<Format> {
        Some(match ext {
            "docx" | "docm" => Format::Docx,
            "pptx" | "pptm" => Format::Pptx,
            "xlsx" | "xlsm" => Format::Xlsx,
            "xls" => Format::Xls,
            "odt" => Format::Odt,
            "odp" => Format::Odp,
            "ods" => Format::Ods,
            "epub" => Format::Epub,
            _ => return None,
        })
    }

    pub fn from_mime(mime: &str) -> Option<Format> {
        [Format::Docx, Format::Pptx, Format::Xlsx, Format::Xls, Format::Odt, Format::Odp, Format::Ods, Format::Epub]
            .into_iter()
            .find(|f| f.mime() == mime)
    }
}

/// A titled run of text: under a heading, one slide, some rows, a chapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub title: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub title: Option<String>,
    pub author: Option<String>,
    pub sections: Vec<Section>,
    pub notes: Vec<String>,
}

/// Read a document's sections; text past `max_bytes` is dropped (with a note).
pub fn read(path: &Path, format: Format, max_bytes: u64) -> Result<Extracted, String> {
    let mut x = if format == Format::Xls {
        let size = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?.len();
        if size > MAX_XLS_BYTES {
            return Err(format!("refused: legacy .xls files over {} MB are not read (save it as .xlsx)", MAX_XLS_BYTES >> 20));
        }
        spreadsheet(path, format)?
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let mut zip = Container::open(file)?;
        match format {
            Format::Docx => docx(&mut zip)?,
            Format::Pptx => pptx(&mut zip)?,
            Format::Odt => odf_text(&mut zip)?,
            Format::Odp => odp(&mut zip)?,
            Format::Epub => epub(&mut zip)?,
            Format::Xlsx | Format::Ods => {
                // calamine reads parts with no limits: decompress every part
                // once under ours, then look at the cells' extent.
                zip.check_all()?;
                zip.left = MAX_TOTAL;
                check_cells(&mut zip, format)?;
                spreadsheet(path, format)?
            }
            Format::Xls => unreachable!("handled above"),
        }
    };
    cap_text(&mut x, max_bytes);
    Ok(x)
}

/// Keep sections up to `max_bytes` of text in all (the last one cut on a
/// character boundary).
fn cap_text(x: &mut Extracted, max_bytes: u64) {
    let n = x.sections.len();
    let mut total = 0usize;
    for i in 0..n {
        let left = (max_bytes as usize).saturating_sub(total);
        let sec = &mut x.sections[i];
        if sec.text.len() > left {
            let mut keep = left;
            while !sec.text.is_char_boundary(keep) {
                keep -= 1;
            }
            sec.text.truncate(keep);
            x.sections.truncate(if keep > 0 { i + 1 } else { i });
            x.notes.push(format!("text truncated: {} of {n} sections kept, over the {max_bytes}-byte cap", x.sections.len()));
            return;
        }
        total += sec.text.len();
    }
}

/// A zip archive read under the size limits.
struct Container {
    zip: zip::ZipArchive<std::fs::File>,
    left: u64,
}

impl Container {
    fn open(file: std::fs::File) -> Result<Container, String> {
        let zip = zip::ZipArchive::new(file).map_err(|e| format!("broken file: not a readable zip container ({e})"))?;
        if zip.len() > MAX_ENTRIES {
            return Err(format!("refused: the container holds {} entries (limit {MAX_ENTRIES})", zip.len()));
        }
        Ok(Container { zip, left: MAX_TOTAL })
    }

    fn names(&self) -> Vec<String> {
        self.zip.file_names().flatten().map(|n| n.into_owned()).collect()
    }

    /// An entry's bytes, or None when absent; errors past the limits.
    fn bytes(&mut self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let entry = match self.zip.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(format!("broken file: cannot read {name} ({e})")),
        };
        let cap = MAX_ENTRY.min(self.left);
        let mut buf = Vec::new();
        entry.take(cap + 1).read_to_end(&mut buf).map_err(|e| format!("broken file: cannot read {name} ({e})"))?;
        if buf.len() as u64 > cap {
            return Err(format!(
                "refused as a zip bomb: {name} decompresses to more than {} MB",
                if cap == MAX_ENTRY { MAX_ENTRY >> 20 } else { MAX_TOTAL >> 20 }
            ));
        }
        self.left -= buf.len() as u64;
        Ok(Some(buf))
    }

    fn text(&mut self, name: &str) -> Result<Option<String>, String> {
        Ok(self.bytes(name)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Decompress every entry once under the limits (before handing the
    /// file to a reader that has none).
    fn check_all(&mut self) -> Result<(), String> {
        for name in self.names() {
            self.bytes(&name)?;
        }
        Ok(())
    }
}

/// One XML event, reduced to what the extractors need.
enum Ev<'a> {
    Start(&'a str, &'a BytesStart<'a>),
    End(&'a str),
    Text(&'a str),
}

/// Walk an XML document's elements (by local name) and text. Entity
/// declarations are refused; the five predefined entities and character
/// references are resolved; anything else is dropped.
fn walk(xml: &str, mut f: impl FnMut(Ev)) -> Result<(), String> {
    let mut r = quick_xml::Reader::from_str(xml);
    loop {
        match r.read_event().map_err(|e| format!("broken XML at byte {}: {e}", r.buffer_position()))? {
            Event::Eof => return Ok(()),
            Event::DocType(d) if d.xml10_content().contains("ENTITY") => {
                return Err("refused: the XML declares entities (a DOCTYPE with ENTITY, as in the \"billion laughs\" attack)".into());
            }
            Event::Start(e) => f(Ev::Start(e.local_name().as_ref(), &e)),
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_string();
                f(Ev::Start(&name, &e));
                f(Ev::End(&name));
            }
            Event::End(e) => f(Ev::End(e.local_name().as_ref())),
            Event::Text(t) => f(Ev::Text(&t.xml10_content())),
            Event::CData(t) => f(Ev::Text(&t.xml10_content())),
            Event::GeneralRef(g) => {
                let resolved = match g.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&g.xml10_content()).map(str::to_string),
                };
                if let Some(s) = resolved {
                    f(Ev::Text(&s));
                }
            }
            _ => {}
        }
    }
}

fn attr(e: &BytesStart, local: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == local).map(|a| a.value.to_string())
}

/// Sections built paragraph by paragraph: a heading starts a new one.
#[derive(Default)]
struct Sections {
    out: Vec<Section>,
    para: String,
}

impl Sections {
    fn end_paragraph(&mut self, heading: bool) {
        let p = std::mem::take(&mut self.para);
        let p = p.trim();
        if p.is_empty() {
            return;
        }
        if heading || self.out.is_empty() {
            self.out.push(Section { title: heading.then(|| p.to_string()), text: String::new() });
        }
        let s = self.out.last_mut().expect("a section exists");
        if !s.text.is_empty() {
            s.text.push('\n');
        }
        s.text.push_str(p);
    }
}

/// `dc:title` and `dc:creator` (or ODF's `meta:initial-creator`) of a metadata part.
fn title_author(xml: &str) -> (Option<String>, Option<String>) {
    let (mut title, mut author, mut at) = (String::new(), String::new(), 0u8);
    let _ = walk(xml, |ev| match ev {
        Ev::Start("title", _) => at = 1,
        Ev::Start("creator" | "initial-creator", _) => at = 2,
        Ev::End(_) => at = 0,
        Ev::Text(t) if at == 1 && title.is_empty() => title.push_str(t.trim()),
        Ev::Text(t) if at == 2 && author.is_empty() => author.push_str(t.trim()),
        _ => {}
    });
    ((!title.is_empty()).then_some(title), (!author.is_empty()).then_some(author))
}

fn docx(zip: &mut Container) -> Result<Extracted, String> {
    let xml = zip.text("word/document.xml")?.ok_or("broken DOCX: no word/document.xml")?;
    let mut s = Sections::default();
    let (mut in_t, mut heading) = (false, false);
    walk(&xml, |ev| match ev {
        Ev::Start("t", _) => in_t = true,
        Ev::End("t") => in_t = false,
        Ev::Text(t) if in_t => s.para.push_str(t),
        Ev::Start("tab", _) if !s.para.is_empty() => s.para.push('\t'),
        Ev::Start("br" | "cr", _) => s.para.push('\n'),
        Ev::Start("pStyle", e) => {
            let v = attr(e, "val").unwrap_or_default().to_ascii_lowercase();
            heading = v.starts_with("heading") || v == "title";
        }
        Ev::Start("outlineLvl", _) => heading = true,
        Ev::End("p") => {
            s.end_paragraph(heading);
            heading = false;
        }
        _ => {}
    })?;
    let (title, author) = zip.text("docProps/core.xml")?.map(|x| title_author(&x)).unwrap_or_default();
    Ok(Extracted { title, author, sections: s.out, notes: vec![] })
}

/// Entries named `prefix<N>.xml`, in N order.
fn numbered(names: &[String], prefix: &str) -> Vec<String> {
    let mut v: Vec<(u32, String)> =
        names.iter().filter_map(|n| n.strip_prefix(prefix)?.strip_suffix(".xml")?.parse().ok().map(|k| (k, n.clone()))).collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// Slide parts in the order `presentation.xml` lists them (its `sldIdLst`
/// through the relationships file), else by the number in their names.
fn slide_order(zip: &mut Container) -> Result<Vec<String>, String> {
    let (Some(pres), Some(rels)) = (zip.text("ppt/presentation.xml")?, zip.text("ppt/_rels/presentation.xml.rels")?) else {
        return Ok(numbered(&zip.names(), "ppt/slides/slide"));
    };
    let mut targets = std::collections::HashMap::new();
    walk(&rels, |ev| {
        if let Ev::Start("Relationship", e) = ev {
            if let (Some(id), Some(t)) = (attr(e, "Id"), attr(e, "Target")) {
                targets.insert(id, resolve("ppt/", &t));
            }
        }
    })?;
    let mut order = Vec::new();
    walk(&pres, |ev| {
        if let Ev::Start("sldId", e) = ev {
            // `r:id` (the relationship), not the bare numeric `id`.
            let rid = e.attributes().flatten().find(|a| a.key.as_ref().ends_with(":id")).map(|a| a.value.to_string());
            order.extend(rid.and_then(|r| targets.get(&r).cloned()));
        }
    })?;
    Ok(if order.is_empty() { numbered(&zip.names(), "ppt/slides/slide") } else { order })
}

fn pptx(zip: &mut Container) -> Result<Extracted, String> {
    let slides = slide_order(zip)?;
    if slides.is_empty() {
        return Err("broken PPTX: no slides".into());
    }
    let mut out = Vec::new();
    for (i, name) in slides.iter().enumerate() {
        let xml = zip.text(name)?.unwrap_or_default();
        let mut s = Sections::default();
        let mut in_t = false;
        walk(&xml, |ev| match ev {
            Ev::Start("t", _) => in_t = true,
            Ev::End("t") => in_t = false,
            Ev::Text(t) if in_t => s.para.push_str(t),
            Ev::Start("br", _) => s.para.push('\n'),
            Ev::End("p") => s.end_paragraph(false),
            _ => {}
        })?;
        let text: Vec<String> = s.out.into_iter().map(|x| x.text).collect();
        out.push(Section { title: Some(format!("Slide {}", i + 1)), text: text.join("\n") });
    }
    let (title, author) = zip.text("docProps/core.xml")?.map(|x| title_author(&x)).unwrap_or_default();
    Ok(Extracted { title, author, sections: out, notes: vec![] })
}

/// ODF paragraphs (`text:p`, `text:h`), with spaces, tabs and line breaks.
fn odf_paragraphs(xml: &str, mut page: impl FnMut(Option<String>, &mut Sections)) -> Result<Sections, String> {
    let mut s = Sections::default();
    let mut depth = 0usize;
    let mut heading = false;
    walk(xml, |ev| match ev {
        Ev::Start("page", e) => page(attr(e, "name"), &mut s),
        Ev::Start("p" | "h", e) => {
            if depth > 0 {
                s.end_paragraph(heading);
            }
            depth += 1;
            heading = e.local_name().as_ref() == "h";
        }
        Ev::End("p" | "h") => {
            s.end_paragraph(heading);
            depth = depth.saturating_sub(1);
            heading = false;
        }
        Ev::Start("s", e) if depth > 0 => {
            let n: usize = attr(e, "c").and_then(|c| c.parse().ok()).unwrap_or(1).min(100);
            s.para.push_str(&" ".repeat(n));
        }
        Ev::Start("tab", _) if depth > 0 => s.para.push('\t'),
        Ev::Start("line-break", _) if depth > 0 => s.para.push('\n'),
        Ev::Text(t) if depth > 0 => s.para.push_str(t),
        _ => {}
    })?;
    Ok(s)
}

fn odf_text(zip: &mut Container) -> Result<Extracted, String> {
    let xml = zip.text("content.xml")?.ok_or("broken ODF file: no content.xml")?;
    let s = odf_paragraphs(&xml, |_, _| {})?;
    let (title, author) = zip.text("meta.xml")?.map(|x| title_author(&x)).unwrap_or_default();
    Ok(Extracted { title, author, sections: s.out, notes: vec![] })
}

fn odp(zip: &mut Container) -> Result<Extracted, String> {
    let xml = zip.text("content.xml")?.ok_or("broken ODP: no content.xml")?;
    let mut n = 0usize;
    let s = odf_paragraphs(&xml, |name, s| {
        n += 1;
        // Each slide is one section: its paragraphs are joined below.
        let title = match name {
            Some(nm) if !nm.to_ascii_lowercase().starts_with("page") => format!("Slide {n}: {nm}"),
            _ => format!("Slide {n}"),
        };
        s.out.push(Section { title: Some(title), text: String::new() });
    })?;
    let (title, author) = zip.text("meta.xml")?.map(|x| title_author(&x)).unwrap_or_default();
    Ok(Extracted { title, author, sections: s.out.into_iter().filter(|x| !x.text.is_empty()).collect(), notes: vec![] })
}

fn spreadsheet(path: &Path, format: Format) -> Result<Extracted, String> {
    use calamine::{open_workbook, Ods, Xls, Xlsx};
    let broken = |e: &dyn std::fmt::Display| format!("broken spreadsheet: {e}");
    // The format the content says, not the extension (an XLSX named .xls).
    match format {
        Format::Xlsx => sheets(open_workbook::<Xlsx<_>, _>(path).map_err(|e| broken(&e))?),
        Format::Ods => sheets(open_workbook::<Ods<_>, _>(path).map_err(|e| broken(&e))?),
        _ => sheets(open_workbook::<Xls<_>, _>(path).map_err(|e| broken(&e))?),
    }
}

fn sheets<R: calamine::Reader<std::io::BufReader<std::fs::File>>>(mut wb: R) -> Result<Extracted, String>
where
    R::Error: std::fmt::Display,
{
    let mut out = Extracted::default();
    for name in wb.sheet_names() {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                out.notes.push(format!("sheet {name}: {e}"));
                continue;
            }
        };
        let (mut rows, mut first_row, mut last_row) = (Vec::new(), 0usize, 0usize);
        let start = range.start().map_or(0, |(r, _)| r as usize);
        let flush = |rows: &mut Vec<String>, first: usize, last: usize, out: &mut Extracted| {
            if rows.is_empty() {
                return;
            }
            let title = if last == first { format!("{name}, row {first}") } else { format!("{name}, rows {first}–{last}") };
            out.sections.push(Section { title: Some(title), text: rows.join("\n") });
            rows.clear();
        };
        for (i, row) in range.rows().enumerate() {
            if i >= MAX_ROWS {
                out.notes.push(format!("sheet {name}: only the first {MAX_ROWS} rows indexed"));
                break;
            }
            let cells: Vec<String> =
                row.iter().map(|c| c.to_string()).filter(|c| !c.trim().is_empty()).map(|c| c.trim().to_string()).collect();
            if cells.is_empty() {
                continue;
            }
            if rows.is_empty() {
                first_row = start + i + 1;
            }
            last_row = start + i + 1;
            rows.push(cells.join(" | "));
            if rows.len() == ROWS_PER_SECTION {
                flush(&mut rows, first_row, last_row, &mut out);
            }
        }
        flush(&mut rows, first_row, last_row, &mut out);
    }
    Ok(out)
}

/// Refuse a spreadsheet whose cells with values span a bounding box over
/// `MAX_CELLS` (two cells at A1 and XFD1048576 would make calamine allocate
/// 17 billion), before calamine reads it.
fn check_cells(zip: &mut Container, format: Format) -> Result<(), String> {
    let parts: Vec<String> = match format {
        Format::Xlsx => zip.names().into_iter().filter(|n| n.starts_with("xl/worksheets/") && n.ends_with(".xml")).collect(),
        _ => vec!["content.xml".to_string()],
    };
    for part in parts {
        let Some(xml) = zip.text(&part)? else { continue };
        let (rows, cols) = if format == Format::Xlsx { xlsx_extent(&xml)? } else { ods_extent(&xml)? };
        if rows.saturating_mul(cols) > MAX_CELLS {
            return Err(format!(
                "refused: a sheet spans {rows} rows × {cols} columns of cells (over {MAX_CELLS} cells; a spreadsheet bomb or a very sparse sheet)"
            ));
        }
    }
    Ok(())
}

/// 1-based column number of a cell reference's letters ("AB12" → 28).
fn column_of(r: &str) -> u64 {
    r.chars().take_while(|c| c.is_ascii_alphabetic()).fold(0u64, |n, c| n.saturating_mul(26) + (c.to_ascii_uppercase() as u64 - 64))
}

/// (rows, columns) of the bounding box of XLSX cells that hold a value.
fn xlsx_extent(xml: &str) -> Result<(u64, u64), String> {
    let (mut row, mut col, mut pending) = (0u64, 0u64, false);
    let (mut min_r, mut max_r, mut min_c, mut max_c) = (u64::MAX, 0u64, u64::MAX, 0u64);
    walk(xml, |ev| match ev {
        Ev::Start("row", e) => {
            row = attr(e, "r").and_then(|r| r.parse().ok()).unwrap_or(row + 1);
            col = 0;
        }
        Ev::Start("c", e) => {
            match attr(e, "r") {
                Some(r) => {
                    col = column_of(&r);
                    if let Ok(n) = r.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse::<u64>() {
                        row = n;
                    }
                }
                None => col += 1,
            }
            pending = true;
        }
        Ev::Start("v" | "is", _) if pending => {
            pending = false;
            (min_r, max_r, min_c, max_c) = (min_r.min(row), max_r.max(row), min_c.min(col), max_c.max(col));
        }
        _ => {}
    })?;
    Ok(if max_r == 0 { (0, 0) } else { (max_r - min_r + 1, max_c.saturating_sub(min_c) + 1) })
}

/// (rows, columns) of the bounding box of ODS cells with a value, repeats
/// counted (`number-rows-repeated`, `number-columns-repeated`).
fn ods_extent(xml: &str) -> Result<(u64, u64), String> {
    let (mut row, mut col, mut row_rep, mut cell) = (0u64, 0u64, 1u64, None::<(u64, bool)>);
    let (mut max_r, mut max_c) = (0u64, 0u64);
    let rep = |e: &BytesStart, a: &str| attr(e, a).and_then(|v| v.parse::<u64>().ok()).unwrap_or(1).max(1);
    walk(xml, |ev| match ev {
        Ev::Start("table", _) => (row, col) = (0, 0),
        Ev::Start("table-row", e) => {
            row_rep = rep(e, "number-rows-repeated");
            col = 0;
        }
        Ev::End("table-row") => row = row.saturating_add(row_rep),
        Ev::Start("table-cell" | "covered-table-cell", e) => {
            cell = Some((rep(e, "number-columns-repeated"), attr(e, "value-type").is_some()));
        }
        Ev::Text(t) if !t.trim().is_empty() => {
            if let Some((n, _)) = cell {
                cell = Some((n, true));
            }
        }
        Ev::End("table-cell" | "covered-table-cell") => {
            if let Some((n, valued)) = cell.take() {
                col = col.saturating_add(n);
                if valued {
                    max_r = max_r.max(row.saturating_add(row_rep));
                    max_c = max_c.max(col);
                }
            }
        }
        _ => {}
    })?;
    Ok((max_r, max_c))
}

fn epub(zip: &mut Container) -> Result<Extracted, String> {
    let container = zip.text("META-INF/container.xml")?.ok_or("broken EPUB: no META-INF/container.xml")?;
    let mut opf_path = None;
    walk(&container, |ev| {
        if let Ev::Start("rootfile", e) = ev {
            opf_path = opf_path.take().or_else(|| attr(e, "full-path"));
        }
    })?;
    let opf_path = opf_path.ok_or("broken EPUB: container.xml names no package file")?;
    let opf = zip.text(&opf_path)?.ok_or_else(|| format!("broken EPUB: {opf_path} is missing"))?;
    let base = opf_path.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
    let (mut manifest, mut spine) = (std::collections::HashMap::new(), Vec::new());
    walk(&opf, |ev| match ev {
        Ev::Start("item", e) => {
            if let (Some(id), Some(href)) = (attr(e, "id"), attr(e, "href")) {
                manifest.insert(id, href);
            }
        }
        Ev::Start("itemref", e) => spine.extend(attr(e, "idref")),
        _ => {}
    })?;
    let (title, author) = title_author(&opf);
    let (mut sections, mut out_notes) = (Vec::new(), Vec::new());
    for (i, id) in spine.iter().enumerate() {
        let Some(href) = manifest.get(id) else { continue };
        let href = href.split('#').next().unwrap_or(href);
        let Some(html) = zip.text(&resolve(&base, &percent_decode(href)))? else {
            out_notes.push(format!("chapter {href} is missing"));
            continue;
        };
        let text = crate::decode::text::html_to_text(&html);
        if text.trim().is_empty() {
            continue;
        }
        let heading = first_heading(&html).unwrap_or_else(|| format!("Chapter {}", i + 1));
        sections.push(Section { title: Some(heading), text: text.trim().to_string() });
    }
    Ok(Extracted { title, author, sections, notes: out_notes })
}

/// `href` relative to the folder `base` ("OEBPS/"), `..` and `.` resolved.
fn resolve(base: &str, href: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in href.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of the first `<h1>`–`<h3>` in an XHTML chapter.
fn first_heading(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = ["<h1", "<h2", "<h3"].iter().filter_map(|t| lower.find(t)).min()?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</h")?;
    let t = crate::decode::text::html_to_text(&html[open_end..close]);
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then(|| t.chars().take(120).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docx_runs_join_and_headings_start_sections() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Tomatoes</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Seedlings need </w:t></w:r><w:r><w:t>sun &amp; warm soil</w:t><w:tab/><w:t>&#x263A;</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Compost</w:t></w:r></w:p>
            <w:p><w:r><w:t>Turn it.</w:t></w:r></w:p></w:body></w:document>"#;
        let mut s = Sections::default();
        let (mut in_t, mut heading) = (false, false);
        walk(xml, |ev| match ev {
            Ev::Start("t", _) => in_t = true,
            Ev::End("t") => in_t = false,
            Ev::Text(t) if in_t => s.para.push_str(t),
            Ev::Start("tab", _) => s.para.push('\t'),
            Ev::Start("pStyle", e) => heading = attr(e, "val").unwrap_or_default().starts_with("Heading"),
            Ev::End("p") => {
                s.end_paragraph(heading);
                heading = false;
            }
            _ => {}
        })
        .unwrap();
        assert_eq!(s.out.len(), 2);
        assert_eq!(s.out[0].title.as_deref(), Some("Tomatoes"));
        assert_eq!(s.out[0].text, "Tomatoes\nSeedlings need sun & warm soil\t\u{263A}");
        assert_eq!(s.out[1].text, "Compost\nTurn it.");
    }

    #[test]
    fn entity_declarations_are_refused() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><p>&lol2;</p>"#;
        let err = walk(xml, |_| {}).unwrap_err();
        assert!(err.contains("billion laughs"), "{err}");
    }

    #[test]
    fn odf_spaces_tabs_and_headings() {
        let xml = r#"<office:document-content><office:body><office:text>
            <text:h text:outline-level="1">Ferry</text:h>
            <text:p>Departs at<text:s text:c="2"/>seven<text:tab/>from <text:span>pier nine</text:span>.</text:p>
            </office:text></office:body></office:document-content>"#;
        let s = odf_paragraphs(xml, |_, _| {}).unwrap();
        assert_eq!(s.out.len(), 1);
        assert_eq!(s.out[0].title.as_deref(), Some("Ferry"));
        assert_eq!(s.out[0].text, "Ferry\nDeparts at  seven\tfrom pier nine.");
    }

    #[test]
    fn two_far_apart_cells_make_a_huge_box_but_empty_styled_cells_do_not() {
        let bomb = r#"<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row>
            <row r="1048576"><c r="XFD1048576" t="s"><v>0</v></c></row></sheetData></worksheet>"#;
        assert_eq!(xlsx_extent(bomb).unwrap(), (1_048_576, 16_384));
        let styled = r#"<worksheet><sheetData><row r="2"><c r="B2"><v>1</v></c><c r="C2"><v>2</v></c></row>
            <row r="900000"><c r="ZZ900000" s="3"/></row></sheetData></worksheet>"#;
        assert_eq!(xlsx_extent(styled).unwrap(), (1, 2));
        // Cells without `r` follow one another.
        let plain = r#"<sheetData><row><c><v>1</v></c><c><v>2</v></c><c><is><t>x</t></is></c></row></sheetData>"#;
        assert_eq!(xlsx_extent(plain).unwrap(), (1, 3));
    }

    #[test]
    fn ods_repeats_count_only_where_cells_hold_values() {
        // LibreOffice pads sheets with huge runs of empty rows and cells.
        let padded = r#"<office:spreadsheet><table:table>
            <table:table-row><table:table-cell office:value-type="string"><text:p>a</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1020"/></table:table-row>
            <table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
            </table:table></office:spreadsheet>"#;
        assert_eq!(ods_extent(padded).unwrap(), (1, 1));
        let bomb = r#"<office:spreadsheet><table:table><table:table-row table:number-rows-repeated="6000">
            <table:table-cell table:number-columns-repeated="16384" office:value-type="string"><text:p>x</text:p></table:table-cell>
            </table:table-row></table:table></office:spreadsheet>"#;
        let (r, c) = ods_extent(bomb).unwrap();
        assert!(r * c > MAX_CELLS, "{r} x {c}");
    }

    #[test]
    fn epub_paths_resolve_dots_and_percent_escapes() {
        assert_eq!(resolve("OEBPS/", "../Text/ch%201.xhtml"), "Text/ch%201.xhtml");
        assert_eq!(resolve("OEBPS/text/", "./a.xhtml"), "OEBPS/text/a.xhtml");
        assert_eq!(percent_decode("ch%201%C3%A9.xhtml"), "ch 1\u{e9}.xhtml");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(column_of("AB12"), 28);
        assert_eq!(column_of("XFD1"), 16_384);
    }

    #[test]
    fn text_past_the_cap_is_dropped_with_a_note() {
        let mut x = Extracted {
            sections: (0..5).map(|i| Section { title: Some(format!("S{i}")), text: "\u{e9}".repeat(10) }).collect(),
            ..Default::default()
        };
        cap_text(&mut x, 45);
        assert_eq!(x.sections.len(), 3);
        assert_eq!(x.sections.iter().map(|s| s.text.len()).sum::<usize>(), 44);
        assert!(x.notes[0].contains("3 of 5"), "{:?}", x.notes);
    }

    #[test]
    fn numbered_entries_sort_by_number() {
        let names: Vec<String> =
            ["ppt/slides/slide10.xml", "ppt/slides/slide2.xml", "ppt/slides/_rels/slide2.xml.rels", "ppt/slides/slide1.xml"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(numbered(&names, "ppt/slides/slide"), vec!["ppt/slides/slide1.xml", "ppt/slides/slide2.xml", "ppt/slides/slide10.xml"]);
    }
}
