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

use walrus_sdk::time::{format_utc_ms, now_ms, parse_rfc3339_ms};
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
    /// Number of epochs to store for, from the current one, or `max` for the most the chain
    /// allows ahead (default: 1).
    #[arg(long, value_parser = parse_epoch_count, conflicts_with_all = ["end_epoch", "earliest_expiry_time"])]
    epochs: Option<EpochCount>,
    /// The epoch the storage ends at (exclusive): stored until the start of this epoch.
    #[arg(long, value_name = "EPOCH", conflicts_with = "earliest_expiry_time")]
    end_epoch: Option<u32>,
    /// The earliest time the blobs may expire, in RFC 3339 (`2024-03-20T15:00:00Z`) or as
    /// `2024-03-20 15:00:00` (UTC): stored for as many epochs as reach that time, estimated
    /// from the current epoch's start and the chain's epoch duration.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339_ms)]
    earliest_expiry_time: Option<u64>,
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

/// `--epochs`: a count or the chain's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochCount {
    /// This many epochs (at least 1).
    Epochs(u32),
    /// The most epochs ahead the chain allows.
    Max,
}

/// Parses `--epochs`: a positive number or `max`.
fn parse_epoch_count(text: &str) -> Result<EpochCount> {
    if text == "max" {
        return Ok(EpochCount::Max);
    }
    match text.parse::<u32>() {
        Ok(0) | Err(_) => bail!("invalid epoch count '{text}': a number > 0 or `max`"),
        Ok(epochs) => Ok(EpochCount::Epochs(epochs)),
    }
}

/// The chain's epoch timing, what the storage flags are converted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochClock {
    /// The current epoch.
    pub epoch: u32,
    /// When it started (ms since the Unix epoch).
    pub epoch_start_ms: u64,
    /// The epochs' length (ms).
    pub epoch_duration_ms: u64,
    /// How many epochs ahead storage can be bought.
    pub max_epochs_ahead: u32,
}

impl StorageFlags {
    /// The number of epochs ahead the flags ask for on `clock` at `now_ms`, checked against
    /// the chain's maximum.
    pub fn epochs_ahead(&self, clock: EpochClock, now_ms: u64) -> Result<u32> {
        let max = clock.max_epochs_ahead;
        let (epochs, asked) = match (self.epochs, self.end_epoch, self.earliest_expiry_time) {
            (Some(EpochCount::Max), _, _) => return Ok(max),
            (Some(EpochCount::Epochs(epochs)), _, _) => (epochs, format!("{epochs} epochs")),
            (None, Some(end_epoch), _) => {
                if end_epoch <= clock.epoch {
                    bail!(
                        "--end-epoch {end_epoch} is not after the current epoch {}",
                        clock.epoch
                    );
                }
                (end_epoch - clock.epoch, format!("end epoch {end_epoch}"))
            }
            (None, None, Some(expiry_ms)) => {
                if expiry_ms <= now_ms {
                    bail!(
                        "--earliest-expiry-time {} is not in the future",
                        format_utc_ms(expiry_ms)
                    );
                }
                if clock.epoch_duration_ms == 0 {
                    bail!("the chain reports epochs of length 0");
                }
                // Storage for `n` epochs ends when epoch `current + n` starts, estimated as
                // `start + n * duration`.
                let epochs = expiry_ms
                    .saturating_sub(clock.epoch_start_ms)
                    .div_ceil(clock.epoch_duration_ms)
                    .max(1);
                let epochs = u32::try_from(epochs).unwrap_or(u32::MAX);
                (epochs, format!("expiry at {}", format_utc_ms(expiry_ms)))
            }
            (None, None, None) => (1, "1 epoch".to_owned()),
        };
        if epochs > max {
            bail!("blobs can only be stored for up to {max} epochs ahead; {asked} needs {epochs}");
        }
        Ok(epochs)
    }

    /// The store options the flags say, with the epochs converted on the chain's current
    /// clock: deletable unless `--permanent` (`--deletable` only says so explicitly).
    pub async fn options(&self, sdk: &WalrusSdk) -> Result<StoreOptions> {
        let system = sdk.chain().system().await?;
        let staking = sdk.chain().staking().await?;
        let clock = EpochClock {
            epoch: staking.epoch,
            epoch_start_ms: staking.epoch_start_ms,
            epoch_duration_ms: staking.epoch_duration_ms,
            max_epochs_ahead: system.max_epochs_ahead,
        };
        Ok(StoreOptions {
            epochs: self.epochs_ahead(clock, now_ms())?,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        storage: StorageFlags,
    }

    fn flags(args: &[&str]) -> Result<StorageFlags, clap::Error> {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Flags::try_parse_from(all).map(|flags| flags.storage)
    }

    /// Epoch 10 started at t = 1000 s; 100 s epochs; at most 20 ahead.
    const CLOCK: EpochClock = EpochClock {
        epoch: 10,
        epoch_start_ms: 1_000_000,
        epoch_duration_ms: 100_000,
        max_epochs_ahead: 20,
    };
    const NOW: u64 = 1_050_000;

    fn epochs(args: &[&str]) -> Result<u32> {
        flags(args)
            .map_err(anyhow::Error::from)?
            .epochs_ahead(CLOCK, NOW)
    }

    #[test]
    fn epochs_end_epoch_and_expiry_time_convert_on_the_chain_clock() {
        assert_eq!(epochs(&[]).unwrap(), 1);
        assert_eq!(epochs(&["--epochs", "3"]).unwrap(), 3);
        assert_eq!(epochs(&["--epochs", "max"]).unwrap(), 20);
        assert_eq!(epochs(&["--end-epoch", "15"]).unwrap(), 5);
        // Epoch 11 starts at 1100 s: an expiry up to then needs 1 epoch, just after it 2.
        let at = |seconds: u64| format_utc_ms(seconds * 1000);
        assert_eq!(epochs(&["--earliest-expiry-time", &at(1_060)]).unwrap(), 1);
        assert_eq!(epochs(&["--earliest-expiry-time", &at(1_100)]).unwrap(), 1);
        assert_eq!(epochs(&["--earliest-expiry-time", &at(1_101)]).unwrap(), 2);
        assert_eq!(epochs(&["--earliest-expiry-time", &at(3_000)]).unwrap(), 20);
    }

    #[test]
    fn refusals_say_why() {
        let message = |args: &[&str]| format!("{:#}", epochs(args).unwrap_err());
        assert!(message(&["--epochs", "21"]).contains("up to 20 epochs ahead"));
        assert!(message(&["--epochs", "0"]).contains("a number > 0 or `max`"));
        assert!(message(&["--epochs", "many"]).contains("a number > 0 or `max`"));
        assert!(message(&["--end-epoch", "10"]).contains("not after the current epoch 10"));
        assert!(message(&["--end-epoch", "31"]).contains("end epoch 31 needs 21"));
        let past = format_utc_ms(NOW - 1000);
        assert!(message(&["--earliest-expiry-time", &past]).contains("not in the future"));
        let far = format_utc_ms(3_001_000);
        assert!(message(&["--earliest-expiry-time", &far]).contains("needs 21"));
        assert!(message(&["--earliest-expiry-time", "soon"]).contains("RFC 3339"));
        for both in [
            ["--epochs", "2", "--end-epoch", "12"],
            [
                "--epochs",
                "2",
                "--earliest-expiry-time",
                "2030-01-01T00:00:00Z",
            ],
            [
                "--end-epoch",
                "12",
                "--earliest-expiry-time",
                "2030-01-01T00:00:00Z",
            ],
        ] {
            let error = flags(&both).unwrap_err().to_string();
            assert!(error.contains("cannot be used with"), "{both:?}: {error}");
        }
    }
}
