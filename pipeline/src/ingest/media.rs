//! Recordings on the decode threads: audio streamed from the decoder into
//! Whisper window by window (never the whole file in memory), with the
//! container's duration and tags as labels.

use std::path::Path;

use pith_models::{ModelError, Segment};

use crate::decode::audio;
use crate::encoders::Encoders;

pub struct Heard {
    pub seconds: f64,
    pub segments: Vec<Segment>,
    pub tags: Vec<String>,
    pub notes: Vec<String>,
}

impl Heard {
    /// "3:05" plus container tags: what a recording is found by without speech.
    pub fn labels(&self) -> String {
        let mut l = vec![clock(self.seconds)];
        l.extend(self.tags.iter().cloned());
        l.join(", ")
    }
}

pub fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Decode `path` (a video's audio track with `track_of_video`) and transcribe it.
pub fn listen(enc: &Encoders, path: &Path, track_of_video: bool) -> Result<Heard, String> {
    let mut stream = audio::open(path, track_of_video)?;
    let whisper = enc.speech().map_err(|e| e.to_string())?;
    let segments = match whisper {
        Some(w) => {
            let mut next = || stream.next_chunk().map_err(ModelError::Input);
            w.transcribe(&mut next).map_err(|e| format!("transcription failed: {e}"))?.segments
        }
        None => {
            while stream.next_chunk()?.is_some() {}
            Vec::new()
        }
    };
    stream.finish()?;
    if stream.samples == 0 {
        return Err(if track_of_video { "no audio track".into() } else { "no audio: the file decodes to 0 seconds of sound".into() });
    }
    let seconds = stream.seconds();
    let mut notes = Vec::new();
    if let Some(why) = &stream.cut_short {
        notes.push(format!("audio cut short at {}: {why}; the part before it is indexed", clock(seconds)));
    } else if let Some(d) = stream.info.declared_s {
        if d - seconds > 1.0 {
            notes.push(format!(
                "audio ends at {} but the file declares {}: truncated? the part before it is indexed",
                clock(seconds),
                clock(d)
            ));
        }
    }
    Ok(Heard { seconds, segments, tags: stream.info.tags.clone(), notes })
}
