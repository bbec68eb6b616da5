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
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(p)
        .output()
        .unwrap();
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
