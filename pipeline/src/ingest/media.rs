//! Recordings on the decode threads: audio streamed from the decoder into
//! Whisper window by window (never the whole file in memory), with the
//! container's duration and tags as labels.

use std::path::Path;

use pith_models::{ModelError, Segment};

use crate::dates::clock;
use crate::decode::audio;
use crate::encoders::Encoders;

pub struct Heard {
    pub seconds: f64,
    pub segments: Vec<Segment>,
    /// CLAP embeddings of consecutive windows: (start s, end s, vector).
    pub sounds: Vec<(f64, f64, Vec<f32>)>,
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

/// Decode `path` (a video's audio track with `track_of_video`) and transcribe it.
pub fn listen(enc: &Encoders, path: &Path, track_of_video: bool) -> Result<Heard, String> {
    let mut stream = audio::open(path, track_of_video)?;
    let whisper = enc.speech().map_err(|e| e.to_string())?;
    // Every chunk also feeds the CLAP windows, if a CLAP model is installed.
    let mut windows = match &enc.clap {
        Some(c) => Some(ClapWindows::new(c)?),
        None => None,
    };
    let mut pull = |stream: &mut audio::AudioStream| -> Result<Option<Vec<f32>>, String> {
        let c = stream.next_chunk()?;
        if let (Some(w), Some(c)) = (windows.as_mut(), c.as_ref()) {
            w.push(c)?;
        }
        Ok(c)
    };
    let segments = match whisper {
        Some(w) => {
            let mut next = || pull(&mut stream).map_err(ModelError::Input);
            w.transcribe(&mut next).map_err(|e| format!("transcription failed: {e}"))?.segments
        }
        None => {
            while pull(&mut stream)?.is_some() {}
            Vec::new()
        }
    };
    let sounds = match windows {
        Some(w) => w.finish()?,
        None => Vec::new(),
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
    Ok(Heard { seconds, segments, sounds, tags: stream.info.tags.clone(), notes })
}

/// Consecutive CLAP windows of a 16 kHz stream, resampled to the model's
/// rate, embedded in batches as they fill.
struct ClapWindows<'a> {
    clap: &'a pith_models::ClapEncoder,
    res: audio::Resampler,
    buf: Vec<f32>,
    full: Vec<Vec<f32>>,
    out: Vec<(f64, f64, Vec<f32>)>,
    done_s: f64,
}

impl<'a> ClapWindows<'a> {
    fn new(clap: &'a pith_models::ClapEncoder) -> Result<Self, String> {
        Ok(ClapWindows {
            clap,
            res: audio::Resampler::new(audio::RATE, clap.config.sample_rate)?,
            buf: Vec::new(),
            full: Vec::new(),
            out: Vec::new(),
            done_s: 0.0,
        })
    }

    fn push(&mut self, chunk16k: &[f32]) -> Result<(), String> {
        let x = self.res.push(chunk16k)?;
        self.take(x, false)
    }

    fn take(&mut self, x: Vec<f32>, last: bool) -> Result<(), String> {
        let n = self.clap.config.window_samples();
        self.buf.extend(x);
        while self.buf.len() >= n {
            let w: Vec<f32> = self.buf.drain(..n).collect();
            self.full.push(w);
        }
        // A tail of at least a second is a (zero-padded) window of its own.
        if last && self.buf.len() as f64 >= self.clap.config.sample_rate as f64 {
            self.full.push(std::mem::take(&mut self.buf));
        }
        if self.full.len() >= 8 || (last && !self.full.is_empty()) {
            let batch = std::mem::take(&mut self.full);
            let lens: Vec<f64> = batch.iter().map(|w| w.len() as f64 / self.clap.config.sample_rate as f64).collect();
            let vecs = self.clap.embed_audio(batch).map_err(|e| format!("CLAP: {e}"))?;
            for (len, v) in lens.into_iter().zip(vecs) {
                self.out.push((self.done_s, self.done_s + len, v));
                self.done_s += len;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<(f64, f64, Vec<f32>)>, String> {
        let tail = self.res.finish()?;
        self.take(tail, true)?;
        Ok(self.out)
    }
}
