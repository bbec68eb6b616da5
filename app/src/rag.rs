//! `pith rag` (context for an LLM, printed as the prompt block and its
//! sources) and `pith tokenizers` (which tokenizer counts the budget).

use anyhow::{anyhow, Result};
use pith_pipeline::rag::{Compression, RagRequest};
use pith_pipeline::{Engine, EngineConfig};

use crate::cli::{RagArgs, TokenizersCmd};
use crate::commands::filters_from;

pub fn rag(cfg: EngineConfig, a: RagArgs) -> Result<()> {
    if a.min_relevance.is_some_and(|x| !(0.0..=1.0).contains(&x)) {
        return Err(anyhow!("--min-relevance takes a number from 0 to 1"));
    }
    let engine = Engine::open_read_only(cfg)?;
    let compression = if a.xrag {
        Compression::Xrag
    } else {
        Compression::parse(&a.compression)
            .ok_or_else(|| anyhow!("--compression is none, extractive, tokens, extractive+tokens, xrag or extractive+xrag"))?
    };
    let req = RagRequest {
        k: a.k,
        token_budget: a.budget,
        compression,
        filters: filters_from(a.kind, a.path, None, None, None)?,
        tokenizer: a.tokenizer,
        min_relevance: a.min_relevance,
        ..RagRequest::new(a.question.clone())
    };
    let r = engine.rag_context(&req)?;
    let answer = if a.answer || a.xrag { Some(answer(&engine, &a.question, &r)?) } else { None };
    if a.json {
        if let Some((text, secs)) = answer {
            let mut v = serde_json::to_value(&r)?;
            v["answer"] = serde_json::json!({"text": text, "seconds": secs, "model": pith_models::catalog::LM_MODEL});
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    if r.contexts.is_empty() {
        println!("no context: nothing relevant enough was found ({} passages below the cut-off)", r.hidden);
        return Ok(());
    }
    println!("{}\n", r.prompt);
    println!(
        "{} contexts, {} of {} tokens kept ({:.1}x), prompt {} tokens ({}); {:.0} ms (retrieve {:.0}, sentences {:.0}, compress {:.0})",
        r.contexts.len(),
        r.kept_tokens,
        r.original_tokens,
        r.compression_ratio,
        r.prompt_tokens,
        r.tokenizer,
        r.timings.total_ms,
        r.timings.retrieve_ms,
        r.timings.sentences_ms,
        r.timings.compress_ms
    );
    if let Some(x) = &r.xrag {
        println!("xRAG: each {} above is one input embedding of {} ({} values, bridge {})", x.mark, x.llm, x.dim, x.bridge);
    }
    if let Some((text, secs)) = answer {
        println!("\nanswer ({}, {secs:.1} s):\n{}", pith_models::catalog::LM_MODEL, text.trim());
    }
    Ok(())
}

/// The built-in model's greedy answer from the context block (its xRAG
/// marks replaced by the tokens), and the seconds it took.
fn answer(engine: &Engine, question: &str, r: &pith_pipeline::rag::RagContext) -> Result<(String, f64)> {
    let t = std::time::Instant::now();
    let lm = engine.encoders()?.lm()?.ok_or_else(|| anyhow!("the built-in model is not installed: run `make models`"))?;
    let slots: Vec<Vec<f32>> =
        r.contexts.iter().filter_map(|c| c.xrag.as_deref()).map(pith_pipeline::rag::xrag::decode_token).collect::<Result<_, _>>()?;
    let question = question.replace(pith_models::XRAG_MARK, "<xrag>");
    let system = format!("Answer from these passages of the user's files, citing them as [1], [2].\n\n{}", r.prompt);
    let prompt = lm.chat_prompt(&[("system", &system), ("user", &question)], &slots)?;
    let ids = lm.generate(prompt, 200, pith_models::Sampling::default())?;
    Ok((lm.decode(&ids)?, t.elapsed().as_secs_f64()))
}

pub fn tokenizers(cfg: EngineConfig, t: TokenizersCmd) -> Result<()> {
    match t {
        TokenizersCmd::Add { name, file } => {
            let engine = Engine::open(cfg)?;
            engine.add_tokenizer(&name, &file)?;
            println!("tokenizer `{name}` registered: use `--tokenizer {name}` or \"tokenizer\": \"{name}\"");
        }
        TokenizersCmd::List => {
            let engine = Engine::open_read_only(cfg)?;
            println!("{} (default)", pith_pipeline::rag::budget::DEFAULT_TOKENIZER);
            for n in engine.tokenizers()? {
                println!("{n}");
            }
        }
    }
    Ok(())
}

/// `pith bench rag`: warm latency per stage, and compression achieved.
pub fn bench(cfg: EngineConfig, qs: &[String], k: usize, budget: usize, compression: &str, json: bool) -> Result<()> {
    let engine = Engine::open_read_only(cfg)?;
    let Some(first) = qs.first() else { return Err(anyhow!("no queries")) };
    let compression = Compression::parse(compression)
        .ok_or_else(|| anyhow!("--compression is none, extractive, tokens, extractive+tokens, xrag or extractive+xrag"))?;
    let req = |q: &str| RagRequest { k, token_budget: budget, compression, min_relevance: Some(0.0), ..RagRequest::new(q) };
    engine.rag_context(&req(first))?;
    let (mut total, mut retrieve, mut sentences, mut compress, mut ratio, mut prompt) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for q in qs {
        let r = engine.rag_context(&req(q))?;
        total.push(r.timings.total_ms);
        retrieve.push(r.timings.retrieve_ms);
        sentences.push(r.timings.sentences_ms);
        compress.push(r.timings.compress_ms);
        ratio.push(r.compression_ratio as f64);
        prompt.push(r.prompt_tokens as f64);
    }
    let p = |v: &[f64], x| pith_pipeline::eval::percentile(v, x);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let out = serde_json::json!({
        "queries": qs.len(), "k": k, "budget": budget,
        "p50_ms": p(&total, 50.0), "p95_ms": p(&total, 95.0),
        "retrieve_p50_ms": p(&retrieve, 50.0), "sentences_p50_ms": p(&sentences, 50.0), "compress_p50_ms": p(&compress, 50.0),
        "compression_ratio_mean": mean(&ratio), "prompt_tokens_mean": mean(&prompt),
    });
    if json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// `pith bench lm`: tokens/s of the local LM scoring a text in one pass and
/// generating greedily with its KV cache (best of `repeat` runs).
pub fn bench_lm(cfg: EngineConfig, tokens: usize, generate: usize, repeat: usize) -> Result<()> {
    use std::time::Instant;
    let cache = &cfg.models;
    let t0 = Instant::now();
    let lm = pith_models::LocalLm::load(&cache.root, &cache.dir(pith_models::catalog::LM_MODEL), cfg.threads.max(1))?;
    let load_s = t0.elapsed().as_secs_f64();
    let text =
        "The committee met on Tuesday to review the budget for the new library, and after a long debate it approved the plan. ".repeat(64);
    let mut ids = lm.encode(&text)?;
    ids.truncate(tokens.max(1));
    let (mut score_best, mut gen_best) = (f64::MAX, f64::MAX);
    let mut made = 0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        lm.self_information(&ids)?;
        score_best = score_best.min(t.elapsed().as_secs_f64());
        let prompt = lm.chat_ids(&[("user", "Write a short story about a lighthouse keeper.")])?;
        let t = Instant::now();
        made = lm.generate(pith_models::Prompt::ids(prompt), generate, pith_models::Sampling::default())?.len();
        gen_best = gen_best.min(t.elapsed().as_secs_f64());
    }
    println!("model {} loaded in {load_s:.1} s, {} threads", lm.name, cfg.threads.max(1));
    println!("scoring: {} tokens in {:.3} s = {:.0} tokens/s", ids.len(), score_best, ids.len() as f64 / score_best);
    println!("generation: {made} tokens in {:.3} s = {:.1} tokens/s (prompt prefill included)", gen_best, made as f64 / gen_best);
    Ok(())
}
