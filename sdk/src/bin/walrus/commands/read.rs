//! Reading blobs: `walrus read` and `walrus blob-status`.

use std::{io::Write, path::PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use walrus_node_client::api::BlobStatus;

use crate::common::{human_bytes, parse_blob_id, Bar, Context};

/// Read a blob and write it to a file (or stdout).
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The blob ID (unpadded base64url).
    blob_id: String,
    /// Where to write the blob (default: stdout).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

impl ReadArgs {
    /// Reads the blob and writes it out.
    pub fn run(self, context: &Context) -> Result<()> {
        let blob_id = parse_blob_id(&self.blob_id)?;
        let bytes = context.with_sdk(async |sdk| {
            let bar = Bar::new("reading");
            let bytes = sdk
                .read(&blob_id, &bar)
                .await
                .with_context(|| format!("reading blob {blob_id}"))?;
            bar.0.finish_and_clear();
            Ok(bytes)
        })?;
        match self.out {
            Some(path) => {
                std::fs::write(&path, &bytes)
                    .with_context(|| format!("writing '{}'", path.display()))?;
                if context.json {
                    println!(
                        "{}",
                        serde_json::json!({"blobId": blob_id.to_string(), "out": path, "size": bytes.len()})
                    );
                } else {
                    eprintln!(
                        "Success: blob {blob_id} ({}) written to '{}'",
                        human_bytes(bytes.len() as u64),
                        path.display()
                    );
                }
            }
            None => std::io::stdout().lock().write_all(&bytes)?,
        }
        Ok(())
    }
}

/// The status of a blob as the storage nodes report it.
#[derive(Debug, Args)]
pub struct BlobStatusArgs {
    /// The blob ID (unpadded base64url).
    blob_id: String,
}

impl BlobStatusArgs {
    /// Prints the status.
    pub fn run(self, context: &Context) -> Result<()> {
        let blob_id = parse_blob_id(&self.blob_id)?;
        let status = context.with_sdk(async |sdk| Ok(sdk.status(&blob_id).await?))?;
        if context.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            println!("Blob ID: {blob_id}\nStatus: {}", describe_status(&status));
        }
        Ok(())
    }
}

fn describe_status(status: &BlobStatus) -> String {
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
