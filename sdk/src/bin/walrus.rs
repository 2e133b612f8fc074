//! `walrus`: the command-line client of a Walrus-compatible storage network.

use std::{io::Write, path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use walrus_sdk::blob_id::{blob_id_of_file, BlobIdOutput};

/// mimalloc keeps freed memory for reuse; encoding allocates and frees hundreds of MiB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Store and read blobs on a Walrus-compatible decentralized storage network.
#[derive(Debug, Parser)]
#[command(name = "walrus", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute the blob ID of a file offline, without storing it.
    ///
    /// The ID depends on the file's bytes and on the number of shards of the network, exactly
    /// as on Walrus (RS2 encoding): the same bytes and shard count give the same ID.
    BlobId {
        /// The file to compute the blob ID of.
        file: PathBuf,
        /// The number of shards of the network (Walrus mainnet and testnet use 1000).
        #[arg(long, value_name = "N")]
        n_shards: Option<u16>,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        eprintln!("Error: {error:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::BlobId { file, n_shards } => {
            let Some(n_shards) = n_shards else {
                bail!("no shard count: pass --n-shards N (Walrus mainnet and testnet use 1000)");
            };
            let spinner = spinner("computing the blob ID");
            let output = blob_id_of_file(&file, n_shards)
                .with_context(|| format!("computing the blob ID of '{}'", file.display()))?;
            spinner.finish_and_clear();
            print_blob_id(&output, cli.json)
        }
    }
}

/// A spinner on stderr; invisible when stderr is not a terminal.
fn spinner(message: &'static str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

fn print_blob_id(output: &BlobIdOutput, json: bool) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, output)?;
        writeln!(stdout)?;
    } else {
        writeln!(
            stdout,
            "Success: Blob from file '{}' encoded successfully.\nUnencoded size: {}\nBlob ID: {}\nEncoding type: {}\nEncoded size: {} (for {} shards)",
            output.file.display(),
            output.unencoded_length,
            output.blob_id,
            output.encoding_type,
            output.encoded_length,
            output.n_shards,
        )?;
    }
    Ok(())
}
