//! Transcribe 16 kHz mono 16-bit WAV files with pith's Whisper path, or dump
//! the first window's log-mel, for comparison with
//! `scripts/whisper_reference.py` (same input files).
//!
//!     cargo run --release -p pith-models --example whisper -- MODELS_ROOT in.wav [--mel-out mel.f32] [--json]

use std::path::Path;
use std::time::Instant;

use pith_models::whisper::mel::MelFrontEnd;
use pith_models::Whisper;

fn read_wav16(path: &str) -> Vec<f32> {
    let b = std::fs::read(path).expect("read wav");
    assert!(&b[..4] == b"RIFF" && &b[8..12] == b"WAVE", "{path}: not a WAV file");
    let mut o = 12;
    let mut fmt_ok = false;
    while o + 8 <= b.len() {
        let id = &b[o..o + 4];
        let n = u32::from_le_bytes(b[o + 4..o + 8].try_into().unwrap()) as usize;
        let body = &b[o + 8..(o + 8 + n).min(b.len())];
        if id == b"fmt " {
            let (ch, rate, bits) = (
                u16::from_le_bytes([body[2], body[3]]),
                u32::from_le_bytes(body[4..8].try_into().unwrap()),
                u16::from_le_bytes([body[14], body[15]]),
            );
            assert!(ch == 1 && rate == 16000 && bits == 16, "{path}: need 16 kHz mono 16-bit PCM");
            fmt_ok = true;
        } else if id == b"data" {
            assert!(fmt_ok);
            return body.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0).collect();
        }
        o += 8 + n + (n & 1);
    }
    panic!("{path}: no data chunk")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(&args[0]);
    let json = args.iter().any(|a| a == "--json");
    let mel_out = args.iter().position(|a| a == "--mel-out").map(|i| args[i + 1].clone());
    let files: Vec<&String> = args[1..].iter().filter(|a| a.ends_with(".wav")).collect();
    let w = Whisper::load(root, &root.join("whisper-tiny-en"), 2).expect("load whisper");
    for f in files {
        let audio = read_wav16(f);
        if let Some(out) = &mel_out {
            let mel = MelFrontEnd::new().log_mel(&audio);
            let bytes: Vec<u8> = mel.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(out, bytes).expect("write mel");
        }
        let t0 = Instant::now();
        let mut chunks = audio.chunks(16000 * 7).map(|c| c.to_vec());
        let tr = w.transcribe(&mut || Ok(chunks.next())).expect("transcribe");
        let took = t0.elapsed().as_secs_f64();
        if json {
            let segs: Vec<_> = tr.segments.iter().map(|s| serde_json::json!({"start": s.start, "end": s.end, "text": s.text})).collect();
            println!(
                "{}",
                serde_json::json!({"file": f, "seconds": tr.seconds, "compute_s": took, "rtf": took / tr.seconds.max(1e-9), "segments": segs, "text": tr.text()})
            );
        } else {
            println!("{f}: {:.1} s audio, {took:.2} s compute, RTF {:.3}, {} windows", tr.seconds, took / tr.seconds.max(1e-9), tr.windows);
            for s in &tr.segments {
                println!("  [{:7.2} - {:7.2}] {}", s.start, s.end, s.text);
            }
        }
    }
}
