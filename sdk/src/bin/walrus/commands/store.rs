//! `walrus store`: encode, register, upload and certify files.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use walrus_sdk::{
    client::{StoreOptions, StoreOutcome, WalrusSdk},
    outcome::ResourceOperation,
};

use crate::common::{human_bytes, Bar, Context};

/// Store files: encode, register on chain, upload to the storage nodes and certify.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The files to store.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Number of epochs to store them for, from the current one.
    #[arg(long, default_value_t = 1)]
    epochs: u32,
    /// Make the blobs deletable by their owner before they expire (the default, as on
    /// Walrus since v1.33).
    #[arg(long, conflicts_with = "permanent")]
    deletable: bool,
    /// Make the blobs permanent: nobody can delete them before they expire.
    #[arg(long)]
    permanent: bool,
    /// Store even if the network already holds the blob certified long enough.
    #[arg(long)]
    force: bool,
}

impl StoreArgs {
    /// Stores every file, then prints the outcomes.
    pub fn run(self, context: &Context) -> Result<()> {
        if self.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        let options = StoreOptions {
            epochs: self.epochs,
            // Deletable unless `--permanent` (`--deletable` only says so explicitly).
            deletable: self.deletable || !self.permanent,
            force: self.force,
        };
        context.with_sdk(async |sdk| store(sdk, &self.files, options, context.json).await)
    }
}

async fn store(
    sdk: &WalrusSdk,
    files: &[PathBuf],
    options: StoreOptions,
    json: bool,
) -> Result<()> {
    let mut outputs = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("reading '{}'", file.display()))?;
        let bar = Bar::new("storing");
        let outcome = sdk
            .store(bytes, options, &bar)
            .await
            .with_context(|| format!("storing '{}'", file.display()))?;
        bar.0.finish_and_clear();
        outputs.push((file.clone(), outcome));
    }
    if json {
        let values: Vec<serde_json::Value> = outputs
            .iter()
            .map(|(file, outcome)| serde_json::json!({"path": file, "blobStoreResult": outcome}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    for (file, outcome) in outputs {
        match outcome {
            StoreOutcome::NewlyCreated {
                blob_object,
                resource_operation: ResourceOperation::RegisterFromScratch { encoded_length, .. },
                cost,
            } => println!(
                "Success: {} blob stored from '{}'.\nBlob ID: {}\nSui object ID: {}\nUnencoded size: {}\nEncoded size: {}\nExpiry epoch (exclusive): {}\nCost: {} WAL",
                if blob_object.deletable { "Deletable" } else { "Permanent" },
                file.display(),
                blob_object.blob_id,
                blob_object.id,
                human_bytes(blob_object.size),
                human_bytes(encoded_length),
                blob_object.storage.end_epoch,
                human_wal(cost),
            ),
            StoreOutcome::AlreadyCertified { blob_id, end_epoch, .. } => println!(
                "Success: blob from '{}' was already certified.\nBlob ID: {blob_id}\nExpiry epoch (exclusive): {end_epoch}",
                file.display()
            ),
        }
    }
    Ok(())
}

/// FROST as WAL, with all nine decimals.
fn human_wal(frost: u64) -> String {
    format!("{:.9}", frost as f64 / 1e9)
}
