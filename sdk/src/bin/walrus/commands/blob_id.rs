//! `walrus blob-id`: a file's blob ID, offline.

use std::{io::Write, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use walrus_sdk::blob_id::{blob_id_of_file, BlobIdOutput};

use crate::common::{spinner, Context};

/// Compute the blob ID of a file offline, without storing it.
///
/// The ID depends on the file's bytes and on the number of shards of the network, exactly
/// as on Walrus (RS2 encoding): the same bytes and shard count give the same ID.
#[derive(Debug, Args)]
pub struct BlobIdArgs {
    /// The file to compute the blob ID of.
    file: PathBuf,
    /// The number of shards of the network (Walrus mainnet and testnet use 1000).
    #[arg(long, value_name = "N")]
    n_shards: Option<u16>,
}

impl BlobIdArgs {
    /// Computes and prints the blob ID.
    pub fn run(self, context: &Context) -> Result<()> {
        let Some(n_shards) = self.n_shards else {
            bail!("no shard count: pass --n-shards N (Walrus mainnet and testnet use 1000)");
        };
        let spinner = spinner("computing the blob ID");
        let output = blob_id_of_file(&self.file, n_shards)
            .with_context(|| format!("computing the blob ID of '{}'", self.file.display()))?;
        spinner.finish_and_clear();
        print_blob_id(&output, context.json)
    }
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
