//! `pith mcp`: a Model Context Protocol server on stdio (JSON-RPC 2.0, one
//! message per line), so an assistant can use pith as a tool: `search`,
//! `get_item`, `rag_context`, and `ingest_path` (only under the configured
//! roots: the folders ingested before and those given with `--root`).
//! Logs go to stderr; stdout carries only protocol messages.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use pith_pipeline::ids::ItemId;
use pith_pipeline::ingest::NoProgress;
use pith_pipeline::rag::{Compression, RagRequest};
use pith_pipeline::{Engine, EngineConfig, SearchRequest};
use serde_json::{json, Value};

const PROTOCOL: &str = "2025-06-18";
/// Longest item text `get_item` returns, in characters.
const ITEM_TEXT_MAX: usize = 20_000;

pub fn serve(cfg: EngineConfig, extra_roots: Vec<PathBuf>) -> Result<()> {
    // The writer when it is free (ingest_path needs it), else read-only
    // beside a running `pith serve`.
    let engine = match Engine::open(cfg.clone()) {
        Ok(e) => e,
        Err(pith_pipeline::PipelineError::Locked { .. }) => Engine::open_read_only(cfg)?,
        Err(e) => return Err(e.into()),
    };
    let mut roots: Vec<PathBuf> = engine.roots()?;
    roots.extend(extra_roots);
    let roots: Vec<PathBuf> = roots.iter().filter_map(|r| r.canonicalize().ok()).collect();
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            return Ok(());
        }
        let reply = match std::str::from_utf8(&raw) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => handle(&engine, &roots, line),
            Err(e) => Some(error(Value::Null, -32700, &format!("parse error: not UTF-8 ({e})"))),
        };
        if let Some(reply) = reply {
            writeln!(out, "{reply}")?;
            out.flush()?;
        }
    }
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The reply to one message (none for notifications).
pub fn handle(engine: &Engine, roots: &[PathBuf], line: &str) -> Option<Value> {
    let msg: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Some(error(Value::Null, -32700, &format!("parse error: {e}"))),
    };
    // A notification (no id) gets no reply.
    let id = msg.get("id").cloned()?;
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let params = msg.get("params").cloned().unwrap_or(json!({}));
    let result = match method {
        "initialize" => {
            let asked = params["protocolVersion"].as_str().unwrap_or(PROTOCOL);
            Ok(json!({
                "protocolVersion": asked,
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": {"name": "pith", "version": env!("CARGO_PKG_VERSION")},
                "instructions": "Search and cite the user's own files: documents, photos, recordings and videos."
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools()})),
        "tools/call" => {
            let name = params["name"].as_str().unwrap_or("");
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            Ok(match call(engine, roots, name, &args) {
                Ok(v) => json!({"content": [{"type": "text", "text": v.to_string()}], "structuredContent": v, "isError": false}),
                Err(e) => json!({"content": [{"type": "text", "text": e}], "isError": true}),
            })
        }
        m => Err(error(id.clone(), -32601, &format!("method not found: {m}"))),
    };
    Some(match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err(e) => e,
    })
}

fn tools() -> Value {
    json!([
        {"name": "search", "description": "Search the user's files (text, PDFs, Office documents, e-books, photos, recordings, videos); best matches first, PDF hits with their page.",
         "inputSchema": {"type": "object", "properties": {
            "query": {"type": "string"}, "k": {"type": "integer", "minimum": 1, "maximum": 50},
            "kind": {"type": "string", "enum": ["text", "image", "audio", "video", "pdf", "document", "spreadsheet", "slides", "ebook", "textimage"]}}, "required": ["query"]}},
        {"name": "get_item", "description": "One item's metadata and extracted text (by id from search).",
         "inputSchema": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}},
        {"name": "rag_context", "description": "Compressed, cited context for a question: a prompt block with [n] citations and its sources.",
         "inputSchema": {"type": "object", "properties": {
            "query": {"type": "string"}, "token_budget": {"type": "integer", "minimum": 1}, "k": {"type": "integer"},
            "compression": {"type": "string", "enum": ["none", "extractive", "tokens", "extractive+tokens"]}}, "required": ["query"]}},
        {"name": "ingest_path", "description": "Index a file or folder; only paths under the configured roots.",
         "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}
    ])
}

fn text_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, String> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("`{name}` (a non-empty string) is required"))
}

/// Whether `path` lies under one of `roots` (both canonical).
pub fn under_roots(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| path.starts_with(r))
}

fn call(engine: &Engine, roots: &[PathBuf], name: &str, args: &Value) -> Result<Value, String> {
    let err = |e: pith_pipeline::PipelineError| e.to_string();
    match name {
        "search" => {
            let k = args["k"].as_u64().unwrap_or(10).clamp(1, 50) as usize;
            let mut req = SearchRequest::new(text_arg(args, "query")?, k);
            if let Some(kind) = args["kind"].as_str() {
                req.filters.kind = Some(pith_pipeline::Kind::parse(kind).ok_or_else(|| format!("unknown kind `{kind}`"))?);
            }
            let r = engine.search_results(&req).map_err(err)?;
            let hits: Vec<Value> = r
                .hits
                .iter()
                .map(|h| json!({"id": h.id, "kind": h.kind, "path": h.path, "title": h.title, "snippet": h.snippet, "relevance": h.relevance, "start": h.start, "page": h.page, "section": h.section}))
                .collect();
            Ok(json!({"hits": hits, "hidden": r.hidden}))
        }
        "get_item" => {
            let id = args["id"].as_i64().ok_or("`id` (an integer) is required")?;
            let item = engine.item(ItemId(id)).map_err(err)?;
            let text: String = engine.item_text(ItemId(id)).map_err(err)?.chars().take(ITEM_TEXT_MAX).collect();
            Ok(json!({"id": item.id, "kind": item.kind, "path": item.path, "title": item.title, "labels": item.labels, "text": text}))
        }
        "rag_context" => {
            let compression = match args["compression"].as_str() {
                Some(c) => Compression::parse(c).ok_or_else(|| format!("unknown compression `{c}`"))?,
                None => Compression::default(),
            };
            let req = RagRequest {
                k: args["k"].as_u64().unwrap_or(10) as usize,
                token_budget: args["token_budget"].as_u64().unwrap_or(500) as usize,
                compression,
                ..RagRequest::new(text_arg(args, "query")?)
            };
            let r = engine.rag_context(&req).map_err(err)?;
            let sources: Vec<Value> = r.contexts.iter().map(|c| json!({"citation": c.citation, "path": c.path, "item_id": c.item_id, "start": c.start, "end": c.end, "start_s": c.start_s})).collect();
            Ok(json!({"prompt": r.prompt, "sources": sources, "prompt_tokens": r.prompt_tokens, "compression_ratio": r.compression_ratio}))
        }
        "ingest_path" => {
            let p = PathBuf::from(text_arg(args, "path")?);
            let refuse = || format!("{} does not exist or is outside the configured roots", p.display());
            let canon = p.canonicalize().map_err(|_| refuse())?;
            if !under_roots(&canon, roots) {
                return Err(format!(
                    "{} is outside the configured roots; pith only ingests under: {}",
                    p.display(),
                    roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
                ));
            }
            if engine.is_read_only() {
                return Err("another pith process holds the store for writing; ingest there".into());
            }
            let r = pith_pipeline::ingest::ingest(engine, &[canon], &NoProgress).map_err(err)?;
            Ok(json!({"files_seen": r.files_seen, "added": r.added, "updated": r.updated, "failed": r.failed}))
        }
        other => Err(format!("unknown tool `{other}`")),
    }
}
