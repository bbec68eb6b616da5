//! Command-line interface definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "pith", version, about = "Self-hosted multimodal search over your files, with local models")]
pub struct Cli {
    /// Store directory (SQLite, text and vector indexes).
    #[arg(long, global = true, env = "PITH_DATA")]
    pub data: Option<PathBuf>,
    /// Model cache directory.
    #[arg(long, global = true, env = "PITH_MODELS")]
    pub models: Option<PathBuf>,
    /// Inference threads per model: the image model runs one session with
    /// this many intra-op threads, the text model this many single-threaded
    /// sessions fed from one queue. Default: the number of CPUs, at most 8.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// More logging.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Index files and folders (unchanged files are skipped, removed ones dropped).
    Ingest {
        paths: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the store.
    Search(SearchArgs),
    /// Context for an LLM: retrieve passages for a question and compress
    /// them to a token budget, with numbered citations.
    Rag(RagArgs),
    /// Tokenizers that count RAG budgets (your LLM's `tokenizer.json`).
    #[command(subcommand)]
    Tokenizers(TokenizersCmd),
    /// The xRAG bridge: fine-tune it on this store's text, or go back to
    /// the shipped one.
    #[command(subcommand)]
    Xrag(XragCmd),
    /// Items similar to an item ("more like this").
    Similar {
        id: i64,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        json: bool,
    },
    /// Counts, spaces and recent ingest errors.
    Status {
        #[arg(long)]
        json: bool,
        /// How many recent errors to list.
        #[arg(long, default_value_t = 20)]
        errors: usize,
    },
    /// Compare the indexes with the store; `--repair` fixes differences.
    Check {
        #[arg(long)]
        repair: bool,
    },
    /// Measure retrieval quality on labelled data.
    #[command(subcommand)]
    Eval(EvalCmd),
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Manage models.
    #[command(subcommand)]
    Models(ModelsCmd),
    /// Store settings: `space.<label>.codec` (default, f32, f16, int8, int4,
    /// binary, rbq2..4, pq16, opq16, pca96+int8, ...; add `+rerank` to
    /// re-rank with float32 from disk; `default` is float32 in hnsw_rs) or
    /// `space.<label>.memory-budget` (e.g. 64B).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Fit the relevance calibration on labelled data and store it
    /// (`search.calibration`); prints the fitted model as JSON.
    #[command(subcommand)]
    Calibrate(CalibrateCmd),
    /// Run the web UI and API, optionally watching folders.
    Serve(ServeArgs),
    /// Keep folders indexed without the web server.
    Watch { dirs: Vec<PathBuf> },
    /// A Model Context Protocol server on stdio (tools: search, get_item,
    /// rag_context, ingest_path).
    Mcp {
        /// Folders `ingest_path` may index, besides those ingested before.
        #[arg(long)]
        root: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    pub query: String,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Only paths starting with this prefix.
    #[arg(long)]
    pub path: Option<String>,
    /// Modified on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub after: Option<String>,
    /// Modified before this date (YYYY-MM-DD).
    #[arg(long)]
    pub before: Option<String>,
    /// Comma-separated extensions, e.g. `md,txt`.
    #[arg(long)]
    pub ext: Option<String>,
    #[arg(long, value_enum, default_value_t = ModeArg::Hybrid)]
    pub mode: ModeArg,
    /// Hide hits whose calibrated relevance (0..1) is below this; default:
    /// the store's `search.min-relevance`.
    #[arg(long)]
    pub min_relevance: Option<f32>,
    /// Show weaker matches too (same as `--min-relevance 0`).
    #[arg(long)]
    pub all: bool,
    /// Fusion: convex (default) or rrf.
    #[arg(long)]
    pub fusion: Option<String>,
    /// Share of dense retrieval in convex fusion, 0..1.
    #[arg(long)]
    pub semantic_ratio: Option<f32>,
    /// Hubness correction for cross-modal spaces: none, csls, qbnorm, dbnorm.
    #[arg(long)]
    pub hubness: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RagArgs {
    pub question: String,
    /// Most tokens of the prompt block, headers included.
    #[arg(long, default_value_t = 500)]
    pub budget: usize,
    /// Passages to retrieve.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// none, extractive, tokens, extractive+tokens, xrag or extractive+xrag.
    #[arg(long, default_value = "extractive")]
    pub compression: String,
    /// Each passage as ONE token of the built-in model (xRAG), which then
    /// answers: the same as `--compression xrag --answer`.
    #[arg(long)]
    pub xrag: bool,
    /// Also answer with the built-in model (SmolLM2-135M) from the context.
    #[arg(long)]
    pub answer: bool,
    /// A registered tokenizer (`pith tokenizers list`); pith's own by default.
    #[arg(long)]
    pub tokenizer: Option<String>,
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Only paths starting with this prefix.
    #[arg(long)]
    pub path: Option<String>,
    /// Drop passages whose calibrated relevance (0..1) is below this.
    #[arg(long)]
    pub min_relevance: Option<f32>,
    /// The whole response as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum XragCmd {
    /// Fine-tune the bridge on this store's text (stage 1, self-supervised:
    /// each chunk's token must make the LM read back the chunk), with
    /// scripts/train_xrag.py under Debian's torch; the result is
    /// registered as `xrag-bridge-tuned` and used from then on.
    Tune {
        /// Training steps (batches of 8 chunks; about 2 s each on 2 cores).
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Wall-time cap in minutes.
        #[arg(long, default_value_t = 30.0)]
        minutes: f64,
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Held-out chunks scored after training (5% of chunks are held out).
        #[arg(long, default_value_t = 100)]
        eval_n: usize,
        /// Most bytes of text read from the store.
        #[arg(long, default_value_t = 20_000_000)]
        max_bytes: usize,
        /// A python with torch (Debian's python3-torch, which `make models` installs).
        #[arg(long, default_value = "/usr/bin/python3")]
        python: PathBuf,
    },
    /// Drop the tuned bridge: the shipped one is used again.
    Reset,
}

#[derive(Subcommand, Debug)]
pub enum TokenizersCmd {
    /// Register a tokenizer.json under a name.
    Add { name: String, file: PathBuf },
    /// List registered tokenizers.
    List,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KindArg {
    Text,
    Image,
    Audio,
    Video,
    Pdf,
    Document,
    Spreadsheet,
    Slides,
    Ebook,
    /// Photos and scans with words in them (OCR).
    Textimage,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ModeArg {
    Hybrid,
    Bm25,
    Vector,
}

#[derive(Subcommand, Debug)]
pub enum EvalCmd {
    /// nDCG@10, Recall@100, MRR@10 and the relevance cut-off on a
    /// BEIR-layout folder, one row per setting compared.
    Beir {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = ModeArg::Hybrid)]
        mode: ModeArg,
        /// Settings to compare as columns (overrides --mode): bm25, vector,
        /// hybrid (store defaults), rrf, convex, convex@0.5, ...
        #[arg(long, value_delimiter = ',')]
        compare: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Write a TREC run file (top 100 per query).
        #[arg(long)]
        run: Option<PathBuf>,
        /// Keep the evaluation store here (reused if it already holds the corpus).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Write every query's raw candidate lists (documents and scores per
        /// retriever) as JSON lines, for studying fusion offline.
        #[arg(long)]
        dump_lists: Option<PathBuf>,
    },
    /// Recall of filtered vector search on a BEIR corpus split into folders,
    /// one of which (a `--fraction` of the items) is the filter.
    Filtered {
        dir: PathBuf,
        #[arg(long, default_value_t = 0.01)]
        fraction: f64,
        #[arg(long)]
        store: Option<PathBuf>,
    },
    /// Text→image R@1/5/10 on a COCO-captions set.
    Captions {
        images: PathBuf,
        captions: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        run: Option<PathBuf>,
        /// ConSE: number of top ImageNet classes mixed.
        #[arg(long)]
        top_t: Option<usize>,
        /// ConSE prompt template (`{}` = class name).
        #[arg(long)]
        template: Option<String>,
        /// ConSE: use only the first class name, not all WordNet synonyms.
        #[arg(long)]
        no_synonyms: bool,
        /// Hubness corrections to compare (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "none,csls,qbnorm,dbnorm")]
        hubness: Vec<String>,
        /// Only captions of images with odd or even ids (all by default).
        #[arg(long, value_parser = ["all", "odd", "even"], default_value = "all")]
        half: String,
        /// Queries to put in the store's query log first (one per line), as
        /// if other users had searched them: the hubness bank's logged part.
        #[arg(long)]
        query_log: Option<PathBuf>,
    },
    /// Answer retention when an L-Eval-format document (`input`,
    /// `instructions`, `outputs` per line) is compressed to a token budget
    /// per question, per method and budget.
    Compress {
        file: PathBuf,
        /// Token budgets (pith's text tokenizer), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "500,1000,2000")]
        budget: Vec<usize>,
        /// Methods to compare: truncation, random, extractive, tokens, extractive+tokens.
        #[arg(long, value_delimiter = ',', default_value = "truncation,random,extractive")]
        method: Vec<String>,
        /// Extractive: weight of the sentence's BM25 score (0..1 of the best).
        #[arg(long)]
        lexical: Option<f32>,
        /// Extractive: weight of the similarity to the pool's centroid (subtracted).
        #[arg(long)]
        typicality: Option<f32>,
        #[arg(long)]
        json: bool,
    },
    /// What one xRAG token carries: reconstruction NLL of held-out chunks
    /// (none / own token / another's token / full text) on an L-Eval
    /// `.jsonl` or a BEIR folder, and on L-Eval questions answer NLL and
    /// containment for no context, xRAG, extractive at 50 tokens and the
    /// full chunk, with prefill tokens, FLOPs and latency.
    Xrag {
        file: PathBuf,
        /// Chunks scored for reconstruction.
        #[arg(long, default_value_t = 100)]
        chunks: usize,
        /// Questions answered (L-Eval files).
        #[arg(long, default_value_t = 40)]
        questions: usize,
        #[arg(long)]
        json: bool,
    },
    /// k-occurrence skewness, orphans and the largest hub of a space's
    /// gallery under a query bank (one query per line), per correction.
    Hubness {
        /// Space label (conse, clip, clap).
        space: String,
        /// Queries, one per line.
        #[arg(long)]
        queries: PathBuf,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        json: bool,
    },
    /// OCR character and word error rates and images/s on images with a
    /// same-named `.txt` holding their true text; `--photos` judges the
    /// cheap text test on pictures without text (false alarms).
    Ocr {
        dir: PathBuf,
        #[arg(long)]
        photos: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// PDF text by PDFium (what ingest uses) against poppler's pdftotext on
    /// the same files: pages/s of each and their word agreement.
    Pdf {
        /// PDF files, or folders searched for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Word error rate and real-time factor of speech recognition on audio
    /// files with a same-named `.txt` reference transcript beside each.
    Asr {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Text→video R@1/5/10 and median rank, with frames decoded, encoder
    /// calls and tokens stored, for each merge setting given.
    Video {
        videos: PathBuf,
        /// `[{"query", "video"}]` (video null: distractor) or COCO-style captions.
        captions: PathBuf,
        /// Merge settings to compare (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "on,off,per-video")]
        merge: Vec<MergeArg>,
        #[arg(long)]
        json: bool,
        /// Write a TREC run file (query ids are `N:setting`).
        #[arg(long)]
        run: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum MergeArg {
    On,
    Off,
    PerVideo,
}

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Ingest a folder into a temporary store: files/s, images/s, chunks/s, peak memory.
    Ingest {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Vector indexes on raw vectors (fvecs, npy or TSV): build time,
    /// bytes/vector, recall@k, single-threaded QPS and latency, per codec.
    Ann(AnnArgs),
    /// Every codec on a live space's own vectors: recall@10 against exact
    /// float32 search, bytes/vector, QPS (held-out stored vectors as queries).
    Compression {
        /// Space label (text, visual, conse, clip, clap).
        space: String,
        #[arg(long, default_value = "f32,f16,int8,int4,binary,rbq2,rbq4,pq16,pq32,pca96+int8")]
        codec: String,
        #[arg(long, default_value_t = 200)]
        queries: usize,
        #[arg(long, default_value = "0,100")]
        rerank: String,
        #[arg(long, default_value_t = 64)]
        ef: usize,
        #[arg(long)]
        json: bool,
    },
    /// What hubness correction and the relevance cut-off add per query:
    /// synthetic gallery and bank, given candidates; p50/p95 per method.
    Rescoring {
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        #[arg(long, default_value_t = 384)]
        dim: usize,
        /// Query-bank vectors (ConSE's 1,000 classes + 2,048 store texts).
        #[arg(long, default_value_t = 3072)]
        bank: usize,
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Candidates rescored per query (a search takes 200 per space).
        #[arg(long, default_value_t = 200)]
        candidates: usize,
        #[arg(long)]
        json: bool,
    },
    /// Search latency over an existing store with queries from a file (one per line).
    Search {
        queries: PathBuf,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        json: bool,
    },
    /// The local LM: scoring (self-information) and generation tokens/s.
    Lm {
        /// Tokens of text to score in one pass.
        #[arg(long, default_value_t = 512)]
        tokens: usize,
        /// Tokens to generate (greedy, KV cache).
        #[arg(long, default_value_t = 64)]
        generate: usize,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// RAG context latency per stage over an existing store, queries from
    /// a file (one per line), warm (the first query is not counted).
    Rag {
        queries: PathBuf,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long, default_value_t = 500)]
        budget: usize,
        #[arg(long, default_value = "extractive")]
        compression: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct AnnArgs {
    /// Base vectors (.fvecs, .npy, .tsv/.txt).
    #[arg(long, required_unless_present = "synthetic")]
    pub base: Option<PathBuf>,
    /// Query vectors; without it the last `--holdout` base rows are the queries.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    #[arg(long, default_value_t = 500)]
    pub holdout: usize,
    /// Exact neighbours (.ivecs or .npy); computed when absent.
    #[arg(long)]
    pub gt: Option<PathBuf>,
    /// Keep only the first N columns of a text file (SIFT TSVs end with an id).
    #[arg(long)]
    pub dims: Option<usize>,
    /// Generated clustered unit vectors instead of a file: N x DIM (e.g. 1000000x384).
    #[arg(long)]
    pub synthetic: Option<String>,
    #[arg(long, default_value = "cosine")]
    pub metric: String,
    /// Codecs, comma-separated (f32, f16, int8, int4, binary, rbq2..4, pq16, opq16, pca96+int8, ...).
    #[arg(long, default_value = "f32")]
    pub codec: String,
    /// HNSW search widths, comma-separated.
    #[arg(long, default_value = "16,32,64,128")]
    pub ef: String,
    /// Candidates re-ranked with float32 read from disk (0 = none), comma-separated.
    #[arg(long, default_value = "0")]
    pub rerank: String,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Scan every code instead of walking a graph.
    #[arg(long)]
    pub scan: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Set a key; a codec change re-encodes the space (searches go on).
    /// Keys: space.<label>.codec, space.<label>.memory-budget,
    /// space.<label>.hubness (none, csls, qbnorm, dbnorm), search.fusion
    /// (convex, rrf), search.semantic-ratio (0..1), search.min-relevance
    /// (0..1), search.log-queries (on, off: keep searched texts as the
    /// hubness query bank; off forgets them); the value `default` clears a
    /// search setting.
    Set { key: String, value: String },
    /// Show every space's codec and footprint, and the search settings.
    Get,
}

#[derive(Subcommand, Debug)]
pub enum CalibrateCmd {
    /// The text model, on a BEIR-layout folder (hybrid top-10 per query).
    Beir {
        dir: PathBuf,
        #[command(flatten)]
        fit: FitArgs,
    },
    /// The cross-modal model, on a COCO-captions set.
    Captions {
        images: PathBuf,
        captions: PathBuf,
        #[arg(long, value_parser = ["all", "odd", "even"], default_value = "all")]
        half: String,
        #[command(flatten)]
        fit: FitArgs,
    },
}

/// How `pith calibrate` fits, whatever the data.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Queries about things the collection does not hold, one per line:
    /// all their hits are negatives (teaches the model to return nothing).
    #[arg(long)]
    pub absent: Option<PathBuf>,
    /// Share of the relevant hits that relevance 0.5 keeps.
    #[arg(long, default_value_t = 0.97)]
    pub keep: f64,
    /// Features the model may use (s, gap, z, bm25; default all).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Only print the calibration; leave the store as it is.
    #[arg(long)]
    pub print: bool,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCmd {
    /// Register a CLIP-family (image–text) or CLAP-style (audio–text) ONNX
    /// dual encoder directory, or an LLMLingua-2 token classifier (see
    /// docs/MODELS.md).
    Add {
        #[arg(value_parser = ["clip", "clap", "llmlingua2"])]
        family: String,
        dir: PathBuf,
    },
    /// Verify every installed model's checksums.
    Verify,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Folders to keep indexed.
    #[arg(long = "watch")]
    pub watch: Vec<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub addr: String,
    /// Require this key on every route (`Authorization: Bearer KEY`,
    /// `x-api-key: KEY`, or `?key=KEY` once, which sets a session cookie).
    #[arg(long, env = "PITH_API_KEY")]
    pub api_key: Option<String>,
    /// Without an API key only loopback host names are answered (a guard
    /// against DNS rebinding); also answer requests for these names.
    #[arg(long = "allow-host")]
    pub allow_host: Vec<String>,
    /// Largest accepted upload, in bytes.
    #[arg(long, default_value_t = 20 << 20)]
    pub max_upload: usize,
    /// OpenAI-compatible server `/v1/chat/completions` forwards to, e.g.
    /// `http://127.0.0.1:8080/v1` (llama.cpp, vLLM, Ollama); without it
    /// the built-in small model answers.
    #[arg(long, env = "PITH_LLM_UPSTREAM")]
    pub llm_upstream: Option<String>,
    /// API key sent to the upstream as a bearer token.
    #[arg(long, env = "PITH_LLM_KEY", hide_env_values = true)]
    pub llm_key: Option<String>,
}
