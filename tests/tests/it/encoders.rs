use pith_models::catalog::{IMAGE_MODEL, TEXT_MODEL};
use pith_models::image_encoder::{softmax, top_k};
use pith_models::{ImageEncoder, TextEncoder};

use super::common::*;

fn fixture() -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// MiniLM embeddings from Rust equal Python onnxruntime's on the same model.
#[test]
fn text_embeddings_match_python_onnxruntime() {
    let m = models();
    let enc = TextEncoder::load(&m.root, &m.dir(TEXT_MODEL), 2).unwrap();
    let fx = fixture();
    let cases = fx["text"]["cases"].as_array().unwrap();
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    // Batched together (padding involved) and one by one must both match.
    let batched = enc.embed(&texts).unwrap();
    for (c, got) in cases.iter().zip(&batched) {
        let want: Vec<f32> = c["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let cos = pith_models::dot(got, &want);
        let max_abs = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(cos > 0.9999 && max_abs < 1e-3, "{:?}: cos {cos} max_abs {max_abs}", c["text"]);
        let single = enc.embed_one(c["text"].as_str().unwrap()).unwrap();
        assert!(pith_models::dot(&single, &want) > 0.9999);
    }
}

/// Ingest embeds each chunk from the ids the chunker already made; they must
/// give the embedding of the chunk's own text (the Python-checked path), and a
/// short text must come out as exactly the tokenizer's ids.
#[test]
fn chunk_ids_embed_like_the_chunk_text() {
    let m = models();
    let enc = TextEncoder::load(&m.root, &m.dir(TEXT_MODEL), 2).unwrap();
    let short = "A tabby cat sleeps on the sofa.";
    let spans = pith_pipeline::chunk::chunk_spans(enc.raw_tokenizer(), short, 200, 40).unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].ids, enc.raw_tokenizer().encode(short, true).unwrap().get_ids());
    let long: String = (0..120).map(|i| format!("Sentence number {i} talks about cats, rockets and coffee. ")).collect();
    let spans = pith_pipeline::chunk::chunk_spans(enc.raw_tokenizer(), &long, 200, 40).unwrap();
    assert!(spans.len() > 3, "{} chunks", spans.len());
    let ids: Vec<&[u32]> = spans.iter().map(|s| s.ids.as_slice()).collect();
    let from_ids = enc.embed_ids(&ids).unwrap();
    let texts: Vec<&str> = spans.iter().map(|s| &long[s.start..s.end]).collect();
    let from_text = enc.embed(&texts).unwrap();
    for (i, (a, b)) in from_ids.iter().zip(&from_text).enumerate() {
        assert!(spans[i].ids.len() <= 202, "chunk {i} has {} ids", spans[i].ids.len());
        assert!(pith_models::dot(a, b) > 0.99, "chunk {i}: cos {}", pith_models::dot(a, b));
    }
}

/// EfficientNet predictions from Rust preprocessing agree with the PIL + onnxruntime reference.
#[test]
fn image_predictions_match_python_reference() {
    let m = models();
    let enc = ImageEncoder::load(&m.root, &m.dir(IMAGE_MODEL), 2).unwrap();
    assert_eq!(enc.classes.len(), 1000);
    for case in fixture()["image"]["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let img = image::open(testdata().join("skimage").join(file)).unwrap();
        let out = enc.encode(vec![enc.prep.prepare(&img)]).unwrap().remove(0);
        let p = softmax(&out.logits);
        let top: Vec<usize> = top_k(&p, 5);
        let want: Vec<usize> = case["top5"].as_array().unwrap().iter().map(|t| t["index"].as_u64().unwrap() as usize).collect();
        assert_eq!(top[0], want[0], "{file}: top-1 differs");
        let overlap = top.iter().filter(|i| want.contains(i)).count();
        assert!(overlap >= 4, "{file}: top-5 {top:?} vs {want:?}");
        let p0 = case["top5"][0]["prob"].as_f64().unwrap() as f32;
        assert!((p[want[0]] - p0).abs() < 0.05, "{file}: p {} vs {p0}", p[want[0]]);
        assert_eq!(out.features.len(), 1280);
        // The pooled features (what "more like this" uses) match Python's too.
        let l2 = out.features.iter().map(|x| x * x).sum::<f32>().sqrt();
        let want_l2 = case["features_l2"].as_f64().unwrap() as f32;
        assert!((l2 - want_l2).abs() < 0.01 * want_l2, "{file}: features L2 {l2} vs {want_l2}");
        for (i, w) in case["features_first16"].as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap() as f32;
            assert!((out.features[i] - w).abs() < 0.03 + 0.03 * w.abs(), "{file}: feature {i} = {} vs {w}", out.features[i]);
        }
    }
}

#[test]
fn a_model_failing_its_checksum_is_refused_with_the_fix() {
    let m = models();
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join(TEXT_MODEL);
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["manifest.json", "model.onnx", "tokenizer.json"] {
        std::fs::copy(m.dir(TEXT_MODEL).join(f), copy.join(f)).unwrap();
    }
    let mut tok = std::fs::read(copy.join("tokenizer.json")).unwrap();
    tok.push(b' ');
    std::fs::write(copy.join("tokenizer.json"), tok).unwrap();
    let err = TextEncoder::load(&m.root, &copy, 1).err().expect("tampered model must not load").to_string();
    assert!(err.contains("sha256") && err.contains("tokenizer.json") && err.contains("make models"), "{err}");
}
