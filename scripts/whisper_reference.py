#!/usr/bin/env python3
"""Python reference for pith's Whisper path: the same ONNX graphs, run from
numpy + onnxruntime, with the front end and greedy timestamp decoding written
again from openai-whisper's `audio.py` and `decoding.py`.

    python3 scripts/whisper_reference.py MODEL_DIR AUDIO.wav [AUDIO.wav ...]
        [--json] [--mel-out FILE.f32] [--filters-npz mel_filters.npz] [--ct2 CT2_DIR]

AUDIO must be 16 kHz mono 16-bit PCM WAV (make one with
`ffmpeg -i IN -ar 16000 -ac 1 -c:a pcm_s16le OUT.wav`), so that pith and this
script see the same samples.

- Prints, per file, the segments (start, end, text) and the real-time factor
  (compute seconds per audio second). `--json` prints one JSON object per file.
- `--mel-out` writes the first window's log-mel [80, 3000] as raw f32 for a
  comparison with pith's front end (`cargo run -p pith-models --example
  whisper_mel`).
- `--filters-npz` checks the Slaney mel filters computed here against
  openai-whisper's `whisper/assets/mel_filters.npz` (from its PyPI sdist).
- `--ct2` also decodes the first window with CTranslate2 from the original
  `model.bin` (PyPI `ctranslate2`), on the same features: the conversion check.
"""

import argparse
import json
import sys
import time
import wave

import numpy as np

SR, N_FFT, HOP, N_MELS, CHUNK = 16000, 400, 160, 80, 30
N_SAMPLES, N_FRAMES = SR * CHUNK, SR * CHUNK // HOP
MAX_TOKENS = 224
PRECISION = 0.02  # seconds per timestamp token


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters():
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), Slaney scale and norm."""
    fft = np.linspace(0, SR / 2, 1 + N_FFT // 2)
    pts = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), N_MELS + 2))
    fdiff = np.diff(pts)
    ramps = np.subtract.outer(pts, fft)
    w = np.zeros((N_MELS, len(fft)))
    for i in range(N_MELS):
        w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    w *= (2.0 / (pts[2:N_MELS + 2] - pts[:N_MELS]))[:, None]
    return w.astype(np.float32)


def log_mel(window, filters):
    """Whisper's log_mel_spectrogram on one window padded or cut to 30 s."""
    x = np.zeros(N_SAMPLES, np.float32)
    x[:min(len(window), N_SAMPLES)] = window[:N_SAMPLES]
    x = np.pad(x, N_FFT // 2, mode="reflect")
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    idx = np.arange(N_FRAMES)[:, None] * HOP + np.arange(N_FFT)[None, :]
    spec = np.fft.rfft(x[idx] * hann, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    mel = filters @ power.T
    logm = np.log10(np.maximum(mel, 1e-10))
    logm = np.maximum(logm, logm.max() - 8.0)
    return ((logm + 4.0) / 4.0).astype(np.float32)


class Whisper:
    def __init__(self, model_dir):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        o = ort.SessionOptions()
        o.intra_op_num_threads = 2
        self.enc = ort.InferenceSession(f"{model_dir}/encoder.onnx", o, providers=["CPUExecutionProvider"])
        self.dec = ort.InferenceSession(f"{model_dir}/decoder.onnx", o, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
        cfg = json.load(open(f"{model_dir}/config.json"))
        self.dims = json.load(open(f"{model_dir}/dims.json"))
        self.suppress = cfg["suppress_ids"]
        self.suppress_begin = cfg["suppress_ids_begin"]
        self.eot, self.sot, self.no_ts = 50256, 50257, 50362
        self.ts_begin = 50363
        self.filters = mel_filters()

    def decode_window(self, mel):
        hidden, ck, cv = self.enc.run(None, {"mel": mel[None]})
        L, d = self.dims["decoder_layers"], self.dims["d_model"]
        pk = pv = np.zeros((L, 1, 0, d), np.float32)
        prompt = [self.sot]
        tokens, feed = [], prompt
        no_speech, sum_lp = 0.0, 0.0
        for _ in range(MAX_TOKENS):
            logits, pk, pv = self.dec.run(None, {"tokens": np.array([feed], np.int64), "past_k": pk, "past_v": pv,
                                                 "cross_k": ck, "cross_v": cv})
            lg = logits[0].astype(np.float64)
            if not tokens:
                no_speech = float(np.exp(log_softmax(lg)[50361]))  # <|nocaptions|>
                lg[self.suppress_begin] = -np.inf
            lg[self.suppress] = -np.inf
            self.timestamp_rules(lg, tokens)
            t = int(np.argmax(lg))
            sum_lp += float(log_softmax(lg)[t])
            if t == self.eot:
                break
            tokens.append(t)
            feed = [t]
        # openai-whisper's silence rule (no_speech_threshold 0.6, logprob_threshold -1).
        if no_speech > 0.6 and sum_lp / (len(tokens) + 1) < -1.0:
            return []
        return tokens

    def timestamp_rules(self, lg, seq):
        tb = self.ts_begin
        lg[self.no_ts] = -np.inf
        last_ts = len(seq) >= 1 and seq[-1] >= tb
        pen_ts = len(seq) < 2 or seq[-2] >= tb
        if last_ts:
            if pen_ts:
                lg[tb:] = -np.inf
            else:
                lg[:self.eot] = -np.inf
        stamps = [t for t in seq if t >= tb]
        if stamps:
            last = stamps[-1] if (last_ts and not pen_ts) else stamps[-1] + 1
            lg[tb:last] = -np.inf
        if not seq:
            lg[:tb] = -np.inf
            lg[tb + 50 + 1:] = -np.inf  # max_initial_timestamp 1.0 s
        m = lg.max()
        lp = lg - (m + np.log(np.exp(lg - m).sum()))
        ts_lp = np.logaddexp.reduce(lp[tb:])
        if ts_lp > lp[:tb].max():
            lg[:tb] = -np.inf

    def text(self, toks):
        return self.tok.decode([t for t in toks if t < self.eot]).strip()

    def transcribe(self, audio):
        """Windows of 30 s that continue from the last complete timestamp."""
        segs, seek = [], 0
        n_frames = len(audio) // HOP
        while seek < n_frames:
            start = seek * HOP
            window = audio[start:start + N_SAMPLES]
            size = min(N_FRAMES, n_frames - seek)
            toks = self.decode_window(log_mel(window, self.filters))
            offset = start / SR
            is_ts = [t >= self.ts_begin for t in toks]
            single_end = is_ts[-2:] == [False, True]
            cons = [i + 1 for i in range(len(toks) - 1) if is_ts[i] and is_ts[i + 1]]
            if cons:
                slices = cons + ([len(toks)] if single_end else [])
                last = 0
                for cur in slices:
                    part = toks[last:cur]
                    s0 = (part[0] - self.ts_begin) * PRECISION
                    s1 = (part[-1] - self.ts_begin) * PRECISION
                    t = self.text(part[1:-1])
                    if t:
                        segs.append((offset + s0, offset + s1, t))
                    last = cur
                if single_end:
                    seek += size
                else:
                    seek += (toks[last - 1] - self.ts_begin) * 2
            else:
                dur = size * HOP / SR
                stamps = [t for t in toks if t >= self.ts_begin]
                if stamps and stamps[-1] != self.ts_begin:
                    dur = (stamps[-1] - self.ts_begin) * PRECISION
                t = self.text(toks)
                if t:
                    segs.append((offset, offset + dur, t))
                seek += size
        return segs


def log_softmax(x):
    m = x[np.isfinite(x)].max()
    return x - (m + np.log(np.exp(x - m).sum()))


def read_wav(path):
    with wave.open(path) as w:
        if w.getframerate() != SR or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: need 16 kHz mono 16-bit WAV (ffmpeg -i IN -ar 16000 -ac 1 -c:a pcm_s16le OUT.wav)")
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0


def ct2_first_window(ct2_dir, mel):
    import ctranslate2
    m = ctranslate2.models.Whisper(ct2_dir, device="cpu", compute_type="float32")
    feats = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None]))
    r = m.generate(feats, [[50257]], beam_size=1, max_length=MAX_TOKENS, return_no_speech_prob=False)
    return r[0].sequences_ids[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("audio", nargs="+")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mel-out")
    ap.add_argument("--filters-npz")
    ap.add_argument("--ct2")
    a = ap.parse_args()
    w = Whisper(a.model_dir)
    if a.filters_npz:
        ref = np.load(a.filters_npz)["mel_80"]
        print(f"mel filters vs {a.filters_npz}: max |diff| {np.abs(ref - w.filters).max():.2e}", file=sys.stderr)
    for path in a.audio:
        audio = read_wav(path)
        if a.mel_out:
            log_mel(audio[:N_SAMPLES], w.filters).tofile(a.mel_out)
        t0 = time.perf_counter()
        segs = w.transcribe(audio)
        took = time.perf_counter() - t0
        dur = len(audio) / SR
        if a.ct2:
            ours = w.decode_window(log_mel(audio[:N_SAMPLES], w.filters))
            theirs = ct2_first_window(a.ct2, log_mel(audio[:N_SAMPLES], w.filters))
            print(f"ct2 first window: {w.text(theirs)!r}\nonnx first window: {w.text(ours)!r}", file=sys.stderr)
        if a.json:
            print(json.dumps({"file": path, "seconds": dur, "compute_s": took, "rtf": took / max(dur, 1e-9),
                              "segments": [{"start": s, "end": e, "text": t} for s, e, t in segs],
                              "text": " ".join(t for _, _, t in segs)}))
        else:
            print(f"{path}: {dur:.1f} s audio, {took:.2f} s compute, RTF {took / max(dur, 1e-9):.3f}")
            for s, e, t in segs:
                print(f"  [{s:7.2f} - {e:7.2f}] {t}")


if __name__ == "__main__":
    main()
