//! What each subcommand does.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pith_models::ModelCache;
use pith_pipeline::eval::{beir, captions};
use pith_pipeline::search::{Filters, Fusion, Hubness, Mode, SearchRequest};
use pith_pipeline::{Engine, EngineConfig, Kind, SearchHit};

use crate::cli::{AnnArgs, BenchCmd, Cli, Command, ConfigCmd, EvalCmd, KindArg, ModeArg, ModelsCmd, SearchArgs};
use crate::progress::CliProgress;

pub fn config(cli: &Cli) -> EngineConfig {
    let models = cli.models.clone().map(ModelCache::new).unwrap_or_else(ModelCache::from_env);
    let data = cli.data.clone().unwrap_or_else(EngineConfig::default_data_dir);
    let mut cfg = EngineConfig::new(data, models);
    cfg.threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()).min(8)).max(1);
    cfg
}

fn mode(m: ModeArg) -> Mode {
    match m {
        ModeArg::Hybrid => Mode::Hybrid,
        ModeArg::Bm25 => Mode::Bm25,
        ModeArg::Vector => Mode::Vector,
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let cfg = config(&cli);
    match cli.cmd {
        Command::Ingest { paths, json } => ingest(cfg, paths, json),
        Command::Search(args) => search(cfg, args),
        Command::Rag(args) => crate::rag::rag(cfg, args),
        Command::Tokenizers(t) => crate::rag::tokenizers(cfg, t),
        Command::Xrag(x) => crate::xrag::run(cfg, x),
        Command::Similar { id, k, json } => {
            let engine = Engine::open_read_only(cfg)?;
            print_hits(&engine.similar(pith_pipeline::ids::ItemId(id), k)?, json)
        }
        Command::Status { json, errors } => status(cfg, json, errors),
        Command::Check { repair } => {
            // Opening as the writer repairs; without --repair only look.
            let c = if repair { Engine::open(cfg)?.check()? } else { Engine::open_read_only(cfg)?.check()? };
            println!("{}", serde_json::to_string_pretty(&c)?);
            if !c.is_consistent() {
                bail!("store and indexes disagree (run `pith check --repair`)");
            }
            Ok(())
        }
        Command::Eval(e) => eval(cfg, e),
        Command::Bench(b) => bench(cfg, b),
        Command::Models(m) => models(cfg, m),
        Command::Config(c) => settings(cfg, c),
        Command::Calibrate(c) => calibrate(cfg, c),
        Command::Serve(args) => crate::serve::serve(cfg, args),
        Command::Watch { dirs } => crate::serve::watch_only(cfg, dirs),
        Command::Mcp { root } => crate::mcp::serve(cfg, root),
    }
}

fn ingest(cfg: EngineConfig, paths: Vec<PathBuf>, json: bool) -> Result<()> {
    if paths.is_empty() {
        bail!("give at least one file or folder to ingest");
    }
    let engine = Engine::open(cfg)?;
    crate::serve::tell_excluded(&engine, &paths);
    let progress = CliProgress::new();
    let report = pith_pipeline::ingest::ingest(&engine, &paths, &progress)?;
    progress.finish();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} files seen: {} added, {} updated, {} unchanged, {} removed, {} unsupported, {} failed ({} text chunks, {} images) in {:.1}s",
            report.files_seen,
            report.added,
            report.updated,
            report.unchanged,
            report.removed,
            report.skipped_unsupported,
            report.failed,
            report.text_chunks,
            report.images,
            report.seconds
        );
        if report.failed > 0 {
            println!("see `pith status` for the errors");
        }
    }
    Ok(())
}

pub fn filters_from(
    kind: Option<KindArg>,
    path: Option<String>,
    after: Option<String>,
    before: Option<String>,
    ext: Option<String>,
) -> Result<Filters> {
    let date = |s: Option<String>, what: &str| -> Result<Option<i64>> {
        s.map(|d| pith_pipeline::dates::parse_date(&d).with_context(|| format!("--{what} wants a date as YYYY-MM-DD, got `{d}`")))
            .transpose()
    };
    Ok(Filters {
        kind: kind.map(|k| match k {
            KindArg::Text => Kind::Text,
            KindArg::Image => Kind::Image,
            KindArg::Audio => Kind::Audio,
            KindArg::Video => Kind::Video,
            KindArg::Pdf => Kind::Pdf,
            KindArg::Document => Kind::Document,
            KindArg::Spreadsheet => Kind::Spreadsheet,
            KindArg::Slides => Kind::Slides,
            KindArg::Ebook => Kind::Ebook,
            KindArg::Textimage => Kind::TextImage,
        }),
        path_prefix: path.map(|p| std::path::absolute(&p).map(|a| a.to_string_lossy().into_owned()).unwrap_or(p)),
        after: date(after, "after")?,
        before: date(before, "before")?,
        ext: ext.map(|e| e.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default(),
    })
}

fn search(cfg: EngineConfig, a: SearchArgs) -> Result<()> {
    let engine = Engine::open_read_only(cfg)?;
    for (name, v) in [("--min-relevance", a.min_relevance), ("--semantic-ratio", a.semantic_ratio)] {
        if v.is_some_and(|x| !(0.0..=1.0).contains(&x)) {
            bail!("{name} takes a number from 0 to 1");
        }
    }
    let req = SearchRequest {
        offset: a.offset,
        filters: filters_from(a.kind, a.path, a.after, a.before, a.ext)?,
        mode: mode(a.mode),
        min_relevance: if a.all { Some(0.0) } else { a.min_relevance },
        fusion: a.fusion.as_deref().map(|f| Fusion::parse(f).ok_or_else(|| anyhow::anyhow!("--fusion is convex or rrf"))).transpose()?,
        semantic_ratio: a.semantic_ratio,
        hubness: a
            .hubness
            .as_deref()
            .map(|h| Hubness::parse(h).ok_or_else(|| anyhow::anyhow!("--hubness is none, csls, qbnorm or dbnorm")))
            .transpose()?,
        ..SearchRequest::new(a.query, a.k)
    };
    let res = engine.search_results(&req)?;
    print_hits(&res.hits, a.json)?;
    if res.hidden > 0 && !a.json {
        println!("({} weaker matches hidden: --all shows them)", res.hidden);
    }
    Ok(())
}

fn print_hits(hits: &[SearchHit], json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for h in hits {
            writeln!(out, "{}", serde_json::to_string(h)?)?;
        }
        return Ok(());
    }
    if hits.is_empty() {
        writeln!(out, "no results")?;
    }
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for (i, h) in hits.iter().enumerate() {
        let rel = h.relevance.map(|r| format!(", relevance {r:.2}")).unwrap_or_default();
        writeln!(out, "{:>2}. [{}] {}  (id {}, score {:.4}{rel})", i + 1, h.kind, h.title, h.id, h.score)?;
        match (h.start, h.end, h.page, &h.section) {
            (Some(s), Some(t), ..) => {
                writeln!(out, "    {}  @ {}–{}", h.path, pith_pipeline::dates::clock(s), pith_pipeline::dates::clock(t))?
            }
            (_, _, Some(p), _) => writeln!(out, "    {}  page {p}", h.path)?,
            (_, _, _, Some(sec)) => writeln!(out, "    {}  § {sec}", h.path)?,
            _ => writeln!(out, "    {}", h.path)?,
        }
        if !h.snippet.is_empty() {
            writeln!(out, "    {}", render_snippet(&h.snippet, &h.highlights, color))?;
        }
    }
    Ok(())
}

fn render_snippet(s: &str, hl: &[(usize, usize)], color: bool) -> String {
    let (open, close) = if color { ("\x1b[1;33m", "\x1b[0m") } else { ("[", "]") };
    let mut out = String::new();
    let mut at = 0;
    for &(a, b) in hl {
        if a < at || a > b || b > s.len() || !s.is_char_boundary(a) || !s.is_char_boundary(b) {
            continue;
        }
        out.push_str(&s[at..a]);
        out.push_str(open);
        out.push_str(&s[a..b]);
        out.push_str(close);
        at = b;
    }
    out.push_str(&s[at..]);
    out
}

fn status(cfg: EngineConfig, json: bool, errors: usize) -> Result<()> {
    let engine = Engine::open_read_only(cfg)?;
    let s = engine.status(errors)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("store: {}", s.data_dir);
    let c = &s.counts;
    println!(
        "files: {}  text items: {}  documents: {}  images: {} ({} with text)  recordings: {}  videos: {}  chunks: {}  vectors: {}",
        c.files, c.text_items, c.document_items, c.image_items, c.ocr_items, c.audio_items, c.video_items, c.chunks, c.vectors
    );
    let mut spaces = s.spaces.clone();
    spaces.sort_by(|a, b| (&a.label, &a.state).cmp(&(&b.label, &b.state)));
    for sp in spaces {
        let pending = if sp.pending > 0 { format!(", {} pending backfill", sp.pending) } else { String::new() };
        println!("space {}: {} vectors ({}, {}-d, {}{pending})", sp.label, sp.vectors, sp.model, sp.dim, sp.state);
        println!("  {}", footprint(&sp.index));
    }
    println!("ingest errors: {}", c.errors);
    for e in &s.errors {
        println!("  {}: {}", e.path, e.reason);
    }
    Ok(())
}

fn footprint(f: &pith_pipeline::index::IndexFootprint) -> String {
    format!("codec {}: {} B/vector, index RAM {}, on disk {}", f.codec, f.bytes_per_vector, f.ram_text(), f.disk_text())
}

fn settings(cfg: EngineConfig, c: ConfigCmd) -> Result<()> {
    match c {
        ConfigCmd::Get => {
            let engine = Engine::open_read_only(cfg)?;
            for sp in engine.status(0)?.spaces {
                println!("space.{}.codec = {}    ({})", sp.label, sp.index.codec, footprint(&sp.index));
                if matches!(sp.label.as_str(), "conse" | "clip" | "clap") {
                    println!("space.{}.hubness = {}", sp.label, engine.hubness_of(&sp.label));
                }
            }
            let o = engine.search_options(&SearchRequest::new("", 1));
            println!("search.fusion = {}", o.fusion.as_str());
            println!("search.semantic-ratio = {}", o.semantic_ratio);
            println!("search.min-relevance = {}", o.min_relevance);
            println!("search.calibration = {}", o.calibration.fitted_on);
            println!(
                "search.log-queries = {} ({} queries logged)",
                if engine.logs_queries() { "on" } else { "off" },
                engine.query_log_len().unwrap_or(0)
            );
            for (k, default) in [
                ("rag.sentence-vectors", "on"),
                ("rag.token-scores", "off"),
                ("rag.token-scorer", "lm"),
                ("ocr.mode", "auto"),
                ("ocr.lang", "eng"),
                ("ocr.timeout", "60"),
            ] {
                println!("{k} = {}", engine.setting(k).unwrap_or_else(|| default.into()));
            }
        }
        ConfigCmd::Set { key, value } => {
            let parts: Vec<&str> = key.split('.').collect();
            if matches!(parts.first(), Some(&"search") | Some(&"rag") | Some(&"ocr")) || parts.last() == Some(&"hubness") {
                let engine = Engine::open(cfg)?;
                engine.set_setting(&key, Some(&value))?;
                println!("{key} = {}", engine.setting(&key).unwrap_or_else(|| "default".into()));
                return Ok(());
            }
            let (label, what) = match parts[..] {
                ["space", label, what] => (label, what),
                _ => bail!("unknown key `{key}` (space.<label>.codec, .memory-budget or .hubness, search.fusion, search.semantic-ratio, search.min-relevance, search.log-queries, rag.sentence-vectors, rag.token-scores, rag.token-scorer, ocr.mode, ocr.lang, ocr.timeout)"),
            };
            let engine = Engine::open(cfg)?;
            let codec = match what {
                "codec" => value.clone(),
                "memory-budget" => {
                    let bytes: usize = value
                        .trim()
                        .trim_end_matches(['B', 'b'])
                        .parse()
                        .with_context(|| format!("`{value}` is not a byte count such as 64B"))?;
                    let dim = engine
                        .spaces()
                        .into_iter()
                        .find(|s| s.row.label == label)
                        .map(|s| s.row.dim)
                        .ok_or_else(|| anyhow::anyhow!("no space `{label}`"))?;
                    let chosen = pith_pipeline::index::coded::codec_for_budget(bytes, dim)?;
                    println!("{bytes} B per {dim}-d vector: {chosen}");
                    chosen.to_string()
                }
                _ => bail!("unknown setting `{what}` (codec or memory-budget)"),
            };
            let t = Instant::now();
            for f in engine.set_codec(label, &codec)? {
                println!("space {label} re-encoded in {:.1} s: {}", t.elapsed().as_secs_f64(), footprint(&f));
            }
        }
    }
    Ok(())
}

fn eval(cfg: EngineConfig, e: EvalCmd) -> Result<()> {
    let progress = CliProgress::new();
    match e {
        EvalCmd::Beir { dir, mode: m, compare, json, run, store, dump_lists } => {
            let settings: Vec<beir::Setting> = if compare.is_empty() {
                vec![beir::Setting { mode: mode(m), fusion: None, semantic_ratio: None }]
            } else {
                compare
                    .iter()
                    .map(|c| {
                        beir::Setting::parse(c)
                            .ok_or_else(|| anyhow::anyhow!("unknown setting `{c}` (bm25, vector, hybrid, rrf, convex, convex@0.5)"))
                    })
                    .collect::<Result<_>>()?
            };
            let r = beir::run(&dir, &cfg, &settings, run.as_deref(), store, &progress, &[], dump_lists.as_deref())?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("dataset {}  queries {}", r.dataset, r.queries);
                println!(
                    "{:<12} {:>8} {:>10} {:>7} {:>8} | cut-off at {:.2}: {:>9} {:>11} {:>9}",
                    "setting",
                    "nDCG@10",
                    "Recall@100",
                    "MRR@10",
                    "p50 ms",
                    r.rows[0].cutoff.at_threshold.threshold,
                    "rel kept",
                    "nonrel gone",
                    "precision"
                );
                for row in &r.rows {
                    let c = &row.cutoff.at_threshold;
                    println!(
                        "{:<12} {:>8.4} {:>10.4} {:>7.4} {:>8.2} | {:>26.3} {:>11.3} {:>9.3}",
                        row.setting,
                        row.ndcg_at_10,
                        row.recall_at_100,
                        row.mrr_at_10,
                        row.latency_p50_ms,
                        c.relevant_kept,
                        c.nonrelevant_removed,
                        c.precision
                    );
                }
                print_curve(&r.rows[0].setting, &r.rows[0].cutoff);
                println!("{:.1} queries/s  p50 {:.2} ms  p95 {:.2} ms", r.queries_per_second, r.latency_p50_ms, r.latency_p95_ms);
                if r.ingest.files_seen > 0 {
                    println!(
                        "ingest: {} docs, {} chunks in {:.1}s ({:.1} docs/s)",
                        r.ingest.files_seen,
                        r.ingest.text_chunks,
                        r.ingest.seconds,
                        r.ingest.files_seen as f64 / r.ingest.seconds.max(1e-9)
                    );
                }
            }
        }
        EvalCmd::Ocr { dir, photos, json } => {
            let r = pith_pipeline::eval::ocr::run(&dir, photos.as_deref(), &cfg.ocr)?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                for f in &r.files {
                    println!(
                        "{:>6.2}% CER {:>6.2}% WER {:>6.2} s  text test {}  {}",
                        f.cer * 100.0,
                        f.wer * 100.0,
                        f.seconds,
                        if f.passes_test { "yes" } else { "no " },
                        f.file
                    );
                }
                println!(
                    "overall: CER {:.2}%  WER {:.2}% over {} images, {:.2} images/s; text test sends {:.0}% of them to OCR",
                    r.cer * 100.0,
                    r.wer * 100.0,
                    r.files.len(),
                    r.images_per_second,
                    r.test_recall * 100.0
                );
                if r.photos > 0 {
                    println!("photos without text: {} judged, {:.1}% wrongly sent to OCR", r.photos, r.photos_sent * 100.0);
                }
            }
        }
        EvalCmd::Pdf { paths, json } => {
            let r = pith_pipeline::eval::pdf::run(&paths, &cfg.models.root)?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                for f in &r.files {
                    println!(
                        "{:>5} pages  PDFium {:>7.3} s  pdftotext {:>7.3} s  words {:>7} / {:>7}  agreement {:.4}  {}",
                        f.pages, f.pdfium_s, f.pdftotext_s, f.pdfium_words, f.pdftotext_words, f.agreement, f.file
                    );
                }
                for (f, why) in &r.failed {
                    println!("failed: {f}: {why}");
                }
                println!(
                    "overall: {} pages; PDFium {:.1} pages/s, pdftotext {:.1} pages/s; word agreement {:.4}",
                    r.pages, r.pdfium_pages_per_s, r.pdftotext_pages_per_s, r.agreement
                );
            }
        }
        EvalCmd::Asr { dir, json } => {
            let r = pith_pipeline::eval::asr::run(&dir, &cfg)?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                for f in &r.files {
                    println!(
                        "{:>6.1}% WER  {:>6.1} s audio  RTF {:.3}  {}",
                        f.wer * 100.0,
                        f.seconds,
                        f.compute_s / f.seconds.max(1e-9),
                        f.file
                    );
                }
                println!(
                    "overall: WER {:.2}% over {} files, {:.1} s of audio in {:.1} s (real-time factor {:.3}), model {}",
                    r.wer * 100.0,
                    r.files.len(),
                    r.audio_seconds,
                    r.compute_seconds,
                    r.real_time_factor,
                    r.model
                );
            }
        }
        EvalCmd::Video { videos, captions, merge, json, run } => {
            use pith_pipeline::ingest::video::MergeMode;
            let modes: Vec<MergeMode> = merge
                .iter()
                .map(|m| match m {
                    crate::cli::MergeArg::On => MergeMode::On,
                    crate::cli::MergeArg::Off => MergeMode::Off,
                    crate::cli::MergeArg::PerVideo => MergeMode::PerVideo,
                })
                .collect();
            let r = pith_pipeline::eval::video::run(&videos, &captions, &cfg, &modes, run.as_deref(), &progress)?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                for m in &r {
                    println!(
                        "merge {:<9} R@1 {:.3}  R@5 {:.3}  R@10 {:.3}  median rank {}  ({} queries, {} distractors)",
                        serde_json::to_value(m.merge)?.as_str().unwrap_or(""),
                        m.r_at_1,
                        m.r_at_5,
                        m.r_at_10,
                        m.median_rank,
                        m.queries,
                        m.distractors
                    );
                    println!(
                        "  frames decoded {}  encoder calls {}  tokens stored {} ({:.1}% of frames)  ingest {:.1} s",
                        m.frames_decoded,
                        m.encoder_calls,
                        m.tokens,
                        100.0 * m.tokens as f64 / m.frames_decoded.max(1) as f64,
                        m.ingest_seconds
                    );
                    for (v, s) in &m.per_video {
                        println!("    {v}: {} frames, {} encoded, {} tokens", s.frames_decoded, s.encoder_calls, s.tokens);
                    }
                }
            }
        }
        EvalCmd::Filtered { dir, fraction, store } => {
            let r = pith_pipeline::eval::filtered::run(&dir, &cfg, fraction, store, &progress)?;
            progress.finish();
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        EvalCmd::Compress { file, budget, method, lexical, typicality, json } => {
            let methods = method
                .iter()
                .map(|m| pith_pipeline::eval::compress::Method::parse(m).ok_or_else(|| anyhow::anyhow!("unknown method {m:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut params = pith_pipeline::rag::extractive::Params::default();
            params.lexical = lexical.unwrap_or(params.lexical);
            params.typicality = typicality.unwrap_or(params.typicality);
            let r = pith_pipeline::eval::compress::run(&file, &cfg, &methods, &budget, &params)?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{}: {} documents ({:.0} tokens on average), {} questions, {} answers; whole document retains {:.3}",
                    r.file, r.documents, r.doc_tokens_mean, r.questions, r.answers, r.full_document
                );
                println!("{} sentences embedded in {:.1} s (at ingest in a store)", r.sentences, r.embed_seconds);
                println!("{:<17} {:>6} {:>9} {:>7} {:>8} {:>8}  dropped/kept", "method", "budget", "retained", "ratio", "kept", "p50 ms");
                for row in &r.rows {
                    let dropped =
                        row.dropped_per_kept.map(|d| format!("{d:.2} ({} protected lost)", row.protected_lost)).unwrap_or_default();
                    println!(
                        "{:<17} {:>6} {:>9.3} {:>6.1}x {:>8.0} {:>8.2}  {dropped}",
                        row.method, row.budget, row.retention, row.ratio, row.kept_tokens, row.latency_p50_ms
                    );
                }
            }
        }
        EvalCmd::Xrag { file, chunks, questions, json } => {
            let r = pith_pipeline::eval::xrag::run(&file, &cfg, chunks, questions)?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                let x = &r.reconstruction;
                println!("{} ({}), bridge {}, LM {}", r.file, r.format, r.bridge, r.llm);
                println!(
                    "reconstruction, {} chunks ({} tokens), NLL/token: none {:.4}  own xRAG {:.4}  other xRAG {:.4}  full text {:.4}",
                    x.chunks, x.target_tokens, x.a_no_context, x.b_own_xrag, x.c_other_xrag, x.d_full_text
                );
                println!("gap closed by its own token {:.1}%, by another chunk's {:.1}%", x.gap_closed_b * 100.0, x.gap_closed_c * 100.0);
                if r.qa_used > 0 {
                    println!("questions: {} of {} have a gold answer in their top chunk", r.qa_used, r.qa_total);
                    println!("{:<14} {:>10} {:>11} {:>8} {:>8} {:>8}", "context", "answer NLL", "contains", "prefill", "GFLOPs", "ms");
                    for q in &r.qa {
                        println!(
                            "{:<14} {:>10.3} {:>11.3} {:>8.1} {:>8.2} {:>8.0}",
                            q.condition, q.answer_nll, q.containment, q.prefill_tokens, q.prefill_gflops, q.latency_ms
                        );
                    }
                }
                println!("{:.0} s", r.seconds);
            }
        }
        EvalCmd::Hubness { space, queries, k, json } => {
            let engine = Engine::open_read_only(cfg)?;
            let qs = lines_of(&queries)?;
            let rows = engine.hubness_report(&space, &qs, k)?;
            if json {
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                println!("space {space}: {} queries, k = {k}", qs.len());
                println!("{:<8} {:>9} {:>8} {:>8}", "method", "skewness", "orphans", "max hub");
                for (m, r) in rows {
                    println!("{:<8} {:>9.3} {:>7.1}% {:>8}", m.as_str(), r.skewness, 100.0 * r.orphans, r.max_occurrence);
                }
            }
        }
        EvalCmd::Captions { images, captions: caps, json, run, top_t, template, no_synonyms, hubness, half, query_log } => {
            let mut cfg = cfg;
            if let Some(t) = top_t {
                cfg.conse.top_t = t;
            }
            if let Some(t) = template {
                cfg.conse.template = t;
            }
            if no_synonyms {
                cfg.conse.synonyms = false;
            }
            let methods: Vec<Hubness> = hubness
                .iter()
                .map(|h| Hubness::parse(h).ok_or_else(|| anyhow::anyhow!("unknown hubness method `{h}` (none, csls, qbnorm, dbnorm)")))
                .collect::<Result<_>>()?;
            let r = captions::run(
                &images,
                &caps,
                &cfg,
                run.as_deref(),
                None,
                &progress,
                &methods,
                half_of(&half),
                &[],
                &read_lines(&query_log)?,
            )?;
            progress.finish();
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("images {}  captions {}  (default hubness here: {})", r.images, r.captions, r.default_hubness);
                println!(
                    "{:<8} {:>6} {:>6} {:>6} {:>7} | {:>8} {:>8} {:>7} | cut-off {:>9} {:>11}",
                    "hubness", "R@1", "R@5", "R@10", "median", "skewness", "orphans", "max hub", "rel kept", "nonrel gone"
                );
                for row in &r.rows {
                    let (h, c) = (&row.hubness_stats, &row.cutoff.at_threshold);
                    println!(
                        "{:<8} {:>6.4} {:>6.4} {:>6.4} {:>7} | {:>8.3} {:>7.1}% {:>7} | {:>17.3} {:>11.3}",
                        row.hubness.as_str(),
                        row.r_at_1,
                        row.r_at_5,
                        row.r_at_10,
                        row.median_rank,
                        h.skewness,
                        100.0 * h.orphans,
                        h.max_occurrence,
                        c.relevant_kept,
                        c.nonrelevant_removed
                    );
                }
                if let Some(row) = r.rows.first() {
                    print_curve(row.hubness.as_str(), &row.cutoff);
                }
            }
        }
    }
    Ok(())
}

/// The non-blank lines of a file, trimmed (query lists).
pub fn lines_of(p: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

fn read_lines(p: &Option<PathBuf>) -> Result<Vec<String>> {
    p.as_deref().map(lines_of).transpose().map(Option::unwrap_or_default)
}

fn half_of(s: &str) -> captions::Half {
    match s {
        "odd" => captions::Half::Odd,
        "even" => captions::Half::Even,
        _ => captions::Half::All,
    }
}

fn print_curve(what: &str, c: &pith_pipeline::eval::cutoff::CutoffReport) {
    println!(
        "cut-off curve ({what}; {} top-10 hits, {} relevant): threshold → relevant kept / non-relevant removed / precision",
        c.hits, c.relevant
    );
    for p in &c.curve {
        println!("  {:.1}: {:.3} / {:.3} / {:.3}", p.threshold, p.relevant_kept, p.nonrelevant_removed, p.precision);
    }
}

/// Fit one family's model, move its bias so the store's threshold keeps
/// `--keep` of the relevant top-10 hits of the fitting data, and store it.
fn calibrate(cfg: EngineConfig, c: crate::cli::CalibrateCmd) -> Result<()> {
    use pith_pipeline::relevance::{fit, threshold_keeping, Family};
    let progress = CliProgress::new();
    let (family, judged, name, fit_args) = match c {
        crate::cli::CalibrateCmd::Beir { dir, fit } => {
            let setting = beir::Setting { mode: Mode::Hybrid, fusion: None, semantic_ratio: None };
            let r = beir::run(&dir, &cfg, &[setting], None, None, &progress, &read_lines(&fit.absent)?, None)?;
            (Family::Text, r.judged, format!("text: {}", dir.display()), fit)
        }
        crate::cli::CalibrateCmd::Captions { images, captions: caps, half, fit } => {
            let absent = read_lines(&fit.absent)?;
            let r = captions::run(&images, &caps, &cfg, None, None, &progress, &[Hubness::None], half_of(&half), &absent, &[])?;
            let judged = r.judged.into_iter().flat_map(|(_, j)| j).collect();
            (Family::Cross, judged, format!("cross-modal: {} ({half} ids)", caps.display()), fit)
        }
    };
    let crate::cli::FitArgs { keep, features, print, .. } = fit_args;
    progress.finish();
    // Features left out are zeroed, so the fit gives them no weight.
    let names = ["s", "gap", "z", "bm25"];
    for f in &features {
        if !names.contains(&f.as_str()) {
            bail!("unknown feature `{f}` (s, gap, z, bm25)");
        }
    }
    let used: Vec<bool> = names.iter().map(|n| features.is_empty() || features.iter().any(|f| f == n)).collect();
    let mask = |mut f: pith_pipeline::relevance::Features| {
        for (x, u) in f.iter_mut().zip(&used) {
            if !u {
                *x = 0.0;
            }
        }
        f
    };
    let samples: Vec<_> = judged.iter().filter(|j| j.family == family).map(|j| (mask(j.features), j.relevant)).collect();
    if samples.iter().all(|s| s.1) || samples.iter().all(|s| !s.1) {
        bail!("calibration needs both relevant and non-relevant hits ({} hits)", samples.len());
    }
    let mut model = fit(&samples, 1e-2);
    let mut cal = if print {
        pith_pipeline::relevance::Calibration::default()
    } else {
        Engine::open_read_only(cfg.clone()).map(|e| e.calibration()).unwrap_or_default()
    };
    // Shift the bias so that relevance = threshold where `keep` of the relevant hits stay.
    let keep_at = threshold_keeping(&model, &samples, keep.clamp(0.5, 1.0));
    let logit = |p: f32| (p / (1.0 - p)).ln();
    model.b += logit(cal.threshold) - logit(keep_at.clamp(1e-4, 1.0 - 1e-4));
    match family {
        Family::Text => cal.text = model,
        Family::Cross => cal.cross = model,
    }
    cal.fitted_on = if cal.fitted_on == "built-in default" { name } else { format!("{}; {name}", cal.fitted_on) };
    let json = serde_json::to_string(&cal)?;
    println!("{json}");
    let rel = samples.iter().filter(|s| s.1).count();
    eprintln!("fitted on {} top-10 hits ({rel} relevant)", samples.len());
    if !print {
        let engine = Engine::open(cfg)?;
        engine.set_setting("search.calibration", Some(&json))?;
        eprintln!("stored as search.calibration");
    }
    Ok(())
}

pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn bench(cfg: EngineConfig, b: BenchCmd) -> Result<()> {
    match b {
        BenchCmd::Rescoring { items, dim, bank, queries, candidates, json } => {
            if items == 0 || dim == 0 || queries == 0 || candidates == 0 {
                bail!("--items, --dim, --queries and --candidates must be above 0");
            }
            let r = pith_pipeline::eval::overhead::run(items, dim, bank, queries, candidates);
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("{} items × {} dims, bank {}: table built in {:.1} s", r.items, r.dim, r.bank, r.table_build_s);
                for row in &r.rows {
                    println!(
                        "{:<8} {} candidates: p50 {:.1} µs  p95 {:.1} µs per query (rescore + relevance)",
                        row.hubness.as_str(),
                        row.candidates,
                        row.p50_us,
                        row.p95_us
                    );
                }
            }
            let _ = cfg;
        }
        BenchCmd::Ingest { dir, json } => {
            let tmp = tempfile::tempdir()?;
            let mut cfg = cfg;
            cfg.data_dir = tmp.path().join("store");
            let engine = Engine::open(cfg)?;
            // Load models first so the timing is ingestion, not start-up.
            let t_load = Instant::now();
            engine.encoders()?.image.start()?;
            let load_s = t_load.elapsed().as_secs_f64();
            let progress = CliProgress::new();
            let r = pith_pipeline::ingest::ingest(&engine, &[dir], &progress)?;
            progress.finish();
            let s = r.seconds.max(1e-9);
            let out = serde_json::json!({
                "files": r.files_seen, "seconds": r.seconds, "model_load_seconds": load_s,
                "files_per_s": r.files_seen as f64 / s, "images_per_s": r.images as f64 / s,
                "text_chunks_per_s": r.text_chunks as f64 / s, "images": r.images, "text_chunks": r.text_chunks,
                "pdf_pages": r.pdf_pages, "pdf_pages_per_s": r.pdf_pages as f64 / s, "ocr_images": r.ocr_images,
                "failed": r.failed, "peak_rss_mb": peak_rss_mb(),
            });
            if json {
                println!("{out}");
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
        }
        BenchCmd::Ann(a) => bench_ann(a)?,
        BenchCmd::Compression { space, codec, queries, rerank, ef, json } => {
            use pith_pipeline::eval::{ann, vecfile};
            if queries == 0 {
                bail!("--queries must be at least 1");
            }
            let engine = Engine::open_read_only(cfg)?;
            let (dim, mut data) = engine.space_vectors(&space, 1_000_000)?;
            let n = data.len() / dim.max(1);
            if n < queries.saturating_mul(2) {
                bail!("space {space} has {n} vectors; it needs at least {} (twice --queries)", queries * 2);
            }
            // Every (n/queries)-th vector is held out as a query.
            let step = n / queries;
            let mut qs = Vec::with_capacity(queries * dim);
            let mut base = Vec::with_capacity(data.len());
            for (i, row) in data.chunks_exact(dim).enumerate() {
                if i % step == 0 && qs.len() < queries * dim {
                    qs.extend_from_slice(row)
                } else {
                    base.extend_from_slice(row)
                }
            }
            data.clear();
            let base = vecfile::Vectors { dim, data: base };
            let metric = pith_pipeline::quant::Metric::Dot;
            let truth = ann::ground_truth(&base, &qs, metric, 100);
            let codecs = codec.split(',').map(|c| c.parse()).collect::<Result<Vec<pith_pipeline::quant::CodecSpec>, _>>()?;
            let cfg = ann::AnnConfig { codecs, efs: vec![ef], reranks: list(&rerank, "rerank")?, k: 10, metric, graph: true };
            let work = tempfile::tempdir()?;
            eprintln!("space {space}: {} vectors, {} held out as queries, {dim}-d", base.len(), qs.len() / dim);
            print_ann(&ann::run(&base, &qs, &truth, &cfg, work.path())?, 10, json, dim)?;
        }
        BenchCmd::Search { queries, k, json } => {
            let engine = Engine::open_read_only(cfg)?;
            let qs = lines_of(&queries)?;
            if qs.is_empty() {
                bail!("no queries in {}", queries.display());
            }
            engine.search(&SearchRequest::new(qs[0].clone(), k))?;
            let mut lat = Vec::new();
            let t0 = Instant::now();
            for q in &qs {
                let t = Instant::now();
                engine.search(&SearchRequest::new(q.clone(), k))?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let total = t0.elapsed().as_secs_f64();
            let p = |x| pith_pipeline::eval::percentile(&lat, x);
            let out = serde_json::json!({"queries": qs.len(), "qps": qs.len() as f64 / total, "p50_ms": p(50.0), "p95_ms": p(95.0), "p99_ms": p(99.0), "max_ms": p(100.0)});
            if json {
                println!("{out}");
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
        }
        BenchCmd::Lm { tokens, generate, repeat } => crate::rag::bench_lm(cfg, tokens, generate, repeat)?,
        BenchCmd::Rag { queries, k, budget, compression, json } => {
            crate::rag::bench(cfg, &lines_of(&queries)?, k, budget, &compression, json)?
        }
    }
    Ok(())
}

fn list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<T>().map_err(|_| anyhow::anyhow!("bad {what}: `{t}`")))
        .collect()
}

fn bench_ann(a: AnnArgs) -> Result<()> {
    use pith_pipeline::eval::{ann, vecfile};
    let metric: pith_pipeline::quant::Metric = a.metric.parse()?;
    let codecs = a.codec.split(',').map(|c| c.parse()).collect::<Result<Vec<pith_pipeline::quant::CodecSpec>, _>>()?;
    let cfg = ann::AnnConfig { codecs, efs: list(&a.ef, "ef")?, reranks: list(&a.rerank, "rerank")?, k: a.k, metric, graph: !a.scan };
    let work = tempfile::tempdir()?;
    let t = Instant::now();
    let (base, queries): (Box<dyn ann::RowSource>, Vec<f32>) = match (&a.synthetic, &a.base) {
        (Some(spec), _) => {
            let (n, dim) = spec.split_once('x').ok_or_else(|| anyhow::anyhow!("--synthetic wants NxDIM"))?;
            let (n, dim): (usize, usize) = (n.parse()?, dim.parse()?);
            if n == 0 || dim == 0 || a.holdout == 0 {
                bail!("--synthetic needs N, DIM and --holdout above 0");
            }
            let gen = ann::Synthetic { n: n + a.holdout, dim, clusters: (n / 100).clamp(10, 10_000), seed: 42 };
            let mut q = vec![0f32; a.holdout * dim];
            q.chunks_exact_mut(dim).enumerate().for_each(|(i, row)| ann::RowSource::row(&gen, n + i, row));
            (Box::new(ann::Synthetic { n, ..gen }), q)
        }
        (None, Some(path)) => {
            let mut base = vecfile::read_vectors(path, a.dims)?;
            let queries = match &a.queries {
                Some(q) => {
                    let q = vecfile::read_vectors(q, a.dims)?;
                    if q.dim != base.dim {
                        bail!("queries are {}-d, the base is {}-d", q.dim, base.dim);
                    }
                    q.data
                }
                None => {
                    let keep = base
                        .len()
                        .checked_sub(a.holdout)
                        .filter(|k| *k > 0)
                        .ok_or_else(|| anyhow::anyhow!("--holdout {} leaves no base vectors", a.holdout))?;
                    base.data.split_off(keep * base.dim)
                }
            };
            let mut queries = queries;
            if a.metric == "cosine" {
                base.data.chunks_exact_mut(base.dim).for_each(pith_models::l2_normalize);
                queries.chunks_exact_mut(base.dim).for_each(pith_models::l2_normalize);
            }
            (Box::new(base), queries)
        }
        (None, None) => bail!("give --base FILE or --synthetic NxDIM"),
    };
    let dim = base.dim();
    let nq = queries.len() / dim;
    if nq == 0 {
        bail!("no queries");
    }
    let truth = match &a.gt {
        Some(p) => {
            let mut t = vecfile::read_neighbours(p)?;
            if t.len() < nq || t.iter().any(|r| r.len() < a.k) {
                bail!("{} has {} neighbour lists for {nq} queries (each needs at least {})", p.display(), t.len(), a.k);
            }
            t.truncate(nq);
            t
        }
        None => ann::ground_truth(base.as_ref(), &queries, metric, a.k.max(100)),
    };
    eprintln!(
        "{} base vectors, {} queries, {dim}-d; data and ground truth in {:.1} s",
        base.len(),
        queries.len() / dim,
        t.elapsed().as_secs_f64()
    );
    let rows = ann::run(base.as_ref(), &queries, &truth, &cfg, work.path())?;
    print_ann(&rows, a.k, a.json, dim)
}

fn print_ann(rows: &[pith_pipeline::eval::ann::AnnRow], k: usize, json: bool, dim: usize) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(rows)?);
        return Ok(());
    }
    println!("| codec | index | bytes/vector | vs f32 | re-rank | ef | build s | recall@{k} | QPS | p50 ms | p99 ms | RSS MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0}× | {} | {} | {:.2} | {:.3} | {:.0} | {:.3} | {:.3} | {:.0} |",
            r.codec,
            r.index,
            r.bytes_per_vector,
            (dim * 4) as f64 / r.bytes_per_vector.max(1) as f64,
            r.rerank,
            r.ef,
            r.build_s,
            r.recall,
            r.qps,
            r.p50_ms,
            r.p99_ms,
            r.rss_mb
        );
    }
    Ok(())
}

fn models(cfg: EngineConfig, m: ModelsCmd) -> Result<()> {
    let cache = &cfg.models;
    match m {
        ModelsCmd::Add { family, dir } if family == "clap" => {
            let dest = cache.dir(pith_models::catalog::CLAP_MODEL);
            std::fs::create_dir_all(&cache.root)?;
            let m = pith_models::ClapEncoder::register(&cache.root, &dir, &dest)?;
            println!("registered CLAP model from {} ({}-d) in {}", dir.display(), m.dim, dest.display());
            println!("recordings and videos ingested from now on get CLAP segments; re-ingest (touch) older ones to add them");
        }
        ModelsCmd::Add { family, dir } if family == "llmlingua2" => {
            let dest = cache.dir(pith_models::catalog::LINGUA_MODEL);
            std::fs::create_dir_all(&cache.root)?;
            pith_models::TokenClassifier::register(&cache.root, &dir, &dest)?;
            println!("registered LLMLingua-2 classifier from {} in {}", dir.display(), dest.display());
            println!("use it for token compression with `pith config set rag.token-scorer llmlingua2`");
        }
        ModelsCmd::Add { family: _, dir } => {
            let dest = cache.dir(pith_models::catalog::CLIP_MODEL);
            std::fs::create_dir_all(&cache.root)?;
            let m = pith_models::ClipEncoder::register(&cache.root, &dir, &dest)?;
            println!("registered CLIP model from {} ({}-d) in {}", dir.display(), m.dim, dest.display());
            println!("photos already indexed get CLIP vectors at the next `pith ingest` or `pith serve` (backfill)");
        }
        ModelsCmd::Verify => {
            let mut bad = 0;
            for name in [
                pith_models::catalog::RUNTIME,
                pith_models::catalog::TEXT_MODEL,
                pith_models::catalog::IMAGE_MODEL,
                pith_models::catalog::CLIP_MODEL,
                pith_models::catalog::SPEECH_MODEL,
                pith_models::catalog::CLAP_MODEL,
                pith_models::catalog::LM_MODEL,
                pith_models::catalog::LINGUA_MODEL,
            ] {
                let dir = cache.dir(name);
                if name == pith_models::catalog::CLIP_MODEL && !dir.exists() {
                    println!("{name}: not registered (optional)");
                    continue;
                }
                match pith_models::Manifest::read_verified(&dir) {
                    Ok(m) => println!("{name}: ok ({} files verified)", m.files.len()),
                    Err(e) => {
                        bad += 1;
                        println!("{name}: {e}");
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} model(s) failed verification");
            }
        }
    }
    Ok(())
}
