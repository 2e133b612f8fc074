//! `walrus`: the command-line client of a Walrus-compatible storage network.

use std::{io::Write, path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use walrus_core::{BlobId, ObjectId};
use walrus_sdk::{
    audit::{AuditOptions, AuditReport},
    blob_id::{blob_id_of_file, BlobIdOutput},
    client::{Progress, SdkConfig, StoreOptions, StoreOutcome, WalrusSdk},
    config::ClientConfig,
    outcome::ResourceOperation,
};

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
    /// The client configuration file (default: $WALRUS_CONFIG, else
    /// ~/.config/walrus/client.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
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
    /// Store files: encode, register on chain, upload to the storage nodes and certify.
    Store {
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
    },
    /// Read a blob and write it to a file (or stdout).
    Read {
        /// The blob ID (unpadded base64url).
        blob_id: String,
        /// Where to write the blob (default: stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// The status of a blob as the storage nodes report it.
    BlobStatus {
        /// The blob ID (unpadded base64url).
        blob_id: String,
    },
    /// Delete deletable blobs the wallet owns (their storage goes back to the wallet).
    Delete {
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
    },
    /// Extend the storage of a blob object the wallet owns, paid from the wallet.
    Extend {
        /// The blob object (0x… Sui object ID).
        #[arg(long, value_name = "OBJECT_ID")]
        blob_obj_id: String,
        /// Epochs to add to its end epoch.
        #[arg(long, value_name = "N")]
        epochs_extended: u32,
    },
    /// List the blob objects the wallet owns.
    ListBlobs {
        /// Include expired blobs.
        #[arg(long)]
        include_expired: bool,
    },
    /// The current epoch, committee, shards and prices.
    Info,
    /// Check, without downloading the blob, which shards hold it
    ///
    /// Reads the blob's metadata (verified against the blob ID), then asks every storage node
    /// for its copy of the metadata and for a few recovery symbols, at random positions, of
    /// the primary and the secondary sliver of each of its shards, and verifies each symbol's
    /// Merkle proof against the metadata. Each shard is reported as `holds` (proven for both
    /// slivers), `missing` (the node does not have the data), `lying` (an answer that does not
    /// verify or is not what was asked for) or `unreachable` (no answer in time). The blob is
    /// recoverable while at least n - 2f shards hold it.
    ///
    /// Each answer carries one symbol and its proof per shard (the symbol is the blob's
    /// symbol size: bytes to a few KiB, at most 64 KiB), and every request has a timeout:
    /// cheap enough to run on a schedule (e.g. from cron, alerting on the exit code).
    ///
    /// Exit code: 0 when every shard holds the blob; 3 when some shards do not but at least
    /// n - 2f do (the blob is readable); 4 when fewer than n - 2f are proven; 1 when the audit
    /// could not run (e.g. no verified metadata: unknown or invalid blob); 2 on usage errors.
    #[command(verbatim_doc_comment)]
    Audit {
        /// The blob ID (unpadded base64url).
        blob_id: String,
        /// Random symbols asked per node and sliver axis.
        #[arg(long, default_value_t = 2, value_name = "N")]
        samples: usize,
        /// Timeout of each request to a node, in seconds.
        #[arg(long, default_value_t = 10, value_name = "SECONDS")]
        timeout: u64,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32, value_name = "N")]
        concurrency: usize,
    },
}

/// Exit code of `walrus audit` when some shards do not hold the blob but it is recoverable.
const EXIT_AUDIT_INCOMPLETE: i32 = 3;
/// Exit code of `walrus audit` when fewer than n - 2f shards are proven to hold the blob.
const EXIT_AUDIT_UNRECOVERABLE: i32 = 4;

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("Error: {error:#}");
            std::process::exit(1);
        }
    }
}

/// Runs the command; the process's exit code on success (only `audit` has nonzero ones).
fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Audit {
            blob_id,
            samples,
            timeout,
            concurrency,
        } => {
            let options = AuditOptions {
                samples,
                request_timeout: Duration::from_secs(timeout),
                max_concurrent_requests: concurrency,
            };
            return audit(&blob_id, options, cli.config.as_deref(), cli.json);
        }
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
        Command::Store {
            files,
            epochs,
            deletable: _,
            permanent,
            force,
        } => {
            if epochs == 0 {
                bail!("--epochs must be at least 1");
            }
            let options = StoreOptions {
                epochs,
                deletable: !permanent,
                force,
            };
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            runtime.block_on(store(&sdk, &files, options, cli.json))
        }
        Command::Delete {
            blob_id,
            object_ids,
        } => {
            let object_ids = object_ids
                .iter()
                .map(|text| parse_object_id(text))
                .collect::<Result<Vec<_>>>()?;
            let blob_id = blob_id.as_deref().map(parse_blob_id).transpose()?;
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            let deleted = runtime.block_on(async {
                match blob_id {
                    Some(blob_id) => Ok(sdk.delete_blob_id(&blob_id).await?),
                    None => {
                        for object_id in &object_ids {
                            sdk.delete(*object_id)
                                .await
                                .with_context(|| format!("deleting blob object {object_id}"))?;
                        }
                        anyhow::Ok(object_ids.clone())
                    }
                }
            })?;
            if let (Some(blob_id), true) = (blob_id, deleted.is_empty()) {
                bail!("the wallet owns no deletable blob object of blob {blob_id}");
            }
            if cli.json {
                let ids: Vec<String> = deleted.iter().map(ToString::to_string).collect();
                println!("{}", serde_json::json!({ "deletedObjectIds": ids }));
            } else {
                for object_id in &deleted {
                    println!("Deleted blob object {object_id}");
                }
            }
            Ok(())
        }
        Command::Extend {
            blob_obj_id,
            epochs_extended,
        } => {
            let object_id = parse_object_id(&blob_obj_id)?;
            if epochs_extended == 0 {
                bail!("--epochs-extended must be at least 1");
            }
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            let blob = runtime
                .block_on(sdk.extend(object_id, epochs_extended))
                .with_context(|| format!("extending blob object {object_id}"))?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&blob)?);
            } else {
                println!(
                    "Success: blob object {object_id} (blob {}) now expires at epoch {} (exclusive)",
                    blob.blob_id, blob.storage.end_epoch
                );
            }
            Ok(())
        }
        Command::ListBlobs { include_expired } => {
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            let blobs = runtime.block_on(sdk.list_blobs(include_expired))?;
            if cli.json {
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
        Command::Read { blob_id, out } => {
            let blob_id = parse_blob_id(&blob_id)?;
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            let bar = Bar::new("reading");
            let bytes = runtime
                .block_on(sdk.read(&blob_id, &bar))
                .with_context(|| format!("reading blob {blob_id}"))?;
            bar.0.finish_and_clear();
            match out {
                Some(path) => {
                    std::fs::write(&path, &bytes)
                        .with_context(|| format!("writing '{}'", path.display()))?;
                    if cli.json {
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
        Command::BlobStatus { blob_id } => {
            let blob_id = parse_blob_id(&blob_id)?;
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            let status = runtime.block_on(sdk.status(&blob_id))?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("Blob ID: {blob_id}\nStatus: {}", describe_status(&status));
            }
            Ok(())
        }
        Command::Info => {
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let sdk = connect(cli.config.as_deref())?;
            let (view, system) = runtime.block_on(async {
                anyhow::Ok((sdk.committee().await?, sdk.chain().system().await?))
            })?;
            let members: Vec<serde_json::Value> = view
                .members
                .iter()
                .map(|member| {
                    serde_json::json!({
                        "nodeId": member.node_id.to_string(),
                        "url": member.url,
                        "shards": member.shards.iter().map(|s| s.0).collect::<Vec<_>>(),
                    })
                })
                .collect();
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "epoch": view.epoch,
                        "nShards": view.n_shards,
                        "storagePricePerUnitSize": system.storage_price_per_unit_size,
                        "writePricePerUnitSize": system.write_price_per_unit_size,
                        "maxEpochsAhead": system.max_epochs_ahead,
                        "members": members,
                    }))?
                );
            } else {
                println!(
                    "Epoch: {}\nShards: {}\nStorage price: {} FROST per MiB per epoch\nWrite price: {} FROST per MiB\nStorage nodes:",
                    view.epoch,
                    view.n_shards,
                    system.storage_price_per_unit_size,
                    system.write_price_per_unit_size
                );
                for member in &view.members {
                    println!(
                        "  {} at {}: {} shards",
                        member.node_id,
                        member.url,
                        member.shards.len()
                    );
                }
            }
            Ok(())
        }
    }
    .map(|()| 0)
}

/// `walrus audit`: prints the report; the exit code says whether every shard holds the blob.
fn audit(
    blob_id: &str,
    options: AuditOptions,
    config: Option<&std::path::Path>,
    json: bool,
) -> Result<i32> {
    let blob_id = parse_blob_id(blob_id)?;
    if options.samples == 0
        || options.request_timeout.is_zero()
        || options.max_concurrent_requests == 0
    {
        bail!("--samples, --timeout and --concurrency must be at least 1");
    }
    let runtime = runtime()?;
    let _guard = runtime.enter();
    let sdk = connect(config)?;
    let spinner = spinner("auditing");
    let report = runtime
        .block_on(sdk.audit(&blob_id, &options))
        .with_context(|| format!("auditing blob {blob_id}"))?;
    spinner.finish_and_clear();
    print_audit(&report, json)?;
    Ok(if report.all_hold() {
        0
    } else if report.summary.recoverable {
        EXIT_AUDIT_INCOMPLETE
    } else {
        EXIT_AUDIT_UNRECOVERABLE
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn connect(config: Option<&std::path::Path>) -> Result<WalrusSdk> {
    let config = ClientConfig::load(config)?;
    let chain = config.chain_client().map_err(anyhow::Error::msg)?;
    Ok(WalrusSdk::new(chain, SdkConfig::default()))
}

fn parse_object_id(text: &str) -> Result<ObjectId> {
    text.parse()
        .map_err(|error| anyhow::anyhow!("invalid object ID '{text}': {error}"))
}

fn parse_blob_id(text: &str) -> Result<BlobId> {
    text.parse()
        .map_err(|error| anyhow::anyhow!("invalid blob ID '{text}': {error}"))
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

fn describe_status(status: &walrus_node_client::api::BlobStatus) -> String {
    use walrus_node_client::api::BlobStatus;
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

/// A progress bar on stderr that follows the SDK's stages.
struct Bar(ProgressBar);

impl Bar {
    fn new(message: &'static str) -> Self {
        let bar = ProgressBar::new(0).with_message(message);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(bar)
    }
}

impl Progress for Bar {
    fn update(&self, stage: &str, done: u64, total: u64) {
        self.0.set_message(stage.to_owned());
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

fn human_wal(frost: u64) -> String {
    format!("{:.9}", frost as f64 / 1e9)
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

fn print_audit(report: &AuditReport, json: bool) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, report)?;
        writeln!(stdout)?;
        // The caller may exit with a nonzero code right after.
        stdout.flush()?;
        return Ok(());
    }
    let summary = &report.summary;
    writeln!(
        stdout,
        "Blob ID: {}\nSize: {}\nEpoch: {}, {} shards, {} random symbols per node and axis\n",
        report.blob_id,
        human_bytes(report.unencoded_length),
        report.epoch,
        summary.n_shards,
        report.samples
    )?;
    writeln!(
        stdout,
        "{:<30} {:>5} {:>5}  {:<11} {:<11} {:<11} {:<11}  Detail",
        "Node", "Shard", "Pair", "Verdict", "Metadata", "Primary", "Secondary"
    )?;
    for node in &report.nodes {
        let name = format!("{} ({})", short_id(&node.node_id), node.url);
        for shard in &node.shards {
            writeln!(
                stdout,
                "{:<30} {:>5} {:>5}  {:<11} {:<11} {:<11} {:<11}  {}",
                name,
                shard.shard,
                shard.pair,
                shard.verdict.as_str(),
                shard.metadata.as_str(),
                shard.primary.as_str(),
                shard.secondary.as_str(),
                shard.detail.as_deref().unwrap_or("")
            )?;
        }
    }
    writeln!(
        stdout,
        "\nSummary: {} of {} shards hold the blob (proven for both slivers); {} missing, {} lying, {} unreachable.",
        summary.holds, summary.n_shards, summary.missing, summary.lying, summary.unreachable
    )?;
    writeln!(
        stdout,
        "{}: reads need {} shards, {} are proven.",
        if summary.recoverable {
            "The blob is recoverable"
        } else {
            "WARNING: the blob may not be recoverable"
        },
        summary.required_for_read,
        summary.holds
    )?;
    stdout.flush()?;
    Ok(())
}

/// `0x1234…abcd` for a long hex ID.
fn short_id(id: &str) -> String {
    if id.len() > 14 {
        format!("{}…{}", &id[..6], &id[id.len() - 4..])
    } else {
        id.to_owned()
    }
}
