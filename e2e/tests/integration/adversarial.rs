//! Hostile storage nodes against real processes (chain, 5 storage nodes, publisher,
//! aggregator, the `walrus` CLI). Byzantine nodes run the test-only `walrus-byzantine-node`
//! binary (see [`walrus_e2e::Faults`]): stored data stay honest, the answers lie.
//!
//! Shards: 7 (`f = 2`), stakes 2:1:1:2:1, hence 2, 1, 1, 2 and 1 shards. Nodes 0, 1 and 2 hold
//! `2f = 4` shards and lie; nodes 3 and 4 hold the `n - 2f = 3` shards a read needs, so every
//! read must use every honest node and reject every liar.
//!
//! 1. [`reads_survive_2f_lying_nodes`]: the liars cycle through the behaviours (flipped bytes,
//!    genuine slivers of other indices, another blob's data, inflated and oversize bodies,
//!    a node that never answers, one that trickles, slow answers, lying statuses and
//!    `BLOB_INVALID` errors, a mix);
//!    in each round a fresh blob is read through the aggregator (ranged and whole), the SDK
//!    (`read_range` and `read`) and the CLI: each read returns the exact bytes within
//!    [`READ_LIMIT`]. All failures of all rounds are listed at the end.
//! 2. [`wiped_honest_node_recovers_despite_liars`]: a wiped honest node recovers every sliver
//!    byte-exact while peers lie about metadata, slivers and statuses and one peer (`f - 1`
//!    shards, the most that can lie about symbols while the wiped node is faulty too) serves
//!    forged, inflated or no recovery symbols.
//! 3. [`invalid_blob_is_proven_despite_liars`]: a faulty writer's inconsistent encoding is
//!    still proven invalid on chain and read as invalid everywhere while the liars lie about
//!    statuses, metadata and slivers; an honest blob beside it still reads byte-exact.
//!
//! Behaviours switch without restarts (a byzantine node reads its faults file on every
//! request). Every test prints its duration and each round's.

use std::{
    future::Future,
    ops::Range,
    time::{Duration, Instant},
};

use reqwest::{header, StatusCode};
use walrus_core::{bft::max_n_faulty, encoding::EncodedBlob, BlobId};
use walrus_e2e::{
    encode, run, test_data, within, Faults, MetadataFault, SliverFault, StatusFault, SymbolsFault,
    TestNetwork, Timing,
};
use walrus_localnet::network::DEFAULT_STAKE;
use walrus_sdk::client::{NoProgress, StoreOptions, WalrusSdk};

/// Number of shards.
const N_SHARDS: u16 = 7;
/// Stakes (in units of the default stake) giving 2, 1, 1, 2 and 1 shards.
const STAKES: [u64; 5] = [2, 1, 1, 2, 1];
/// The lying nodes (`2f` shards).
const LIARS: [usize; 3] = [0, 1, 2];
/// The honest nodes (`n - 2f` shards).
const HONEST: [usize; 2] = [3, 4];
/// Bytes of each test blob (3 rows of 10 000 bytes).
const BLOB_LEN: usize = 30_000;
/// Deadline of every read, whatever the liars do.
const READ_LIMIT: Duration = Duration::from_secs(20);
/// A body larger than the node client's default response cap (64 MiB).
const OVERSIZE: u64 = 80_000_000;

/// Starts the network of every test, checks the shard split and makes an SDK client of its
/// wallet.
async fn start_network() -> (TestNetwork, WalrusSdk) {
    let stakes = STAKES.map(|share| share * DEFAULT_STAKE).to_vec();
    let net = TestNetwork::start_with(5, N_SHARDS, |options| {
        options.stakes = Some(stakes);
    })
    .await
    .expect("a network");
    let f = usize::from(max_n_faulty(N_SHARDS));
    assert_eq!(net.shards.weight(&LIARS), 2 * f, "the liars hold 2f shards");
    assert_eq!(net.shards.weight(&HONEST), usize::from(N_SHARDS) - 2 * f);
    assert_eq!(net.shards.weight(&[4]), 1);
    let sdk = net.sdk().expect("an SDK client");
    (net, sdk)
}

/// Stores `data` permanently with the SDK (deadline 60 s).
async fn sdk_store(sdk: &WalrusSdk, data: &[u8]) -> BlobId {
    within(
        "an SDK store",
        Duration::from_secs(60),
        sdk.store(data.to_vec(), StoreOptions::permanent(2), &NoProgress),
    )
    .await
    .expect("stored")
    .blob_id()
}

/// Sets the faults of the liars (`faults[k]` for node `LIARS[k]`).
async fn set_liars(net: &mut TestNetwork, faults: &[Faults; 3]) {
    for (&i, faults) in LIARS.iter().zip(faults) {
        net.set_faults(i, faults).await.expect("faults set");
    }
}

/// A range across the first row boundary.
fn cross_row_range(len: usize) -> Range<usize> {
    len / 3 - 1_000..len / 3 + 1_500
}

/// Runs `read` with the deadline [`READ_LIMIT`]: `Ok(true)` is the right bytes in time;
/// returns the failure as text (and prints successes).
async fn timed(what: &str, read: impl Future<Output = Result<bool, String>>) -> Option<String> {
    let started = Instant::now();
    let outcome = tokio::time::timeout(READ_LIMIT, read)
        .await
        .unwrap_or_else(|_| Err("no answer".to_owned()));
    let elapsed = started.elapsed();
    let failure = match outcome {
        Ok(true) if elapsed <= READ_LIMIT => None,
        Ok(true) => Some(format!("right bytes but took {elapsed:.1?}")),
        Ok(false) => Some("WRONG BYTES".to_owned()),
        Err(error) => Some(error),
    };
    match failure {
        Some(failure) => Some(format!("{what}: {failure} (after {elapsed:.1?})")),
        None => {
            println!("  {what}: ok in {elapsed:.1?}");
            None
        }
    }
}

/// `GET` of the aggregator, with a `Range` header if `range`; whether the body is `expected`.
async fn aggregator_read(
    url: &str,
    range: Option<&Range<usize>>,
    expected: &[u8],
) -> Result<bool, String> {
    let mut request = reqwest::Client::new().get(url);
    let mut wanted = StatusCode::OK;
    if let Some(range) = range {
        request = request.header(
            header::RANGE,
            format!("bytes={}-{}", range.start, range.end - 1),
        );
        wanted = StatusCode::PARTIAL_CONTENT;
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("no answer: {error}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|error| error.to_string())?;
    if status != wanted {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(body[..] == *expected)
}

/// Reads `blob_id` every way and checks each answer is `data` (the range reads: its slice),
/// within [`READ_LIMIT`]; returns the failures as text. Three lanes run at once (so that a
/// round of hanging reads costs one deadline per lane): the aggregator (ranged first, so the
/// whole blob is not cached yet, then whole), the SDK (`read_range`, then `read`) and the CLI.
async fn read_every_way(
    net: &TestNetwork,
    sdk: &WalrusSdk,
    blob_id: &BlobId,
    data: &[u8],
) -> Vec<String> {
    let range = cross_row_range(data.len());
    let expected_range = &data[range.clone()];
    let url = format!("{}/v1/blobs/{blob_id}", net.aggregator());
    let aggregator = async {
        let ranged = timed(
            "aggregator ranged read",
            aggregator_read(&url, Some(&range), expected_range),
        )
        .await;
        let whole = timed("aggregator read", aggregator_read(&url, None, data)).await;
        [ranged, whole]
    };
    let sdk_reads = async {
        let ranged = timed("SDK read_range", async {
            sdk.read_range(blob_id, range.start as u64..range.end as u64, &NoProgress)
                .await
                .map(|bytes| bytes == expected_range)
                .map_err(|error| format!("error: {error}"))
        })
        .await;
        let whole = timed("SDK read", async {
            sdk.read(blob_id, &NoProgress)
                .await
                .map(|bytes| bytes == data)
                .map_err(|error| format!("error: {error}"))
        })
        .await;
        [ranged, whole]
    };
    let out = net.scratch().join(format!("{blob_id}.out"));
    let cli_read = timed("CLI read", async {
        net.cli
            .read(&blob_id.to_string(), &out)
            .await
            .map(|bytes| bytes == data)
            .map_err(|error| format!("error: {error}"))
    });
    let (aggregator, sdk_reads, cli_read) = tokio::join!(aggregator, sdk_reads, cli_read);
    aggregator
        .into_iter()
        .chain(sdk_reads)
        .chain([cli_read])
        .flatten()
        .collect()
}

/// Checks that each liar with a data lie really lies about `blob_id` (no honest metadata,
/// no honest sliver), so that a round cannot pass with an accidentally honest node.
async fn assert_lying(net: &TestNetwork, faults: &[Faults; 3], encoded: &EncodedBlob) {
    let blob_id = encoded.metadata.blob_id();
    let honest_metadata = encoded.metadata.clone().into_unverified();
    for (&i, faults) in LIARS.iter().zip(faults) {
        if faults.timing.is_some() {
            continue;
        }
        let client = net.node_client(i);
        if faults.metadata.is_some() {
            let answer = within(
                "a liar's metadata",
                Duration::from_secs(10),
                client.get_metadata(blob_id),
            )
            .await;
            assert!(
                !matches!(answer, Ok(ref metadata) if *metadata == honest_metadata),
                "node {i} served honest metadata under {faults:?}"
            );
        }
        if faults.slivers.is_some() {
            let pair = net.shards.pairs_of(i, blob_id)[0];
            let answer = within(
                "a liar's sliver",
                Duration::from_secs(10),
                client.get_sliver::<walrus_core::encoding::Primary>(blob_id, pair),
            )
            .await;
            let honest = &encoded.sliver_pairs[usize::from(pair.0)].primary;
            assert!(
                !matches!(answer, Ok(ref sliver) if sliver == honest),
                "node {i} served its honest sliver under {faults:?}"
            );
        }
    }
}

/// Asserts that no `what` failed, listing every failure otherwise.
#[track_caller]
fn assert_no_failures(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} {what} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Faults that lie about blob statuses as `blob_status` says and about metadata and slivers
/// as given (`None`: honest).
fn status_liar(
    blob_status: StatusFault,
    metadata: Option<MetadataFault>,
    slivers: Option<SliverFault>,
) -> Faults {
    Faults {
        blob_status: Some(blob_status),
        metadata,
        slivers,
        ..Faults::default()
    }
}

/// The rounds of [`reads_survive_2f_lying_nodes`]: a name and the faults of each liar.
fn rounds() -> Vec<(&'static str, [Faults; 3])> {
    let all = |faults: Faults| [faults.clone(), faults.clone(), faults];
    let flipped = Faults {
        metadata: Some(MetadataFault::Corrupt),
        slivers: Some(SliverFault::FlipByte),
        recovery_symbols: Some(SymbolsFault::FlipByte),
        ..Faults::default()
    };
    vec![
        ("flipped bytes", all(flipped.clone())),
        (
            "genuine slivers of other indices",
            all(Faults {
                slivers: Some(SliverFault::OtherIndex),
                ..Faults::default()
            }),
        ),
        (
            "another blob's metadata, slivers and symbols",
            all(Faults {
                metadata: Some(MetadataFault::OtherBlob),
                slivers: Some(SliverFault::OtherBlob),
                recovery_symbols: Some(SymbolsFault::OtherBlob),
                ..Faults::default()
            }),
        ),
        (
            "inflated and oversize bodies",
            [
                Faults {
                    metadata: Some(MetadataFault::Inflated { entries: 4_000_000 }),
                    slivers: Some(SliverFault::HugeLength {
                        claimed: u64::from(u32::MAX),
                    }),
                    ..Faults::default()
                },
                Faults {
                    metadata: Some(MetadataFault::Oversize { bytes: OVERSIZE }),
                    slivers: Some(SliverFault::Oversize { bytes: OVERSIZE }),
                    ..Faults::default()
                },
                Faults {
                    // Below any bound on the hash count, so it decodes and must fail later.
                    metadata: Some(MetadataFault::Inflated { entries: 60_000 }),
                    slivers: Some(SliverFault::HugeLength { claimed: 1 << 40 }),
                    ..Faults::default()
                },
            ],
        ),
        (
            "a node that never answers",
            [
                Faults {
                    timing: Some(Timing::Hang),
                    ..Faults::default()
                },
                flipped.clone(),
                flipped.clone(),
            ],
        ),
        (
            "a node trickling its answers",
            [
                flipped.clone(),
                Faults {
                    slivers: Some(SliverFault::FlipByte),
                    timing: Some(Timing::Trickle { bytes_per_sec: 200 }),
                    ..Faults::default()
                },
                flipped.clone(),
            ],
        ),
        (
            "slow answers",
            all(Faults {
                metadata: Some(MetadataFault::Corrupt),
                slivers: Some(SliverFault::FlipByte),
                timing: Some(Timing::Delay { ms: 5_000 }),
                ..Faults::default()
            }),
        ),
        (
            "lying statuses and BLOB_INVALID errors",
            [
                status_liar(StatusFault::Invalid, None, None),
                status_liar(
                    StatusFault::Nonexistent,
                    Some(MetadataFault::Invalid),
                    Some(SliverFault::Invalid),
                ),
                status_liar(StatusFault::Invalid, None, Some(SliverFault::Invalid)),
            ],
        ),
        (
            "a mix",
            [
                Faults {
                    metadata: Some(MetadataFault::OtherBlob),
                    slivers: Some(SliverFault::OtherIndex),
                    blob_status: Some(StatusFault::Nonexistent),
                    ..Faults::default()
                },
                Faults {
                    metadata: Some(MetadataFault::Inflated { entries: 60_000 }),
                    slivers: Some(SliverFault::Oversize { bytes: OVERSIZE }),
                    timing: Some(Timing::Delay { ms: 1_000 }),
                    ..Faults::default()
                },
                Faults {
                    metadata: Some(MetadataFault::Corrupt),
                    slivers: Some(SliverFault::HugeLength {
                        claimed: u64::from(u32::MAX),
                    }),
                    blob_status: Some(StatusFault::Invalid),
                    ..Faults::default()
                },
            ],
        ),
    ]
}

/// Scenario 1: with `2f` shards' nodes lying in each of the ways, every read returns the
/// exact bytes within [`READ_LIMIT`].
#[test]
fn reads_survive_2f_lying_nodes() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let rounds = rounds();
        // One fresh blob per round (no cache hit at the aggregator), all of the same length
        // (another blob's slivers then have the asked blob's shape), stored while every node
        // is honest.
        let mut blobs = Vec::new();
        for seed in 0..rounds.len() as u64 {
            let data = test_data(BLOB_LEN, 200 + seed);
            let blob_id = sdk_store(&sdk, &data).await;
            blobs.push((blob_id, data));
        }
        let mut failures = Vec::new();
        for ((name, faults), (blob_id, data)) in rounds.iter().zip(&blobs) {
            println!("round: {name}");
            let started = Instant::now();
            set_liars(&mut net, faults).await;
            assert_lying(&net, faults, &encode(data, N_SHARDS)).await;
            for failure in read_every_way(&net, &sdk, blob_id, data).await {
                failures.push(format!("[{name}] {failure}"));
            }
            println!("round {name} took {:.1?}", started.elapsed());
        }
        assert_no_failures("reads", &failures);
        for &i in &LIARS {
            assert!(
                net.network.node_is_running(i),
                "liar {i} exited:\n{}",
                net.node_log_tail(i, 20)
            );
        }
    });
}

/// Scenario 2: a wiped honest node recovers every sliver byte-exact within a deadline, while
/// the liars lie about everything but (except one 1-shard node) the recovery symbols.
#[test]
fn wiped_honest_node_recovers_despite_liars() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let mut blobs = Vec::new();
        for (len, seed) in [(BLOB_LEN, 301u64), (BLOB_LEN, 302), (1, 303)] {
            let data = test_data(len, seed);
            sdk_store(&sdk, &data).await;
            blobs.push(encode(&data, N_SHARDS));
        }
        // Node 4 (1 shard) is wiped: with it, node 1 (1 shard) is all that may lie about
        // symbols (f = 2): the other n - f = 5 shards' symbols rebuild its primary sliver.
        let wiped = 4;
        let others = |symbols: Faults| -> [Faults; 3] {
            [
                Faults {
                    metadata: Some(MetadataFault::Inflated { entries: 60_000 }),
                    slivers: Some(SliverFault::OtherIndex),
                    blob_status: Some(StatusFault::Invalid),
                    ..Faults::default()
                },
                symbols,
                Faults {
                    metadata: Some(MetadataFault::OtherBlob),
                    slivers: Some(SliverFault::FlipByte),
                    blob_status: Some(StatusFault::Nonexistent),
                    timing: Some(Timing::Delay { ms: 500 }),
                    ..Faults::default()
                },
            ]
        };
        let rounds = [
            (
                "forged symbols for every index, answered fast",
                others(Faults {
                    metadata: Some(MetadataFault::Corrupt),
                    recovery_symbols: Some(SymbolsFault::Forged),
                    ..Faults::default()
                }),
            ),
            (
                "inflated symbol lists",
                others(Faults {
                    metadata: Some(MetadataFault::OtherBlob),
                    recovery_symbols: Some(SymbolsFault::Inflated {
                        symbols: 20_000,
                        proof_nodes: 30,
                    }),
                    ..Faults::default()
                }),
            ),
            (
                "no answer at all",
                others(Faults {
                    timing: Some(Timing::Hang),
                    ..Faults::default()
                }),
            ),
        ];
        let mut failures = Vec::new();
        for (name, faults) in &rounds {
            println!("round: {name}");
            set_liars(&mut net, faults).await;
            let started = Instant::now();
            net.network.wipe_node(wiped).await.expect("wiped");
            net.network.start_node(wiped).await.expect("started");
            let outcome = net
                .wait_node_slivers(wiped, &blobs, Duration::from_secs(60))
                .await;
            println!("round {name} took {:.1?}", started.elapsed());
            if let Err(error) = outcome {
                failures.push(format!("[{name}] {error}"));
            }
        }
        assert_no_failures("recoveries", &failures);
    });
}

/// Scenario 3: the invalid-blob path with liars: the holder of a faulty writer's doctored
/// sliver proves the encoding inconsistent, the chain marks the blob invalid, and every
/// reader answers invalid, while the liars claim `nonexistent` / `invalid` statuses, serve
/// `BLOB_INVALID` for valid blobs and other blobs' data; an honest blob still reads exactly.
#[test]
fn invalid_blob_is_proven_despite_liars() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let honest_data = test_data(BLOB_LEN, 401);
        let honest = sdk_store(&sdk, &honest_data).await;
        // Symbols stay honest: the holder of the doctored sliver must rebuild it from n - f
        // shards' symbols.
        let faults = [
            status_liar(
                StatusFault::Nonexistent,
                Some(MetadataFault::OtherBlob),
                None,
            ),
            status_liar(
                StatusFault::Invalid,
                Some(MetadataFault::Invalid),
                Some(SliverFault::Invalid),
            ),
            status_liar(
                StatusFault::Nonexistent,
                None,
                Some(SliverFault::OtherIndex),
            ),
        ];
        set_liars(&mut net, &faults).await;

        let (blob_id, skipped) = net
            .store_inconsistent_blob(&sdk, test_data(BLOB_LEN, 402))
            .await;
        net.network.start_node(skipped).await.expect("restarted");

        // The honest nodes (whose statuses are the truth here) report it invalid.
        for &i in &HONEST {
            net.wait_invalid(i, &blob_id, Duration::from_secs(60))
                .await
                .unwrap_or_else(|error| {
                    panic!(
                        "{error}\nlog of node {skipped}:\n{}",
                        net.node_log_tail(skipped, 40)
                    )
                });
        }

        // Readers: aggregator 410 BLOB_INVALID, CLI and SDK errors naming it invalid, in time.
        let started = Instant::now();
        net.assert_reads_invalid(&sdk, &blob_id, READ_LIMIT).await;
        println!(
            "the invalid blob read as invalid everywhere in {:.1?}",
            started.elapsed()
        );

        // The honest blob reads exactly although liars call it invalid.
        let failures = read_every_way(&net, &sdk, &honest, &honest_data).await;
        assert_no_failures("reads of the honest blob", &failures);
    });
}
