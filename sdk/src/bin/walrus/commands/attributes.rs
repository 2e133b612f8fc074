//! A blob object's attributes (key/value pairs such as `content-type`, which the aggregator
//! serves as headers): `walrus get-blob-attribute`, `set-blob-attribute`,
//! `remove-blob-attribute-fields`, `remove-blob-attribute`.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use walrus_chain::contract::blob::Blob;
use walrus_core::ObjectId;
use walrus_sdk::client::WalrusSdk;

use crate::common::{parse_object_id, Context};

/// Print the attributes of a blob object (not the blob's data)
#[derive(Debug, Args)]
pub struct GetBlobAttributeArgs {
    /// The blob object (0x… Sui object ID).
    blob_obj_id: String,
}

/// Set attributes of a blob object the wallet owns (a key already set gets the new value)
#[derive(Debug, Args)]
pub struct SetBlobAttributeArgs {
    /// The blob object (0x… Sui object ID).
    blob_obj_id: String,
    /// A key and its value; repeat for several: --attr "key1" "value1" --attr "key2" "value2".
    #[arg(long = "attr", value_names = ["KEY", "VALUE"], num_args = 2, required = true, action = clap::ArgAction::Append)]
    attributes: Vec<String>,
}

/// Remove some key/value pairs from a blob object's attributes
#[derive(Debug, Args)]
pub struct RemoveBlobAttributeFieldsArgs {
    /// The blob object (0x… Sui object ID).
    blob_obj_id: String,
    /// The keys to remove (each must be set): --keys "key1" "key2,with,commas" "key 3".
    #[arg(long, num_args = 1.., required = true)]
    keys: Vec<String>,
}

/// Remove every attribute of a blob object
#[derive(Debug, Args)]
pub struct RemoveBlobAttributeArgs {
    /// The blob object (0x… Sui object ID).
    blob_obj_id: String,
}

/// The blob object `object_id`, which the wallet must own (only the owner changes it).
async fn owned_blob(sdk: &WalrusSdk, object_id: ObjectId) -> Result<Blob> {
    sdk.chain()
        .owned_blobs()
        .await?
        .into_iter()
        .find(|blob| blob.id == object_id)
        .with_context(|| {
            format!("the wallet owns no blob object {object_id} (only its owner can change its attributes)")
        })
}

/// Prints `blob`'s attributes: `{"attribute": {key: value, ...}}`, `null` when it has none
/// (Walrus's `GetBlobAttributeOutput`).
fn print_attributes(context: &Context, blob: &Blob) -> Result<()> {
    let pairs: BTreeMap<&str, &str> = blob
        .attributes
        .contents
        .iter()
        .map(|entry| (entry.key.as_str(), entry.value.as_str()))
        .collect();
    if context.json {
        let attribute = (!pairs.is_empty()).then_some(&pairs);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "objectId": blob.id.to_string(),
                "attribute": attribute,
            }))?
        );
    } else if pairs.is_empty() {
        println!("Blob object {} has no attributes.", blob.id);
    } else {
        println!("Attributes of blob object {}:", blob.id);
        for (key, value) in pairs {
            println!("  {key}: {value}");
        }
    }
    Ok(())
}

impl GetBlobAttributeArgs {
    /// Reads the object and prints its attributes.
    pub fn run(self, context: &Context) -> Result<()> {
        let object_id = parse_object_id(&self.blob_obj_id)?;
        let blob = context.with_sdk(async |sdk| {
            sdk.blob_object(object_id)
                .await
                .with_context(|| format!("reading blob object {object_id}"))
        })?;
        print_attributes(context, &blob)
    }
}

/// `--attr K V --attr K V` as pairs (clap gives the values flat, two per flag).
fn pairs(values: &[String]) -> Result<Vec<(String, String)>> {
    if !values.len().is_multiple_of(2) {
        bail!("--attr takes a key and a value");
    }
    Ok(values
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect())
}

impl SetBlobAttributeArgs {
    /// Sets the pairs in one transaction and prints the attributes after it.
    pub fn run(self, context: &Context) -> Result<()> {
        let object_id = parse_object_id(&self.blob_obj_id)?;
        let pairs = pairs(&self.attributes)?;
        let blob = context.with_sdk(async |sdk| {
            owned_blob(sdk, object_id).await?;
            Ok(sdk.chain().set_blob_attributes(object_id, &pairs).await?)
        })?;
        print_attributes(context, &blob)
    }
}

/// The keys that `blob` does not have among `keys`.
fn missing_keys<'a>(blob: &Blob, keys: &'a [String]) -> Vec<&'a str> {
    keys.iter()
        .filter(|key| blob.attributes.get(key).is_none())
        .map(String::as_str)
        .collect()
}

impl RemoveBlobAttributeFieldsArgs {
    /// Removes the keys in one transaction and prints the attributes left.
    pub fn run(self, context: &Context) -> Result<()> {
        let object_id = parse_object_id(&self.blob_obj_id)?;
        let mut keys = self.keys;
        keys.sort();
        keys.dedup();
        let blob = context.with_sdk(async |sdk| {
            let blob = owned_blob(sdk, object_id).await?;
            let missing = missing_keys(&blob, &keys);
            if !missing.is_empty() {
                bail!(
                    "blob object {object_id} has no attribute {}: nothing was removed",
                    missing.join(", ")
                );
            }
            Ok(sdk.chain().remove_blob_attributes(object_id, &keys).await?)
        })?;
        print_attributes(context, &blob)
    }
}

impl RemoveBlobAttributeArgs {
    /// Removes every key in one transaction.
    pub fn run(self, context: &Context) -> Result<()> {
        let object_id = parse_object_id(&self.blob_obj_id)?;
        let blob = context.with_sdk(async |sdk| {
            let blob = owned_blob(sdk, object_id).await?;
            let keys: Vec<String> = blob
                .attributes
                .contents
                .iter()
                .map(|entry| entry.key.clone())
                .collect();
            if keys.is_empty() {
                bail!("blob object {object_id} has no attributes to remove");
            }
            Ok(sdk.chain().remove_blob_attributes(object_id, &keys).await?)
        })?;
        print_attributes(context, &blob)
    }
}

#[cfg(test)]
mod tests {
    use walrus_chain::contract::{
        storage_resource::Storage,
        sui::{VecMap, U256},
    };

    use super::*;

    #[test]
    fn attr_values_pair_up_and_missing_keys_are_named() {
        let values: Vec<String> = ["a", "1", "b", "two words"].map(String::from).to_vec();
        assert_eq!(
            pairs(&values).unwrap(),
            [("a".into(), "1".into()), ("b".into(), "two words".into())]
        );
        assert!(pairs(&values[..3]).is_err());

        let mut attributes = VecMap::default();
        attributes.insert_or_replace("a".to_owned(), "1".to_owned());
        let blob = Blob {
            id: ObjectId([1; 32]),
            registered_epoch: 1,
            blob_id: U256([2; 32]),
            size: 1,
            encoding_type: 1,
            certified_epoch: None,
            storage: Storage {
                id: ObjectId([3; 32]),
                start_epoch: 1,
                end_epoch: 2,
                storage_size: 1,
            },
            deletable: true,
            attributes,
        };
        let keys: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(missing_keys(&blob, &keys), ["b", "c"]);
        assert!(missing_keys(&blob, &keys[..1]).is_empty());
    }
}
