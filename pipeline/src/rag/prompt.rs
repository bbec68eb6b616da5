//! The prompt block handed to an LLM: each kept context under a numbered
//! header, `[1] Title (path, 12.0–18.5 s)` or `[2] Title (path, p. 12)`, so an answer's `[1]` maps back
//! to a source and span (the response lists the same numbers).

/// What a header names.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub title: &'a str,
    pub path: &'a str,
    /// Seconds into a recording or video.
    pub seconds: Option<(f64, f64)>,
    /// A PDF's page; a document's section (slide, heading, rows, chapter).
    pub page: Option<u32>,
    pub section: Option<&'a str>,
}

pub fn header(citation: usize, s: &Source) -> String {
    let place = match (s.seconds, s.page, s.section) {
        (Some((a, b)), ..) => format!("{}, {a:.1}–{b:.1} s", s.path),
        (_, Some(p), _) => format!("{}, p. {p}", s.path),
        (_, _, Some(sec)) => format!("{}, {sec}", s.path),
        _ => s.path.to_string(),
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
        let s = Source { title: "Meeting", path: "/a/m.mp3", seconds: Some((12.0, 18.46)), page: None, section: None };
        assert_eq!(header(2, &s), "[2] Meeting (/a/m.mp3, 12.0–18.5 s)");
        let s = Source { title: "Report", path: "/a/r.pdf", seconds: None, page: Some(12), section: None };
        assert_eq!(header(3, &s), "[3] Report (/a/r.pdf, p. 12)");
        let s = Source { title: "Deck", path: "/a/d.pptx", seconds: None, page: None, section: Some("Slide 2") };
        assert_eq!(header(4, &s), "[4] Deck (/a/d.pptx, Slide 2)");
        let s = Source { title: "/a/b.txt", path: "/a/b.txt", seconds: None, page: None, section: None };
        assert_eq!(header(1, &s), "[1] /a/b.txt");
        assert_eq!(assemble(&[("[1] x".into(), "A.".into()), ("[2] y".into(), "B.".into())]), "[1] x\nA.\n\n[2] y\nB.");
    }
}
