//! File type by content first (magic numbers), extension second.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Image(&'static str),
    Html,
    Text,
    Unsupported,
}

const TEXT_EXT: &[&str] = &[
    "txt",
    "md",
    "markdown",
    "rst",
    "org",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "yaml",
    "yml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "log",
    "tex",
    "rs",
    "py",
    "js",
    "ts",
    "tsx",
    "jsx",
    "go",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "java",
    "kt",
    "rb",
    "php",
    "sh",
    "bash",
    "zsh",
    "sql",
    "css",
    "scss",
    "xml",
    "swift",
    "scala",
    "lua",
    "pl",
    "r",
    "m",
    "hs",
    "ml",
    "ex",
    "exs",
    "erl",
    "clj",
    "dart",
    "vue",
    "svelte",
    "proto",
    "cmake",
    "mk",
    "dockerfile",
    "makefile",
];

/// Decide from the first bytes of a file and its name.
pub fn detect(path: &Path, head: &[u8]) -> Detected {
    // UTF-16 text is full of zero bytes; its byte-order mark says what it is.
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        return if ext == "html" || ext == "htm" { Detected::Html } else { Detected::Text };
    }
    if let Some(t) = infer::get(head) {
        match t.mime_type() {
            m @ ("image/jpeg" | "image/png" | "image/webp" | "image/gif" | "image/bmp" | "image/tiff") => return Detected::Image(m),
            "text/html" => return Detected::Html,
            _ if t.matcher_type() != infer::MatcherType::Text => return Detected::Unsupported,
            _ => {}
        }
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if ext == "html" || ext == "htm" || looks_like_html(head) {
        return Detected::Html;
    }
    if head.contains(&0) {
        return Detected::Unsupported;
    }
    if TEXT_EXT.contains(&ext.as_str()) || ext.is_empty() || mostly_text(head) {
        return Detected::Text;
    }
    Detected::Unsupported
}

fn looks_like_html(head: &[u8]) -> bool {
    let start: String = String::from_utf8_lossy(&head[..head.len().min(256)]).trim_start().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

fn mostly_text(head: &[u8]) -> bool {
    let printable = head.iter().filter(|&&b| b == b'\n' || b == b'\r' || b == b'\t' || b >= 0x20).count();
    !head.is_empty() && printable * 100 >= head.len() * 95
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_beats_extension() {
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        assert_eq!(detect(Path::new("photo.txt"), &png), Detected::Image("image/png"));
        assert_eq!(detect(Path::new("notes"), b"hello world\n"), Detected::Text);
        assert_eq!(detect(Path::new("a.bin"), b"\x00\x01\x02binary"), Detected::Unsupported);
        assert_eq!(detect(Path::new("page.txt"), b"<!DOCTYPE html><html>hi</html>"), Detected::Html);
    }
}
