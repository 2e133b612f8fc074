//! `walrus audit`: which shards hold a blob, without downloading it.

use std::{io::Write, time::Duration};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use walrus_sdk::audit::{AuditOptions, AuditReport};

use crate::common::{human_bytes, parse_blob_id, spinner, Context};

/// Exit code of `walrus audit` when some shards do not hold the blob but it is recoverable.
const EXIT_AUDIT_INCOMPLETE: i32 = 3;
/// Exit code of `walrus audit` when fewer than n - 2f shards are proven to hold the blob.
const EXIT_AUDIT_UNRECOVERABLE: i32 = 4;

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
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct AuditArgs {
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
}

impl AuditArgs {
    /// Prints the report; the exit code says whether every shard holds the blob.
    pub fn run(self, context: &Context) -> Result<i32> {
        let options = AuditOptions {
            samples: self.samples,
            request_timeout: Duration::from_secs(self.timeout),
            max_concurrent_requests: self.concurrency,
        };
        let blob_id = parse_blob_id(&self.blob_id)?;
        if options.samples == 0
            || options.request_timeout.is_zero()
            || options.max_concurrent_requests == 0
        {
            bail!("--samples, --timeout and --concurrency must be at least 1");
        }
        let report = context.with_sdk(async |sdk| {
            let spinner = spinner("auditing");
            let report = sdk
                .audit(&blob_id, &options)
                .await
                .with_context(|| format!("auditing blob {blob_id}"))?;
            spinner.finish_and_clear();
            Ok(report)
        })?;
        print_audit(&report, context.json)?;
        Ok(if report.all_hold() {
            0
        } else if report.summary.recoverable {
            EXIT_AUDIT_INCOMPLETE
        } else {
            EXIT_AUDIT_UNRECOVERABLE
        })
    }
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
