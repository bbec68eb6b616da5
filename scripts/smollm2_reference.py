#!/usr/bin/env python3
"""Python reference for pith's SmolLM2 path: the exported ONNX decoder run from
numpy + onnxruntime, the way the Rust side is meant to run it.

    python3 scripts/smollm2_reference.py MODEL_DIR [--text TEXT | --text-file F]
        [--chat PROMPT] [--max-new-tokens N] [--expected OUT.json] [--check] [--bench]
        [--threads N]

MODEL_DIR is `$PITH_MODELS/smollm2-135m` (decoder.onnx, embed_tokens.f32,
tokenizer.json, config.json; made by scripts/fetch_models.py with
scripts/export_smollm2.py). Needs numpy, onnxruntime and tokenizers (jinja2,
when importable, cross-checks the chat prompt against the GGUF's template).

How the graph is driven (the contract for the Rust code):
- token ids -> rows of `embed_tokens.f32` (vocab x hidden, f32 LE) ->
  `inputs_embeds` [1, n, hidden]; `position_ids` = past .. past + n - 1;
  `attention_mask` = ones [1, past + n]; `past_key_values.*` start as
  [1, kv_heads, 0, head_dim] and are replaced by the `present.*` outputs.
- Self-information of a text: ids = [score_prefix_token_id (<|endoftext|>, the
  pretraining document separator)] + encode(text, no special tokens); one
  forward; token i's self-information is -log2 softmax(logits[i - 1])[ids[i]],
  for every text token (the prefix itself is not scored).
- Chat: the GGUF's template, i.e. "<|im_start|>system\\n{default system
  prompt}<|im_end|>\\n<|im_start|>user\\n{prompt}<|im_end|>\\n<|im_start|>assistant\\n",
  encoded with special tokens recognised in the text; greedy (argmax) decoding
  with the KV cache, one token per step, stopping at <|im_end|> (also at
  <|endoftext|>) or after --max-new-tokens.

Modes:
- `--text`: prints each token, its id and self-information in bits, the mean
  and the perplexity (2 ** mean bits).
- `--chat`: prints the greedy answer and the tokens/s of the steps.
- `--check`: KV-cache decoding vs one full forward over prompt + answer (max
  |logit diff| and the same greedy tokens), chunked prefill, the
  capital-of-France answer (must mention Paris), the perplexity of a
  paragraph of plain English (must be < 40), the tokenizer (special tokens
  are single ids, texts round-trip) and, when present, decoder_q4.onnx against
  decoder.onnx (logits, self-information within 0.01 bits, same greedy ids);
  exits non-zero on failure.
- `--decoder decoder_q4.onnx`: run everything on the 4-bit graph instead.
- `--bench`: tokens/s for scoring (one forward over 512 tokens, batch 1) and
  for generation (per token with the KV cache, after a 64-token prompt).
- `--expected OUT.json`: writes the expectations pith's Rust tests compare
  against: the ids and self-information (bits, rounded to 1e-3) of
  FIXED_SENTENCE, and for each of GREEDY_PROMPTS the chat prompt ids and up to
  16 greedy ids (the first prompt runs all 16 steps; the second ends at
  <|im_end|>, which is included as the last id).
"""

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

FIXED_SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
FIXED_PROMPT = "What is the capital of France?"
# --expected: greedy tokens for these chat prompts, at most EXPECTED_NEW_TOKENS each; the first
# runs the full 16 steps, the second stops early at <|im_end|>.
GREEDY_PROMPTS = ["Give me a short description of a cat.", FIXED_PROMPT]
EXPECTED_NEW_TOKENS = 16
PARAGRAPH = (
    "The town library opens at nine in the morning and closes at six in the evening. "
    "On weekdays it is usually quiet, with a few students working at the long tables "
    "and older readers looking through the newspapers. On Saturdays the children's "
    "section is busy, because a volunteer reads stories aloud at eleven o'clock. "
    "Anyone who lives in the town can borrow up to ten books at a time for three weeks, "
    "and the staff are happy to order books from other libraries if they are not on the shelves."
)


class SmolLM2:
    def __init__(self, model_dir, threads=2, decoder=None):
        self.dir = model_dir
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.cfg = json.load(f)
        c = self.cfg
        self.layers, self.kvh, self.hd = c["num_hidden_layers"], c["num_key_value_heads"], c["head_dim"]
        self.vocab, self.hidden = c["vocab_size"], c["hidden_size"]
        self.embed = np.fromfile(os.path.join(model_dir, c["embed_tokens"]["file"]), dtype="<f4")
        if self.embed.size != self.vocab * self.hidden:
            raise SystemExit(f"embed_tokens.f32 has {self.embed.size} floats, expected {self.vocab}x{self.hidden}")
        self.embed = self.embed.reshape(self.vocab, self.hidden)
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.decoder = decoder or c["onnx"]["file"]
        self.sess = ort.InferenceSession(os.path.join(model_dir, self.decoder), sess_options=so,
                                         providers=["CPUExecutionProvider"])
        self.out_names = [o.name for o in self.sess.get_outputs()]

    def empty_past(self, batch=1):
        z = np.zeros((batch, self.kvh, 0, self.hd), np.float32)
        return [z] * (2 * self.layers)

    def forward(self, ids, past=None):
        """ids [n] for batch 1; returns (logits [n, vocab], presents)."""
        ids = np.asarray(ids, np.int64)
        past = past if past is not None else self.empty_past()
        p, n = past[0].shape[2], len(ids)
        feed = {"inputs_embeds": self.embed[ids][None],
                "attention_mask": np.ones((1, p + n), np.int64),
                "position_ids": np.arange(p, p + n, dtype=np.int64)[None]}
        for i in range(self.layers):
            feed[f"past_key_values.{i}.key"] = past[2 * i]
            feed[f"past_key_values.{i}.value"] = past[2 * i + 1]
        out = self.sess.run(self.out_names, feed)
        return out[0][0], out[1:]

    def encode(self, text):
        """Token ids; special tokens written in the text (e.g. <|im_start|>) become their ids."""
        return self.tok.encode(text, add_special_tokens=False).ids

    def self_information(self, text):
        """(ids of the text, self-information in bits per text token)."""
        ids = self.encode(text)
        full = [self.cfg["score_prefix_token_id"]] + ids
        logits, _ = self.forward(full)
        bits = -log_softmax(logits[:-1])[np.arange(len(ids)), ids] / np.log(2.0)
        return ids, bits

    def chat_prompt(self, user, system=None):
        system = system if system is not None else self.cfg["default_system_prompt"]
        text = (f"<|im_start|>system\n{system}<|im_end|>\n"
                f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
        try:
            import jinja2
        except ImportError:
            return text
        msgs = [{"role": "user", "content": user}]
        if system != self.cfg["default_system_prompt"]:
            msgs.insert(0, {"role": "system", "content": system})
        rendered = jinja2.Environment().from_string(self.cfg["chat_template"]).render(
            messages=msgs, add_generation_prompt=True)
        if rendered != text:
            raise SystemExit(f"chat prompt differs from the GGUF template:\n{rendered!r}\n{text!r}")
        return text

    def generate(self, prompt_ids, max_new, stop_ids):
        """Greedy decoding with the KV cache: (new ids, logits per step, seconds per step)."""
        logits, past = self.forward(prompt_ids)
        new, step_logits, times = [], [], []
        nxt = int(np.argmax(logits[-1]))
        step_logits.append(logits[-1])
        while True:
            new.append(nxt)
            if nxt in stop_ids or len(new) >= max_new:
                break
            t0 = time.perf_counter()
            logits, past = self.forward([nxt], past)
            times.append(time.perf_counter() - t0)
            step_logits.append(logits[-1])
            nxt = int(np.argmax(logits[-1]))
        return new, step_logits, times

    def stop_ids(self):
        return {self.cfg["im_end_token_id"], self.cfg["endoftext_token_id"], self.cfg["eos_token_id"]}

    def answer(self, question, max_new=128):
        ids = self.encode(self.chat_prompt(question))
        new, logits, times = self.generate(ids, max_new, self.stop_ids())
        text = self.tok.decode([t for t in new if t not in self.stop_ids()])
        return ids, new, logits, times, text


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def print_scores(m, text):
    ids, bits = m.self_information(text)
    for i, b in zip(ids, bits):
        print(f"  {i:6d} {m.tok.id_to_token(i)!r:>18} {b:8.3f}")
    mean = float(np.mean(bits))
    print(f"{len(ids)} tokens, mean {mean:.3f} bits/token, perplexity {2 ** mean:.2f}")
    return mean


def check(m):
    ok = True
    q_ids, new, step_logits, _times, text = m.answer(FIXED_PROMPT, 64)
    print(f"greedy answer to {FIXED_PROMPT!r} ({len(new)} tokens): {text!r}")
    if "paris" not in text.lower():
        print("  FAIL: the answer does not mention Paris")
        ok = False
    # KV-cache decoding vs one full forward over prompt + answer
    full, _ = m.forward(q_ids + new[:-1])
    full = full[len(q_ids) - 1:]
    diff = float(max(np.abs(a - b).max() for a, b in zip(step_logits, full)))
    same = [int(np.argmax(r)) for r in full] == new
    print(f"KV-cache steps vs full forward over prompt + answer: max |logit diff| {diff:.2e}, "
          f"same greedy tokens: {same}")
    if diff > 1e-2 or not same:
        print("  FAIL: the KV cache disagrees with the full forward")
        ok = False
    # batch-of-one chunked prefill: 3 chunks through the cache give the full logits
    ids = m.encode(PARAGRAPH)[:40]
    ref, _ = m.forward(ids)
    parts, past = [], None
    for a, b in ((0, 17), (17, 18), (18, 40)):
        lg, past = m.forward(ids[a:b], past)
        parts.append(lg)
    cdiff = float(np.abs(np.concatenate(parts) - ref).max())
    print(f"chunked prefill (17 + 1 + 22 tokens) vs one forward: max |logit diff| {cdiff:.2e}")
    if cdiff > 1e-2:
        ok = False
    ids, bits = m.self_information(PARAGRAPH)
    ppl = 2 ** float(np.mean(bits))
    print(f"perplexity of a {len(ids)}-token English paragraph: {ppl:.2f} "
          f"(mean {np.mean(bits):.3f} bits/token)")
    if not ppl < 40:
        print("  FAIL: perplexity >= 40")
        ok = False
    # tokenizer: special tokens are single ids, texts round-trip
    for s in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        e = m.tok.encode(s, add_special_tokens=False).ids
        if len(e) != 1:
            print(f"  FAIL: {s} encodes to {e}")
            ok = False
    for s in (PARAGRAPH, FIXED_SENTENCE, "naïve café 東京 🙂 x=3.14159\n\ttab  two spaces"):
        if m.tok.decode(m.encode(s), skip_special_tokens=False) != s:
            print(f"  FAIL: {s!r} does not round-trip")
            ok = False
    return ok


def check_variant(m, other):
    """Another decoder file (decoder_q4.onnx) against m's: logits, self-information, greedy ids."""
    ids = m.encode(PARAGRAPH)
    a, _ = m.forward(ids)
    b, _ = other.forward(ids)
    dl = float(np.abs(a - b).max())
    _, sa = m.self_information(FIXED_SENTENCE)
    _, sb = other.self_information(FIXED_SENTENCE)
    dsi = float(np.abs(sa - sb).max())
    same = all(m.answer(p, EXPECTED_NEW_TOKENS)[1] == other.answer(p, EXPECTED_NEW_TOKENS)[1]
               for p in GREEDY_PROMPTS)
    print(f"{other.decoder} vs {m.decoder}: max |logit diff| {dl:.2e} over {len(ids)} tokens, "
          f"max self-information diff {dsi:.2e} bits, same greedy ids: {same}")
    return dl < 1e-2 and dsi < 1e-2 and same


def bench(m, threads):
    base = m.encode(PARAGRAPH * 8)
    ids = (base * (512 // len(base) + 1))[:512]
    m.forward(ids[:64])  # warm-up
    ts = []
    for _ in range(3):
        t0 = time.perf_counter()
        m.forward(ids)
        ts.append(time.perf_counter() - t0)
    score_tps = 512 / min(ts)
    logits, past = m.forward(ids[:64])
    steps = []
    nxt = int(np.argmax(logits[-1]))
    for _ in range(48):
        t0 = time.perf_counter()
        logits, past = m.forward([nxt], past)
        steps.append(time.perf_counter() - t0)
        nxt = int(np.argmax(logits[-1]))
    med = float(np.median(steps))
    print(f"bench {m.decoder} ({threads} threads, onnxruntime {ort.__version__}): scoring 512 tokens, batch 1: "
          f"best of 3 {min(ts):.2f}s = {score_tps:.0f} tokens/s (all runs {', '.join(f'{t:.2f}' for t in ts)}); "
          f"generation with KV cache after a 64-token prompt: median {med * 1000:.1f} ms/token = "
          f"{1 / med:.1f} tokens/s (mean {np.mean(steps) * 1000:.1f} ms)")
    return score_tps, 1 / med


def expected(m, path):
    ids, bits = m.self_information(FIXED_SENTENCE)
    greedy = []
    for prompt in GREEDY_PROMPTS:
        q_ids, new, logits, _t, text = m.answer(prompt, EXPECTED_NEW_TOKENS)
        # smallest gap between the best and second-best logit on the path: how far a
        # different summation order would have to move the logits to flip a greedy pick
        margin = min(float(np.diff(np.sort(lg)[-2:])[0]) for lg in logits)
        greedy.append({"prompt": prompt, "chat_prompt_ids": [int(i) for i in q_ids],
                       "ids": [int(i) for i in new], "text": text, "min_top2_logit_margin": round(margin, 3),
                       "stopped_at_im_end": bool(new and new[-1] == m.cfg["im_end_token_id"])})
    out = {
        "model": "smollm2-135m",
        "decoder": m.decoder,
        "decoder_sha256": sha256_file(os.path.join(m.dir, m.decoder)),
        "score_prefix_token_id": m.cfg["score_prefix_token_id"],
        "sentence": FIXED_SENTENCE,
        "sentence_ids": [int(i) for i in ids],
        "self_information_bits": [round(float(b), 3) for b in bits],
        "self_information_tolerance": 0.01,
        "greedy_max_new_tokens": EXPECTED_NEW_TOKENS,
        "greedy": greedy,
    }
    with open(path + ".part", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(path + ".part", path)
    print(f"wrote {path}: {len(ids)} sentence tokens; greedy: " +
          "; ".join(f"{g['prompt']!r} -> {len(g['ids'])} ids {g['text']!r}" for g in greedy))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--text")
    ap.add_argument("--text-file")
    ap.add_argument("--chat")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--expected")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decoder", help="decoder file in MODEL_DIR (default config.json's onnx.file, "
                    "decoder.onnx; decoder_q4.onnx is the 4-bit one)")
    a = ap.parse_args()
    m = SmolLM2(a.model_dir, a.threads, a.decoder)
    ok = True
    if a.text is not None or a.text_file:
        text = a.text if a.text is not None else open(a.text_file, encoding="utf-8").read()
        print_scores(m, text)
    if a.chat:
        _ids, new, _l, times, text = m.answer(a.chat, a.max_new_tokens)
        print(text)
        if times:
            print(f"[{len(new)} tokens, {len(times) / sum(times):.1f} tokens/s per cached step]")
    if a.check:
        ok = check(m) and ok
        q4 = m.cfg.get("onnx_q4", {}).get("file")
        if q4 and q4 != m.decoder and os.path.exists(os.path.join(m.dir, q4)):
            ok = check_variant(m, SmolLM2(m.dir, a.threads, q4)) and ok
    if a.bench:
        bench(m, a.threads)
    if a.expected:
        expected(m, a.expected)
    if not ok:
        print("smollm2_reference: checks FAILED")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
