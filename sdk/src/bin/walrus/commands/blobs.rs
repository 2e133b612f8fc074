//! The wallet's blob objects: `walrus delete`, `walrus extend`, `walrus list-blobs`.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{ArgGroup, Args};
use serde::Serialize;
use walrus_chain::{client::MAX_BLOBS_PER_TRANSACTION, contract::blob::Blob};
use walrus_core::{BlobId, ObjectId};
use walrus_node_client::api::BlobStatus;
use walrus_sdk::outcome::BlobObject;

use crate::{
    commands::read::describe_status,
    common::{
        confirm, ensure_confirmable, human_bytes, network_blob_id_of_file, parse_blob_id,
        parse_object_id, Context,
    },
};

/// Delete deletable blobs the wallet owns (their storage goes back to the wallet)
///
/// Name the blobs by file (its blob ID is computed locally), by blob ID (every deletable
/// object of the blob ID the wallet owns is deleted) or by object ID (only that object);
/// several of each may be given. The objects found are listed and confirmed on the terminal
/// first, unless `--yes`; without a terminal, `--yes` is required. After deleting, the
/// blob's status is checked (unless `--no-status-check`): it stays available while other
/// objects keep it.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("targets").required(true).multiple(true)))]
pub struct DeleteArgs {
    /// Files whose blobs to delete (blob IDs computed for the network's shard count).
    #[arg(long, num_args = 1.., alias = "file", group = "targets")]
    files: Vec<PathBuf>,
    /// A blob ID whose deletable objects owned by the wallet to delete (all of them); repeat
    /// the flag for several (`--blob-ids A --blob-ids B`: a blob ID may start with `-`).
    #[arg(long, alias = "blob-id", allow_hyphen_values = true, group = "targets")]
    blob_ids: Vec<String>,
    /// Blob objects to delete (0x… Sui object IDs).
    #[arg(long, num_args = 1.., alias = "object-id", group = "targets")]
    object_ids: Vec<String>,
    /// Delete without asking for confirmation.
    #[arg(long)]
    yes: bool,
    /// Do not check the blobs' status after deleting (saves requests to the nodes).
    #[arg(long)]
    no_status_check: bool,
}

/// How a blob to delete was named (Walrus's `BlobIdentity`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlobIdentity {
    blob_id: Option<BlobId>,
    file: Option<PathBuf>,
    object_id: Option<ObjectId>,
}

/// What happened to one named blob (Walrus's `DeleteOutput`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteOutput {
    blob_identity: BlobIdentity,
    deleted_blobs: Vec<BlobObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_deletion_status: Option<BlobStatus>,
    no_blob_found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    aborted: bool,
}

impl DeleteArgs {
    /// Finds the objects, confirms, deletes them and prints what happened to each.
    pub fn run(self, context: &Context) -> Result<()> {
        ensure_confirmable(self.yes, "delete")?;
        let blob_ids = self
            .blob_ids
            .iter()
            .map(|text| parse_blob_id(text))
            .collect::<Result<Vec<_>>>()?;
        let object_ids = self
            .object_ids
            .iter()
            .map(|text| parse_object_id(text))
            .collect::<Result<Vec<_>>>()?;
        let outputs = context.with_sdk(async |sdk| {
            let mut identities = Vec::new();
            for file in &self.files {
                identities.push(BlobIdentity {
                    blob_id: Some(network_blob_id_of_file(sdk, file).await?),
                    file: Some(file.clone()),
                    object_id: None,
                });
            }
            identities.extend(blob_ids.iter().map(|blob_id| BlobIdentity {
                blob_id: Some(*blob_id),
                ..BlobIdentity::default()
            }));
            identities.extend(object_ids.iter().map(|object_id| BlobIdentity {
                object_id: Some(*object_id),
                ..BlobIdentity::default()
            }));
            let owned = sdk.chain().owned_blobs().await?;
            let mut plans: Vec<(DeleteOutput, Vec<Blob>)> = identities
                .into_iter()
                .map(|identity| plan_deletion(identity, &owned))
                .collect();
            let objects: usize = plans.iter().map(|(_, blobs)| blobs.len()).sum();
            if objects > 0 && !self.yes {
                for (_, blobs) in &plans {
                    for blob in blobs {
                        eprintln!(
                            "  blob object {} of blob {} (expires at epoch {})",
                            blob.id,
                            BlobId::from(blob.blob_id),
                            blob.storage.end_epoch
                        );
                    }
                }
                if !confirm(&format!("Delete these {objects} blob objects?"))? {
                    for (output, _) in &mut plans {
                        output.aborted = true;
                    }
                    return Ok(plans.into_iter().map(|(output, _)| output).collect());
                }
            }
            let mut outputs = Vec::with_capacity(plans.len());
            for (mut output, blobs) in plans {
                for blob in blobs {
                    match sdk.delete(blob.id).await {
                        Ok(_) => output.deleted_blobs.push(BlobObject::from(&blob)),
                        Err(error) => {
                            output.error =
                                Some(format!("deleting blob object {}: {error}", blob.id));
                            break;
                        }
                    }
                }
                outputs.push(output);
            }
            if !self.no_status_check {
                for output in &mut outputs {
                    let blob_id = output
                        .blob_identity
                        .blob_id
                        .or_else(|| output.deleted_blobs.first().map(|blob| blob.blob_id));
                    if let Some(blob_id) = blob_id {
                        output.post_deletion_status = Some(sdk.status(&blob_id).await?);
                    }
                }
            }
            Ok(outputs)
        })?;
        if context.json {
            println!("{}", serde_json::to_string_pretty(&outputs)?);
        } else {
            for output in &outputs {
                print!("{}", render_deletion(output));
            }
        }
        let failed = outputs
            .iter()
            .filter(|output| output.error.is_some())
            .count();
        if failed > 0 {
            bail!("{failed} of {} blobs could not be deleted", outputs.len());
        }
        Ok(())
    }
}

/// What deleting `identity` means among the wallet's `owned` blob objects: the objects to
/// delete, or why there are none.
fn plan_deletion(identity: BlobIdentity, owned: &[Blob]) -> (DeleteOutput, Vec<Blob>) {
    let mut output = DeleteOutput {
        blob_identity: identity.clone(),
        ..DeleteOutput::default()
    };
    let mut blobs = Vec::new();
    if let Some(object_id) = identity.object_id {
        match owned.iter().find(|blob| blob.id == object_id) {
            None => {
                output.error = Some(format!(
                    "the wallet owns no blob object {object_id} (not a blob, another wallet's, or already deleted)"
                ));
            }
            Some(blob) if !blob.deletable => {
                output.error = Some(format!(
                    "blob object {object_id} is permanent: it cannot be deleted before it expires"
                ));
            }
            Some(blob) => blobs.push(blob.clone()),
        }
    } else if let Some(blob_id) = identity.blob_id {
        blobs.extend(
            owned
                .iter()
                .filter(|blob| blob.deletable && BlobId::from(blob.blob_id) == blob_id)
                .cloned(),
        );
        output.no_blob_found = blobs.is_empty();
    }
    (output, blobs)
}

/// One named blob's deletion for people.
fn render_deletion(output: &DeleteOutput) -> String {
    let identity = &output.blob_identity;
    let mut named = Vec::new();
    if let Some(file) = &identity.file {
        named.push(format!("file '{}'", file.display()));
    }
    if let Some(blob_id) = &identity.blob_id {
        named.push(format!("blob {blob_id}"));
    }
    if let Some(object_id) = &identity.object_id {
        named.push(format!("object {object_id}"));
    }
    let mut text = format!("{}:\n", named.join(", "));
    if output.aborted {
        text.push_str("  Not deleted: not confirmed\n");
    }
    if output.no_blob_found {
        text.push_str("  The wallet owns no deletable blob object of this blob\n");
    }
    for blob in &output.deleted_blobs {
        text.push_str(&format!(
            "  Deleted blob object {} (blob {})\n",
            blob.id, blob.blob_id
        ));
    }
    if let Some(error) = &output.error {
        text.push_str(&format!("  Error: {error}\n"));
    }
    if let Some(status) = &output.post_deletion_status {
        text.push_str(&format!("  Status now: {}\n", describe_status(status)));
    }
    text
}

/// Burn blob objects the wallet owns: remove them from the chain
///
/// Burning removes the Blob objects only: the data is not deleted from the storage nodes
/// (it stays until the storage ends) and the storage is not refunded. On this network the
/// contract burns only expired blobs (their storage has ended); to give back the storage of
/// a deletable blob before it expires, use `walrus delete`. Exactly one of `--object-ids`,
/// `--all-expired` and `--all` selects the objects; they are confirmed on the terminal
/// first, unless `--yes`.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("selection").required(true).multiple(false)))]
pub struct BurnBlobsArgs {
    /// The blob objects to burn (0x… Sui object IDs).
    #[arg(long, num_args = 1.., alias = "object-id", group = "selection")]
    object_ids: Vec<String>,
    /// Burn every blob object the wallet owns (all must have expired).
    #[arg(long, group = "selection")]
    all: bool,
    /// Burn every expired blob object the wallet owns.
    #[arg(long, group = "selection")]
    all_expired: bool,
    /// Burn without asking for confirmation.
    #[arg(long)]
    yes: bool,
}

impl BurnBlobsArgs {
    /// Selects, confirms and burns the objects (up to 100 per transaction).
    pub fn run(self, context: &Context) -> Result<()> {
        ensure_confirmable(self.yes, "burn-blobs")?;
        let object_ids = self
            .object_ids
            .iter()
            .map(|text| parse_object_id(text))
            .collect::<Result<Vec<_>>>()?;
        let burned = context.with_sdk(async |sdk| {
            let epoch = sdk.chain().system().await?.epoch();
            let owned = sdk.chain().owned_blobs().await?;
            let selected = select_burn(&owned, &object_ids, self.all, epoch)?;
            if selected.is_empty() {
                return Ok(selected);
            }
            if !self.yes && !confirm(&format!("Burn {} blob objects?", selected.len()))? {
                bail!("not confirmed: nothing was burned");
            }
            for batch in selected.chunks(MAX_BLOBS_PER_TRANSACTION) {
                sdk.chain().burn_blobs(batch).await?;
            }
            Ok(selected)
        })?;
        if context.json {
            let ids: Vec<String> = burned.iter().map(ToString::to_string).collect();
            println!("{}", serde_json::json!({ "burnedObjectIds": ids }));
        } else if burned.is_empty() {
            println!("No blob objects to burn.");
        } else {
            for object_id in &burned {
                println!("Burned blob object {object_id}");
            }
        }
        Ok(())
    }
}

/// The objects to burn among the wallet's `owned` blobs in `epoch`: `object_ids`, or all
/// (`all`), or the expired ones; an error naming any that is not owned or not expired.
fn select_burn(
    owned: &[Blob],
    object_ids: &[ObjectId],
    all: bool,
    epoch: u32,
) -> Result<Vec<ObjectId>> {
    let expired = |blob: &Blob| blob.storage.end_epoch <= epoch;
    let selected: Vec<&Blob> = if object_ids.is_empty() {
        owned.iter().filter(|blob| all || expired(blob)).collect()
    } else {
        object_ids
            .iter()
            .map(|id| {
                owned
                    .iter()
                    .find(|blob| blob.id == *id)
                    .with_context(|| format!("the wallet owns no blob object {id}"))
            })
            .collect::<Result<_>>()?
    };
    let live: Vec<String> = selected
        .iter()
        .filter(|blob| !expired(blob))
        .map(|blob| format!("{} (expires at epoch {})", blob.id, blob.storage.end_epoch))
        .collect();
    if !live.is_empty() {
        bail!(
            "this network's contract burns only expired blobs (the current epoch is {epoch}); \
             still stored: {}; nothing was burned (use `walrus delete` for deletable ones)",
            live.join(", ")
        );
    }
    Ok(selected.iter().map(|blob| blob.id).collect())
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

#[cfg(test)]
mod tests {
    use walrus_chain::contract::{storage_resource::Storage, sui::U256};

    use super::*;

    fn blob(object: u8, blob: u8, deletable: bool) -> Blob {
        Blob {
            id: ObjectId([object; 32]),
            registered_epoch: 1,
            blob_id: U256([blob; 32]),
            size: 10,
            encoding_type: 1,
            certified_epoch: Some(1),
            storage: Storage {
                id: ObjectId([object.wrapping_add(100); 32]),
                start_epoch: 1,
                end_epoch: 3,
                storage_size: 1_000,
            },
            deletable,
            attributes: Default::default(),
        }
    }

    fn by_blob_id(byte: u8) -> BlobIdentity {
        BlobIdentity {
            blob_id: Some(BlobId::from(U256([byte; 32]))),
            ..BlobIdentity::default()
        }
    }

    fn by_object_id(byte: u8) -> BlobIdentity {
        BlobIdentity {
            object_id: Some(ObjectId([byte; 32])),
            ..BlobIdentity::default()
        }
    }

    #[test]
    fn deletions_name_owned_deletable_objects_only() {
        // Blob 7: two deletable objects and a permanent one; blob 8: permanent only.
        let owned = [
            blob(1, 7, true),
            blob(2, 7, true),
            blob(3, 7, false),
            blob(4, 8, false),
        ];
        let (output, blobs) = plan_deletion(by_blob_id(7), &owned);
        let ids: Vec<ObjectId> = blobs.iter().map(|blob| blob.id).collect();
        assert_eq!(ids, [ObjectId([1; 32]), ObjectId([2; 32])]);
        assert!(!output.no_blob_found && output.error.is_none());

        let (output, blobs) = plan_deletion(by_blob_id(8), &owned);
        assert!(blobs.is_empty() && output.no_blob_found);
        assert!(render_deletion(&output).contains("owns no deletable blob object"));

        let (output, blobs) = plan_deletion(by_object_id(2), &owned);
        assert_eq!(blobs.len(), 1);
        assert!(output.error.is_none());
        let (output, blobs) = plan_deletion(by_object_id(3), &owned);
        assert!(blobs.is_empty());
        assert!(output.error.unwrap().contains("is permanent"));
        let (output, blobs) = plan_deletion(by_object_id(9), &owned);
        assert!(blobs.is_empty());
        assert!(output.error.unwrap().contains("owns no blob object"));

        let json = serde_json::to_value(plan_deletion(by_blob_id(8), &owned).0).unwrap();
        assert_eq!(json["noBlobFound"], true);
        assert_eq!(json["aborted"], false);
        assert_eq!(json["blobIdentity"]["objectId"], serde_json::Value::Null);
        assert!(json["blobIdentity"]["blobId"].is_string());
    }

    #[test]
    fn only_owned_expired_blobs_are_burned() {
        // Object 1 ends at epoch 3 (see `blob`); object 2 ends at epoch 5.
        let mut later = blob(2, 8, false);
        later.storage.end_epoch = 5;
        let owned = [blob(1, 7, true), later];
        let ids = |bytes: &[u8]| bytes.iter().map(|b| ObjectId([*b; 32])).collect::<Vec<_>>();
        assert_eq!(select_burn(&owned, &[], false, 2).unwrap(), ids(&[]));
        assert_eq!(select_burn(&owned, &[], false, 3).unwrap(), ids(&[1]));
        assert_eq!(select_burn(&owned, &[], true, 5).unwrap(), ids(&[1, 2]));
        let error = select_burn(&owned, &[], true, 3).unwrap_err().to_string();
        assert!(
            error.contains("only expired blobs") && error.contains("expires at epoch 5"),
            "{error}"
        );
        assert_eq!(
            select_burn(&owned, &ids(&[1]), false, 4).unwrap(),
            ids(&[1])
        );
        let error = select_burn(&owned, &ids(&[9]), false, 4)
            .unwrap_err()
            .to_string();
        assert!(error.contains("owns no blob object"), "{error}");
    }
}
