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

pub fn read(path: &Path, format: Format) -> Result<Extracted, String> {
    if format == Format::Xls {
        return spreadsheet(path, None);
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut zip = Container::open(file)?;
    match format {
        Format::Docx => docx(&mut zip),
        Format::Pptx => pptx(&mut zip),
        Format::Odt => odf_text(&mut zip),
        Format::Odp => odp(&mut zip),
        Format::Epub => epub(&mut zip),
        Format::Xlsx | Format::Ods => {
            zip.check_all()?;
            spreadsheet(path, Some(format))
        }
        Format::Xls => unreachable!("handled above"),
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

fn pptx(zip: &mut Container) -> Result<Extracted, String> {
    let slides = numbered(&zip.names(), "ppt/slides/slide");
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

fn spreadsheet(path: &Path, _format: Option<Format>) -> Result<Extracted, String> {
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto(path).map_err(|e| format!("broken spreadsheet: {e}"))?;
    let mut out = Extracted::default();
    for name in wb.sheet_names() {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                out.notes.push(format!("sheet {name}: {e}"));
                continue;
            }
        };
        let (mut rows, mut first_row) = (Vec::new(), 0usize);
        let start = range.start().map_or(0, |(r, _)| r as usize);
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
            rows.push(cells.join(" | "));
            if rows.len() == ROWS_PER_SECTION {
                let last = start + i + 1;
                out.sections.push(Section { title: Some(format!("{name}, rows {first_row}–{last}")), text: rows.join("\n") });
                rows.clear();
            }
        }
        if !rows.is_empty() {
            let last = first_row + rows.len() - 1;
            let title = if last == first_row { format!("{name}, row {first_row}") } else { format!("{name}, rows {first_row}–{last}") };
            out.sections.push(Section { title: Some(title), text: rows.join("\n") });
        }
    }
    Ok(out)
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
    let mut sections = Vec::new();
    for (i, id) in spine.iter().enumerate() {
        let Some(href) = manifest.get(id) else { continue };
        let href = href.split('#').next().unwrap_or(href).replace("%20", " ");
        let Some(html) = zip.text(&format!("{base}{href}"))? else { continue };
        let text = crate::decode::text::html_to_text(&html);
        if text.trim().is_empty() {
            continue;
        }
        let heading = first_heading(&html).unwrap_or_else(|| format!("Chapter {}", i + 1));
        sections.push(Section { title: Some(heading), text: text.trim().to_string() });
    }
    Ok(Extracted { title, author, sections, notes: vec![] })
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
    fn numbered_entries_sort_by_number() {
        let names: Vec<String> =
            ["ppt/slides/slide10.xml", "ppt/slides/slide2.xml", "ppt/slides/_rels/slide2.xml.rels", "ppt/slides/slide1.xml"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(numbered(&names, "ppt/slides/slide"), vec!["ppt/slides/slide1.xml", "ppt/slides/slide2.xml", "ppt/slides/slide10.xml"]);
    }
}
