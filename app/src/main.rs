//! The `pith` binary: command-line parsing, configuration, logging, and the
//! wiring of engine, daemon and web server. Errors become `anyhow` only here.

mod cli;
mod commands;
mod mcp;
mod progress;
mod rag;
mod serve;
mod xrag;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    if let Err(e) = commands::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    // symphonia logs every file it cannot probe as an error; pith records
    // those itself, with the reason, as ingest errors.
    let default = if verbose {
        "info,pith=debug,symphonia_core=warn"
    } else {
        "warn,hnsw_rs=error,tantivy=warn,pith_web=info,symphonia_core=off,symphonia_bundle_mp3=off,symphonia_format_isomp4=off"
    };
    let filter = EnvFilter::try_from_env("PITH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder.init();
    } else {
        builder.json().init();
    }
}
