//! Fault tolerance, integrity part: real processes (chain, storage nodes, publisher,
//! aggregator, the `walrus` CLI), each scenario on its own network.
//!
//! - Byzantine nodes (the node's test-only `[faults]` section) serve corrupted slivers and
//!   metadata; readers detect and reject them, also when the honest nodes left hold exactly
//!   the `n - 2f` shards a read needs.
//! - A faulty writer's inconsistent encoding is proven invalid on chain by the node that
//!   recovers the doctored sliver; every reader then answers invalid and the nodes free it.
//! - Crashes: a wiped node recovers every sliver of its shards byte-exact; a node killed with
//!   SIGKILL while an upload to it is provably in flight (half its body sent, no answer) loses
//!   no certified blob, keeps exactly what it acknowledged and recovers the rest; a chain
//!   restart in the middle of stores, with one node down across it, applies every event exactly
//!   once on every node (counts and cursors against the chain's own event history, per-blob
//!   state against the chain's events, the replay to the lagging node proven).
//!
//! Shards: 10, so `f = 3`, a read needs `n - 2f = 4` primary slivers and a certificate
//! `n - f = 7` shards. Every test prints its duration.

use std::time::Duration;

use reqwest::StatusCode;
use walrus_chain::contract::{events::Event, sui::U256};
use walrus_core::{
    bft::max_n_faulty,
    encoding::{EncodedBlob, EncodingConfig, Primary},
    BlobId, SliverPairIndex,
};
use walrus_e2e::{
    encode, inconsistent_encoding, poll, run, test_data, within, write_file, ProtocolClient,
    TestNetwork,
};
use walrus_localnet::network::DEFAULT_STAKE;
use walrus_node_client::api::{
    BlobStatus, DeletableCounts, EventCursor, EventId, StoredOnNodeStatus, TransactionDigest,
    METADATA_ENDPOINT, SLIVER_ENDPOINT,
};
use walrus_sdk::client::{NoProgress, SdkError, StoreOptions, WalrusSdk};

const N_SHARDS: u16 = 10;
/// Deadline of a node's recovery of its slivers.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts a network of 4 nodes with equal stakes and an SDK client of its wallet.
async fn start_network() -> (TestNetwork, WalrusSdk) {
    let net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
    let sdk = net.sdk().expect("an SDK client");
    (net, sdk)
}

/// Reads `blob_id` through the aggregator, the CLI and the SDK; each must return `data`.
async fn read_everywhere(net: &TestNetwork, sdk: &WalrusSdk, blob_id: &BlobId, data: &[u8]) {
    let response = net.aggregate(&format!("/v1/blobs/{blob_id}"), &[]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "aggregator read of {blob_id}"
    );
    let body = response.bytes().await.expect("a body");
    assert!(body[..] == data[..], "the aggregator returned other bytes");

    let out = net.scratch().join(format!("{blob_id}.out"));
    let read = net
        .cli
        .read(&blob_id.to_string(), &out)
        .await
        .expect("the CLI reads");
    assert!(read == data, "the CLI returned other bytes");

    assert_sdk_read(sdk, blob_id, data).await;
}

/// Reads `blob_id` with the SDK (deadline 30 s); it must return `data`.
async fn assert_sdk_read(sdk: &WalrusSdk, blob_id: &BlobId, data: &[u8]) {
    let read = within(
        "an SDK read",
        Duration::from_secs(30),
        sdk.read(blob_id, &NoProgress),
    )
    .await
    .expect("a certified blob reads");
    assert!(read == data, "blob {blob_id} read back differs");
}

/// Stores `data` permanently with the SDK (deadline 60 s).
async fn sdk_store(sdk: &WalrusSdk, data: &[u8]) -> Result<BlobId, SdkError> {
    within(
        "an SDK store",
        Duration::from_secs(60),
        sdk.store(data.to_vec(), StoreOptions::permanent(2), &NoProgress),
    )
    .await
    .map(|outcome| outcome.blob_id())
}

/// Waits until every node reports `blob_id` certified permanent.
async fn await_certified_everywhere(net: &TestNetwork, blob_id: &BlobId) {
    for i in 0..net.network.n_nodes() {
        net.wait_certified(i, blob_id, Duration::from_secs(30))
            .await;
    }
}

/// Successful GETs of `route` that node `i` answered so far.
async fn served(net: &TestNetwork, i: usize, route: &str) -> f64 {
    net.node_metric(
        i,
        "walrus_node_request_seconds_count",
        &[&format!("route=\"{route}\""), "status=\"2xx\""],
    )
    .await
    .expect("the node's metrics")
}

/// Scenario 4: byzantine nodes (≤ f shards) serve corrupted slivers and metadata; reads
/// through the aggregator, the CLI and the SDK return the exact bytes, also when honest
/// nodes hold only the `n - 2f` shards a read needs, so that the byzantine nodes are asked.
#[test]
fn byzantine_nodes_cannot_corrupt_reads() {
    run(|| async {
        // Stakes 1:2:3:2:2 give shards 1, 2, 3, 2, 2: nodes 0 and 1 together hold f = 3.
        let stakes = [1, 2, 3, 2, 2].map(|share| share * DEFAULT_STAKE).to_vec();
        let mut net = TestNetwork::start_with(5, N_SHARDS, |options| {
            options.stakes = Some(stakes);
        })
        .await
        .expect("a network");
        let f = usize::from(max_n_faulty(N_SHARDS));
        let byzantine = [0usize, 1];
        assert!(
            net.shards.weight(&byzantine) <= f,
            "the byzantine nodes hold more than f shards"
        );
        // Node 0 also corrupts the recovery symbols it serves (used below by a recovering
        // node; node 1 serves honest symbols so that the recovering node, which is faulty
        // itself while it has lost its data, still finds n - f honest symbols).
        for &i in &byzantine {
            net.make_byzantine(i, i == 0).await.expect("restarted");
            let log = std::fs::read_to_string(net.network.dir().node_log(i)).unwrap_or_default();
            assert!(
                log.contains("TEST-ONLY FAULT INJECTION ENABLED"),
                "no warning in node {i}'s log"
            );
        }

        // Stores through the publisher, the CLI and the SDK (the byzantine nodes store and
        // confirm honestly; they only lie when serving).
        let sdk = net.sdk().expect("an SDK client");
        let mut blobs: Vec<(BlobId, Vec<u8>)> = Vec::new();
        let data = test_data(120_000, 41);
        let (status, answer) = net.publish("epochs=2", data.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let id = answer["newlyCreated"]["blobObject"]["blobId"]
            .as_str()
            .unwrap_or_else(|| panic!("no blob ID in {answer}"));
        blobs.push((id.parse().expect("a blob ID"), data));
        let data = test_data(300_000, 42);
        let file = write_file(&net.scratch(), "in.bin", &data).unwrap();
        let stored = net.cli.store(&file, 2).await.expect("the CLI stores");
        let id = stored["blobId"].as_str().expect("a blob ID");
        blobs.push((id.parse().expect("a blob ID"), data));
        let data = test_data(1, 43);
        blobs.push((sdk_store(&sdk, &data).await.expect("stored"), data));

        // The byzantine nodes really lie: metadata and slivers they serve do not verify.
        let config = EncodingConfig::new(N_SHARDS).unwrap();
        for (blob_id, data) in &blobs {
            let honest = encode(data, N_SHARDS);
            assert_eq!(honest.metadata.blob_id(), blob_id);
            for &i in &byzantine {
                let client = net.node_client(i);
                let metadata = client.get_metadata(blob_id).await.expect("metadata");
                assert!(
                    metadata.verify(&config).is_err(),
                    "node {i} served valid metadata"
                );
                let pair = net.shards.pairs_of(i, blob_id)[0];
                let sliver = client
                    .get_sliver::<Primary>(blob_id, pair)
                    .await
                    .expect("a sliver");
                assert_ne!(sliver, honest.sliver_pairs[usize::from(pair.0)].primary);
                assert!(sliver.verify(&honest.metadata).is_err());
            }
            // ... while they store the honest data (only the serving edge lies).
            for &i in &byzantine {
                let client = net.node_client(i);
                let pair = net.shards.pairs_of(i, blob_id)[0];
                let status = client
                    .get_sliver_status(blob_id, pair, walrus_core::SliverType::Primary)
                    .await
                    .expect("a status");
                assert_eq!(status, StoredOnNodeStatus::Stored);
            }
        }

        // All nodes up: reads return the exact bytes.
        for (blob_id, data) in &blobs {
            read_everywhere(&net, &sdk, blob_id, data).await;
        }

        // Stop the 3-shard honest node: honest nodes now hold exactly n - 2f = 4 shards, so
        // reads must ask the byzantine nodes, reject their slivers and still succeed.
        net.network.stop_node(2).await.expect("stopped");
        let honest_up = [3usize, 4];
        assert_eq!(
            net.shards.weight(&honest_up),
            usize::from(N_SHARDS) - 2 * f,
            "honest nodes up hold n - 2f shards"
        );
        let mut asked_before = 0.0;
        for &i in &byzantine {
            asked_before += served(&net, i, SLIVER_ENDPOINT).await;
            asked_before += served(&net, i, METADATA_ENDPOINT).await;
        }
        for (blob_id, data) in &blobs {
            read_everywhere(&net, &sdk, blob_id, data).await;
        }
        let mut asked_after = 0.0;
        for &i in &byzantine {
            asked_after += served(&net, i, SLIVER_ENDPOINT).await;
            asked_after += served(&net, i, METADATA_ENDPOINT).await;
        }
        assert!(
            asked_after > asked_before,
            "the byzantine nodes were never asked during the reads"
        );
        println!(
            "byzantine nodes answered {} corrupted GETs during the degraded reads",
            asked_after - asked_before
        );

        // A wiped honest node recovers its slivers byte-exact although peers serve it
        // corrupted metadata (nodes 0 and 1) and corrupted recovery symbols (node 0).
        net.network.start_node(2).await.expect("restarted");
        let wiped = 4;
        net.network.wipe_node(wiped).await.expect("wiped");
        net.network.start_node(wiped).await.expect("started");
        let encodings: Vec<EncodedBlob> = blobs
            .iter()
            .map(|(_, data)| encode(data, N_SHARDS))
            .collect();
        net.wait_node_slivers(wiped, &encodings, RECOVERY_TIMEOUT)
            .await
            .unwrap();
    });
}

/// Scenario 5: a faulty writer stores an inconsistent encoding while the holder of the doctored
/// sliver's pair is down; restarted, it recovers, finds the inconsistency, gathers `f + 1`
/// attestations and the chain marks the blob invalid; readers then answer invalid and every
/// node frees the data. An honest blob stored alongside stays readable.
#[test]
fn inconsistent_encoding_is_proven_invalid_and_freed() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let honest_data = test_data(40_000, 51);
        let honest = sdk_store(&sdk, &honest_data).await.expect("stored");

        // Pair 0's primary sliver is doctored. Its holder is the node that must recover it
        // (from the honest secondary slivers) and so finds the mismatch deterministically;
        // any single node holds at most 3 shards, so the others certify without it.
        let (blob_id, skipped) = net
            .store_inconsistent_blob(&sdk, test_data(30_000, 52))
            .await;
        let others: Vec<usize> = (0..4).filter(|&i| i != skipped).collect();
        let mut stored_before = Vec::new();
        for &i in &others {
            stored_before.push(
                net.node_metric(i, "walrus_node_stored_bytes", &[])
                    .await
                    .unwrap(),
            );
        }
        net.network.start_node(skipped).await.expect("restarted");

        // The chain marks it invalid (the SDK's status is what the nodes report).
        poll(
            "the blob to be certified invalid",
            Duration::from_secs(60),
            || async {
                match sdk.status(&blob_id).await {
                    Ok(BlobStatus::Invalid { .. }) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await
        .unwrap_or_else(|error| {
            panic!(
                "{error}\nlog of node {skipped}:\n{}",
                net.node_log_tail(skipped, 60)
            )
        });
        let inconsistent = net.node_recoveries(skipped, "inconsistent").await;
        assert!(inconsistent >= 1.0, "node {skipped} found no inconsistency");

        // Every node answers invalid and serves nothing of it.
        for i in 0..4 {
            net.wait_invalid(i, &blob_id, Duration::from_secs(20))
                .await
                .unwrap();
        }
        // ... and the space is freed.
        for (index, &i) in others.iter().enumerate() {
            let now = net
                .node_metric(i, "walrus_node_stored_bytes", &[])
                .await
                .unwrap();
            assert!(
                now < stored_before[index],
                "node {i} still stores {now} bytes (had {})",
                stored_before[index]
            );
        }

        // Readers: aggregator 410 BLOB_INVALID, CLI and SDK errors naming it invalid.
        net.assert_reads_invalid(&sdk, &blob_id, Duration::from_secs(30))
            .await;

        // A writer storing the same encoding again is refused before any transaction, as
        // Walrus's `markedInvalid` (no gas spent, the event the nodes report).
        let chain = sdk.chain();
        let sui_before = chain.sui_balance_of(chain.address()).await.unwrap();
        let again = inconsistent_encoding(test_data(30_000, 52), N_SHARDS, SliverPairIndex(0));
        assert_eq!(*again.metadata.blob_id(), blob_id);
        match sdk
            .store_encoded(again, StoreOptions::permanent(2), &NoProgress)
            .await
        {
            Err(SdkError::MarkedInvalid {
                blob_id: refused,
                event,
            }) => {
                assert_eq!(refused, blob_id);
                assert_eq!(
                    sdk.status(&blob_id).await.unwrap(),
                    BlobStatus::Invalid { event }
                );
            }
            other => panic!("storing a blob marked invalid: {other:?}"),
        }
        assert_eq!(
            chain.sui_balance_of(chain.address()).await.unwrap(),
            sui_before,
            "a transaction was sent for a blob marked invalid"
        );

        // The honest blob is untouched.
        read_everywhere(&net, &sdk, &honest, &honest_data).await;
    });
}

/// Scenario 6a: a wiped node (database deleted) started again replays the chain's events and
/// recovers every sliver of its shards from its peers, byte-exact.
#[test]
fn wiped_node_recovers_every_sliver() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let mut blobs = Vec::new();
        for (len, seed) in [(200_000usize, 61u64), (1, 62), (50_000, 63)] {
            let data = test_data(len, seed);
            sdk_store(&sdk, &data).await.expect("stored");
            blobs.push(encode(&data, N_SHARDS));
        }
        let wiped = 1;
        for encoded in &blobs {
            net.check_node_slivers(wiped, encoded)
                .await
                .expect("the node holds its slivers before the wipe");
        }
        net.network.wipe_node(wiped).await.expect("wiped");
        net.network.start_node(wiped).await.expect("started");
        net.wait_node_slivers(wiped, &blobs, RECOVERY_TIMEOUT)
            .await
            .unwrap();
        let recovered = net.node_recoveries(wiped, "ok").await;
        println!("node {wiped} recovered {recovered} blobs");
    });
}

/// Scenario 6b: a node killed with SIGKILL in the middle of uploads.
///
/// The upload in flight is made certain, not left to timing: the test uploads blob S to the
/// node itself, which acknowledges S's metadata and one primary sliver, and then sends only
/// half of the body of S's next sliver; the node is killed while that request waits for the
/// rest of its body (no answer came, and the connection then breaks without one). The SDK's
/// stores of six other blobs run meanwhile. Then: every blob the SDK reported certified is
/// readable; the node, restarted, holds exactly what it acknowledged of S (metadata and the
/// primary sliver, byte-exact) and nothing of the half-sent sliver or the rest (its store is
/// consistent: an unacknowledged upload left no trace); once S is certified with the other
/// nodes' confirmations, the node recovers the rest of S and all its slivers of the other
/// blobs, byte-exact, and S reads back through the aggregator, the CLI and the SDK.
#[test]
fn sigkilled_node_during_uploads_loses_no_certified_blob() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let writer = ProtocolClient::new(&net).await.expect("a protocol client");
        let killed = 2;
        let f = usize::from(max_n_faulty(N_SHARDS));
        assert!(net.shards.weight(&[killed]) <= f);

        // Blob S, registered on chain (before the SDK's stores: one wallet, one transaction
        // at a time).
        let s_data = test_data(400_000, 69);
        let s = encode(&s_data, N_SHARDS);
        let s_id = *s.metadata.blob_id();
        let s_object = writer.register(&s, 2).await;
        writer.wait_registered(killed, &s_id).await;

        let (first_done, mut first_done_rx) = tokio::sync::mpsc::channel::<()>(8);
        let uploads = tokio::spawn({
            let sdk = sdk.clone();
            async move {
                let mut results = Vec::new();
                for seed in 0..6u64 {
                    let data =
                        test_data(150_000 + 1_000 * usize::try_from(seed).unwrap(), 70 + seed);
                    let result = sdk_store(&sdk, &data).await;
                    results.push((data, result));
                    let _ = first_done.try_send(());
                }
                results
            }
        });
        within(
            "the first store",
            Duration::from_secs(60),
            first_done_rx.recv(),
        )
        .await;

        // The node acknowledges part of S, then one upload of S stays in the middle of its
        // body.
        let mut stuck = writer.start_stuck_upload(killed, &s).await;
        stuck.assert_unanswered(Duration::from_millis(300)).await;
        net.network.kill_node(killed).expect("killed");
        println!(
            "node {killed} killed (SIGKILL) with an upload of {} of {} bytes in flight, during \
             the SDK's second store",
            stuck.body_len / 2,
            stuck.body_len
        );
        stuck.assert_broken_unanswered().await;

        let results = within("the uploads", Duration::from_secs(120), uploads)
            .await
            .expect("the upload task");
        let mut certified = Vec::new();
        for (data, result) in results {
            match result {
                Ok(blob_id) => certified.push((blob_id, data)),
                Err(error) => println!("a store failed (allowed; not certified): {error}"),
            }
        }
        assert!(
            certified.len() >= 5,
            "{} of 6 stores certified with one node down",
            certified.len()
        );
        for (blob_id, data) in &certified {
            assert_sdk_read(&sdk, blob_id, data).await;
        }

        // Restarted, the node holds exactly what it acknowledged of S (S is not certified:
        // nothing is recovered yet).
        net.network.start_node(killed).await.expect("restarted");
        let pairs = net.shards.pairs_of(killed, &s_id);
        stuck
            .assert_only_acknowledged_kept(writer.node(killed), &pairs, &s)
            .await;
        println!(
            "after the restart node {killed} holds S's metadata and 1 of its {} slivers",
            2 * pairs.len()
        );

        // S certified without the killed node: it recovers the rest, byte-exact.
        let others: Vec<usize> = (0..net.network.n_nodes())
            .filter(|&i| i != killed)
            .collect();
        writer.upload(&s, &others).await;
        let certificate = writer.certificate(&s_id, &others).await;
        writer.certify(s_object.id, &certificate).await;
        let mut encoded: Vec<EncodedBlob> = certified
            .iter()
            .map(|(_, data)| encode(data, N_SHARDS))
            .collect();
        encoded.push(s);
        net.wait_node_slivers(killed, &encoded, RECOVERY_TIMEOUT)
            .await
            .unwrap();
        read_everywhere(&net, &sdk, &s_id, &s_data).await;
    });
}

/// Every `walrus` event the chain emitted so far, from the beginning, up to and including
/// `head` (which must be one of them); then checks that no event follows within 2 s.
async fn chain_events(sdk: &WalrusSdk, head: EventCursor) -> Vec<(EventCursor, EventId, Event)> {
    let mut stream = sdk.chain().event_stream(None);
    let mut events = Vec::new();
    within(
        "reading the chain's events",
        Duration::from_secs(60),
        async {
            loop {
                let event = stream.next().await.expect("the chain's event stream");
                let cursor = EventCursor {
                    checkpoint: event.cursor.checkpoint,
                    event_index: event.cursor.event_index,
                };
                assert!(
                    cursor <= head,
                    "the chain has an event {cursor:?} after {head:?}"
                );
                let id = EventId {
                    tx_digest: TransactionDigest(event.tx_digest.into_inner()),
                    event_seq: event.event_seq,
                };
                events.push((cursor, id, event.event));
                if cursor == head {
                    return;
                }
            }
        },
    )
    .await;
    if let Ok(next) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
        panic!("the chain emitted an event after every node's last one: {next:?}");
    }
    events
}

/// What the chain's `events` say a node must report for `blob_id`: the deletable objects
/// registered and certified (none deleted in these tests) and, for a certified permanent
/// object, the event that certified it.
fn expected_status(
    events: &[(EventCursor, EventId, Event)],
    blob_id: &BlobId,
) -> (DeletableCounts, Option<EventId>) {
    let id = U256::from(*blob_id);
    let mut counts = DeletableCounts {
        count_deletable_total: 0,
        count_deletable_certified: 0,
    };
    let mut permanent = None;
    for (_, event_id, event) in events {
        match event {
            Event::BlobRegistered(event) if event.blob_id == id && event.deletable => {
                counts.count_deletable_total += 1;
            }
            Event::BlobCertified(event) if event.blob_id == id && event.deletable => {
                counts.count_deletable_certified += 1;
            }
            Event::BlobCertified(event) if event.blob_id == id => {
                assert!(
                    permanent.is_none(),
                    "one permanent certification per blob here"
                );
                permanent = Some(*event_id);
            }
            Event::BlobDeleted(event) if event.blob_id == id => {
                panic!("no blob is deleted in this test")
            }
            _ => {}
        }
    }
    (counts, permanent)
}

/// The number of lines of node `i`'s log that contain `text`.
fn log_lines(net: &TestNetwork, i: usize, text: &str) -> usize {
    std::fs::read_to_string(net.network.dir().node_log(i))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(text))
        .count()
}

/// What a node logs when its event stream breaks and it resumes from its stored cursor.
const RESUBSCRIBING: &str = "event stream failed; resubscribing";

/// Scenario 6c: the chain is killed and restarted in the middle of stores, while one node is
/// down. Proven, not only that the nodes agree:
///
/// - the replay happened: the node that was down when the chain came back was behind the
///   chain's head by the events of the stores made while it was down (at least the first
///   store's registration and certification) and applied exactly those from the restarted
///   chain; the nodes that stayed up lost their event stream with the chain (their log says
///   so) and resumed it from their stored cursors;
/// - every event was applied exactly once: each node's cursor is the chain's last `walrus`
///   event and its durable count of applied events equals the number of events the chain
///   emitted (read from the beginning, after the restart); the in-memory counter of a node
///   that never restarted agrees, and the restarted node's counter equals the events after its
///   stored cursor; the history before the kill is unchanged (each node's count at the kill
///   equals the chain's events up to its cursor at the kill);
/// - per blob, every node reports what the chain's events say: the deletable objects
///   registered and certified (stores that failed during the restart and were retried left
///   extra registrations) and, for permanent blobs, the certifying event.
#[test]
fn chain_restart_during_stores_loses_no_event() {
    run(|| async {
        let (mut net, sdk) = start_network().await;
        let n_nodes = net.network.n_nodes();
        let before_data = test_data(80_000, 81);
        let before = sdk_store(&sdk, &before_data).await.expect("stored");
        await_certified_everywhere(&net, &before).await;

        // A node with at most f shards is down from now until the chain is back: the stores
        // certify without it, and it must catch up from the restarted chain.
        let lagging = 3;
        let f = usize::from(max_n_faulty(N_SHARDS));
        assert!(net.shards.weight(&[lagging]) <= f);
        let lagging_before = net
            .network
            .node_health(lagging)
            .await
            .expect("health")
            .event_progress;
        net.network.stop_node(lagging).await.expect("stopped");
        let online: Vec<usize> = (0..n_nodes).filter(|&i| i != lagging).collect();

        // Deletable stores one after the other; a store that fails while the chain is down is
        // retried (a new registration) until it certifies, so the sequence spans the restart.
        let (first_done, mut first_done_rx) = tokio::sync::mpsc::channel::<()>(8);
        let stores = tokio::spawn({
            let sdk = sdk.clone();
            async move {
                let mut certified = Vec::new();
                let mut failures = 0usize;
                for seed in 0..4u64 {
                    let data = test_data(60_000, 90 + seed);
                    let blob_id = loop {
                        let store =
                            sdk.store(data.clone(), StoreOptions::deletable(2), &NoProgress);
                        match within("an SDK store", Duration::from_secs(60), store).await {
                            Ok(outcome) => break outcome.blob_id(),
                            Err(error) => {
                                failures += 1;
                                println!("a store during the restart failed (retried): {error}");
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                        }
                    };
                    certified.push((blob_id, data));
                    let _ = first_done.try_send(());
                }
                (certified, failures)
            }
        });
        within(
            "the first store",
            Duration::from_secs(60),
            first_done_rx.recv(),
        )
        .await;
        // The first store certified while `lagging` was down: its events (registration and
        // certification) are on the chain, after `lagging`'s cursor. The store returns when its
        // certification executed; wait until the nodes up applied both events (they arrive
        // with the next checkpoint), so that the chain is killed after them.
        poll(
            "the nodes up to apply the first store's events",
            Duration::from_secs(30),
            || async {
                for &i in &online {
                    let processed = net
                        .network
                        .node_health(i)
                        .await
                        .map_err(|error| error.to_string())?
                        .event_progress
                        .events_processed;
                    if processed < lagging_before.events_processed + 2 {
                        return Err(format!("node {i} applied {processed} events"));
                    }
                }
                Ok(())
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        let mut at_kill = Vec::new();
        for &i in &online {
            let health = net.network.node_health(i).await.expect("health");
            at_kill.push((i, health.event_progress, log_lines(&net, i, RESUBSCRIBING)));
        }
        within(
            "the chain restart",
            Duration::from_secs(60),
            net.network.restart_chain(),
        )
        .await
        .expect("the chain restarts");
        net.network.start_node(lagging).await.expect("restarted");
        let (during, failures) = within("the stores", Duration::from_secs(120), stores)
            .await
            .expect("the store task");
        println!("{failures} store attempts failed while the chain restarted");

        // Stores after the restart certify (registration and certification events reach
        // the nodes: they accept the uploads and sign).
        let mut permanent = vec![(before, before_data)];
        for seed in 0..2u64 {
            let data = test_data(70_000, 100 + seed);
            let blob_id = sdk_store(&sdk, &data)
                .await
                .expect("a store after the chain restart");
            permanent.push((blob_id, data));
        }
        for (blob_id, _) in &permanent {
            await_certified_everywhere(&net, blob_id).await;
        }
        for (blob_id, data) in permanent.iter().chain(&during) {
            assert_sdk_read(&sdk, blob_id, data).await;
        }
        println!(
            "{} blobs certified across the chain restart",
            permanent.len() + during.len()
        );

        // The nodes settle on one last event: the chain's last `walrus` event.
        let head = poll(
            "the nodes to reach the same last event",
            Duration::from_secs(30),
            || async {
                let mut cursors = Vec::new();
                for i in 0..n_nodes {
                    let health = net
                        .network
                        .node_health(i)
                        .await
                        .map_err(|error| error.to_string())?;
                    cursors.push(health.event_progress.last_cursor);
                }
                match cursors[0] {
                    Some(head) if cursors.iter().all(|cursor| *cursor == Some(head)) => Ok(head),
                    _ => Err(format!("{cursors:?}")),
                }
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        let events = chain_events(&sdk, head).await;
        let count_up_to = |cursor: Option<EventCursor>| {
            events
                .iter()
                .filter(|(at, _, _)| Some(*at) <= cursor)
                .count() as u64
        };
        println!(
            "the chain emitted {} walrus events, the last at {head:?}",
            events.len()
        );

        // Exactly once: each node applied every event of the chain, none twice.
        for i in 0..n_nodes {
            let progress = net
                .network
                .node_health(i)
                .await
                .expect("health")
                .event_progress;
            assert_eq!(progress.last_cursor, Some(head), "node {i}");
            assert_eq!(
                progress.events_processed,
                events.len() as u64,
                "node {i} applied {} events, the chain emitted {}",
                progress.events_processed,
                events.len()
            );
            let applied_here = net
                .node_metric(i, "walrus_node_events_processed_total", &[])
                .await
                .expect("metrics");
            let expected_here = if i == lagging {
                events.len() as u64 - lagging_before.events_processed
            } else {
                events.len() as u64
            };
            assert_eq!(
                applied_here, expected_here as f64,
                "node {i}'s process applied {applied_here} events"
            );
        }
        // ... and the history before the kill is what the nodes had applied then.
        assert_eq!(
            count_up_to(lagging_before.last_cursor),
            lagging_before.events_processed
        );
        for (i, progress, _) in &at_kill {
            assert_eq!(
                count_up_to(progress.last_cursor),
                progress.events_processed,
                "node {i}: the chain's history before the kill changed"
            );
        }

        // The replay happened: `lagging` was behind the chain's head when the chain came back
        // (by at least the events emitted while it was down and before the kill: those the
        // nodes up had applied by then) and applied them from the restarted chain.
        let seen_at_kill = at_kill
            .iter()
            .filter_map(|(_, progress, _)| progress.last_cursor)
            .max();
        let behind = count_up_to(seen_at_kill) - lagging_before.events_processed;
        println!(
            "node {lagging} was down across the restart: {behind} events behind the chain when \
             it came back, {} events applied since its restart",
            events.len() as u64 - lagging_before.events_processed
        );
        assert!(
            behind >= 2,
            "node {lagging} was only {behind} events behind (the first store's registration \
             and certification were emitted while it was down)"
        );
        // The nodes up lost their event stream with the chain and resumed it.
        for (i, progress, resubscribed_before) in &at_kill {
            let resubscribed = log_lines(&net, *i, RESUBSCRIBING) - resubscribed_before;
            println!(
                "node {i}: {} events applied after the kill; the stream resumed after {} \
                 failures",
                events.len() as u64 - progress.events_processed,
                resubscribed
            );
            assert!(
                resubscribed >= 1,
                "node {i} never lost its event stream when the chain was killed"
            );
        }

        // Per blob, every node reports what the chain's events say.
        for (blob_id, _) in permanent.iter().chain(&during) {
            let (counts, certified_by) = expected_status(&events, blob_id);
            for i in 0..n_nodes {
                let status = net
                    .node_client(i)
                    .get_blob_status(blob_id)
                    .await
                    .expect("a status");
                match (status, certified_by) {
                    (
                        BlobStatus::Permanent {
                            is_certified: true,
                            status_event,
                            deletable_counts,
                            ..
                        },
                        Some(event),
                    ) => {
                        assert_eq!(status_event, event, "node {i}, blob {blob_id}");
                        assert_eq!(deletable_counts, counts, "node {i}, blob {blob_id}");
                    }
                    (
                        BlobStatus::Deletable {
                            deletable_counts,
                            initial_certified_epoch: Some(_),
                        },
                        None,
                    ) => assert_eq!(deletable_counts, counts, "node {i}, blob {blob_id}"),
                    (status, _) => panic!(
                        "node {i} reports {status:?} for {blob_id}; the chain says \
                         {counts:?}, permanent certified by {certified_by:?}"
                    ),
                }
            }
            assert!(
                certified_by.is_some() || counts.count_deletable_certified >= 1,
                "the chain never certified {blob_id}"
            );
        }
    });
}
