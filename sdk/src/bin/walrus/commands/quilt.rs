//! Quilts: `walrus store-quilt`, `walrus read-quilt` and `walrus list-patches-in-quilt`.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use clap::Args;
use serde::Deserialize;
use walrus_core::quilt::{QuiltFile, QuiltPatchId};
use walrus_sdk::client::{PatchSelection, QuiltStoreOutcome, ReadPatch, StoreOutcome};

use crate::{
    common::{human_bytes, parse_blob_id, Bar, Context, StorageFlags},
    wal::format_wal,
};

/// Store many small files as one quilt: a single blob (one registration, one certificate)
/// from which each file can still be read alone, by its identifier or its quilt patch ID.
///
/// A quilt holds at most n - f - 1 files for n shards (66 at 100 shards), each with a unique
/// identifier: the file name for `--paths`, or as given in `--blobs`. The blob gets the
/// attribute `_walrusBlobType` = `quilt`.
#[derive(Debug, Args)]
pub struct StoreQuiltArgs {
    /// Files or directories (read recursively) to store; each file's identifier is its file
    /// name.
    #[arg(long, num_args = 1.., required_unless_present = "blobs", conflicts_with = "blobs")]
    paths: Vec<PathBuf>,
    /// Files with their identifiers and tags, as JSON, one argument each:
    /// '{"path":"a.txt","identifier":"notes","tags":{"kind":"text"}}' (identifier: the file
    /// name if left out; tags optional).
    #[arg(long, num_args = 1.., value_name = "JSON")]
    blobs: Vec<String>,
    #[command(flatten)]
    storage: StorageFlags,
    /// Only pack and encode the quilt and print its quilt ID, patch IDs, encoded size and
    /// storage cost: no transaction, no upload.
    #[arg(long)]
    dry_run: bool,
}

/// One `--blobs` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlobSpec {
    path: PathBuf,
    identifier: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl StoreQuiltArgs {
    /// Reads the files, stores the quilt and prints the quilt ID and every patch ID.
    pub fn run(self, context: &Context) -> Result<()> {
        let files = if self.blobs.is_empty() {
            files_of_paths(&self.paths)?
        } else {
            files_of_specs(&self.blobs)?
        };
        if self.dry_run {
            let (outcome, patches) = context.with_sdk(async |sdk| {
                let options = self.storage.options(sdk).await?;
                Ok(sdk.dry_run_quilt(files, options).await?)
            })?;
            if context.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "dryRunResult": outcome,
                        "storedQuiltBlobs": patches,
                    }))?
                );
            } else {
                println!(
                    "Dry run: nothing was stored.\nQuilt ID: {}\nUnencoded size: {}\nEncoded size: {}\nCost: {} WAL\nPatches:",
                    outcome.blob_id,
                    human_bytes(outcome.unencoded_size),
                    human_bytes(outcome.encoded_size),
                    format_wal(outcome.storage_cost),
                );
                for patch in &patches {
                    println!("  {}  {}", patch.quilt_patch_id, patch.identifier);
                }
            }
            return Ok(());
        }
        let outcome = context.with_sdk(async |sdk| {
            let options = self.storage.options(sdk).await?;
            let bar = Bar::new("storing quilt");
            let outcome = sdk.store_quilt(files, options, &bar).await?;
            bar.0.finish_and_clear();
            Ok(outcome)
        })?;
        if context.json {
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        } else {
            print_quilt_outcome(&outcome);
        }
        Ok(())
    }
}

/// Every file under `paths` (directories recursively, in name order), named by file name.
fn files_of_paths(paths: &[PathBuf]) -> Result<Vec<QuiltFile>> {
    let mut found = Vec::new();
    for path in paths {
        collect_files(path, &mut found)?;
    }
    found
        .into_iter()
        .map(|path| {
            let identifier = file_name(&path)?;
            read_file(&path, identifier, BTreeMap::new())
        })
        .collect()
}

fn collect_files(path: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading '{}'", path.display()))?;
    if !metadata.is_dir() {
        found.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .with_context(|| format!("reading directory '{}'", path.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading directory '{}'", path.display()))?;
    entries.sort();
    for entry in entries {
        collect_files(&entry, found)?;
    }
    Ok(())
}

fn files_of_specs(specs: &[String]) -> Result<Vec<QuiltFile>> {
    specs
        .iter()
        .map(|spec| {
            let spec: BlobSpec = serde_json::from_str(spec).with_context(|| {
                format!("--blobs takes {{\"path\", \"identifier\", \"tags\"}} JSON, not '{spec}'")
            })?;
            let identifier = match spec.identifier {
                Some(identifier) => identifier,
                None => file_name(&spec.path)?,
            };
            read_file(&spec.path, identifier, spec.tags)
        })
        .collect()
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
        .with_context(|| format!("'{}' has no UTF-8 file name", path.display()))
}

fn read_file(path: &Path, identifier: String, tags: BTreeMap<String, String>) -> Result<QuiltFile> {
    let contents = std::fs::read(path).with_context(|| format!("reading '{}'", path.display()))?;
    Ok(QuiltFile::new(identifier, contents).with_tags(tags))
}

fn print_quilt_outcome(outcome: &QuiltStoreOutcome) {
    match &outcome.blob_store_result {
        StoreOutcome::NewlyCreated {
            blob_object, cost, ..
        } => println!(
            "Success: quilt stored ({} files, {}).\nQuilt ID: {}\nSui object ID: {}\nExpiry epoch (exclusive): {}\nCost: {:.9} WAL",
            outcome.stored_quilt_blobs.len(),
            human_bytes(blob_object.size),
            blob_object.blob_id,
            blob_object.id,
            blob_object.storage.end_epoch,
            *cost as f64 / 1e9,
        ),
        StoreOutcome::AlreadyCertified {
            blob_id, end_epoch, ..
        } => println!(
            "Success: the quilt was already certified.\nQuilt ID: {blob_id}\nExpiry epoch (exclusive): {end_epoch}"
        ),
    }
    println!("Patches:");
    for patch in &outcome.stored_quilt_blobs {
        println!("  {}  {}", patch.quilt_patch_id, patch.identifier);
    }
}

/// Read files (patches) from a quilt: by identifier, by tag, all of them, or by quilt patch
/// ID. Only the slivers of the patches' own columns are fetched (the whole quilt only if some
/// of them cannot be had).
#[derive(Debug, Args)]
pub struct ReadQuiltArgs {
    /// The quilt's blob ID; alone, every patch is read.
    #[arg(long, required_unless_present = "quilt_patch_ids")]
    quilt_id: Option<String>,
    /// Read the patches with these identifiers (with --quilt-id).
    #[arg(long, visible_alias = "identifier", num_args = 1.., requires = "quilt_id", conflicts_with = "tag")]
    identifiers: Vec<String>,
    /// Read the patches with this tag: --tag KEY VALUE (with --quilt-id).
    #[arg(long, num_args = 2, value_names = ["KEY", "VALUE"], requires = "quilt_id")]
    tag: Vec<String>,
    /// Read these patches by their quilt patch IDs (no --quilt-id needed).
    #[arg(long, visible_aliases = ["quilt-patch-id", "patch-ids"], num_args = 1.., conflicts_with_all = ["quilt_id", "identifiers", "tag"])]
    quilt_patch_ids: Vec<String>,
    /// Directory to write the patches to, one file each named by its identifier (default:
    /// a single patch goes to stdout; with --json, contents are base64 in the output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

impl ReadQuiltArgs {
    /// Reads the patches and writes them out.
    pub fn run(self, context: &Context) -> Result<()> {
        let patch_ids: Vec<QuiltPatchId> = self
            .quilt_patch_ids
            .iter()
            .map(|id| {
                id.parse()
                    .map_err(|error| anyhow::anyhow!("invalid quilt patch ID '{id}': {error}"))
            })
            .collect::<Result<_>>()?;
        let quilt_id = self.quilt_id.as_deref().map(parse_blob_id).transpose()?;
        let selection = match (&self.identifiers[..], &self.tag[..]) {
            ([], [key, value]) => PatchSelection::Tag {
                key: key.clone(),
                value: value.clone(),
            },
            ([], _) => PatchSelection::All,
            (identifiers, _) => PatchSelection::Identifiers(identifiers.to_vec()),
        };
        let patches = context.with_sdk(async |sdk| {
            let bar = Bar::new("reading quilt");
            let patches = match quilt_id {
                Some(quilt_id) => sdk
                    .read_quilt(&quilt_id, &selection, &bar)
                    .await
                    .with_context(|| format!("reading quilt {quilt_id}"))?,
                None => {
                    let mut patches = Vec::with_capacity(patch_ids.len());
                    for id in &patch_ids {
                        patches.push(
                            sdk.read_quilt_patch(id, &bar)
                                .await
                                .with_context(|| format!("reading quilt patch {id}"))?,
                        );
                    }
                    patches
                }
            };
            bar.0.finish_and_clear();
            Ok(patches)
        })?;
        match &self.out {
            Some(dir) => write_patches(dir, &patches, context.json),
            None if context.json => {
                let values: Vec<serde_json::Value> = patches
                    .iter()
                    .map(|patch| {
                        serde_json::json!({
                            "identifier": patch.file.identifier,
                            "tags": patch.file.tags,
                            "quiltPatchId": patch.patch_id,
                            "blob": STANDARD.encode(&patch.file.contents),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"retrievedBlobs": values}))?
                );
                Ok(())
            }
            None => match patches.as_slice() {
                [patch] => {
                    let mut stdout = std::io::stdout().lock();
                    stdout
                        .write_all(&patch.file.contents)
                        .and_then(|()| stdout.flush())
                        .context("writing to stdout")
                }
                [] => bail!("no patch matched"),
                _ => bail!(
                    "{} patches matched: give --out DIR to write them to files",
                    patches.len()
                ),
            },
        }
    }
}

/// Writes each patch to `dir`, named by its identifier made a safe file name (path
/// separators become `_`; a repeated name gets `_2`, `_3`, ...).
fn write_patches(dir: &Path, patches: &[ReadPatch], json: bool) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating '{}'", dir.display()))?;
    let mut used = BTreeSet::new();
    let mut written = Vec::with_capacity(patches.len());
    for patch in patches {
        let base = safe_file_name(&patch.file.identifier);
        let mut name = base.clone();
        let mut copy = 1;
        while !used.insert(name.clone()) {
            copy += 1;
            name = format!("{base}_{copy}");
        }
        let path = dir.join(&name);
        std::fs::write(&path, &patch.file.contents)
            .with_context(|| format!("writing '{}'", path.display()))?;
        written.push((patch, path));
    }
    if json {
        let values: Vec<serde_json::Value> = written
            .iter()
            .map(|(patch, path)| {
                serde_json::json!({
                    "identifier": patch.file.identifier,
                    "tags": patch.file.tags,
                    "quiltPatchId": patch.patch_id,
                    "size": patch.file.contents.len(),
                    "path": path,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"out": dir, "retrievedBlobs": values})
            )?
        );
    } else {
        for (patch, path) in &written {
            eprintln!(
                "{} ({}) -> '{}'",
                patch.file.identifier,
                human_bytes(patch.file.contents.len() as u64),
                path.display()
            );
        }
        eprintln!(
            "Success: {} patches written to '{}'",
            written.len(),
            dir.display()
        );
    }
    Ok(())
}

/// `identifier` as a file name that stays inside the output directory.
fn safe_file_name(identifier: &str) -> String {
    let name = identifier.replace(['/', '\\'], "_");
    if name == "." || name == ".." {
        format!("_{name}")
    } else {
        name
    }
}

/// List the patches of a quilt (identifier, quilt patch ID, tags, columns) from its index,
/// without reading the patches.
#[derive(Debug, Args)]
pub struct ListPatchesInQuiltArgs {
    /// The quilt's blob ID.
    quilt_id: String,
}

impl ListPatchesInQuiltArgs {
    /// Reads the index and prints it.
    pub fn run(self, context: &Context) -> Result<()> {
        let quilt_id = parse_blob_id(&self.quilt_id)?;
        let index = context.with_sdk(async |sdk| {
            let bar = Bar::new("reading quilt index");
            let index = sdk
                .read_quilt_index(&quilt_id, &bar)
                .await
                .with_context(|| format!("reading quilt {quilt_id}"))?;
            bar.0.finish_and_clear();
            Ok(index)
        })?;
        if context.json {
            let patches: Vec<serde_json::Value> = index
                .patches
                .iter()
                .map(|patch| {
                    serde_json::json!({
                        "identifier": patch.identifier,
                        "quiltPatchId": patch.patch_id(quilt_id),
                        "tags": patch.tags,
                        "startIndex": patch.start_index,
                        "endIndex": patch.end_index,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"quiltId": quilt_id.to_string(), "patches": patches})
                )?
            );
        } else {
            println!("Quilt ID: {quilt_id}\nPatches ({}):", index.patches.len());
            for patch in &index.patches {
                let tags: Vec<String> = patch
                    .tags
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                println!(
                    "  {}  {}{}",
                    patch.patch_id(quilt_id),
                    patch.identifier,
                    if tags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", tags.join(", "))
                    }
                );
            }
        }
        Ok(())
    }
}
