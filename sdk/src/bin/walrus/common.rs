//! What the commands share: the global flags, the connection to the network, argument
//! parsing and human-readable output.

use std::{
    io::{BufRead, IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use walrus_core::{BlobId, ObjectId};
use walrus_sdk::{
    blob_id::blob_id_of_file,
    client::{Progress, SdkConfig, StoreOptions, WalrusSdk},
    config::ClientConfig,
};

/// The global flags.
#[derive(Debug)]
pub struct Context {
    /// `--json`: machine-readable output.
    pub json: bool,
    /// `--config`: the client configuration file, if given.
    pub config: Option<PathBuf>,
}

impl Context {
    /// Connects to the network the configuration names and runs `work` with it on a fresh
    /// async runtime.
    pub fn with_sdk<T>(&self, work: impl AsyncFnOnce(&WalrusSdk) -> Result<T>) -> Result<T> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let _guard = runtime.enter();
        let config = ClientConfig::load(self.config.as_deref())?;
        let chain = config.chain_client().map_err(anyhow::Error::msg)?;
        let sdk = WalrusSdk::new(chain, SdkConfig::default());
        runtime.block_on(work(&sdk))
    }
}

/// How long and how to store: the flags `store` and `store-quilt` share.
#[derive(Debug, clap::Args)]
pub struct StorageFlags {
    /// Number of epochs to store for, from the current one.
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

impl StorageFlags {
    /// The store options the flags say: deletable unless `--permanent` (`--deletable` only
    /// says so explicitly).
    pub fn options(&self) -> Result<StoreOptions> {
        if self.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        Ok(StoreOptions {
            epochs: self.epochs,
            deletable: self.deletable || !self.permanent,
            force: self.force,
        })
    }
}

/// A Sui object ID (`0x…`).
pub fn parse_object_id(text: &str) -> Result<ObjectId> {
    text.parse()
        .map_err(|error| anyhow::anyhow!("invalid object ID '{text}': {error}"))
}

/// A blob ID (unpadded base64url).
pub fn parse_blob_id(text: &str) -> Result<BlobId> {
    text.parse()
        .map_err(|error| anyhow::anyhow!("invalid blob ID '{text}': {error}"))
}

/// The blob ID of the file at `path` for the network's shard count, computed locally (as
/// `walrus blob-id` does; nothing is uploaded).
pub async fn network_blob_id_of_file(sdk: &WalrusSdk, path: &Path) -> Result<BlobId> {
    let n_shards = sdk.committee().await?.n_shards;
    let owned = path.to_path_buf();
    let spinner = spinner("computing the blob ID");
    let output = tokio::task::spawn_blocking(move || blob_id_of_file(&owned, n_shards))
        .await
        .context("computing the blob ID")?;
    spinner.finish_and_clear();
    Ok(output
        .with_context(|| format!("computing the blob ID of '{}'", path.display()))?
        .blob_id)
}

/// Refuses, before anything is done, a destructive command that would have to ask for
/// confirmation without a terminal to ask on (it would hang or guess otherwise).
pub fn ensure_confirmable(yes: bool, command: &str) -> Result<()> {
    if !yes && !std::io::stdin().is_terminal() {
        bail!(
            "{command} needs confirmation, and stdin is not a terminal to ask on: pass --yes to \
             proceed without asking"
        );
    }
    Ok(())
}

/// Asks `question` on the terminal (stderr, answer on stdin); true only for `y` or `yes`.
pub fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().context("writing to stderr")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// A progress bar on stderr that follows the SDK's stages.
pub struct Bar(pub ProgressBar);

impl Bar {
    /// A bar showing `message` until the first stage reports.
    pub fn new(message: &'static str) -> Self {
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

/// A spinner on stderr; invisible when stderr is not a terminal.
pub fn spinner(message: &'static str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// `bytes` in B, KiB, MiB, GiB or TiB.
pub fn human_bytes(bytes: u64) -> String {
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
