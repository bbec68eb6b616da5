//! File type by content first (magic numbers), extension second.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Image(&'static str),
    /// A recording (the mime type names the container).
    Audio(&'static str),
    Video(&'static str),
    Html,
    Text,
    Pdf,
    /// An Office, OpenDocument or EPUB file (a zip of XML, or legacy XLS).
    Office(super::office::Format),
    Unsupported,
}

const AUDIO_EXT: &[(&str, &str)] = &[
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("aiff", "audio/aiff"),
    ("aif", "audio/aiff"),
    ("caf", "audio/x-caf"),
    ("wma", "audio/x-ms-wma"),
    ("weba", "audio/webm"),
];

const VIDEO_EXT: &[(&str, &str)] = &[
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("mkv", "video/x-matroska"),
    ("webm", "video/webm"),
    ("avi", "video/x-msvideo"),
    ("wmv", "video/x-ms-wmv"),
    ("mpg", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("3gp", "video/3gpp"),
    ("ogv", "video/ogg"),
    ("flv", "video/x-flv"),
];

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

/// Whether a path names a recording or a video by its extension (the
/// watcher routes these to their own lane: they take minutes, not ms).
pub fn is_media_path(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    AUDIO_EXT.iter().chain(VIDEO_EXT).any(|(e, _)| *e == ext)
}

/// Decide from the first bytes of a file and its name.
pub fn detect(path: &Path, head: &[u8]) -> Detected {
    // UTF-16 text is full of zero bytes; its byte-order mark says what it is.
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        return if ext == "html" || ext == "htm" { Detected::Html } else { Detected::Text };
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let by_ext = |table: &[(&str, &'static str)]| table.iter().find(|(e, _)| *e == ext).map(|(_, m)| *m);
    if let Some(t) = infer::get(head) {
        match (t.matcher_type(), t.mime_type()) {
            (_, m @ ("image/jpeg" | "image/png" | "image/webp" | "image/gif" | "image/bmp" | "image/tiff")) => return Detected::Image(m),
            (_, "text/html") => return Detected::Html,
            (_, "application/pdf") => return Detected::Pdf,
            // A zip or OLE container: what is inside is named by the sniffer
            // when it can tell (OOXML, ODF, EPUB), else by the extension.
            (_, m) if super::office::Format::from_mime(m).is_some() => {
                return super::office::Format::from_mime(m).map_or(Detected::Unsupported, Detected::Office)
            }
            (_, "application/zip" | "application/x-ole-storage" | "application/vnd.ms-excel") => {
                return super::office::Format::from_ext(&ext).map_or(Detected::Unsupported, Detected::Office)
            }
            // An MP4 or Matroska file named as audio (.m4a, .weba) is audio.
            (infer::MatcherType::Video, _) if by_ext(AUDIO_EXT).is_some() => {
                return Detected::Audio(by_ext(AUDIO_EXT).unwrap_or("audio/mp4"))
            }
            (infer::MatcherType::Video, m) => return Detected::Video(by_ext(VIDEO_EXT).unwrap_or(m)),
            (infer::MatcherType::Audio, m) => return Detected::Audio(by_ext(AUDIO_EXT).unwrap_or(m)),
            (infer::MatcherType::Text, _) => {}
            _ => return Detected::Unsupported,
        }
    }
    // A media extension on content no sniffer knows: the decoder decides, and
    // says why it cannot read the file (rather than indexing it as text).
    if let Some(m) = by_ext(AUDIO_EXT) {
        return Detected::Audio(m);
    }
    if let Some(m) = by_ext(VIDEO_EXT) {
        return Detected::Video(m);
    }
    // A document extension on content no sniffer knows: its reader says why
    // it cannot read it (a truncated PDF is an error, not "unsupported").
    if ext == "pdf" {
        return Detected::Pdf;
    }
    // (Not .xls: a real one is an OLE file the sniffer names; a text file
    // named .xls, as some "Excel exports" are, is read as text.)
    if let Some(f) = super::office::Format::from_ext(&ext).filter(|f| *f != super::office::Format::Xls) {
        return Detected::Office(f);
    }
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
        // Text named .mp3 is handed to the audio decoder, which refuses it with a reason.
        assert_eq!(detect(Path::new("song.mp3"), b"just some text"), Detected::Audio("audio/mpeg"));
        assert_eq!(detect(Path::new("x.bin"), b"RIFF\x24\x00\x00\x00WAVEfmt "), Detected::Audio("audio/x-wav"));
        assert_eq!(detect(Path::new("report"), b"%PDF-1.7\n%\xE2\xE3"), Detected::Pdf);
        // A zip named .docx is a document even when the sniffer sees only a zip.
        assert_eq!(
            detect(Path::new("a.docx"), b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
            Detected::Office(super::super::office::Format::Docx)
        );
        assert_eq!(detect(Path::new("a.zip"), b"PK\x03\x04\x14\x00\x00\x00\x08\x00"), Detected::Unsupported);
    }
}
