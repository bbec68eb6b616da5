//! Text and HTML to plain text, read through a size cap so a huge file is
//! never loaded whole.

use std::io::Read;
use std::path::Path;

use crate::error::{io_err, Result};

pub struct TextContent {
    pub text: String,
    pub notes: Vec<String>,
}

/// Read at most `cap` bytes; note truncation and invalid UTF-8.
pub fn read_text(path: &Path, size: u64, cap: u64, html: bool) -> Result<TextContent> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut buf = Vec::with_capacity(size.min(cap) as usize);
    f.take(cap).read_to_end(&mut buf).map_err(io_err(path))?;
    let mut notes = Vec::new();
    if size > cap {
        // Do not cut a UTF-8 sequence in half at the cap.
        while !buf.is_empty() && std::str::from_utf8(&buf[buf.len().saturating_sub(4)..]).is_err() && buf.len() > cap as usize - 4 {
            buf.pop();
        }
        notes.push(format!(
            "file is {} bytes; only the first {} bytes were indexed (text size cap)",
            size, cap
        ));
    }
    let text = match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            // Most non-UTF-8 text in the wild is Latin-1/Windows-1252: decode it as Latin-1
            // so "Cr\xe8me" stays "Crème" rather than losing its letters.
            notes.push(format!("not valid UTF-8 (first bad byte at offset {at}); decoded as Latin-1"));
            e.as_bytes().iter().map(|&b| b as char).collect()
        }
    };
    let text = if html { html_to_text(&text) } else { text };
    Ok(TextContent { text, notes })
}

pub fn html_to_text(html: &str) -> String {
    html2text::config::plain().string_from_read(html.as_bytes(), 10_000).unwrap_or_else(|_| html.to_string())
}

/// A title: the first markdown heading or non-empty line, else the file name.
pub fn title_of(text: &str, path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let first = first.trim_start_matches('#').trim();
    if first.is_empty() || first.len() > 120 {
        name
    } else {
        first.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_and_invalid_utf8_are_noted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        std::fs::write(&p, b"caf\xe9 au lait and more text here").unwrap();
        let t = read_text(&p, 33, 10, false).unwrap();
        assert_eq!(t.notes.len(), 2, "{:?}", t.notes);
        assert!(t.text.starts_with("café"), "{}", t.text);
    }

    #[test]
    fn html_is_stripped() {
        let t = html_to_text("<html><body><h1>Invoice</h1><p>Total <b>42</b></p><script>x()</script></body></html>");
        assert!(t.contains("Invoice") && t.contains("42") && !t.contains("<b>"), "{t}");
    }
}
