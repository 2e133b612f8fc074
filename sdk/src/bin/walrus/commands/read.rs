//! Reading blobs: `walrus read` and `walrus blob-status`.

use std::{io::Write, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use futures::StreamExt;
use serde::Serialize;
use walrus_node_client::api::BlobStatus;
use walrus_sdk::client::ConsistencyCheck;

use walrus_sdk::time::format_utc_ms;

use crate::common::{human_bytes, network_blob_id_of_file, parse_blob_id, Bar, Context};

/// Read a blob and write it to a file (or stdout).
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The blob ID (unpadded base64url).
    blob_id: String,
    /// Where to write the blob (default: stdout, streamed: the bytes start coming out while
    /// the rest is still being read).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Re-encode the whole blob read and check that it gives the blob ID: also refuses a
    /// blob whose repair slivers (never read here) are inconsistent. Slower; the default
    /// check already guarantees that every reader that succeeds gets the same bytes: each
    /// source row, received or decoded, must match its hash in the blob's metadata.
    #[arg(long, conflicts_with = "skip_consistency_check")]
    strict_consistency_check: bool,
    /// Skip the check after decoding: trusts the writer. If it encoded the blob
    /// inconsistently, readers using different slivers may get different bytes. Each sliver
    /// is still verified against the metadata.
    #[arg(long)]
    skip_consistency_check: bool,
}

impl ReadArgs {
    /// Reads the blob and writes it out. Memory stays bounded whatever the blob's size: the
    /// slivers go to disk as they arrive and the blob is decoded and checked a stripe at a
    /// time (into the output file, or a temporary file streamed to stdout).
    pub fn run(self, context: &Context) -> Result<()> {
        let blob_id = parse_blob_id(&self.blob_id)?;
        let check = ConsistencyCheck::from_flags(
            self.strict_consistency_check,
            self.skip_consistency_check,
        )
        .context("choose at most one of the strict and skip consistency checks")?;
        let Some(path) = self.out else {
            return context.with_sdk(async |sdk| {
                let mut stream = sdk
                    .read_stream(&blob_id, check)
                    .await
                    .with_context(|| format!("reading blob {blob_id}"))?;
                let mut stdout = std::io::stdout().lock();
                while let Some(chunk) = stream.chunks.next().await {
                    let chunk = chunk.with_context(|| format!("reading blob {blob_id}"))?;
                    stdout.write_all(&chunk).context("writing to stdout")?;
                }
                stdout.flush().context("writing to stdout")?;
                Ok(())
            });
        };
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .with_context(|| format!("creating '{}'", path.display()))?;
        let read = context.with_sdk(async |sdk| {
            let bar = Bar::new("reading");
            let size = sdk
                .read_to_file(&blob_id, &file, check, &bar)
                .await
                .with_context(|| format!("reading blob {blob_id}"))?;
            bar.0.finish_and_clear();
            Ok(size)
        });
        let size = match read {
            Ok(size) => size,
            Err(error) => {
                // Nothing half-written is left behind.
                let _ = std::fs::remove_file(&path);
                return Err(error);
            }
        };
        if context.json {
            println!(
                "{}",
                serde_json::json!({"blobId": blob_id.to_string(), "out": path, "size": size})
            );
        } else {
            eprintln!(
                "Success: blob {blob_id} ({}) written to '{}'",
                human_bytes(size),
                path.display()
            );
        }
        Ok(())
    }
}

/// Print the status of a blob as the storage nodes report it
///
/// Asks the storage nodes of the current committee and shows the "latest" status in the
/// blob's life cycle that a node can back with a chain event: nonexistent, registered or
/// certified (permanent, with its expiry, or deletable, with the number of objects), or
/// invalid. Give the blob ID, or a file: its blob ID is computed locally (as `walrus
/// blob-id` does, for the network's shard count) and nothing is uploaded.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[group(required = true, multiple = false)]
pub struct BlobStatusArgs {
    /// The blob ID (unpadded base64url).
    #[arg(long, allow_hyphen_values = true)]
    blob_id: Option<String>,
    /// A file whose blob ID to check (computed locally, nothing is stored).
    #[arg(long)]
    file: Option<PathBuf>,
}

/// What `walrus blob-status --json` prints (Walrus's `BlobStatusOutput`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlobStatusOutput {
    blob_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    status: BlobStatus,
    /// For a permanent blob: when its end epoch starts, if epochs keep their length.
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_expiry_timestamp: Option<String>,
}

impl BlobStatusArgs {
    /// Prints the status.
    pub fn run(self, context: &Context) -> Result<()> {
        let given = self.blob_id.as_deref().map(parse_blob_id).transpose()?;
        let file = self.file;
        let (blob_id, status, staking) = context.with_sdk(async |sdk| {
            let blob_id = match (given, &file) {
                (Some(blob_id), _) => blob_id,
                (None, Some(path)) => network_blob_id_of_file(sdk, path).await?,
                (None, None) => bail!("give --blob-id or --file"),
            };
            let status = sdk.status(&blob_id).await?;
            let staking = sdk.chain().staking().await?;
            Ok((blob_id, status, staking))
        })?;
        let expiry_ms = match status {
            BlobStatus::Permanent { end_epoch, .. } => Some(
                staking.epoch_start_ms.saturating_add(
                    u64::from(end_epoch.saturating_sub(staking.epoch))
                        .saturating_mul(staking.epoch_duration_ms),
                ),
            ),
            _ => None,
        };
        if context.json {
            let output = BlobStatusOutput {
                blob_id: blob_id.to_string(),
                file,
                status,
                estimated_expiry_timestamp: expiry_ms.map(format_utc_ms),
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
        } else {
            if let Some(file) = &file {
                println!("File: {}", file.display());
            }
            println!("Blob ID: {blob_id}\nStatus: {}", describe_status(&status));
            if let Some(ms) = expiry_ms {
                println!("Estimated expiry: {}", format_utc_ms(ms));
            }
        }
        Ok(())
    }
}

/// A blob status for people.
pub fn describe_status(status: &BlobStatus) -> String {
    match status {
        BlobStatus::Nonexistent => "nonexistent (never stored, deleted or expired)".into(),
        BlobStatus::Invalid { .. } => "invalid (inconsistent encoding)".into(),
        BlobStatus::Permanent {
            end_epoch,
            is_certified,
            ..
        } => format!(
            "permanent, {}, expires at epoch {end_epoch}",
            if *is_certified {
                "certified"
            } else {
                "registered, not certified"
            }
        ),
        BlobStatus::Deletable {
            initial_certified_epoch,
            deletable_counts,
        } => format!(
            "deletable ({} objects, {} certified{})",
            deletable_counts.count_deletable_total,
            deletable_counts.count_deletable_certified,
            initial_certified_epoch
                .map(|e| format!(", first certified in epoch {e}"))
                .unwrap_or_default()
        ),
    }
}
