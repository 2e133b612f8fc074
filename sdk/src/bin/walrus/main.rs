//! `walrus`: the command-line client of a Walrus-compatible storage network.
//!
//! One module per command group in `commands/`: each holds its commands' arguments (with
//! their help texts) and what they do; this file only lists them. Adding a group is a new
//! module and a line per command in [`Command`].

mod commands;
mod common;
mod wal;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{CommandFactory, Parser, Subcommand};

use crate::{
    commands::{
        attributes, audit, blob_id, blobs, get_wal, health, info, json, quilt, read, staking, store,
    },
    common::Context,
};

/// mimalloc keeps freed memory for reuse; encoding allocates and frees hundreds of MiB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Store and read blobs, and stake WAL with storage nodes, on a Walrus-compatible
/// decentralized storage network.
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

/// Every command; the help of each is its arguments' doc comment.
#[derive(Debug, Subcommand)]
enum Command {
    BlobId(blob_id::BlobIdArgs),
    ConvertBlobId(blob_id::ConvertBlobIdArgs),
    Store(store::StoreArgs),
    Read(read::ReadArgs),
    BlobStatus(read::BlobStatusArgs),
    #[command(visible_alias = "write-quilt")]
    StoreQuilt(quilt::StoreQuiltArgs),
    ReadQuilt(quilt::ReadQuiltArgs),
    #[command(visible_alias = "resolve-quilt")]
    ListPatchesInQuilt(quilt::ListPatchesInQuiltArgs),
    Delete(blobs::DeleteArgs),
    Extend(blobs::ExtendArgs),
    ListBlobs(blobs::ListBlobsArgs),
    BurnBlobs(blobs::BurnBlobsArgs),
    GetBlobAttribute(attributes::GetBlobAttributeArgs),
    SetBlobAttribute(attributes::SetBlobAttributeArgs),
    RemoveBlobAttributeFields(attributes::RemoveBlobAttributeFieldsArgs),
    RemoveBlobAttribute(attributes::RemoveBlobAttributeArgs),
    Info(info::InfoArgs),
    Health(health::HealthArgs),
    Audit(audit::AuditArgs),
    Stake(staking::StakeArgs),
    RequestWithdrawStake(staking::RequestWithdrawStakeArgs),
    WithdrawStake(staking::WithdrawStakeArgs),
    ListStakedWal(staking::ListStakedWalArgs),
    GetWal(get_wal::GetWalArgs),
    Json(json::JsonArgs),
}

fn main() {
    let cli = Cli::parse();
    // Logs (to stderr) only when asked for, e.g. `RUST_LOG=walrus_sdk=debug walrus store ...`
    // shows the phases of a store and their times.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
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
    // `walrus json`: the command line the JSON stands for, run as if typed.
    let cli = match cli {
        Cli {
            command: Command::Json(args),
            config,
            ..
        } => {
            let line = args.command_line(Cli::command())?;
            let mut parsed = Cli::try_parse_from(line).map_err(|error| {
                anyhow::anyhow!(
                    "the JSON command is not a valid command: {}",
                    error.to_string().trim()
                )
            })?;
            // `--config` before `json` applies unless the JSON names a configuration.
            parsed.config = parsed.config.or(config);
            parsed
        }
        cli => cli,
    };
    let context = Context {
        json: cli.json,
        config: cli.config,
    };
    match cli.command {
        Command::BlobId(args) => args.run(&context).map(|()| 0),
        Command::ConvertBlobId(args) => args.run(&context).map(|()| 0),
        Command::Store(args) => args.run(&context).map(|()| 0),
        Command::Read(args) => args.run(&context).map(|()| 0),
        Command::BlobStatus(args) => args.run(&context).map(|()| 0),
        Command::StoreQuilt(args) => args.run(&context).map(|()| 0),
        Command::ReadQuilt(args) => args.run(&context).map(|()| 0),
        Command::ListPatchesInQuilt(args) => args.run(&context).map(|()| 0),
        Command::Delete(args) => args.run(&context).map(|()| 0),
        Command::Extend(args) => args.run(&context).map(|()| 0),
        Command::ListBlobs(args) => args.run(&context).map(|()| 0),
        Command::BurnBlobs(args) => args.run(&context).map(|()| 0),
        Command::GetBlobAttribute(args) => args.run(&context).map(|()| 0),
        Command::SetBlobAttribute(args) => args.run(&context).map(|()| 0),
        Command::RemoveBlobAttributeFields(args) => args.run(&context).map(|()| 0),
        Command::RemoveBlobAttribute(args) => args.run(&context).map(|()| 0),
        Command::Info(args) => args.run(&context).map(|()| 0),
        Command::Health(args) => args.run(&context).map(|()| 0),
        Command::Audit(args) => args.run(&context),
        Command::Stake(args) => args.run(&context).map(|()| 0),
        Command::RequestWithdrawStake(args) => args.run(&context).map(|()| 0),
        Command::WithdrawStake(args) => args.run(&context).map(|()| 0),
        Command::ListStakedWal(args) => args.run(&context).map(|()| 0),
        Command::GetWal(args) => args.run(&context).map(|()| 0),
        Command::Json(_) => bail!("a JSON command cannot be `json` again"),
    }
}
