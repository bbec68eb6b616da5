//! Audio decoding to 16 kHz mono f32, streamed in chunks: symphonia for wav,
//! flac, ogg/vorbis, mp3, m4a/aac, aiff, caf and mkv audio; the `ffmpeg` CLI
//! for everything else (opus, wma, the audio track of a video). Channels are
//! averaged; rubato's FFT resampler converts the rate. Nothing holds a whole
//! recording: the caller pulls chunks of about a second.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};
use symphonia::core::codecs::audio::{well_known, AudioCodecId, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

pub const RATE: u32 = 16_000;

/// What the container says about the audio.
#[derive(Debug, Clone, Default)]
pub struct AudioInfo {
    pub codec: String,
    pub rate: u32,
    pub channels: usize,
    /// Duration the container declares, if any.
    pub declared_s: Option<f64>,
    /// Container tags as `key: value` (title, artist, album, ...).
    pub tags: Vec<String>,
    /// "symphonia" or "ffmpeg".
    pub via: &'static str,
}

pub struct AudioStream {
    src: Source,
    res: Resampler,
    pub info: AudioInfo,
    out: VecDeque<Vec<f32>>,
    done: bool,
    /// Samples (16 kHz) handed out so far.
    pub samples: u64,
    /// Why decoding stopped before the declared end, if it did.
    pub cut_short: Option<String>,
}

enum Source {
    Sym {
        format: Box<dyn FormatReader>,
        decoder: Box<dyn AudioDecoder>,
        track: u32,
        skip: u64,
        limit: Option<u64>,
        frames: u64,
    },
    /// `why_not_symphonia`: symphonia's reason, kept for the error message.
    Ffmpeg {
        child: Child,
        out: ChildStdout,
        why_not_symphonia: Option<String>,
    },
}

impl Drop for AudioStream {
    fn drop(&mut self) {
        if let Source::Ffmpeg { child, .. } = &mut self.src {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Open an audio file (or a video's audio track with `ffmpeg_only`).
pub fn open(path: &Path, ffmpeg_only: bool) -> Result<AudioStream, String> {
    if ffmpeg_only {
        return open_ffmpeg(path, None);
    }
    match open_symphonia(path) {
        Ok(s) => Ok(s),
        Err(why) => open_ffmpeg(path, Some(why)),
    }
}

impl AudioStream {
    /// The next chunk of 16 kHz mono samples; `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, String> {
        while self.out.is_empty() && !self.done {
            match self.read_source()? {
                Some(mono) => {
                    let o = self.res.push(&mono)?;
                    if !o.is_empty() {
                        self.out.push_back(o);
                    }
                }
                None => {
                    self.done = true;
                    let o = self.res.finish()?;
                    if !o.is_empty() {
                        self.out.push_back(o);
                    }
                }
            }
        }
        let c = self.out.pop_front();
        if let Some(c) = &c {
            self.samples += c.len() as u64;
        }
        Ok(c)
    }

    pub fn seconds(&self) -> f64 {
        self.samples as f64 / RATE as f64
    }

    /// Mono samples at the source rate, or `None` at the end.
    fn read_source(&mut self) -> Result<Option<Vec<f32>>, String> {
        match &mut self.src {
            Source::Sym { format, decoder, track, skip, limit, frames } => loop {
                let packet = match format.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => return Ok(None),
                    Err(SymError::ResetRequired) => return Ok(None),
                    Err(e) => {
                        self.cut_short = Some(format!("the stream ends early ({e})"));
                        return Ok(None);
                    }
                };
                if packet.track_id != *track {
                    continue;
                }
                let buf = match decoder.decode(&packet) {
                    Ok(b) => b,
                    Err(SymError::DecodeError(e)) => {
                        tracing::debug!(error = e, "audio packet skipped");
                        continue;
                    }
                    Err(e) => {
                        self.cut_short = Some(format!("decoding stopped ({e})"));
                        return Ok(None);
                    }
                };
                let ch = buf.spec().channels().count().max(1);
                let mut inter: Vec<f32> = Vec::new();
                buf.copy_to_vec_interleaved(&mut inter);
                let mut mono: Vec<f32> = inter.chunks(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect();
                // Encoder delay (AAC priming) first, then stop at the declared length.
                let drop_n = (*skip).min(mono.len() as u64) as usize;
                mono.drain(..drop_n);
                *skip -= drop_n as u64;
                if let Some(l) = limit {
                    let room = l.saturating_sub(*frames) as usize;
                    mono.truncate(room);
                }
                *frames += mono.len() as u64;
                if mono.is_empty() && limit.is_some_and(|l| *frames >= l) {
                    return Ok(None);
                }
                return Ok(Some(mono));
            },
            Source::Ffmpeg { out, .. } => {
                let mut bytes = vec![0u8; 4 * RATE as usize];
                let mut n = 0;
                while n < bytes.len() {
                    match out.read(&mut bytes[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) => return Err(format!("reading from ffmpeg: {e}")),
                    }
                }
                if n == 0 {
                    return Ok(None);
                }
                Ok(Some(bytes[..n - n % 4].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
            }
        }
    }

    /// After the end: the ffmpeg child's verdict (its stderr when it failed).
    pub fn finish(&mut self) -> Result<(), String> {
        if let Source::Ffmpeg { child, why_not_symphonia, .. } = &mut self.src {
            let status = child.wait().map_err(|e| format!("ffmpeg: {e}"))?;
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let msg = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_string();
                let msg = msg.rsplit(": ").next().unwrap_or(&msg).to_string();
                if self.samples == 0 {
                    return Err(match why_not_symphonia {
                        Some(w) => format!("not audio pith can decode ({w}; ffmpeg: {msg})"),
                        None => format!("ffmpeg cannot decode it: {msg}"),
                    });
                }
                self.cut_short = Some(format!("ffmpeg stopped early: {msg}"));
            }
        }
        Ok(())
    }
}

fn open_symphonia(path: &Path) -> Result<AudioStream, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| format!("symphonia: {e}"))?;
    let track = format.default_track(TrackType::Audio).ok_or("symphonia: no audio track")?.clone();
    let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
        return Err("symphonia: the audio track has no codec parameters".into());
    };
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| format!("symphonia: {e}"))?;
    let rate = params.sample_rate.ok_or("symphonia: unknown sample rate")?;
    let codec = codec_name(params.codec);
    let is_aac = params.codec == well_known::CODEC_ID_AAC;
    // MP4 carries AAC without trim information here: drop the encoder's
    // usual 1024 priming frames and stop at the track's frame count.
    let delay = track.delay.map(u64::from).unwrap_or(if is_aac { 1024 } else { 0 });
    let limit = if is_aac { track.num_frames.map(|n| n.saturating_sub(delay + u64::from(track.padding.unwrap_or(0)))) } else { None };
    let declared_s = track.num_frames.map(|n| n.saturating_sub(if is_aac { delay } else { 0 }) as f64 / rate as f64);
    let mut tags = Vec::new();
    if let Some(rev) = format.metadata().skip_to_latest() {
        for t in rev.media.tags.iter().take(32) {
            let v = t.raw.value.to_string();
            if !v.is_empty() && v.len() < 200 {
                tags.push(format!("{}: {v}", t.raw.key.to_lowercase()));
            }
        }
    }
    let info = AudioInfo { codec, rate, channels: params.channels.as_ref().map_or(1, |c| c.count()), declared_s, tags, via: "symphonia" };
    Ok(AudioStream {
        src: Source::Sym { format, decoder, track: track.id, skip: if is_aac { delay } else { 0 }, limit, frames: 0 },
        res: Resampler::new(rate, RATE)?,
        info,
        out: VecDeque::new(),
        done: false,
        samples: 0,
        cut_short: None,
    })
}

fn codec_name(id: AudioCodecId) -> String {
    use well_known::*;
    let name = match id {
        CODEC_ID_MP3 => "mp3",
        CODEC_ID_AAC => "aac",
        CODEC_ID_VORBIS => "vorbis",
        CODEC_ID_FLAC => "flac",
        CODEC_ID_ALAC => "alac",
        CODEC_ID_OPUS => "opus",
        _ => return format!("codec {id}"),
    };
    name.to_string()
}

fn open_ffmpeg(path: &Path, symphonia_error: Option<String>) -> Result<AudioStream, String> {
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match &symphonia_error {
            Some(s) => format!("{s}; and ffmpeg cannot run ({e})"),
            None => format!("ffmpeg cannot run ({e})"),
        })?;
    let out = child.stdout.take().ok_or("ffmpeg: no stdout")?;
    let info = AudioInfo { codec: "ffmpeg".into(), rate: RATE, channels: 1, declared_s: None, tags: vec![], via: "ffmpeg" };
    Ok(AudioStream {
        src: Source::Ffmpeg { child, out, why_not_symphonia: symphonia_error },
        res: Resampler::new(RATE, RATE)?,
        info,
        out: VecDeque::new(),
        done: false,
        samples: 0,
        cut_short: None,
    })
}

/// Streaming mono resampler (rubato's synchronous FFT resampler), with its
/// start-up delay trimmed and the tail flushed, so N input frames give
/// round(N * to / rate) output frames.
pub struct Resampler {
    rate: u32,
    to: u32,
    fft: Option<Fft<f32>>,
    fifo: Vec<f32>,
    inp: u64,
    outp: u64,
    delay_left: usize,
}

const RES_CHUNK: usize = 1024;

impl Resampler {
    pub fn new(rate: u32, to: u32) -> Result<Self, String> {
        if rate == 0 || to == 0 {
            return Err("sample rate 0".into());
        }
        let fft = if rate == to {
            None
        } else {
            Some(Fft::<f32>::new(rate as usize, to as usize, RES_CHUNK, 1, FixedSync::Input).map_err(|e| format!("resampler: {e}"))?)
        };
        let delay_left = fft.as_ref().map_or(0, |f| f.output_delay());
        Ok(Resampler { rate, to, fft, fifo: Vec::new(), inp: 0, outp: 0, delay_left })
    }

    pub fn push(&mut self, x: &[f32]) -> Result<Vec<f32>, String> {
        self.inp += x.len() as u64;
        let Some(fft) = self.fft.as_mut() else {
            self.outp += x.len() as u64;
            return Ok(x.to_vec());
        };
        self.fifo.extend_from_slice(x);
        let mut out = Vec::new();
        let need = fft.input_frames_next();
        let mut at = 0;
        while self.fifo.len() - at >= need {
            Self::run(fft, &self.fifo[at..at + need], None, &mut out, &mut self.delay_left)?;
            at += need;
        }
        self.fifo.drain(..at);
        self.outp += out.len() as u64;
        Ok(out)
    }

    pub fn finish(&mut self) -> Result<Vec<f32>, String> {
        let Some(fft) = self.fft.as_mut() else { return Ok(Vec::new()) };
        let want = ((self.inp as f64) * self.to as f64 / self.rate as f64).round() as u64;
        let mut out = Vec::new();
        let need = fft.input_frames_next();
        let rest = std::mem::take(&mut self.fifo);
        if !rest.is_empty() {
            let mut padded = rest.clone();
            padded.resize(need, 0.0);
            Self::run(fft, &padded, Some(rest.len()), &mut out, &mut self.delay_left)?;
        }
        let mut guard = 0;
        while self.outp + (out.len() as u64) < want && guard < 64 {
            let silence = vec![0f32; need];
            Self::run(fft, &silence, Some(0), &mut out, &mut self.delay_left)?;
            guard += 1;
        }
        out.truncate(want.saturating_sub(self.outp) as usize);
        self.outp += out.len() as u64;
        Ok(out)
    }

    fn run(fft: &mut Fft<f32>, input: &[f32], partial: Option<usize>, out: &mut Vec<f32>, delay_left: &mut usize) -> Result<(), String> {
        let frames_out = fft.output_frames_next();
        let mut buf = vec![0f32; frames_out];
        let inb = InterleavedSlice::new(input, 1, input.len()).map_err(|e| format!("resampler: {e}"))?;
        let mut outb = InterleavedSlice::new_mut(&mut buf, 1, frames_out).map_err(|e| format!("resampler: {e}"))?;
        let idx = Indexing { partial_len: partial, ..Default::default() };
        let (_, n) = fft.process_into_buffer(&inb, &mut outb, Some(&idx)).map_err(|e| format!("resampler: {e}"))?;
        let skip = (*delay_left).min(n);
        *delay_left -= skip;
        out.extend_from_slice(&buf[skip..n]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_duration_and_pitch() {
        let rate = 44_100u32;
        let tone: Vec<f32> = (0..rate * 2).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin()).collect();
        let mut r = Resampler::new(rate, RATE).unwrap();
        let mut out = Vec::new();
        for c in tone.chunks(3000) {
            out.extend(r.push(c).unwrap());
        }
        out.extend(r.finish().unwrap());
        assert_eq!(out.len(), 32_000);
        // Zero crossings of a 440 Hz tone over 1 s in the middle: about 880.
        let mid = &out[8_000..24_000];
        let crossings = mid.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
        assert!((870..=890).contains(&crossings), "{crossings}");
    }
}
