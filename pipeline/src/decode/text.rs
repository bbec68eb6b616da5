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
        while !buf.is_empty()
            && std::str::from_utf8(&buf[buf.len().saturating_sub(4)..]).is_err()
            && buf.len() > (cap as usize).saturating_sub(4)
        {
            buf.pop();
        }
        notes.push(format!("file is {} bytes; only the first {} bytes were indexed (text size cap)", size, cap));
    }
    let text = decode_bytes(buf, &mut notes);
    let text = if html { html_to_text(&text) } else { text };
    Ok(TextContent { text, notes })
}

/// Bytes to text: a BOM decides (UTF-8, UTF-16LE/BE); otherwise valid UTF-8
/// is taken as is, and anything else is decoded in the encoding `chardetng`
/// guesses (Windows-1252, Shift-JIS, GBK, ...), with a note saying which.
pub fn decode_bytes(buf: Vec<u8>, notes: &mut Vec<String>) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(&buf) {
        let (text, had_errors) = enc.decode_without_bom_handling(&buf[bom..]);
        if enc != encoding_rs::UTF_8 {
            notes.push(format!("decoded as {} (byte-order mark)", enc.name()));
        }
        if had_errors {
            notes.push(format!("invalid {} sequences replaced with U+FFFD", enc.name()));
        }
        return text.into_owned();
    }
    match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let mut det = chardetng::EncodingDetector::new();
            det.feed(&bytes, true);
            let enc = det.guess(None, true);
            let (text, _, _) = enc.decode(&bytes);
            notes.push(format!("not valid UTF-8 (first bad byte at offset {at}); decoded as {}", enc.name()));
            text.into_owned()
        }
    }
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
    fn legacy_encodings_are_detected() {
        let mut notes = vec![];
        // Windows-1252: curly quotes and a euro sign (0x80), which Latin-1 gets wrong.
        let t = decode_bytes(b"\x93Caf\xe9\x94 costs \x8010 at the caf\xe9 near the station".to_vec(), &mut notes);
        assert_eq!(t, "\u{201c}Café\u{201d} costs €10 at the café near the station");
        // Shift-JIS Japanese.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("日本語のテキストです。東京の天気は晴れです。");
        let t = decode_bytes(sjis.into_owned(), &mut notes);
        assert_eq!(t, "日本語のテキストです。東京の天気は晴れです。");
        // UTF-16LE with a BOM.
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("héllo wörld".encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_bytes(utf16, &mut notes), "héllo wörld");
    }

    #[test]
    fn html_is_stripped() {
        let t = html_to_text("<html><body><h1>Invoice</h1><p>Total <b>42</b></p><script>x()</script></body></html>");
        assert!(t.contains("Invoice") && t.contains("42") && !t.contains("<b>"), "{t}");
    }
}
