//! `walrus store`: encode, register, upload and certify files.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use walrus_sdk::{
    client::{SdkError, StoreOptions, StoreOutcome, WalrusSdk},
    outcome::{BlobStoreResult, ResourceOperation},
};

use crate::common::{human_bytes, Bar, Context, StorageFlags};

/// Store files: encode, register on chain, upload to the storage nodes and certify.
///
/// Many files are stored together: up to 100 registered (and certified) per chain
/// transaction, uploads of several files at once. Every file's outcome is printed; the
/// command fails (exit 1) if any file could not be stored.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The files to store.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    storage: StorageFlags,
    /// Only encode the files and print their blob IDs, encoded sizes and storage costs: no
    /// transaction, no upload (large files are encoded through a spill file, as a store does).
    #[arg(long)]
    dry_run: bool,
}

impl StoreArgs {
    /// Stores every file, then prints the outcomes.
    pub fn run(self, context: &Context) -> Result<()> {
        context.with_sdk(async |sdk| {
            let options = self.storage.options(sdk).await?;
            if self.dry_run {
                dry_run(sdk, &self.files, options, context.json).await
            } else {
                store(sdk, &self.files, options, context.json).await
            }
        })
    }
}

/// Encodes and prices every file, one at a time, and prints what a store would do.
async fn dry_run(
    sdk: &WalrusSdk,
    files: &[PathBuf],
    options: StoreOptions,
    json: bool,
) -> Result<()> {
    let mut outputs = Vec::new();
    for file in files {
        let bar = Bar::new("encoding");
        let outcome = sdk
            .dry_run_file(file, options, &bar)
            .await
            .with_context(|| format!("encoding '{}'", file.display()))?;
        bar.0.finish_and_clear();
        outputs.push((file, outcome));
    }
    if json {
        let values: Vec<serde_json::Value> = outputs
            .iter()
            .map(|(file, outcome)| serde_json::json!({"path": file, "dryRunResult": outcome}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
    } else {
        for (file, outcome) in outputs {
            println!(
                "Dry run of '{}': nothing was stored.\nBlob ID: {}\nUnencoded size: {}\nEncoded size: {}\nCost: {} WAL",
                file.display(),
                outcome.blob_id,
                human_bytes(outcome.unencoded_size),
                human_bytes(outcome.encoded_size),
                human_wal(outcome.storage_cost),
            );
        }
    }
    Ok(())
}

/// Files of one `store_many` call hold at most this many bytes together (their encodings are
/// in memory at once); a larger file is stored on its own, encoded into a spill file a stripe
/// at a time (`WalrusSdk::store_file`), so memory stays bounded whatever its size.
const BATCH_BYTES: u64 = 64 << 20;

/// Stores `files` in batches (chain work of many files per transaction, uploads in parallel),
/// prints every file's outcome, and fails at the end if any file failed.
async fn store(
    sdk: &WalrusSdk,
    files: &[PathBuf],
    options: StoreOptions,
    json: bool,
) -> Result<()> {
    let mut batches: Vec<Vec<(PathBuf, u64)>> = Vec::new();
    let mut batch_bytes = 0u64;
    for file in files {
        let size = std::fs::metadata(file)
            .with_context(|| format!("reading '{}'", file.display()))?
            .len();
        match batches.last_mut() {
            Some(batch) if batch_bytes.saturating_add(size) <= BATCH_BYTES => {
                batch_bytes += size;
                batch.push((file.clone(), size));
            }
            _ => {
                batch_bytes = size;
                batches.push(vec![(file.clone(), size)]);
            }
        }
    }
    let mut outputs: Vec<(PathBuf, Result<StoreOutcome, SdkError>)> = Vec::new();
    for batch in batches {
        let bar = Bar::new("storing");
        if let [(file, _)] = batch.as_slice() {
            // Large files go through a spill file: memory stays bounded.
            let outcome = sdk.store_file(file, options, &bar).await;
            outputs.push((file.clone(), outcome));
        } else {
            let mut blobs = Vec::with_capacity(batch.len());
            for (file, _) in &batch {
                blobs.push(
                    std::fs::read(file).with_context(|| format!("reading '{}'", file.display()))?,
                );
            }
            let stored = sdk.store_many(blobs, options, &bar).await?;
            for ((file, _), outcome) in batch.into_iter().zip(stored.results) {
                outputs.push((file, outcome));
            }
        }
        bar.0.finish_and_clear();
    }
    if outputs.len() == 1 && outputs[0].1.is_err() {
        // One file: its error is the command's error, in full.
        let (_, outcome) = outputs.remove(0);
        return outcome.map(drop).map_err(Into::into);
    }
    let failed = outputs
        .iter()
        .filter(|(_, outcome)| outcome.is_err())
        .count();
    if json {
        // Walrus's shape: failures are `error` / `markedInvalid` results beside the others.
        let values: Vec<serde_json::Value> = outputs
            .into_iter()
            .map(|(file, outcome)| {
                let result = BlobStoreResult::from_result(outcome, None);
                serde_json::json!({"path": file, "blobStoreResult": result})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
    } else {
        for (file, outcome) in outputs {
            print_outcome(&file, outcome);
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files could not be stored", files.len());
    }
    Ok(())
}

/// Prints one file's outcome for people.
fn print_outcome(file: &std::path::Path, outcome: Result<StoreOutcome, SdkError>) {
    match outcome {
        Ok(StoreOutcome::NewlyCreated {
            blob_object,
            resource_operation: ResourceOperation::RegisterFromScratch { encoded_length, .. },
            cost,
        }) => println!(
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
        Ok(StoreOutcome::AlreadyCertified { blob_id, end_epoch, .. }) => println!(
            "Success: blob from '{}' was already certified.\nBlob ID: {blob_id}\nExpiry epoch (exclusive): {end_epoch}",
            file.display()
        ),
        Err(error) => println!("Error: storing '{}' failed: {error}", file.display()),
    }
}

/// FROST as WAL, with all nine decimals.
fn human_wal(frost: u64) -> String {
    format!("{:.9}", frost as f64 / 1e9)
}
