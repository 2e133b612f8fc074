//! Recovery of a wiped storage node on a local network of real processes: how fast a node
//! that lost its whole database gets every sliver of its shards back from its peers' recovery
//! symbols, for many small blobs and for a few large ones (each class on its own network, so
//! that each figure is that class alone).
//!
//! For each class: store the blobs with the SDK, wipe one node's database, start it again and
//! poll its `walrus_node_slivers_recovered_total` until it covers every sliver the node should
//! hold (blobs x its shards x 2). Printed per class: slivers/s from the node's start (process
//! start, chain catch-up and recovery) and from its first recovered sliver, against the target
//! of 1,000 slivers/s; bytes fetched from peers per rebuilt sliver
//! (`walrus_node_recovery_bytes_fetched_total`: symbols, proofs and metadata) next to the
//! sliver sizes; the recovery-symbol requests the peers served; the node's peak resident
//! memory (`VmHWM`) and CPU time, the other nodes' CPU time together, and how busy the whole
//! machine was meanwhile. Every rebuilt sliver is then checked byte-exact against the
//! encoding. Beside the rate, a machine anchor
//! measured in the same run: how many of the wiped node's slivers one core rebuilds in-process
//! (verify the symbols, decode, verify the sliver), so that figures taken on machines of
//! different speeds compare as ratios. And a ceiling for this machine: the slivers/s its cores
//! would reach doing nothing but the inherent work of both sides, the wiped node's rebuilds (as
//! in the anchor) and the peers' symbol computations from their slivers and stored Merkle trees
//! (as they serve them: one computation per source sliver for all of a blob's targets, the
//! second axis' symbols from the node's own first-axis slivers excepted), without reads,
//! network, serialization or scheduling: all the nodes share this machine's cores.
//!
//! Run with `scripts/bench-recovery.sh` (it builds the binaries first). Environment:
//! `BENCH_NODES` (10), `BENCH_SHARDS` (100), `BENCH_SMALL_BLOBS` (300), `BENCH_SMALL_KB`
//! (10), `BENCH_LARGE_BLOBS` (10), `BENCH_LARGE_MIB` (4), `BENCH_WIPED` (the wiped node, 0),
//! `BENCH_TIMEOUT_S` (600: give up on a recovery after this long), `BENCH_TRACE` (set: print
//! the recovered slivers, applied chain events and node CPU every 250 ms).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use walrus_core::{
    encoding::{
        recover_slivers_from_verified, verify_recovery_symbols, EncodedBlob, EncodingAxis,
        EncodingConfig, ExpandedSliver, InconsistencyProof, InconsistencyProofEither, Primary,
        RecoverySymbol, RecoverySymbolsBcs, Secondary, SliverData,
    },
    ShardIndex, SliverIndex, SliverType,
};
use walrus_e2e::{
    bench::{bench_main, env_number, process_cpu_s},
    encode, test_data, TestNetwork,
};
use walrus_sdk::client::{NoProgress, StoreOptions};

/// The rate the recovery should reach.
const TARGET_SLIVERS_PER_S: f64 = 1_000.0;
/// Blobs per `store_many` call.
const STORE_BATCH: usize = 100;
/// How often the wiped node's metrics are read.
const POLL: Duration = Duration::from_millis(50);
/// Blobs of a class whose slivers are rebuilt in-process for the machine anchor.
const ANCHOR_BLOBS: usize = 20;

/// One class of blobs.
struct Class {
    name: &'static str,
    blobs: usize,
    bytes: usize,
}

/// What one wiped-node recovery measured.
struct Figures {
    slivers: u64,
    /// From the node's process start to the last sliver.
    total: Duration,
    /// From the first recovered sliver to the last.
    window: Duration,
    /// Bytes fetched from peers.
    fetched: f64,
    /// Primary and secondary sliver sizes (bytes of symbols).
    sliver_sizes: (usize, usize),
    /// Recovery-symbol requests the peers served during the recovery.
    symbol_requests: f64,
    /// The wiped node's peak resident memory (KiB).
    peak_kib: Option<u64>,
    /// CPU seconds the wiped node used from its start to the last sliver.
    node_cpu_s: Option<f64>,
    /// CPU seconds the other nodes used together meanwhile (serving symbols, mostly).
    peers_cpu_s: Option<f64>,
    /// Share of the machine's CPU time busy (any process) meanwhile.
    machine_busy: Option<f64>,
    /// Slivers per second one core rebuilds in-process, and one core serves the symbols for
    /// ([`rebuild_anchor`]).
    anchor: Anchor,
}

/// The in-process rates the figures are compared with.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// Slivers per second one core rebuilds (the wiped node's inherent work).
    rebuild: f64,
    /// Slivers per second one core computes the peers' symbols for.
    serve: f64,
}

impl Anchor {
    /// Slivers per second all of this machine's cores would reach doing both sides' inherent
    /// work and nothing else.
    fn ceiling(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        cores / (1.0 / self.rebuild + 1.0 / self.serve)
    }
}

/// The machine anchor: slivers per second one core of this machine rebuilds in-process as the
/// wiped node must (verify the symbols, decode, verify the rebuilt sliver; the slivers of one
/// axis of a blob together, as the node rebuilds them), over the wiped node's slivers of the
/// first [`ANCHOR_BLOBS`] blobs, from the lowest source slivers it does not hold itself (those
/// a recovery uses). Beside it, the rate of the serving side's work for the same slivers
/// ([`time_rebuild`]): primaries first, as the node rebuilds them, so that the peers serve
/// every symbol of the primaries and the secondaries' symbols but those of the node's own
/// primaries.
fn rebuild_anchor(encoded: &[EncodedBlob], shards: &[ShardIndex]) -> Result<Anchor> {
    let (mut rebuild, mut serve) = (Duration::ZERO, Duration::ZERO);
    let mut slivers = 0;
    for blob in encoded.iter().take(ANCHOR_BLOBS) {
        let n = blob.metadata.config().n_shards();
        let own: Vec<_> = shards
            .iter()
            .map(|shard| shard.to_pair_index(n, blob.metadata.blob_id()))
            .collect();
        // The source slivers: those of the pairs the wiped node does not hold.
        let others: Vec<_> = blob
            .sliver_pairs
            .iter()
            .filter(|source| !own.contains(&source.index()))
            .collect();
        // Primary slivers from the others' secondary slivers, and the other way.
        let primaries: Vec<SliverIndex> =
            own.iter().map(|pair| pair.primary_sliver_index()).collect();
        let from_secondaries = others.iter().map(|source| &source.secondary);
        let required = blob
            .metadata
            .config()
            .n_symbols_in_sliver(SliverType::Primary);
        let (rebuilt, served) =
            time_rebuild::<Primary>(blob, &primaries, from_secondaries, required)?;
        (rebuild, serve) = (rebuild + rebuilt, serve + served);
        let secondaries = own
            .iter()
            .map(|pair| pair.secondary_sliver_index(n).context("a pair's secondary"))
            .collect::<Result<Vec<_>>>()?;
        let from_primaries = others.iter().map(|source| &source.primary);
        let required = blob
            .metadata
            .config()
            .n_symbols_in_sliver(SliverType::Secondary);
        let (rebuilt, served) = time_rebuild::<Secondary>(
            blob,
            &secondaries,
            from_primaries,
            required.saturating_sub(primaries.len()),
        )?;
        (rebuild, serve) = (rebuild + rebuilt, serve + served);
        slivers += primaries.len() + secondaries.len();
    }
    Ok(Anchor {
        rebuild: rate(slivers as u64, rebuild),
        serve: rate(slivers as u64, serve),
    })
}

/// The times to rebuild slivers `targets` of axis `T` of `blob` together from the symbols of
/// the lowest `sources`, and to compute those symbols as a peer does (from a source sliver and
/// its stored Merkle tree, all targets at once) for the first `served` sources (hashed
/// untimed: a peer stored the tree when it verified the sliver).
fn time_rebuild<'a, T: EncodingAxis>(
    blob: &EncodedBlob,
    targets: &[SliverIndex],
    sources: impl Iterator<Item = &'a SliverData<T::Orthogonal>>,
    served: usize,
) -> Result<(Duration, Duration)>
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    let metadata = &blob.metadata;
    let required = metadata.config().n_symbols_in_sliver(T::TYPE);
    let mut sources: Vec<_> = sources.collect();
    sources.sort_by_key(|sliver| sliver.index);
    let expanded = sources
        .iter()
        .take(required)
        .map(|sliver| Ok(ExpandedSliver::new(sliver, metadata.layout())?))
        .collect::<Result<Vec<_>>>()?;
    let mut serve = Duration::ZERO;
    for sliver in sources.iter().take(served) {
        let nodes = sliver.verify_with_tree(metadata)?.nodes().to_vec();
        let root = *metadata
            .sliver_hash(sliver.sliver_type(), sliver.index)
            .context("a source sliver's root")?;
        let started = Instant::now();
        let computed = ExpandedSliver::with_tree_nodes(
            (*sliver).into(),
            metadata.layout(),
            nodes,
            &root,
            targets,
        )
        .context("the stored tree nodes give the root")??;
        // Written as a node answers: BCS, straight from the computed symbols.
        let mut answer = RecoverySymbolsBcs::with_capacity(targets.len(), metadata.layout());
        for target in targets {
            answer.push(&computed, *target);
        }
        let symbols = answer.len();
        std::hint::black_box(answer.into_bytes());
        serve += started.elapsed();
        anyhow::ensure!(symbols == targets.len(), "a symbol per target");
    }
    let mut symbols: Vec<(SliverIndex, RecoverySymbol<T>)> = Vec::new();
    for target in targets {
        for source in &expanded {
            symbols.push((
                *target,
                source.recovery_symbol(*target).context("a symbol")?,
            ));
        }
    }
    let started = Instant::now();
    let mut verified: Vec<_> = verify_recovery_symbols(metadata, symbols)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let mut work = Vec::new();
    for target in targets.iter().rev() {
        work.push((*target, verified.split_off(verified.len() - required)));
    }
    let rebuilt = recover_slivers_from_verified(metadata, work, &[])
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let rebuild = started.elapsed();
    anyhow::ensure!(
        rebuilt
            .iter()
            .map(|rebuilt| rebuilt.sliver.index)
            .eq(targets.iter().rev().copied()),
        "rebuilt the wrong slivers"
    );
    Ok((rebuild, serve))
}

/// The machine's (busy, total) CPU time in clock ticks so far.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|value| value.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    // idle and iowait
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

/// Resident-memory figure `field` (`VmRSS`, `VmHWM`) of process `pid` in KiB.
fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Recovery-symbol requests served by the nodes other than `wiped`.
async fn symbol_requests(net: &TestNetwork, nodes: usize, wiped: usize) -> Result<f64> {
    let mut total = 0.0;
    for i in (0..nodes).filter(|i| *i != wiped) {
        total += net
            .node_metric(i, "walrus_node_requests_total", &["recoverySymbols"])
            .await?;
    }
    Ok(total)
}

/// Stores `class` on a fresh network, wipes node `wiped`, and times its recovery.
async fn measure(nodes: usize, shards: u16, wiped: usize, class: &Class) -> Result<Figures> {
    let mut net =
        TestNetwork::start_with(nodes, shards, |options| options.services = false).await?;
    let sdk = net.sdk()?;
    let seed = class.bytes as u64 * 1_000;
    let data: Vec<Vec<u8>> = (0..class.blobs)
        .map(|index| test_data(class.bytes, seed + index as u64))
        .collect();
    let stored = Instant::now();
    for batch in data.chunks(STORE_BATCH) {
        let outcome = sdk
            .store_many(batch.to_vec(), StoreOptions::permanent(3), &NoProgress)
            .await?;
        for result in outcome.results {
            result.context("a store of the batch")?;
        }
    }
    println!(
        "{}: stored {} blobs of {} bytes in {:.1?}",
        class.name,
        class.blobs,
        class.bytes,
        stored.elapsed()
    );
    let encoded: Vec<EncodedBlob> = data.iter().map(|blob| encode(blob, shards)).collect();
    drop(data);
    let anchor = rebuild_anchor(&encoded, net.shards.shards(wiped))?;
    // Let uploads that finished after the certificates settle.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let slivers = (class.blobs * net.shards.shards(wiped).len() * 2) as u64;
    let requests_before = symbol_requests(&net, nodes, wiped).await?;
    let peers: Vec<u32> = (0..nodes)
        .filter(|i| *i != wiped)
        .filter_map(|i| net.node_pid(i))
        .collect();
    let peers_cpu = || -> Option<f64> { peers.iter().map(|pid| process_cpu_s(*pid)).sum() };
    let peers_before = peers_cpu();
    net.network.wipe_node(wiped).await?;
    let started = Instant::now();
    let machine_before = machine_cpu();
    net.network.start_node(wiped).await?;
    let pid = net.node_pid(wiped).context("the wiped node's process")?;
    let trace = std::env::var_os("BENCH_TRACE").is_some();
    let mut last_trace = Instant::now();
    let timeout = Duration::from_secs(env_number("BENCH_TIMEOUT_S", "600")?);
    let mut first: Option<Instant> = None;
    let (done, fetched, (peak_kib, node_cpu_s, peers_after, machine_after)) = loop {
        let recovered = net
            .node_metric(wiped, "walrus_node_slivers_recovered_total", &[])
            .await?;
        if recovered > 0.0 && first.is_none() {
            first = Some(Instant::now());
        }
        if trace && last_trace.elapsed() >= Duration::from_millis(250) {
            last_trace = Instant::now();
            let events = net
                .node_metric(wiped, "walrus_node_events_processed_total", &[])
                .await?;
            println!(
                "  {:6.2} s: {recovered:5} slivers, {events:5} events, node CPU {:.2} s",
                started.elapsed().as_secs_f64(),
                process_cpu_s(pid).unwrap_or(0.0)
            );
        }
        if recovered >= slivers as f64 {
            let done = Instant::now();
            let fetched = net
                .node_metric(wiped, "walrus_node_recovery_bytes_fetched_total", &[])
                .await?;
            break (
                done,
                fetched,
                (
                    memory_kib(pid, "VmHWM"),
                    process_cpu_s(pid),
                    peers_cpu(),
                    machine_cpu(),
                ),
            );
        }
        if started.elapsed() > timeout {
            bail!(
                "{}: node {wiped} recovered {recovered} of {slivers} slivers in {timeout:?}\n{}",
                class.name,
                net.node_log_tail(wiped, 40)
            );
        }
        tokio::time::sleep(POLL).await;
    };
    let symbol_requests = symbol_requests(&net, nodes, wiped).await? - requests_before;
    net.wait_node_slivers(wiped, &encoded, Duration::from_secs(120))
        .await
        .context("every recovered sliver byte-exact")?;
    let layout = EncodingConfig::new(shards)?.blob_layout(class.bytes as u64)?;
    Ok(Figures {
        slivers,
        total: done - started,
        window: done - first.unwrap_or(done),
        fetched,
        sliver_sizes: (
            layout.sliver_length(SliverType::Primary),
            layout.sliver_length(SliverType::Secondary),
        ),
        symbol_requests,
        peak_kib,
        node_cpu_s,
        peers_cpu_s: peers_before
            .zip(peers_after)
            .map(|(before, after)| after - before),
        machine_busy: machine_before.zip(machine_after).map(|(before, after)| {
            (after.0 - before.0) as f64 / (after.1 - before.1).max(1) as f64
        }),
        anchor,
    })
}

fn rate(slivers: u64, time: Duration) -> f64 {
    slivers as f64 / time.as_secs_f64().max(1e-9)
}

async fn bench() -> Result<()> {
    let nodes: usize = env_number("BENCH_NODES", "10")?;
    let shards: u16 = env_number("BENCH_SHARDS", "100")?;
    let wiped: usize = env_number("BENCH_WIPED", "0")?;
    let classes = [
        Class {
            name: "small",
            blobs: env_number("BENCH_SMALL_BLOBS", "300")?,
            bytes: env_number::<usize>("BENCH_SMALL_KB", "10")? * 1_000,
        },
        Class {
            name: "large",
            blobs: env_number("BENCH_LARGE_BLOBS", "10")?,
            bytes: env_number::<usize>("BENCH_LARGE_MIB", "4")? << 20,
        },
    ];
    let mut rows = Vec::new();
    for class in classes.iter().filter(|class| class.blobs > 0) {
        let figures = measure(nodes, shards, wiped, class).await?;
        rows.push((class, figures));
    }
    println!("\n{nodes} nodes, {shards} shards; node {wiped} wiped and started again");
    println!(
        "| blobs | slivers | from start | slivers/s (from start) | target | ratio | machine anchor (slivers/s, one core) | ratio to anchor | co-located ceiling (slivers/s, all cores) | ratio to ceiling | from first sliver | slivers/s (from first) | bytes fetched / sliver | sliver size (primary / secondary) | symbol requests | peak RSS | node CPU | peers' CPU | machine busy |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (class, f) in &rows {
        let total_rate = rate(f.slivers, f.total);
        println!(
            "| {} x {} B ({}) | {} | {:.2} s | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} s | {:.0} | {:.0} B | {} / {} B | {:.0} ({:.1} per blob) | {} | {} | {} | {} |",
            class.blobs,
            class.bytes,
            class.name,
            f.slivers,
            f.total.as_secs_f64(),
            total_rate,
            TARGET_SLIVERS_PER_S,
            total_rate / TARGET_SLIVERS_PER_S,
            f.anchor.rebuild,
            total_rate / f.anchor.rebuild,
            f.anchor.ceiling(),
            total_rate / f.anchor.ceiling(),
            f.window.as_secs_f64(),
            rate(f.slivers, f.window),
            f.fetched / f.slivers as f64,
            f.sliver_sizes.0,
            f.sliver_sizes.1,
            f.symbol_requests,
            f.symbol_requests / class.blobs as f64,
            f.peak_kib
                .map_or_else(|| "n/a".to_owned(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0)),
            f.node_cpu_s
                .map_or_else(|| "n/a".to_owned(), |cpu| format!("{cpu:.2} s")),
            f.peers_cpu_s
                .map_or_else(|| "n/a".to_owned(), |cpu| format!("{cpu:.2} s")),
            f.machine_busy
                .map_or_else(|| "n/a".to_owned(), |busy| format!("{:.0} %", busy * 100.0)),
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    bench_main(bench)
}
