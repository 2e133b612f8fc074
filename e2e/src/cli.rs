//! The `walrus` CLI as a process, with a deadline on every run.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};
use walrus_localnet::network::default_bin_dir;

/// Deadline of one CLI run (killed when it passes).
const CLI_TIMEOUT: Duration = Duration::from_secs(90);

/// The `walrus` CLI as a process.
#[derive(Debug, Clone)]
pub struct Cli {
    binary: PathBuf,
    config: PathBuf,
}

impl Cli {
    /// The CLI from the target directory, with the client configuration `config`.
    pub fn new(config: PathBuf) -> Self {
        Self {
            binary: default_bin_dir().join("walrus"),
            config,
        }
    }

    /// Runs `walrus --config CONFIG ARGS...` (stdin closed); fails if it does not finish
    /// within 90 s (it is killed then).
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        if !self.binary.exists() {
            bail!(
                "{} not found: build it with `cargo build --release --bins`",
                self.binary.display()
            );
        }
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match tokio::time::timeout(CLI_TIMEOUT, command.output()).await {
            Ok(output) => output.with_context(|| format!("running walrus {args:?}")),
            Err(_) => bail!("walrus {args:?} did not finish within {CLI_TIMEOUT:?}"),
        }
    }

    /// Runs the CLI, which must succeed; returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.run(args).await?;
        if !output.status.success() {
            bail!(
                "walrus {args:?} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs the CLI with `--json`, which must succeed; returns the parsed output.
    pub async fn json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.ok(&all).await?;
        serde_json::from_str(&stdout).with_context(|| format!("walrus {args:?} printed {stdout}"))
    }

    /// `walrus store FILE --epochs EPOCHS` of a new blob: its `blobObject` (JSON).
    pub async fn store(&self, file: &Path, epochs: u32) -> anyhow::Result<serde_json::Value> {
        let file = file.to_str().context("a UTF-8 path")?;
        let epochs = epochs.to_string();
        let stored = self.json(&["store", file, "--epochs", &epochs]).await?;
        let object = &stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"];
        if !object["blobId"].is_string() {
            bail!("no new blob in the output of walrus store: {stored}");
        }
        Ok(object.clone())
    }

    /// `walrus read BLOB_ID --out OUT`, which must succeed: the bytes written to `out`.
    pub async fn read(&self, blob_id: &str, out: &Path) -> anyhow::Result<Vec<u8>> {
        let _ = std::fs::remove_file(out);
        let out_arg = out.to_str().context("a UTF-8 path")?;
        self.ok(&["read", blob_id, "--out", out_arg]).await?;
        std::fs::read(out).with_context(|| format!("the CLI's output {}", out.display()))
    }
}
