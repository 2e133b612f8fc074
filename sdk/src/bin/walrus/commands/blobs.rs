//! The wallet's blob objects: `walrus delete`, `walrus extend`, `walrus list-blobs`.

use anyhow::{bail, Context as _, Result};
use clap::Args;

use crate::common::{human_bytes, parse_blob_id, parse_object_id, Context};

/// Delete deletable blobs the wallet owns (their storage goes back to the wallet).
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Delete every deletable blob object of this blob ID that the wallet owns.
    #[arg(
        long,
        required_unless_present = "object_ids",
        conflicts_with = "object_ids"
    )]
    blob_id: Option<String>,
    /// Delete these blob objects (0x… Sui object IDs).
    #[arg(long, num_args = 1..)]
    object_ids: Vec<String>,
}

impl DeleteArgs {
    /// Deletes the objects and prints their IDs.
    pub fn run(self, context: &Context) -> Result<()> {
        let object_ids = self
            .object_ids
            .iter()
            .map(|text| parse_object_id(text))
            .collect::<Result<Vec<_>>>()?;
        let blob_id = self.blob_id.as_deref().map(parse_blob_id).transpose()?;
        let deleted = context.with_sdk(async |sdk| match blob_id {
            Some(blob_id) => Ok(sdk.delete_blob_id(&blob_id).await?),
            None => {
                for object_id in &object_ids {
                    sdk.delete(*object_id)
                        .await
                        .with_context(|| format!("deleting blob object {object_id}"))?;
                }
                Ok(object_ids.clone())
            }
        })?;
        if let (Some(blob_id), true) = (blob_id, deleted.is_empty()) {
            bail!("the wallet owns no deletable blob object of blob {blob_id}");
        }
        if context.json {
            let ids: Vec<String> = deleted.iter().map(ToString::to_string).collect();
            println!("{}", serde_json::json!({ "deletedObjectIds": ids }));
        } else {
            for object_id in &deleted {
                println!("Deleted blob object {object_id}");
            }
        }
        Ok(())
    }
}

/// Extend the storage of a blob object the wallet owns, paid from the wallet.
#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The blob object (0x… Sui object ID).
    #[arg(long, value_name = "OBJECT_ID")]
    blob_obj_id: String,
    /// Epochs to add to its end epoch.
    #[arg(long, value_name = "N")]
    epochs_extended: u32,
}

impl ExtendArgs {
    /// Extends the object and prints its new expiry.
    pub fn run(self, context: &Context) -> Result<()> {
        let object_id = parse_object_id(&self.blob_obj_id)?;
        if self.epochs_extended == 0 {
            bail!("--epochs-extended must be at least 1");
        }
        let blob = context.with_sdk(async |sdk| {
            sdk.extend(object_id, self.epochs_extended)
                .await
                .with_context(|| format!("extending blob object {object_id}"))
        })?;
        if context.json {
            println!("{}", serde_json::to_string_pretty(&blob)?);
        } else {
            println!(
                "Success: blob object {object_id} (blob {}) now expires at epoch {} (exclusive)",
                blob.blob_id, blob.storage.end_epoch
            );
        }
        Ok(())
    }
}

/// List the blob objects the wallet owns.
#[derive(Debug, Args)]
pub struct ListBlobsArgs {
    /// Include expired blobs.
    #[arg(long)]
    include_expired: bool,
}

impl ListBlobsArgs {
    /// Prints the wallet's blob objects.
    pub fn run(self, context: &Context) -> Result<()> {
        let blobs =
            context.with_sdk(async |sdk| Ok(sdk.list_blobs(self.include_expired).await?))?;
        if context.json {
            println!("{}", serde_json::to_string_pretty(&blobs)?);
        } else if blobs.is_empty() {
            println!("The wallet owns no blob objects.");
        } else {
            println!(
                "{:<44} {:>10} {:>9} {:>10} {:>9}  Object ID",
                "Blob ID", "Size", "Certified", "Expiry", "Deletable"
            );
            for blob in &blobs {
                println!(
                    "{:<44} {:>10} {:>9} {:>10} {:>9}  {}",
                    blob.blob_id.to_string(),
                    human_bytes(blob.size),
                    blob.certified_epoch
                        .map_or_else(|| "no".to_owned(), |epoch| epoch.to_string()),
                    blob.storage.end_epoch,
                    if blob.deletable { "yes" } else { "no" },
                    blob.id
                );
            }
        }
        Ok(())
    }
}
