//! The local LM against the Python onnxruntime reference that
//! `scripts/smollm2_reference.py` wrote at conversion (`expected.json`):
//! the same token ids, self-information within 0.01 bits, the same greedy
//! continuations through the KV cache.

use pith_models::catalog::LM_MODEL;
use pith_models::{LocalLm, Prompt, Sampling};

use super::common::models;

fn lm() -> (LocalLm, serde_json::Value) {
    let m = models();
    let dir = m.dir(LM_MODEL);
    let lm = LocalLm::load(&m.root, &dir, 2).unwrap();
    let expected: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    (lm, expected)
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn self_information_and_greedy_decoding_match_the_python_reference() {
    let (lm, want) = lm();
    let sentence = want["sentence"].as_str().unwrap();
    let toks = lm.encode(sentence).unwrap();
    assert_eq!(toks, ids(&want["sentence_ids"]));
    let bits = lm.self_information(&toks).unwrap();
    let tol = want["self_information_tolerance"].as_f64().unwrap() as f32;
    for (i, (got, w)) in bits.iter().zip(want["self_information_bits"].as_array().unwrap()).enumerate() {
        assert!((got - w.as_f64().unwrap() as f32).abs() <= tol, "token {i}: {got} vs {w}");
    }
    let max_new = want["greedy_max_new_tokens"].as_u64().unwrap() as usize;
    for case in want["greedy"].as_array().unwrap() {
        let prompt = lm.chat_ids(&[("user", case["prompt"].as_str().unwrap())]).unwrap();
        assert_eq!(prompt, ids(&case["chat_prompt_ids"]));
        let out = lm.generate(Prompt::ids(prompt), max_new, Sampling::default()).unwrap();
        assert_eq!(out, ids(&case["ids"]), "{}", lm.decode(&out).unwrap());
    }
}

#[test]
fn scoring_a_long_text_in_windows_gives_one_score_per_token() {
    let (lm, _) = lm();
    let text = "The river rose after three days of rain, and the bridge was closed. ".repeat(120);
    let toks = lm.encode(&text).unwrap();
    assert!(toks.len() > 1024, "{}", toks.len());
    let bits = lm.self_information(&toks).unwrap();
    assert_eq!(bits.len(), toks.len());
    assert!(bits.iter().all(|b| b.is_finite() && *b >= 0.0));
    // Repetition is predictable: the tenth copy costs far less than the first.
    let per = toks.len() / 120;
    let first: f32 = bits[..per].iter().sum();
    let tenth: f32 = bits[9 * per..10 * per].iter().sum();
    assert!(tenth < first / 4.0, "first {first}, tenth {tenth}");
}
