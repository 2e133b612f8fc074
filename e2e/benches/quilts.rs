//! Quilts against separate blobs on a local network of real processes: the same small files
//! stored as separate blobs (one `walrus store` call, chain work batched) and as quilts
//! (`walrus store-quilt`, `n - f - 1` files each): chain transactions, WAL paid, SUI gas,
//! encoded bytes the storage is bought for, and wall time; then one patch read against the
//! whole quilt: slivers fetched (from the nodes' request counters), bytes fetched and time.
//!
//! Run with `scripts/bench-quilts.sh` (it builds the binaries first). Environment:
//! `BENCH_NODES` (10), `BENCH_SHARDS` (100), `BENCH_FILES` (1000), `BENCH_FILE_KB` (10).

use std::{
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use walrus_core::{bft, encoding::EncodingConfig, quilt::QuiltPatchId, BlobId};
use walrus_e2e::{bench::bench_main, bench::env_number, test_data, write_file, TestNetwork};
use walrus_node_client::api::SLIVER_ENDPOINT;
use walrus_sdk::client::NoProgress;

/// `walrus --json --config CONFIG ARGS` as a process: its wall time and JSON output.
fn run_cli(net: &TestNetwork, args: &[&str]) -> Result<(Duration, Value)> {
    let walrus = walrus_localnet::network::default_bin_dir().join("walrus");
    let start = Instant::now();
    let output = Command::new(&walrus)
        .arg("--json")
        .arg("--config")
        .arg(net.network.client_config_path())
        .args(args)
        .output()
        .with_context(|| format!("running walrus {}", args[0]))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        bail!(
            "walrus {} failed: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((elapsed, serde_json::from_slice(&output.stdout)?))
}

/// What one way of storing the files cost.
struct Cost {
    transactions: u64,
    gas: i64,
    wal: u64,
    encoded: u64,
    time: Duration,
}

/// Runs `store` (the CLI calls of one way of storing) and measures it from the wallet's
/// balance and the chain's checkpoints; `store` returns the encoded sizes bought.
async fn measure(
    net: &TestNetwork,
    store: impl FnOnce() -> Result<(Duration, u64)>,
) -> Result<Cost> {
    let chain = net.chain_client()?;
    let wal_before = chain.wal_balance().await?;
    let first = chain.latest_checkpoint().await? + 1;
    let (time, encoded) = store()?;
    // The last transaction's checkpoint is sealed within a few tens of milliseconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = chain.latest_checkpoint().await?;
    let sent = chain
        .transactions_sent(&[chain.address()], first..=last)
        .await?;
    Ok(Cost {
        transactions: sent.count,
        gas: sent.net_gas,
        wal: wal_before.saturating_sub(chain.wal_balance().await?),
        encoded,
        time,
    })
}

/// The storage size bought for the new blob of a store result (`blobStoreResult`).
fn storage_size(result: &Value) -> Result<u64> {
    result["newlyCreated"]["blobObject"]["storage"]["storageSize"]
        .as_u64()
        .with_context(|| format!("no new blob in {result}"))
}

/// Sliver GETs answered by the nodes so far.
async fn sliver_requests(net: &TestNetwork) -> Result<u64> {
    let route = format!("route=\"{SLIVER_ENDPOINT}\"");
    let mut total = 0.0;
    for i in 0..net.network.n_nodes() {
        total += net
            .node_metric(i, "walrus_node_requests_total", &[&route])
            .await?;
    }
    Ok(count(total))
}

/// A Prometheus counter's value (printed as a float, always a whole number here).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn count(value: f64) -> u64 {
    value.round().max(0.0) as u64
}

async fn bench() -> Result<()> {
    let nodes: usize = env_number("BENCH_NODES", "10")?;
    let shards: u16 = env_number("BENCH_SHARDS", "100")?;
    let files: usize = env_number("BENCH_FILES", "1000")?;
    let file_kb: usize = env_number("BENCH_FILE_KB", "10")?;
    let net = TestNetwork::start_with(nodes, shards, |options| options.services = false).await?;
    let scratch = net.scratch();
    let per_quilt = usize::from(shards - bft::max_n_faulty(shards)) - 1;

    // Warm-up (not measured): the nodes catch up with the chain's setup checkpoints.
    let warm = write_file(&scratch, "warm-up", &test_data(file_kb * 1000, 99))?;
    run_cli(&net, &["store", warm.to_str().context("a UTF-8 path")?])?;

    let mut blob_paths = Vec::new();
    let mut quilt_paths = Vec::new();
    for index in 0..files {
        // Different bytes for the two ways, so that neither finds the other's blobs stored.
        let blob = write_file(
            &scratch,
            &format!("blob-{index}"),
            &test_data(file_kb * 1000, index as u64),
        )?;
        blob_paths.push(blob.to_str().context("a UTF-8 path")?.to_owned());
        let patch = write_file(
            &scratch,
            &format!("patch-{index:05}"),
            &test_data(file_kb * 1000, 1_000_000 + index as u64),
        )?;
        quilt_paths.push(patch.to_str().context("a UTF-8 path")?.to_owned());
    }

    let blobs = measure(&net, || {
        let mut args = vec!["store", "--epochs", "1"];
        args.extend(blob_paths.iter().map(String::as_str));
        let (time, output) = run_cli(&net, &args)?;
        let mut encoded = 0;
        for file in output.as_array().context("a list of outcomes")? {
            encoded += storage_size(&file["blobStoreResult"])?;
        }
        Ok((time, encoded))
    })
    .await?;

    let mut quilts = Vec::new();
    let quilt_cost = measure(&net, || {
        let (mut time, mut encoded) = (Duration::ZERO, 0);
        for chunk in quilt_paths.chunks(per_quilt) {
            let mut args = vec!["store-quilt", "--epochs", "1", "--paths"];
            args.extend(chunk.iter().map(String::as_str));
            let (elapsed, output) = run_cli(&net, &args)?;
            time += elapsed;
            encoded += storage_size(&output["blobStoreResult"])?;
            quilts.push(output);
        }
        Ok((time, encoded))
    })
    .await?;

    // One patch against the whole quilt (the first quilt), through the SDK.
    let first = &quilts[0];
    let quilt_id: BlobId = first["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .context("a quilt ID")?
        .parse()?;
    let quilt_size = first["blobStoreResult"]["newlyCreated"]["blobObject"]["size"]
        .as_u64()
        .context("the quilt's size")?;
    let patch_id: QuiltPatchId = first["storedQuiltBlobs"][0]["quiltPatchId"]
        .as_str()
        .context("a patch ID")?
        .parse()?;
    let layout = EncodingConfig::new(shards)?.blob_layout(quilt_size)?;
    let sdk = net.sdk()?;
    let before = sliver_requests(&net).await?;
    let start = Instant::now();
    let patch = sdk.read_quilt_patch(&patch_id, &NoProgress).await?;
    let patch_time = start.elapsed();
    let patch_slivers = sliver_requests(&net).await? - before;
    let before = sliver_requests(&net).await?;
    let start = Instant::now();
    let whole = sdk.read(&quilt_id, &NoProgress).await?;
    let whole_time = start.elapsed();
    let whole_slivers = sliver_requests(&net).await? - before;
    let metadata = layout.config.metadata_length();
    let patch_bytes =
        metadata + patch_slivers * layout.sliver_length(walrus_core::SliverType::Secondary) as u64;
    let whole_bytes =
        metadata + whole_slivers * layout.sliver_length(walrus_core::SliverType::Primary) as u64;

    println!(
        "\n{nodes} nodes, {shards} shards; {files} files of {file_kb} KB; quilts of {per_quilt} files ({} quilts)",
        quilts.len()
    );
    println!("| measurement | separate blobs | quilts | blobs / quilts |");
    println!("|---|---|---|---|");
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1}", a / b)
        } else {
            "-".into()
        }
    };
    println!(
        "| chain transactions | {} | {} | {} |",
        blobs.transactions,
        quilt_cost.transactions,
        ratio(blobs.transactions as f64, quilt_cost.transactions as f64)
    );
    println!(
        "| WAL paid (FROST) | {} | {} | {} |",
        blobs.wal,
        quilt_cost.wal,
        ratio(blobs.wal as f64, quilt_cost.wal as f64)
    );
    println!(
        "| SUI gas, net (MIST) | {} | {} | {} |",
        blobs.gas,
        quilt_cost.gas,
        ratio(blobs.gas as f64, quilt_cost.gas as f64)
    );
    println!(
        "| encoded bytes stored | {} | {} | {} |",
        blobs.encoded,
        quilt_cost.encoded,
        ratio(blobs.encoded as f64, quilt_cost.encoded as f64)
    );
    println!(
        "| wall time | {:.2} s | {:.2} s | {} |",
        blobs.time.as_secs_f64(),
        quilt_cost.time.as_secs_f64(),
        ratio(blobs.time.as_secs_f64(), quilt_cost.time.as_secs_f64())
    );
    println!(
        "\n| read of quilt {quilt_id} ({quilt_size} B) | slivers fetched | bytes fetched | time |"
    );
    println!("|---|---|---|---|");
    println!(
        "| one patch ({} B) by patch ID | {patch_slivers} secondary | {patch_bytes} | {:.3} s |",
        patch.file.contents.len(),
        patch_time.as_secs_f64()
    );
    println!(
        "| whole quilt ({} B) | {whole_slivers} primary | {whole_bytes} | {:.3} s |",
        whole.len(),
        whole_time.as_secs_f64()
    );
    println!(
        "| whole / patch | | {} | {} |",
        ratio(whole_bytes as f64, patch_bytes as f64),
        ratio(whole_time.as_secs_f64(), patch_time.as_secs_f64())
    );
    Ok(())
}

fn main() -> Result<()> {
    bench_main(bench)
}
