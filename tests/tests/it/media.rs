//! Audio and video made here with espeak-ng and ffmpeg (Debian packages that
//! `make test` installs): decoding every container, speech search to the
//! second, bad media files.

use std::path::{Path, PathBuf};
use std::process::Command;

use pith_pipeline::decode::audio;

pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd} is required (make test installs it): {e}"));
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Speak `text` into `dir/name` (any extension ffmpeg can write).
pub fn speech(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let wav = dir.join(format!("{name}.espeak.wav"));
    run("espeak-ng", &["-s", "150", "-w", wav.to_str().unwrap(), text]);
    let out = dir.join(name);
    if name.ends_with(".wav") {
        std::fs::rename(&wav, &out).unwrap();
    } else {
        run("ffmpeg", &["-v", "error", "-y", "-i", wav.to_str().unwrap(), out.to_str().unwrap()]);
        std::fs::remove_file(&wav).unwrap();
    }
    out
}

pub fn probe_seconds(p: &Path) -> f64 {
    let out = Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]).arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn decoded_seconds(p: &Path) -> (f64, &'static str) {
    let mut s = audio::open(p, false).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    while s.next_chunk().unwrap().is_some() {}
    s.finish().unwrap();
    (s.seconds(), s.info.via)
}

#[test]
fn every_audio_container_decodes_to_the_same_duration() {
    let d = tempfile::tempdir().unwrap();
    let src = speech(d.path(), "src.wav", "The meeting has moved to Tuesday afternoon. Please bring the budget.");
    let want = probe_seconds(&src);
    for ext in ["wav", "flac", "ogg", "mp3", "m4a", "aiff", "opus"] {
        let p = d.path().join(format!("clip.{ext}"));
        run("ffmpeg", &["-v", "error", "-y", "-i", src.to_str().unwrap(), p.to_str().unwrap()]);
        let (got, via) = decoded_seconds(&p);
        assert!((got - want).abs() <= 0.050, "{ext}: decoded {got:.3} s, source {want:.3} s (via {via})");
        // Opus is read through ffmpeg; the rest by symphonia.
        assert_eq!(via, if ext == "opus" { "ffmpeg" } else { "symphonia" }, "{ext}");
    }
}

/// Word error rate, written here independently of `pith eval asr`.
fn wer(reference: &str, hypothesis: &str) -> f64 {
    let norm = |s: &str| -> Vec<String> {
        s.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).map(String::from).collect()
    };
    let (r, h) = (norm(reference), norm(hypothesis));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

const SENTENCES: [&str; 3] = [
    "Good morning everyone, thank you for joining the planning call.",
    "The quarterly meeting has moved to Tuesday afternoon because the auditors are visiting.",
    "Please send your travel receipts to the finance office before Friday.",
];

/// Three sentences with two seconds of silence between them; returns the
/// file and each sentence's (start, end) in seconds.
fn meeting(dir: &Path) -> (PathBuf, Vec<(f64, f64)>) {
    let mut parts = Vec::new();
    let mut spans = Vec::new();
    let mut at = 0.0;
    for (i, s) in SENTENCES.iter().enumerate() {
        let p = speech(dir, &format!("part{i}.wav"), s);
        let d = probe_seconds(&p);
        spans.push((at, at + d));
        at += d + 2.0;
        parts.push(p);
    }
    let list = dir.join("parts.txt");
    let silence = dir.join("silence.wav");
    run("ffmpeg", &["-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "2", silence.to_str().unwrap()]);
    let mut txt = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            txt += &format!("file '{}'\n", silence.display());
        }
        txt += &format!("file '{}'\n", p.display());
    }
    std::fs::write(&list, txt).unwrap();
    let out = dir.join("recordings/meeting.mp3");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    run("ffmpeg", &["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", list.to_str().unwrap(), out.to_str().unwrap()]);
    (out, spans)
}

#[test]
fn speech_is_searchable_to_the_second() {
    use super::common::{engine, ingest_dir};
    use pith_pipeline::{Filters, Kind, SearchRequest};
    let d = tempfile::tempdir().unwrap();
    let (file, spans) = meeting(d.path());
    let other = speech(&d.path().join("recordings"), "other.wav", "The garden needs watering twice a week during the summer.");
    std::fs::write(d.path().join("recordings/notes.txt"), "Notes about the office plants and their watering schedule.").unwrap();
    let e = engine(&d.path().join("store"));
    let r = ingest_dir(&e, &d.path().join("recordings"));
    assert_eq!((r.added, r.failed), (3, 0), "{r:?}");
    assert_eq!(e.status(0).unwrap().counts.audio_items, 2);

    let hits = e.search(&SearchRequest::new("where did someone say the meeting moved to tuesday", 5)).unwrap();
    let top = &hits[0];
    assert_eq!(top.path, file.to_string_lossy(), "{hits:#?}");
    assert_eq!(top.kind, "audio");
    let (s, t) = (top.start.unwrap(), top.end.unwrap());
    let (want_s, want_t) = spans[1];
    assert!(s <= want_s + 0.5 && t >= want_t - 0.5, "segment {s:.2}-{t:.2} s should contain the sentence at {want_s:.2}-{want_t:.2} s");
    assert!(top.snippet.to_lowercase().contains("tuesday"), "{}", top.snippet);

    // The kind filter keeps recordings only; the transcript reads back whole.
    let only = e
        .search(&SearchRequest { filters: Filters { kind: Some(Kind::Audio), ..Default::default() }, ..SearchRequest::new("watering", 5) })
        .unwrap();
    assert!(only.iter().all(|h| h.kind == "audio") && only[0].path == other.to_string_lossy(), "{only:#?}");
    let text = e.item_text(top.id).unwrap();
    let w = wer(&SENTENCES.join(" "), &text);
    assert!(w < 0.25, "WER {w:.3}: {text}");
    // Every segment's stored span points at its own words in that text (a
    // RAG context cites spans of it), and the context for the question
    // quotes the Tuesday segment with its time.
    for c in e.chunks_of_item(top.id).unwrap() {
        assert_eq!(&text[c.start as usize..c.end as usize], c.text, "segment at {:?} ms", c.start_ms);
    }
    let ctx = e
        .rag_context(&pith_pipeline::rag::RagRequest {
            min_relevance: Some(0.0),
            ..pith_pipeline::rag::RagRequest::new("where did someone say the meeting moved to tuesday")
        })
        .unwrap();
    let c = &ctx.contexts[0];
    assert!(c.compressed.to_lowercase().contains("tuesday") && c.start_s.is_some(), "{}", ctx.prompt);
    assert!(ctx.prompt.contains(" s)"), "the header gives the time span: {}", ctx.prompt);
}

#[test]
fn bad_media_files_are_one_clear_error_each() {
    use super::common::{engine, ingest_dir, search};
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("in");
    let good = speech(&dir, "good.ogg", "The lighthouse keeper counted seventeen ships in the harbour.");
    let src = speech(d.path(), "long.mp3", &SENTENCES.join(" "));
    let bytes = std::fs::read(&src).unwrap();
    std::fs::write(dir.join("truncated.mp3"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(dir.join("fake.mp3"), "this is a shopping list, not a song").unwrap();
    run(
        "ffmpeg",
        &["-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", dir.join("zero.wav").to_str().unwrap()],
    );
    std::fs::write(dir.join("garbage.flac"), b"fLaC\x00\x00\x00\x22garbage garbage garbage").unwrap();
    // A "video" with no video stream: its audio is indexed, with a note.
    let wav = speech(d.path(), "talk.wav", "The violin teacher moved her lessons to Thursday.");
    run("ffmpeg", &["-v", "error", "-y", "-i", wav.to_str().unwrap(), dir.join("talk.mp4").to_str().unwrap()]);
    std::fs::write(dir.join("not-a-film.mkv"), "definitely not matroska").unwrap();
    let e = engine(&d.path().join("store"));
    let r = ingest_dir(&e, &dir);
    let errors = e.status(100).unwrap().errors;
    let reason = |name: &str| errors.iter().find(|x| x.path.ends_with(name)).map(|x| x.reason.clone());
    for name in ["fake.mp3", "zero.wav", "garbage.flac", "not-a-film.mkv"] {
        let why = reason(name).unwrap_or_else(|| panic!("{name}: no error recorded: {errors:#?}"));
        assert!(why.len() > 10 && !why.contains("panick"), "{name}: {why}");
    }
    // The truncated file keeps what decodes and says it was cut short.
    let why = reason("truncated.mp3").expect("truncated.mp3 has a note");
    assert!(why.contains("cut short") || why.contains("truncated"), "{why}");
    assert!(reason("talk.mp4").is_some_and(|w| w.contains("no video stream")), "{errors:#?}");
    assert_eq!(r.failed, 4, "{r:?} {errors:#?}");
    let hits = search(&e, "lighthouse ships harbour", 3);
    assert_eq!(hits[0].path, good.to_string_lossy());
    assert!(search(&e, "violin lessons thursday", 3)[0].path.ends_with("talk.mp4"));
}

/// 10 s of one photo, 10 s of another, 6 s of ffmpeg's moving test pattern.
fn slideshow(dir: &Path) -> PathBuf {
    let photos = super::common::testdata().join("skimage");
    let out = dir.join("videos/slideshow.mp4");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let (a, b) = (photos.join("chelsea.png"), photos.join("coffee.png"));
    #[rustfmt::skip]
    let args = [
        "-v", "error", "-y",
        "-loop", "1", "-t", "10", "-i", a.to_str().unwrap(),
        "-loop", "1", "-t", "10", "-i", b.to_str().unwrap(),
        "-f", "lavfi", "-t", "6", "-i", "testsrc=size=320x240:rate=25",
        "-filter_complex",
        "[0]scale=320:240,setsar=1,fps=25[a];[1]scale=320:240,setsar=1,fps=25[b];[2]setsar=1[c];[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]",
        "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", out.to_str().unwrap(),
    ];
    run("ffmpeg", &args);
    out
}

#[test]
fn static_video_stretches_merge_and_cuts_land_within_a_second() {
    use super::common::{engine, ingest_dir};
    let d = tempfile::tempdir().unwrap();
    let file = slideshow(d.path());
    let e = engine(&d.path().join("store"));
    let r = ingest_dir(&e, &d.path().join("videos"));
    assert_eq!((r.added, r.failed), (1, 0), "{r:?}");
    let hit = &e.search(&pith_pipeline::SearchRequest::new("slideshow", 1)).unwrap()[0];
    assert_eq!((hit.kind.as_str(), hit.path.as_str()), ("video", file.to_str().unwrap()));
    assert!(hit.thumbnail.is_some(), "a video has a poster frame");
    let visual: Vec<(i64, i64)> = e
        .chunks_of_item(hit.id)
        .unwrap()
        .into_iter()
        .filter(|c| c.text.is_empty())
        .map(|c| (c.start_ms.unwrap(), c.end_ms.unwrap()))
        .collect();
    // 26 s at 2 fps is 52 frames decoded; the two 10 s stills need a token or two each.
    let still = visual.iter().filter(|(s, _)| *s < 20_000).count();
    assert!(still <= 4, "{still} tokens for 20 s of two stills: {visual:?}");
    assert!(visual.len() < 52 / 3, "{} tokens for 52 frames: {visual:?}", visual.len());
    // Segments tile the video in order, and one boundary falls at the cut (10 s).
    for w in visual.windows(2) {
        assert_eq!(w[0].1, w[1].0, "{visual:?}");
    }
    assert!(visual.iter().any(|(s, _)| (*s - 10_000).abs() <= 1_000), "no boundary near 10 s: {visual:?}");
    assert!(visual.iter().any(|(s, _)| (*s - 20_000).abs() <= 1_000), "no boundary near 20 s: {visual:?}");
}

#[tokio::test]
async fn recordings_have_segments_and_originals_answer_byte_ranges() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;
    let d = tempfile::tempdir().unwrap();
    let (file, spans) = meeting(d.path());
    let e = super::common::engine(&d.path().join("store"));
    super::common::ingest_dir(&e, file.parent().unwrap());
    let id = super::common::search(&e, "auditors visiting tuesday", 1)[0].id.0;
    let mut st = pith_web::AppState::new(std::sync::Arc::new(e));
    st.roots = std::sync::Arc::new(vec![file.parent().unwrap().canonicalize().unwrap()]);
    let call = |req: Request<Body>| {
        let st = st.clone();
        async move {
            let resp = pith_web::router(st).oneshot(req).await.unwrap();
            let (p, b) = resp.into_parts();
            (p.status, p.headers, axum::body::to_bytes(b, usize::MAX).await.unwrap().to_vec())
        }
    };
    // Segments: in order, inside the recording, the second sentence's words in one of them.
    let (s, _, b) = call(Request::get(format!("/api/items/{id}/segments")).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["kind"], "audio");
    let segs = v["segments"].as_array().unwrap();
    let starts: Vec<f64> = segs.iter().map(|s| s["start"].as_f64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    let total = spans.last().unwrap().1 + 0.5;
    assert!(segs.iter().all(|s| s["end"].as_f64().unwrap() <= total), "{segs:?}");
    assert!(segs.iter().any(|s| s["text"].as_str().unwrap().to_lowercase().contains("tuesday")), "{segs:?}");
    // Byte ranges on the original: 206 with Content-Range, the exact bytes; 416 past the end.
    let bytes = std::fs::read(&file).unwrap();
    let range = |r: &str| Request::get(format!("/api/items/{id}/original")).header(header::RANGE, r).body(Body::empty()).unwrap();
    let (s, h, b) = call(range("bytes=100-199")).await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(h[header::CONTENT_RANGE], format!("bytes 100-199/{}", bytes.len()).as_str());
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(b, bytes[100..200]);
    let (s, _, b) = call(range("bytes=-10")).await;
    assert_eq!((s, b.as_slice()), (StatusCode::PARTIAL_CONTENT, &bytes[bytes.len() - 10..]));
    let (s, h, _) = call(range(&format!("bytes={}-", bytes.len()))).await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(h[header::CONTENT_RANGE], format!("bytes */{}", bytes.len()).as_str());
    let (s, _, b) = call(Request::get(format!("/api/items/{id}/original")).body(Body::empty()).unwrap()).await;
    assert_eq!((s, b.len()), (StatusCode::OK, bytes.len()));
    // The item page plays from ?t= and lists the segments as links.
    let (s, _, b) = call(Request::get(format!("/items/{id}?t=12.5")).body(Body::empty()).unwrap()).await;
    let page = String::from_utf8_lossy(&b);
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains(&format!("/api/items/{id}/original#t=12.5")) && page.contains("class=\"segments\""), "{page}");
}
