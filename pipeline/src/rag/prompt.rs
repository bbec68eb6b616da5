//! The prompt block handed to an LLM: each kept context under a numbered
//! header, `[1] Title (path, 12.0–18.5 s)`, so an answer's `[1]` maps back
//! to a source and span (the response lists the same numbers).

/// What a header names.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub title: &'a str,
    pub path: &'a str,
    /// Seconds into a recording or video.
    pub seconds: Option<(f64, f64)>,
}

pub fn header(citation: usize, s: &Source) -> String {
    let place = match s.seconds {
        Some((a, b)) => format!("{}, {a:.1}–{b:.1} s", s.path),
        None => s.path.to_string(),
    };
    if s.title.is_empty() || s.title == s.path {
        format!("[{citation}] {place}")
    } else {
        format!("[{citation}] {} ({place})", s.title)
    }
}

/// Headers and texts, one block per context, blank lines between.
pub fn assemble(parts: &[(String, String)]) -> String {
    parts.iter().map(|(h, t)| format!("{h}\n{t}")).collect::<Vec<_>>().join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_cite_title_path_and_time() {
        let s = Source { title: "Meeting", path: "/a/m.mp3", seconds: Some((12.0, 18.46)) };
        assert_eq!(header(2, &s), "[2] Meeting (/a/m.mp3, 12.0–18.5 s)");
        let s = Source { title: "/a/b.txt", path: "/a/b.txt", seconds: None };
        assert_eq!(header(1, &s), "[1] /a/b.txt");
        assert_eq!(assemble(&[("[1] x".into(), "A.".into()), ("[2] y".into(), "B.".into())]), "[1] x\nA.\n\n[2] y\nB.");
    }
}
