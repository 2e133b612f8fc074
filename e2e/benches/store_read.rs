//! Store and read throughput on a local network of real processes, as ratios of the raw
//! encode and decode speed measured in the same run, and the `walrus` CLI's peak memory.
//!
//! The store's bound is this machine's, as issue 15 defines it: one encode, one verification of
//! every sliver by the nodes (about one more encode) and an fsync'd write of the encoded size.
//!
//! For each blob size: the raw speed is `encode_blob` (store) and `decode_and_verify` from the
//! source primary slivers (read; what a read decodes) in this process, best of three; the
//! network speed is `walrus store` / `walrus read --out` as processes (wall time, process start
//! and chain transactions included), best of two; peak memory is the CLI's maximum resident
//! set (`/usr/bin/time -f %M`, if present).
//!
//! Run with `scripts/bench-store-read.sh` (it builds the binaries first). Environment:
//! `BENCH_SIZES_MIB` (default `1,128`), `BENCH_NODES` (10), `BENCH_SHARDS` (100),
//! `BENCH_MEMORY_MIB` (default 1024: one store and read of this size on a second network
//! with `BENCH_MEMORY_SHARDS` shards, default 300, since 100 shards cap blobs at ~149 MB;
//! 0 skips it; 4096 needs at least 600 shards), reported as the CLI's peak RSS over the
//! blob's size; `BENCH_DRY_RUN_MIB` (default 0: skipped) with `BENCH_DRY_RUN_SHARDS` (1000):
//! `walrus store --dry-run` of a blob of this size, the client's encoding through its spill
//! file alone (a whole 4 GiB store needs about 45 GB of disk: the spill and the nodes' copies).

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use walrus_core::encoding::{decode_and_verify, encode_blob, EncodingConfig, Primary, SliverData};
use walrus_e2e::{
    bench::{bench_main, process_cpu_s},
    test_data, TestNetwork,
};

const MB: f64 = 1e6;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn parse<T: std::str::FromStr>(name: &str, default: &str) -> Result<T> {
    env_or(name, default)
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} is not a number"))
}

/// Best (shortest) of `runs` timings of `work`.
fn best_of<T>(runs: usize, mut work: impl FnMut() -> Result<T>) -> Result<(Duration, T)> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = work()?;
        let elapsed = start.elapsed();
        if best.as_ref().is_none_or(|(time, _)| elapsed < *time) {
            best = Some((elapsed, value));
        }
    }
    best.context("at least one run")
}

/// Raw times of `data` for `n_shards` shards, in this process: encode, decode, and
/// verification of every sliver against the metadata (what the nodes together must do for
/// a store, on one core).
struct RawTimes {
    encode: Duration,
    decode: Duration,
    verify: Duration,
}

/// [`RawTimes`] of `data` for `n_shards` shards, each the best of three.
fn raw_speed(data: &[u8], n_shards: u16) -> Result<RawTimes> {
    let config = EncodingConfig::new(n_shards)?;
    let (encode, encoded) = best_of(3, || Ok(encode_blob(&config, data)?))?;
    let (verify, ()) = best_of(3, || {
        for pair in &encoded.sliver_pairs {
            pair.primary.verify(&encoded.metadata)?;
            pair.secondary.verify(&encoded.metadata)?;
        }
        Ok(())
    })?;
    let k = config.n_primary_source_symbols();
    let slivers: Vec<SliverData<Primary>> = encoded
        .sliver_pairs
        .iter()
        .take(k)
        .map(|pair| pair.primary.clone())
        .collect();
    let blob_id = *encoded.metadata.blob_id();
    let (decode, decoded) = best_of(3, || {
        Ok(decode_and_verify(
            &config,
            &blob_id,
            data.len() as u64,
            &slivers,
        )?)
    })?;
    if decoded != data {
        bail!("the raw decode differs");
    }
    Ok(RawTimes {
        encode,
        decode,
        verify,
    })
}

/// One CLI run: wall time and peak resident memory (KiB) if `/usr/bin/time` exists.
struct CliRun {
    elapsed: Duration,
    peak_kib: Option<u64>,
    stdout: String,
}

fn run_cli(config: &Path, args: &[&str]) -> Result<CliRun> {
    let walrus = walrus_localnet::network::default_bin_dir().join("walrus");
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut command = Command::new(time);
        command.arg("-f").arg("peak_kib=%M").arg(&walrus);
        command
    } else {
        Command::new(&walrus)
    };
    command.arg("--config").arg(config).args(args);
    let start = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("running walrus {args:?}"))?;
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("walrus {args:?} failed: {stderr}");
    }
    let peak_kib = stderr
        .lines()
        .find_map(|line| line.strip_prefix("peak_kib="))
        .and_then(|value| value.trim().parse().ok());
    Ok(CliRun {
        elapsed,
        peak_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
}

/// `walrus --json store FILE` for one epoch, `--force`d so that every run stores anew.
fn store_anew(config: &Path, file: &str) -> Result<CliRun> {
    run_cli(
        config,
        &[
            "--json",
            "store",
            file,
            "--epochs",
            "1",
            "--permanent",
            "--force",
        ],
    )
}

/// The blob ID in the JSON output of [`store_anew`].
fn stored_blob_id(store: &CliRun) -> Result<String> {
    let stored: serde_json::Value = serde_json::from_str(&store.stdout)?;
    Ok(
        stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
            .as_str()
            .context("a blob ID in the store output")?
            .to_owned(),
    )
}

/// Sequential write bandwidth of the disk under `dir` (256 MiB, fsync'd), in MB/s. On one
/// machine every node writes to this one disk, so a store cannot beat
/// `bandwidth / (encoded size / blob size)`.
fn disk_write_mbps(dir: &Path) -> Result<f64> {
    use std::io::Write;
    let path = dir.join("disk-bandwidth.tmp");
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    for _ in 0..256 {
        file.write_all(&chunk)?;
    }
    file.sync_all()?;
    let elapsed = start.elapsed();
    std::fs::remove_file(&path)?;
    Ok(mbps(256 << 20, elapsed))
}

/// Results for one blob size.
struct Row {
    size: usize,
    expansion: f64,
    raw: RawTimes,
    store: CliRun,
    /// CPU seconds all storage nodes used per store (mean of the runs), if `/proc` has them.
    nodes_cpu_s: Option<f64>,
    read: CliRun,
}

/// CPU seconds used so far by all of `net`'s storage nodes.
fn nodes_cpu_s(net: &TestNetwork) -> Option<f64> {
    (0..net.network.n_nodes())
        .map(|node| process_cpu_s(net.node_pid(node)?))
        .sum()
}

fn mbps(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / MB / time.as_secs_f64()
}

fn measure(net: &TestNetwork, size: usize, seed: u64, runs: usize) -> Result<Row> {
    let data = test_data(size, seed);
    let n_shards = net.network.info().n_shards;
    let encoded_length = EncodingConfig::new(n_shards)?
        .encoded_blob_length(size as u64)
        .context("an encodable size")?;
    let expansion = encoded_length as f64 / size as f64;
    let raw = raw_speed(&data, n_shards)?;
    let file = walrus_e2e::write_file(&net.scratch(), &format!("blob-{size}.bin"), &data)?;
    drop(data);
    let config = net.network.client_config_path();
    let file_arg = file.to_str().context("a UTF-8 path")?;
    let cpu_before = nodes_cpu_s(net);
    let (_, store) = best_of(runs, || store_anew(&config, file_arg))?;
    // The nodes' work for a store ends with the certificate, which the CLI waits for.
    let nodes_cpu_s = cpu_before
        .zip(nodes_cpu_s(net))
        .map(|(before, after)| (after - before) / runs as f64);
    let blob_id = stored_blob_id(&store)?;
    let out = net.scratch().join(format!("read-{size}.bin"));
    let out_arg = out.to_str().context("a UTF-8 path")?;
    let (_, read) = best_of(runs, || {
        run_cli(&config, &["read", &blob_id, "--out", out_arg])
    })?;
    if std::fs::read(&out)? != std::fs::read(&file)? {
        bail!("the blob read back differs");
    }
    std::fs::remove_file(&out)?;
    std::fs::remove_file(&file)?;
    Ok(Row {
        size,
        expansion,
        raw,
        store,
        nodes_cpu_s,
        read,
    })
}

/// Writes a blob of `size` bytes to `path` a chunk at a time (chunk `i` is
/// `test_data(len, 1000 + i)`).
fn write_chunked(path: &Path, size: usize) -> Result<()> {
    use std::io::Write;
    let mut writer = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (index, start) in (0..size).step_by(MEMORY_CHUNK).enumerate() {
        writer.write_all(&test_data(
            MEMORY_CHUNK.min(size - start),
            1000 + index as u64,
        ))?;
    }
    writer.into_inner()?.sync_all()?;
    Ok(())
}

/// Chunks of the memory benches' blobs.
const MEMORY_CHUNK: usize = 64 << 20;

/// `walrus store --dry-run` of a blob of `size` bytes: the client side of a store (encoding
/// through a spill file) alone, for blobs whose store would not fit this disk twice over
/// (the spill and the nodes' copies are each about 4.5x the blob).
fn measure_dry_run(net: &TestNetwork, size: usize) -> Result<()> {
    let file = net.scratch().join("dry-run.bin");
    write_chunked(&file, size)?;
    let config = net.network.client_config_path();
    let file_arg = file.to_str().context("a UTF-8 path")?;
    let run = run_cli(&config, &["--json", "store", "--dry-run", file_arg])?;
    std::fs::remove_file(&file)?;
    let n_shards = net.network.info().n_shards;
    println!(
        "\n{} MiB blob, {n_shards} shards: `walrus store --dry-run` (encode through the spill file)",
        size >> 20
    );
    println!("| time | MB/s | CLI peak RSS | RSS / blob |");
    println!("|---|---|---|---|");
    println!("{}", memory_row(&run, size));
    Ok(())
}

/// `| time | MB/s | peak RSS | RSS / blob |` of a CLI run on a blob of `size` bytes.
fn memory_row(run: &CliRun, size: usize) -> String {
    let (peak, ratio) = run.peak_kib.map_or_else(
        || ("n/a".to_owned(), "n/a".to_owned()),
        |kib| {
            (
                format!("{} MiB", kib / 1024),
                format!("{:.3}", (kib * 1024) as f64 / size as f64),
            )
        },
    );
    format!(
        "| {:.1} s | {:.1} | {peak} | {ratio} |",
        run.elapsed.as_secs_f64(),
        mbps(size, run.elapsed)
    )
}

/// One store and one read of a blob of `size` bytes through the CLI, for memory: the file is
/// written and compared a chunk at a time (the blob is never whole in this process), and no
/// raw speed is measured (the in-memory encoder would hold 4.5x the blob).
fn measure_memory(net: &TestNetwork, size: usize) -> Result<()> {
    use std::io::Read;
    const CHUNK: usize = MEMORY_CHUNK;
    let chunk = |index: usize, len: usize| test_data(len, 1000 + index as u64);
    let file = net.scratch().join("memory.bin");
    write_chunked(&file, size)?;
    let config = net.network.client_config_path();
    let file_arg = file.to_str().context("a UTF-8 path")?;
    let store = store_anew(&config, file_arg)?;
    let blob_id = stored_blob_id(&store)?;
    std::fs::remove_file(&file)?;
    let out = net.scratch().join("memory-read.bin");
    let out_arg = out.to_str().context("a UTF-8 path")?;
    let read = run_cli(&config, &["read", &blob_id, "--out", out_arg])?;
    let mut reader = std::io::BufReader::new(std::fs::File::open(&out)?);
    let mut buf = Vec::new();
    for (index, start) in (0..size).step_by(CHUNK).enumerate() {
        let len = CHUNK.min(size - start);
        buf.resize(len, 0);
        reader.read_exact(&mut buf)?;
        if buf != chunk(index, len) {
            bail!("the blob read back differs in its chunk {index}");
        }
    }
    if reader.read(&mut [0u8; 1])? != 0 {
        bail!("the blob read back is longer than the blob");
    }
    std::fs::remove_file(&out)?;
    let n_shards = net.network.info().n_shards;
    println!(
        "\n{size_mib} MiB blob, {n_shards} shards (largest blob {max:.0} MiB), one CLI run each",
        size_mib = size >> 20,
        max = EncodingConfig::new(n_shards)?.max_blob_size() as f64 / f64::from(1 << 20),
    );
    println!("| operation | time | MB/s | CLI peak RSS | RSS / blob |");
    println!("|---|---|---|---|---|");
    for (name, run) in [("store", &store), ("read", &read)] {
        println!("| {name} {}", memory_row(run, size));
    }
    Ok(())
}

/// The store bound of this machine for one blob (the definition): one encode, one
/// verification of every sliver by the nodes (about one more encode in total) and an fsync'd
/// write of the encoded size, done one after the other.
fn machine_bound_mbps(row: &Row, disk_mbps: f64) -> f64 {
    let write_s = row.size as f64 * row.expansion / MB / disk_mbps;
    row.size as f64 / MB / (2.0 * row.raw.encode.as_secs_f64() + write_s)
}

fn print_rows(title: &str, rows: &[Row], disk_mbps: f64) {
    println!("\n{title}; disk write {disk_mbps:.0} MB/s (fsync'd)");
    println!(
        "| blob | raw encode MB/s | store MB/s | store/encode | machine bound MB/s | store/bound | raw decode MB/s | read MB/s | read/decode | CLI peak RSS store / read |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let encode = mbps(row.size, row.raw.encode);
        let store = mbps(row.size, row.store.elapsed);
        let decode = mbps(row.size, row.raw.decode);
        let read = mbps(row.size, row.read.elapsed);
        let peak = |run: &CliRun| {
            run.peak_kib
                .map_or_else(|| "n/a".to_owned(), |kib| format!("{} MiB", kib / 1024))
        };
        let bound = machine_bound_mbps(row, disk_mbps);
        println!(
            "| {} MiB | {encode:.0} | {store:.1} | {:.0}% | {bound:.1} | {:.0}% | {decode:.0} | {read:.1} | {:.0}% | {} / {} |",
            row.size >> 20,
            100.0 * store / encode,
            100.0 * store / bound,
            100.0 * read / decode,
            peak(&row.store),
            peak(&row.read),
        );
    }
    println!(
        "\nNode CPU per GB of slivers accepted (all nodes, per store) against verifying every \
         sliver once in this process (target: at most 2x)"
    );
    println!("| blob | node CPU s/GB | verification s/GB | ratio |");
    println!("|---|---|---|---|");
    for row in rows {
        let encoded_gb = row.size as f64 * row.expansion / 1e9;
        let verify = row.raw.verify.as_secs_f64() / encoded_gb;
        let (nodes, ratio) = row.nodes_cpu_s.map_or_else(
            || ("n/a".to_owned(), "n/a".to_owned()),
            |cpu| {
                let per_gb = cpu / encoded_gb;
                (format!("{per_gb:.2}"), format!("{:.2}", per_gb / verify))
            },
        );
        println!(
            "| {} MiB | {nodes} | {verify:.2} | {ratio} |",
            row.size >> 20
        );
    }
}

async fn bench() -> Result<()> {
    let sizes: Vec<usize> = env_or("BENCH_SIZES_MIB", "1,128")
        .split(',')
        .map(|size| size.trim().parse::<usize>().map(|mib| mib << 20))
        .collect::<Result<_, _>>()
        .context("BENCH_SIZES_MIB: comma-separated MiB")?;
    let nodes: usize = parse("BENCH_NODES", "10")?;
    let shards: u16 = parse("BENCH_SHARDS", "100")?;
    let memory_mib: usize = parse("BENCH_MEMORY_MIB", "1024")?;
    let memory_shards: u16 = parse("BENCH_MEMORY_SHARDS", "300")?;

    let net = TestNetwork::start(nodes, shards).await?;
    let disk = disk_write_mbps(&net.scratch())?;
    let mut rows = Vec::new();
    for (seed, size) in sizes.iter().enumerate() {
        eprintln!("measuring {} MiB ...", size >> 20);
        rows.push(measure(&net, *size, seed as u64, 2)?);
    }
    drop(net);
    print_rows(
        &format!("{nodes} nodes, {shards} shards (best of 2 CLI runs; raw: best of 3)"),
        &rows,
        disk,
    );

    if memory_mib > 0 {
        let net = TestNetwork::start(nodes, memory_shards).await?;
        eprintln!("measuring {memory_mib} MiB ...");
        measure_memory(&net, memory_mib << 20)?;
    }
    let dry_run_mib: usize = parse("BENCH_DRY_RUN_MIB", "0")?;
    if dry_run_mib > 0 {
        let shards: u16 = parse("BENCH_DRY_RUN_SHARDS", "1000")?;
        let net = TestNetwork::start(nodes, shards).await?;
        eprintln!("encoding {dry_run_mib} MiB (dry run) ...");
        measure_dry_run(&net, dry_run_mib << 20)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    bench_main(bench)
}
