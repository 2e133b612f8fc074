//! Availability under faults, against a network of real processes (chain, 5 storage nodes
//! with stakes 1:1:2:3:3, hence 1, 1, 2, 3 and 3 of the 10 shards; publisher, aggregator, the
//! `walrus` CLI). With `n = 10` shards, `f = 3`: reads need `n - 2f = 4` shards' primary
//! slivers, stores need confirmations of `n - f = 7` shards. Which nodes go down is chosen
//! greedily from the shards each node reported at start, so the scenarios hold for any split.
//!
//! 1. [`reads_survive_up_to_2f_shards_down`]: blobs stored through the publisher and the CLI;
//!    nodes holding at most `2f` shards are killed (SIGKILL); every blob reads back byte-exact
//!    through the aggregator (blobs it never served, so no cache hit) and through the CLI.
//! 2. [`reads_fail_cleanly_with_more_than_2f_shards_down_and_recover`]: with more than `2f`
//!    shards down, reads fail with a clear "not enough" error (CLI: exit code != 0 and the
//!    message on stderr; aggregator: 503 JSON `UNAVAILABLE`), never with wrong bytes; once the
//!    nodes are started again, the same blobs read back byte-exact.
//! 3. [`writes_need_a_quorum`]: with nodes holding at most `f` shards down, stores through the
//!    CLI and the publisher certify; with more than `f` down, they fail cleanly (CLI exit code
//!    != 0 with "not enough confirmations: W of R shards confirmed"; publisher 5xx JSON with
//!    the same text); with the nodes back, stores certify again.
//! 4. [`bounded_load_with_node_restarts`]: 4 concurrent clients (SDK instances, each with its
//!    own wallet funded by the faucet, so their transactions do not contend for gas coins)
//!    store and read random blobs of 1 B to 256 KiB for `E2E_LOAD_SECS` seconds (default 60)
//!    while a chaos task stops (SIGTERM) or kills (SIGKILL) one random node at a time, pauses
//!    and starts it again. The recorded schedule (each outage from just before the signal to
//!    the node's healthy answer) must never have more than `f` shards down at once. Every
//!    read that returns bytes must return the stored bytes, and **no read may fail** (a read
//!    needs `n - 2f` shards: at most `f` are down and at most `f` more may still be
//!    recovering a blob stored while they were down). A store needs `n - f` confirmations,
//!    so it may fail only if nodes holding more than `f` shards went down one after the
//!    other during it (asserted for each failed store), and at most 10% of the stores may
//!    fail. No node may exit on its own; at the end, with every node up, every certified
//!    blob reads back byte-exact at the first attempt. The counts (and each failure with the
//!    shards down during it) are printed (`--nocapture`). The chaos schedule is seeded
//!    (`E2E_CHAOS_SEED`, printed). With one shared wallet instead, about half the stores
//!    fail with "stale object reference" (concurrent transactions picking the same gas coin).
//!
//! Every test prints its duration. Every network operation has a deadline.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;
use walrus_core::BlobId;
use walrus_e2e::{run, test_data, within, write_file, TestNetwork};
use walrus_localnet::network::DEFAULT_STAKE;
use walrus_sdk::client::{NoProgress, StoreOptions, WalrusSdk};

/// Number of nodes.
const NODES: usize = 5;
/// Number of shards.
const SHARDS: u16 = 10;
/// Tolerated faulty shards, `(n - 1) / 3`.
const F: usize = (SHARDS as usize - 1) / 3;
/// Shards whose confirmations certify a blob, `n - f`.
const QUORUM: usize = SHARDS as usize - F;
/// Stakes 1:1:2:3:3 give 1, 1, 2, 3 and 3 shards.
const STAKES: [u64; NODES] = [
    DEFAULT_STAKE,
    DEFAULT_STAKE,
    2 * DEFAULT_STAKE,
    3 * DEFAULT_STAKE,
    3 * DEFAULT_STAKE,
];
/// Deadline of one HTTP request to the publisher or aggregator.
const HTTP_TIMEOUT: Duration = Duration::from_secs(90);
/// Deadline of one SDK store or read in the load run.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the network of every test: [`NODES`] nodes with [`STAKES`], [`SHARDS`] shards.
async fn start_network() -> TestNetwork {
    let net = TestNetwork::start_with(NODES, SHARDS, |options| {
        options.stakes = Some(STAKES.to_vec());
    })
    .await
    .expect("a network");
    let counts = shard_counts(&net);
    assert_eq!(
        counts.iter().sum::<usize>(),
        usize::from(SHARDS),
        "{counts:?}"
    );
    println!("shards per node: {counts:?}");
    net
}

/// The number of shards of each node.
fn shard_counts(net: &TestNetwork) -> Vec<usize> {
    (0..net.network.n_nodes())
        .map(|i| net.shards.weight(&[i]))
        .collect()
}

/// Greedily the largest set of nodes holding at most `budget` shards in total (largest nodes
/// first); the nodes and their shard total.
fn down_at_most(counts: &[usize], budget: usize) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    let mut down = Vec::new();
    let mut total = 0;
    for i in order {
        if total + counts[i] <= budget {
            down.push(i);
            total += counts[i];
        }
    }
    (down, total)
}

/// [`down_at_most`] `budget`, plus the smallest other node: a set holding more than
/// `budget` shards (that still leaves some node up).
fn down_more_than(counts: &[usize], budget: usize) -> (Vec<usize>, usize) {
    let (mut down, mut total) = down_at_most(counts, budget);
    let extra = (0..counts.len())
        .filter(|i| !down.contains(i))
        .min_by_key(|&i| counts[i])
        .expect("a node left up");
    down.push(extra);
    total += counts[extra];
    assert!(total > budget && down.len() < counts.len());
    (down, total)
}

/// Stores `data` with the CLI (must succeed); its blob ID.
async fn cli_store(net: &TestNetwork, name: &str, data: &[u8]) -> String {
    let file = write_file(&net.scratch(), name, data).expect("a file");
    let stored = net
        .cli
        .store(&file, 2)
        .await
        .unwrap_or_else(|error| panic!("walrus store {name} failed: {error:#}"));
    stored["blobId"].as_str().expect("a blob ID").to_owned()
}

/// `PUT /v1/blobs?epochs=2` with `data` (deadline [`HTTP_TIMEOUT`]): the status and the
/// JSON answer.
async fn publish(net: &TestNetwork, data: Vec<u8>) -> (StatusCode, Value) {
    within(
        "the publisher's answer",
        HTTP_TIMEOUT,
        net.publish("epochs=2", data),
    )
    .await
}

/// Stores `data` through the publisher (must succeed); its blob ID.
async fn publish_ok(net: &TestNetwork, data: Vec<u8>) -> String {
    let (status, answer) = publish(net, data).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .unwrap_or_else(|| panic!("no blob ID in {answer}"))
        .to_owned()
}

/// `GET /v1/blobs/ID` from the aggregator (deadline [`HTTP_TIMEOUT`]): the status and the
/// body.
async fn aggregate(net: &TestNetwork, blob_id: &str) -> (StatusCode, Vec<u8>) {
    within("the aggregator's answer", HTTP_TIMEOUT, async {
        let response = net.aggregate(&format!("/v1/blobs/{blob_id}"), &[]).await;
        let status = response.status();
        let body = response.bytes().await.expect("a body").to_vec();
        (status, body)
    })
    .await
}

/// Asserts that every blob reads back byte-exact through the aggregator and the CLI.
async fn assert_all_readable(net: &TestNetwork, blobs: &[(String, Vec<u8>)]) {
    for (blob_id, data) in blobs {
        let (status, body) = aggregate(net, blob_id).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "aggregator read of {blob_id}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            body == *data,
            "the aggregator returned other bytes for {blob_id}"
        );
        let out = net.scratch().join(format!("read-{blob_id}"));
        match net.cli.read(blob_id, &out).await {
            Ok(bytes) => assert!(bytes == *data, "the CLI read other bytes for {blob_id}"),
            Err(error) => panic!("CLI read of {blob_id} failed: {error:#}"),
        }
    }
}

/// Stores `count` blobs through the publisher and `count` through the CLI (sizes from
/// 1 B to ~150 KB, seeds from `seed`).
async fn store_mixed(net: &TestNetwork, count: u64, seed: u64) -> Vec<(String, Vec<u8>)> {
    let sizes = [1usize, 20_000, 150_000, 777];
    let mut blobs = Vec::new();
    for k in 0..count {
        let size = sizes[usize::try_from(k).unwrap() % sizes.len()];
        let data = test_data(size, seed + 2 * k);
        blobs.push((publish_ok(net, data.clone()).await, data));
        let data = test_data(size + 3, seed + 2 * k + 1);
        let name = format!("blob-{}.bin", seed + 2 * k + 1);
        blobs.push((cli_store(net, &name, &data).await, data));
    }
    blobs
}

/// Kills (SIGKILL) the nodes `down`, which hold `shards_down` shards.
fn kill_nodes(net: &mut TestNetwork, (down, shards_down): &(Vec<usize>, usize)) {
    println!(
        "killing nodes {down:?} ({shards_down} shards, 2f = {})",
        2 * F
    );
    for &i in down {
        net.network.kill_node(i).expect("kill");
    }
}

/// Starts the nodes `nodes` again (each waited for until healthy).
async fn start_nodes(net: &mut TestNetwork, nodes: &[usize]) {
    for &i in nodes {
        net.network
            .start_node(i)
            .await
            .expect("the node starts again");
    }
}

#[test]
fn reads_survive_up_to_2f_shards_down() {
    run(|| async {
        let mut net = start_network().await;
        let blobs = store_mixed(&net, 3, 100).await;
        let down = down_at_most(&shard_counts(&net), 2 * F);
        kill_nodes(&mut net, &down);
        // The aggregator has served none of the blobs: every read is a fresh one.
        assert_all_readable(&net, &blobs).await;
    });
}

#[test]
fn reads_fail_cleanly_with_more_than_2f_shards_down_and_recover() {
    run(|| async {
        let mut net = start_network().await;
        let blobs = store_mixed(&net, 2, 200).await;
        let (down, shards_down) = down_more_than(&shard_counts(&net), 2 * F);
        kill_nodes(&mut net, &(down.clone(), shards_down));
        for (blob_id, data) in &blobs {
            let output = net.cli.run(&["read", blob_id]).await.expect("the CLI runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.success() {
                panic!(
                    "the CLI read {blob_id} with {shards_down} shards down ({} bytes, {})",
                    output.stdout.len(),
                    if output.stdout == *data {
                        "right bytes"
                    } else {
                        "WRONG bytes"
                    }
                );
            }
            assert_ne!(output.status.code(), Some(0));
            assert!(
                stderr.contains("not enough") && stderr.contains(blob_id.as_str()),
                "unclear CLI error: {stderr}"
            );
            let (status, body) = aggregate(&net, blob_id).await;
            let text = String::from_utf8_lossy(&body);
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
            let answer: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| panic!("the 503 is not JSON: {text}"));
            assert_eq!(answer["error"]["reason"], "UNAVAILABLE", "{answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("not enough"), "{answer}");
        }

        start_nodes(&mut net, &down).await;
        assert_all_readable(&net, &blobs).await;
    });
}

/// Parses "not enough confirmations: W of R shards confirmed" out of `text`.
fn confirmations(text: &str) -> Option<(usize, usize)> {
    let rest = &text[text.find("not enough confirmations: ")? + 26..];
    let mut words = rest.split_whitespace();
    let weight = words.next()?.parse().ok()?;
    if words.next()? != "of" {
        return None;
    }
    let required = words.next()?.parse().ok()?;
    (words.next()? == "shards").then_some((weight, required))
}

#[test]
fn writes_need_a_quorum() {
    run(|| async {
        let mut net = start_network().await;
        let counts = shard_counts(&net);

        // At most f shards down (stopped gracefully): stores certify.
        let (down, shards_down) = down_at_most(&counts, F);
        println!("stopping nodes {down:?} ({shards_down} shards, f = {F})");
        for &i in &down {
            net.network.stop_node(i).await.expect("stop");
        }
        let blobs = store_mixed(&net, 1, 300).await;
        assert_all_readable(&net, &blobs).await;

        // More than f shards down (the rest killed): stores fail cleanly.
        let (more, shards_down) = down_more_than(&counts, F);
        println!("nodes {more:?} down ({shards_down} shards, f = {F})");
        for &i in more.iter().filter(|i| !down.contains(i)) {
            net.network.kill_node(i).expect("kill");
        }
        let up = usize::from(SHARDS) - shards_down;
        let file = write_file(&net.scratch(), "refused.bin", &test_data(5_000, 310)).unwrap();
        let output = net
            .cli
            .run(&["store", file.to_str().unwrap(), "--epochs", "2"])
            .await
            .expect("the CLI runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && output.status.code() != Some(0),
            "{stderr}"
        );
        let (weight, required) =
            confirmations(&stderr).unwrap_or_else(|| panic!("unclear CLI error: {stderr}"));
        assert_eq!(required, QUORUM, "{stderr}");
        assert!(weight <= up && weight < required, "{stderr}");
        println!("CLI: {}", stderr.trim());

        let (status, answer) = publish(&net, test_data(6_000, 311)).await;
        assert!(status.is_server_error(), "{status}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        let (weight, required) =
            confirmations(message).unwrap_or_else(|| panic!("unclear answer: {answer}"));
        assert_eq!(required, QUORUM, "{answer}");
        assert!(weight <= up && weight < required, "{answer}");
        println!("publisher: {status} {message}");

        // Everything back: stores certify again.
        start_nodes(&mut net, &more).await;
        let blobs = store_mixed(&net, 1, 320).await;
        assert_all_readable(&net, &blobs).await;
    });
}

/// xorshift64* for the load run (seeded, no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
    }
}

/// The counters of the load run.
#[derive(Default)]
struct Counts {
    stores_ok: AtomicU64,
    stores_failed: AtomicU64,
    reads_ok: AtomicU64,
    reads_failed: AtomicU64,
    wrong_reads: AtomicU64,
    /// Every failed store or read: what, when it started and ended, and why.
    failures: Mutex<Vec<FailedOp>>,
}

impl Counts {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn failed(&self, counter: &AtomicU64, kind: &'static str, started: Instant, error: String) {
        Self::add(counter);
        eprintln!("{kind} failed: {error}");
        self.failures.lock().unwrap().push(FailedOp {
            kind,
            started,
            ended: Instant::now(),
            error,
        });
    }
}

/// A store or read of the load run that failed.
#[derive(Debug, Clone)]
struct FailedOp {
    kind: &'static str,
    started: Instant,
    ended: Instant,
    error: String,
}

/// One outage of the chaos schedule: node `node` (holding `shards` shards) from just before
/// it was signalled (`down`) until it answered healthy again (`up`).
#[derive(Debug, Clone, Copy)]
struct Outage {
    node: usize,
    shards: usize,
    down: Instant,
    up: Instant,
}

/// The most shards down at any one moment of `schedule` (the sum over the outages that
/// contain the start of some outage: the maximum is reached at a start).
fn max_shards_down_at_once(schedule: &[Outage]) -> usize {
    schedule
        .iter()
        .map(|at| {
            schedule
                .iter()
                .filter(|outage| outage.down <= at.down && at.down < outage.up)
                .map(|outage| outage.shards)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// The shards of the distinct nodes that were down at some moment of `from..to` (an operation
/// can see more than `f` shards fail although at most `f` are down at any one moment: one
/// node goes down after another came back).
fn shards_down_during(schedule: &[Outage], from: Instant, to: Instant) -> usize {
    let mut nodes: Vec<(usize, usize)> = schedule
        .iter()
        .filter(|outage| outage.down < to && from < outage.up)
        .map(|outage| (outage.node, outage.shards))
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes.iter().map(|&(_, shards)| shards).sum()
}

/// `operation` with the deadline [`OP_TIMEOUT`]: its value, or why it failed.
async fn with_op_timeout<T, E: std::fmt::Display>(
    operation: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, operation).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// The blobs certified in the load run, with their bytes.
type Certified = Arc<Mutex<Vec<(BlobId, Arc<Vec<u8>>)>>>;

/// One client of the load run: stores and reads random blobs until `deadline`.
async fn load_client(
    sdk: WalrusSdk,
    seed: u64,
    deadline: Instant,
    counts: Arc<Counts>,
    certified: Certified,
) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    while Instant::now() < deadline {
        // Two reads (of any client's blobs) per store, once there is something to read.
        let known = {
            let certified = certified.lock().unwrap();
            (!certified.is_empty()).then(|| certified[rng.below(certified.len())].clone())
        };
        let op_started = Instant::now();
        if let Some((blob_id, data)) = known.filter(|_| rng.below(3) > 0) {
            match with_op_timeout(sdk.read(&blob_id, &NoProgress)).await {
                Ok(bytes) if bytes == *data => Counts::add(&counts.reads_ok),
                Ok(bytes) => {
                    eprintln!("WRONG read of {blob_id}: {} bytes", bytes.len());
                    Counts::add(&counts.wrong_reads);
                }
                Err(error) => counts.failed(
                    &counts.reads_failed,
                    "read",
                    op_started,
                    format!("read of {blob_id}: {error}"),
                ),
            }
        } else {
            let size = 1 + rng.below(256 << 10);
            let data = Arc::new(test_data(size, rng.next()));
            let store = sdk.store(data.to_vec(), StoreOptions::deletable(2), &NoProgress);
            match with_op_timeout(store).await {
                Ok(outcome) => {
                    Counts::add(&counts.stores_ok);
                    certified.lock().unwrap().push((outcome.blob_id(), data));
                }
                Err(error) => counts.failed(
                    &counts.stores_failed,
                    "store",
                    op_started,
                    format!("store of {size} bytes: {error}"),
                ),
            }
        }
    }
}

/// At most this share of the load run's stores may fail (each failure must also be explained
/// by the schedule: nodes holding more than `f` shards were down during that store).
const MAX_FAILED_STORE_RATIO: f64 = 0.1;

#[test]
fn bounded_load_with_node_restarts() {
    run(|| async {
        let started = Instant::now();
        let load_secs: u64 = std::env::var("E2E_LOAD_SECS")
            .ok()
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(60);
        let mut net = start_network().await;
        let counts = shard_counts(&net);
        assert!(counts.iter().all(|&shards| shards <= F), "{counts:?}");

        let mut clients = Vec::new();
        for seed in 0..4 {
            clients.push(net.funded_sdk(1_000 + seed).await.expect("a funded wallet"));
        }
        let stats = Arc::new(Counts::default());
        let certified = Arc::new(Mutex::new(Vec::new()));
        let load_started = Instant::now();
        let deadline = load_started + Duration::from_secs(load_secs);
        let tasks: Vec<_> = clients
            .into_iter()
            .zip(0u64..)
            .map(|(sdk, seed)| {
                tokio::spawn(load_client(
                    sdk,
                    seed + 1,
                    deadline,
                    stats.clone(),
                    certified.clone(),
                ))
            })
            .collect();

        // Chaos: one node at a time (at most f shards down), stopped or killed, paused,
        // started again. Every outage is recorded from just before the signal until the node
        // answered healthy again.
        let chaos_seed: u64 = std::env::var("E2E_CHAOS_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or(0xC4A0_5EED);
        println!("chaos seed {chaos_seed} (E2E_CHAOS_SEED)");
        let mut rng = Rng(chaos_seed | 1);
        let mut schedule: Vec<Outage> = Vec::new();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1_000 + 200 * (rng.next() % 10))).await;
            if Instant::now() >= deadline {
                break;
            }
            let i = rng.below(NODES);
            let down = Instant::now();
            let how = if rng.below(2) == 0 {
                net.network.kill_node(i).expect("kill");
                "killed"
            } else {
                tokio::time::timeout(Duration::from_secs(30), net.network.stop_node(i))
                    .await
                    .expect("the node stops in time")
                    .expect("stop");
                "stopped"
            };
            let pause = Duration::from_millis(500 + 250 * (rng.next() % 10));
            println!(
                "chaos at {:.1?}: node {i} ({} shards) {how}, down for {pause:?}",
                load_started.elapsed(),
                counts[i]
            );
            tokio::time::sleep(pause).await;
            tokio::time::timeout(Duration::from_secs(90), net.network.start_node(i))
                .await
                .expect("the node starts in time")
                .expect("the node starts again");
            schedule.push(Outage {
                node: i,
                shards: counts[i],
                down,
                up: Instant::now(),
            });
        }
        for task in tasks {
            tokio::time::timeout(OP_TIMEOUT * 2, task)
                .await
                .expect("the client stops in time")
                .expect("the client did not panic");
        }
        let load_time = load_started.elapsed();
        for i in 0..NODES {
            assert!(
                net.network.node_is_running(i),
                "node {i} exited under load:\n{}",
                net.node_log_tail(i, 40)
            );
        }

        // The schedule really kept at most f shards down at every moment.
        let restarts = schedule.len();
        assert!(restarts > 0, "no node was restarted");
        let max_down = max_shards_down_at_once(&schedule);
        println!("chaos: {restarts} outages, at most {max_down} shards down at once (f = {F})");
        assert!(
            max_down <= F,
            "the schedule had {max_down} shards down at once: {schedule:?}"
        );

        // Everything up: every certified blob reads back byte-exact, at the first attempt
        // (with every node up, even a node still recovering leaves at least 7 shards, more
        // than the 4 a read needs).
        let sdk = net.sdk().expect("an SDK client");
        let certified = certified.lock().unwrap().clone();
        for (blob_id, data) in &certified {
            let bytes = tokio::time::timeout(OP_TIMEOUT, sdk.read(blob_id, &NoProgress))
                .await
                .unwrap_or_else(|_| panic!("reading {blob_id} after the run timed out"))
                .unwrap_or_else(|error| panic!("reading {blob_id} after the run: {error}"));
            if bytes != **data {
                Counts::add(&stats.wrong_reads);
                panic!("{blob_id} reads back other bytes after the load run");
            }
        }

        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (stores_ok, stores_failed) = (get(&stats.stores_ok), get(&stats.stores_failed));
        let (reads_ok, reads_failed) = (get(&stats.reads_ok), get(&stats.reads_failed));
        let failures = stats.failures.lock().unwrap().clone();
        println!(
            "load run: {load_secs} s of load ({load_time:.1?}), 4 clients, {restarts} node \
             restarts: stores ok {stores_ok} failed {stores_failed}, reads ok {reads_ok} \
             failed {reads_failed}, wrong reads {}; {} certified blobs verified after the \
             run; test took {:.1?}",
            get(&stats.wrong_reads),
            certified.len(),
            started.elapsed()
        );
        for failure in &failures {
            println!(
                "  {} failed at {:.1?}..{:.1?} with {} shards down during it: {}",
                failure.kind,
                failure.started.duration_since(load_started),
                failure.ended.duration_since(load_started),
                shards_down_during(&schedule, failure.started, failure.ended),
                failure.error
            );
        }
        assert_eq!(get(&stats.wrong_reads), 0, "reads returned wrong bytes");
        // A read needs n - 2f shards: with at most f down at any moment (and at most f more
        // still recovering blobs stored while they were down), no read may fail.
        assert_eq!(
            reads_failed, 0,
            "reads failed with at most f shards down: {failures:#?}"
        );
        assert!(reads_ok > 0, "no read succeeded");
        assert!(stores_ok > 0, "no store succeeded");
        // A store needs n - f shards' confirmations: it can only fail if nodes holding more
        // than f shards were down during it (one after the other), and rarely.
        for failure in failures.iter().filter(|failure| failure.kind == "store") {
            let down = shards_down_during(&schedule, failure.started, failure.ended);
            assert!(
                down > F,
                "a store failed with only {down} shards down during it: {failure:?}"
            );
        }
        let attempts = stores_ok + stores_failed;
        assert!(
            stores_failed as f64 <= MAX_FAILED_STORE_RATIO * attempts as f64,
            "{stores_failed} of {attempts} stores failed (at most {:.0}% may)",
            MAX_FAILED_STORE_RATIO * 100.0
        );
    });
}
