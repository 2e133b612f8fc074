//! Fault tolerance, integrity part: real processes (chain, storage nodes, publisher,
//! aggregator, the `walrus` CLI), each scenario on its own network.
//!
//! - Byzantine nodes (the node's test-only `[faults]` section) serve corrupted slivers and
//!   metadata; readers detect and reject them, also when the honest nodes left hold exactly
//!   the `n - 2f` shards a read needs.
//! - A faulty writer's inconsistent encoding is proven invalid on chain by the node that
//!   recovers the doctored sliver; every reader then answers invalid and the nodes free it.
//! - Crashes: a wiped node recovers every sliver of its shards byte-exact; a node killed with
//!   SIGKILL in the middle of uploads loses no certified blob and recovers its slivers; a chain
//!   restart in the middle of stores loses no event.
//!
//! Shards: 10, so `f = 3`, a read needs `n - 2f = 4` primary slivers and a certificate
//! `n - f = 7` shards. Every test prints its duration.

use std::time::Duration;

use reqwest::StatusCode;
use walrus_core::{
    bft::max_n_faulty,
    encoding::{EncodedBlob, EncodingConfig, Primary},
    BlobId,
};
use walrus_e2e::{
    encode, inconsistent_encoding, poll, run, test_data, within, write_file, Stopwatch, TestNetwork,
};
use walrus_localnet::network::DEFAULT_STAKE;
use walrus_node_client::api::{
    BlobStatus, ErrorReason, StoredOnNodeStatus, METADATA_ENDPOINT, SLIVER_ENDPOINT,
};
use walrus_sdk::client::{NoProgress, SdkError, StoreOptions, WalrusSdk};

const N_SHARDS: u16 = 10;

/// Reads `blob_id` through the aggregator, the CLI and the SDK; each must return `data`.
async fn read_everywhere(net: &TestNetwork, sdk: &WalrusSdk, blob_id: &BlobId, data: &[u8]) {
    let response = net
        .http
        .get(format!("{}/v1/blobs/{blob_id}", net.aggregator()))
        .send()
        .await
        .expect("the aggregator answers");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "aggregator read of {blob_id}"
    );
    let body = response.bytes().await.expect("a body");
    assert!(body[..] == data[..], "the aggregator returned other bytes");

    let out = net.scratch().join(format!("{blob_id}.out"));
    let cli = net.cli.clone();
    let (id, path) = (blob_id.to_string(), out.clone());
    tokio::task::spawn_blocking(move || {
        cli.ok(&["read", &id, "--out", path.to_str().expect("a UTF-8 path")])
    })
    .await
    .expect("the CLI task")
    .expect("the CLI reads");
    assert!(
        std::fs::read(&out).expect("the CLI's output") == data,
        "the CLI returned other bytes"
    );

    let read = within(
        "an SDK read",
        Duration::from_secs(30),
        sdk.read(blob_id, &NoProgress),
    )
    .await
    .expect("the SDK reads");
    assert!(read == data, "the SDK returned other bytes");
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
        let client = net.node_client(i);
        poll(
            &format!("node {i} to report {blob_id} certified"),
            Duration::from_secs(30),
            || async {
                match client.get_blob_status(blob_id).await {
                    Ok(BlobStatus::Permanent {
                        is_certified: true, ..
                    }) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    }
}

/// Waits until node `i` serves every sliver of its shards of every blob, byte-exact.
async fn await_recovered(net: &TestNetwork, i: usize, blobs: &[EncodedBlob], timeout: Duration) {
    poll(
        &format!("node {i} to hold all its slivers"),
        timeout,
        || async {
            for encoded in blobs {
                net.check_node_slivers(i, encoded).await?;
            }
            Ok(())
        },
    )
    .await
    .unwrap_or_else(|error| {
        panic!(
            "{error}\nlog of node {i}:\n{}",
            net.network
                .log_tail(walrus_localnet::network::Process::Node(i), 40)
        )
    });
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
        let _watch = Stopwatch::start("byzantine_nodes_cannot_corrupt_reads");
        // Stakes 1:2:3:2:2 give shards 1, 2, 3, 2, 2: nodes 0 and 1 together hold f = 3.
        let stakes = [1, 2, 3, 2, 2].map(|share| share * DEFAULT_STAKE).to_vec();
        let mut net = TestNetwork::start_with(5, N_SHARDS, |options| {
            options.stakes = Some(stakes);
        })
        .await
        .expect("a network");
        let f = usize::from(max_n_faulty(N_SHARDS));
        let byzantine = [0usize, 1];
        let weight = |net: &TestNetwork, nodes: &[usize]| -> usize {
            nodes
                .iter()
                .map(|&i| net.network.node_shards(i).unwrap().len())
                .sum()
        };
        assert!(
            weight(&net, &byzantine) <= f,
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
        let response = net
            .http
            .put(format!("{}/v1/blobs?epochs=2", net.publisher()))
            .body(data.clone())
            .send()
            .await
            .expect("the publisher answers");
        assert_eq!(response.status(), StatusCode::OK);
        let answer: serde_json::Value = response.json().await.expect("JSON");
        let id = answer["newlyCreated"]["blobObject"]["blobId"]
            .as_str()
            .unwrap_or_else(|| panic!("no blob ID in {answer}"));
        blobs.push((id.parse().expect("a blob ID"), data));
        let data = test_data(300_000, 42);
        let file = write_file(&net.scratch(), "in.bin", &data).unwrap();
        let stored = net
            .cli
            .json(&["store", file.to_str().unwrap(), "--epochs", "2"])
            .expect("the CLI stores");
        let id = stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
            .as_str()
            .unwrap_or_else(|| panic!("no blob ID in {stored}"));
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
                let pair = net.pairs_of(i, blob_id)[0];
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
                let pair = net.pairs_of(i, blob_id)[0];
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
            weight(&net, &honest_up),
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
        await_recovered(&net, wiped, &encodings, Duration::from_secs(60)).await;
    });
}

/// Scenario 5: a faulty writer stores an inconsistent encoding while the holder of the doctored
/// sliver's pair is down; restarted, it recovers, finds the inconsistency, gathers `f + 1`
/// attestations and the chain marks the blob invalid; readers then answer invalid and every
/// node frees the data. An honest blob stored alongside stays readable.
#[test]
fn inconsistent_encoding_is_proven_invalid_and_freed() {
    run(|| async {
        let _watch = Stopwatch::start("inconsistent_encoding_is_proven_invalid_and_freed");
        let mut net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
        let sdk = net.sdk().expect("an SDK client");
        let honest_data = test_data(40_000, 51);
        let honest = sdk_store(&sdk, &honest_data).await.expect("stored");

        // Pair 0's primary sliver is doctored. Its holder is the node that must recover it
        // (from the honest secondary slivers) and so finds the mismatch deterministically;
        // any single node holds at most 3 shards, so the others certify without it.
        let doctored = inconsistent_encoding(test_data(30_000, 52), N_SHARDS);
        let blob_id = *doctored.metadata.blob_id();
        let skipped = net.holder(&blob_id, walrus_core::SliverPairIndex(0));
        println!("doctored primary sliver 0 is held by node {skipped}");
        net.network.stop_node(skipped).await.expect("stopped");
        within(
            "the faulty writer's store",
            Duration::from_secs(60),
            sdk.store_encoded(doctored, StoreOptions::permanent(2), &NoProgress),
        )
        .await
        .expect("the nodes accept slivers that match the metadata");
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
                net.network
                    .log_tail(walrus_localnet::network::Process::Node(skipped), 60)
            )
        });
        let inconsistent = net
            .node_metric(
                skipped,
                "walrus_node_recoveries_total",
                &["result=\"inconsistent\""],
            )
            .await
            .unwrap();
        assert!(inconsistent >= 1.0, "node {skipped} found no inconsistency");

        // Every node answers invalid and serves nothing of it.
        for i in 0..4 {
            let client = net.node_client(i);
            poll(
                &format!("node {i} to mark the blob invalid"),
                Duration::from_secs(20),
                || async {
                    match client.get_blob_status(&blob_id).await {
                        Ok(BlobStatus::Invalid { .. }) => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                },
            )
            .await
            .unwrap_or_else(|error| panic!("{error}"));
            let error = client
                .get_metadata(&blob_id)
                .await
                .expect_err("no metadata of an invalid blob");
            assert_eq!(error.reason(), Some(ErrorReason::BlobInvalid), "{error}");
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
        let response = net
            .http
            .get(format!("{}/v1/blobs/{blob_id}", net.aggregator()))
            .send()
            .await
            .expect("the aggregator answers");
        assert_eq!(response.status(), StatusCode::GONE);
        let answer: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(answer["error"]["reason"], "BLOB_INVALID", "{answer}");
        let output = net.cli.run(&["read", &blob_id.to_string()]).unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("invalid"), "{stderr}");
        let error = sdk
            .read(&blob_id, &NoProgress)
            .await
            .expect_err("an invalid blob");
        assert!(matches!(error, SdkError::BlobInvalid(_)), "{error}");

        // The honest blob is untouched.
        read_everywhere(&net, &sdk, &honest, &honest_data).await;
    });
}

/// Scenario 6a: a wiped node (database deleted) started again replays the chain's events and
/// recovers every sliver of its shards from its peers, byte-exact.
#[test]
fn wiped_node_recovers_every_sliver() {
    run(|| async {
        let _watch = Stopwatch::start("wiped_node_recovers_every_sliver");
        let mut net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
        let sdk = net.sdk().expect("an SDK client");
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
        await_recovered(&net, wiped, &blobs, Duration::from_secs(60)).await;
        let recovered = net
            .node_metric(wiped, "walrus_node_recoveries_total", &["result=\"ok\""])
            .await
            .unwrap();
        println!("node {wiped} recovered {recovered} blobs");
    });
}

/// Scenario 6b: a node killed with SIGKILL in the middle of a sequence of uploads: every blob
/// the SDK reported certified is readable, and the node, restarted, recovers all its slivers.
#[test]
fn sigkilled_node_during_uploads_loses_no_certified_blob() {
    run(|| async {
        let _watch = Stopwatch::start("sigkilled_node_during_uploads_loses_no_certified_blob");
        let mut net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
        let sdk = net.sdk().expect("an SDK client");
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
        // The second store is now under way: kill a node in the middle of it.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let killed = 2;
        net.network.kill_node(killed).expect("killed");
        println!("node {killed} killed (SIGKILL) during the second store");
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
            let read = within(
                "an SDK read",
                Duration::from_secs(30),
                sdk.read(blob_id, &NoProgress),
            )
            .await
            .expect("a certified blob reads");
            assert!(read == *data, "blob {blob_id} read back differs");
        }
        net.network.start_node(killed).await.expect("restarted");
        let encoded: Vec<EncodedBlob> = certified
            .iter()
            .map(|(_, data)| encode(data, N_SHARDS))
            .collect();
        await_recovered(&net, killed, &encoded, Duration::from_secs(60)).await;
    });
}

/// Scenario 6c: the chain is killed and restarted in the middle of stores: blobs certified
/// before are still certified on every node, stores after the restart certify, and every
/// node processes the registrations and certifications made after it.
#[test]
fn chain_restart_during_stores_loses_no_event() {
    run(|| async {
        let _watch = Stopwatch::start("chain_restart_during_stores_loses_no_event");
        let mut net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
        let sdk = net.sdk().expect("an SDK client");
        let before_data = test_data(80_000, 81);
        let before = sdk_store(&sdk, &before_data).await.expect("stored");

        // Stores one after the other; a store that fails while the chain is down is retried
        // (a new registration) until it certifies, so the sequence spans the restart.
        let (first_done, mut first_done_rx) = tokio::sync::mpsc::channel::<()>(8);
        let stores = tokio::spawn({
            let sdk = sdk.clone();
            async move {
                let mut certified = Vec::new();
                let mut failures = 0usize;
                for seed in 0..4u64 {
                    let data = test_data(60_000, 90 + seed);
                    let blob_id = loop {
                        match sdk_store(&sdk, &data).await {
                            Ok(blob_id) => break blob_id,
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
        within(
            "the chain restart",
            Duration::from_secs(60),
            net.network.restart_chain(),
        )
        .await
        .expect("the chain restarts");
        let (during, failures) = within("the stores", Duration::from_secs(120), stores)
            .await
            .expect("the store task");
        println!("{failures} store attempts failed while the chain restarted");
        let mut certified = vec![(before, before_data)];
        certified.extend(during);

        // Stores after the restart certify (registration and certification events reach
        // the nodes: they accept the uploads and sign).
        for seed in 0..2u64 {
            let data = test_data(70_000, 100 + seed);
            let blob_id = sdk_store(&sdk, &data)
                .await
                .expect("a store after the chain restart");
            certified.push((blob_id, data));
        }
        for (blob_id, data) in &certified {
            await_certified_everywhere(&net, blob_id).await;
            let read = within(
                "an SDK read",
                Duration::from_secs(30),
                sdk.read(blob_id, &NoProgress),
            )
            .await
            .expect("a certified blob reads");
            assert!(read == *data, "blob {blob_id} read back differs");
        }
        println!(
            "{} blobs certified across the chain restart",
            certified.len()
        );

        // Every node applied the same events, up to the same cursor (none lost, none twice).
        let progress = poll(
            "the nodes to agree on the events applied",
            Duration::from_secs(20),
            || async {
                let mut progress = Vec::new();
                for i in 0..net.network.n_nodes() {
                    let health = net
                        .network
                        .node_health(i)
                        .await
                        .map_err(|error| error.to_string())?;
                    progress.push(health.event_progress);
                }
                if progress.windows(2).all(|pair| pair[0] == pair[1]) {
                    Ok(progress[0])
                } else {
                    Err(format!("{progress:?}"))
                }
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        println!("every node applied {progress:?}");
        let events = usize::try_from(progress.events_processed).unwrap();
        assert!(
            events >= 2 * certified.len(),
            "{events} events for {} certified blobs (a registration and a certification each)",
            certified.len()
        );
    });
}
