//! Storage nodes as real processes, driven by the protocol by hand
//! ([`walrus_e2e::ProtocolClient`]): store and certify, recovery of a node that missed the
//! upload, of a wiped node, durability across SIGKILL, refusals of bad uploads, and the
//! invalid-blob proof of an inconsistent encoding.
//!
//! The network ([`StorageCluster`]): 4 nodes holding 1, 2, 3 and 4 of 10 shards (quorum 7,
//! validity 4).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use walrus_chain::contract::{events::Event, sui::U256};
use walrus_core::{
    encoding::{EncodedBlob, Primary, Secondary},
    SliverPairIndex, SliverType,
};
use walrus_e2e::{encode, flip_byte, inconsistent_encoding, test_data, StorageCluster};
use walrus_node_client::{
    api::{BlobStatus, ErrorReason, StoredOnNodeStatus},
    NodeClientError,
};

const N_NODES: usize = StorageCluster::NODES;
const N_SHARDS: u16 = StorageCluster::SHARDS;
/// Deadline of a wait for a node to see a certification or an invalid blob.
const STATUS_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline of a node's recovery of its slivers.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(25);

/// Asserts that `result` is the node's error answer `status` / `reason`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, NodeClientError>,
    status: u16,
    reason: ErrorReason,
) {
    let error = result.expect_err("the node must refuse");
    assert_eq!(
        (error.http_status(), error.reason()),
        (Some(status), Some(reason)),
        "{error}"
    );
}

#[test]
fn upload_to_all_nodes_certifies_and_every_node_serves_the_blob() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        let all: Vec<usize> = (0..N_NODES).collect();
        let blob = encode(&test_data(100_000, 1), N_SHARDS);
        let blob_id = *blob.metadata.blob_id();
        let object = client.register(&blob, 5).await;
        client.upload(&blob, &all).await;

        // Every node confirms (each signature checked against its key).
        for &node in &all {
            client.confirmation(node, &blob_id).await;
        }
        let certificate = client.certificate(&blob_id, &all).await;
        let certified = client.certify(object.id, &certificate).await;
        assert_eq!(certified.blob_id, U256::from(blob_id));
        let on_chain = client.chain.get_blob(object.id).await.unwrap();
        assert_eq!(on_chain.certified_epoch, Some(client.epoch()));

        for &node in &all {
            let status = net.wait_certified(node, &blob_id, STATUS_TIMEOUT).await;
            let BlobStatus::Permanent {
                end_epoch,
                initial_certified_epoch,
                ..
            } = status
            else {
                unreachable!()
            };
            net.check_node_slivers(node, &blob).await.unwrap();
            assert_eq!(end_epoch, object.storage.end_epoch, "node {node}");
            assert_eq!(initial_certified_epoch, Some(client.epoch()), "node {node}");
        }

        // Health, as Walrus reports it: every shard ready, the events of the store processed.
        for &node in &all {
            let url = format!("http://{}/v1/health?detailed=true", net.node_address(node));
            let health: serde_json::Value = net
                .http
                .get(&url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let data = &health["success"]["data"];
            let shards: Vec<u16> = net
                .shards
                .shards(node)
                .iter()
                .map(|shard| shard.0)
                .collect();
            assert_eq!(data["nodeStatus"], "Active", "{health}");
            assert_eq!(data["epoch"], client.epoch(), "{health}");
            assert!(data["uptime"]["secs"].is_u64(), "{health}");
            let summary = &data["shardSummary"];
            assert_eq!(summary["owned"], shards.len(), "{health}");
            assert_eq!(
                summary["ownedShardStatus"]["ready"],
                shards.len(),
                "{health}"
            );
            assert_eq!(summary["readOnly"], 0, "{health}");
            let detailed: Vec<u64> = data["shardDetail"]["owned"]
                .as_array()
                .unwrap()
                .iter()
                .map(|shard| {
                    assert_eq!(shard["status"], "ready", "{health}");
                    shard["shard"].as_u64().unwrap()
                })
                .collect();
            let mut sorted = shards
                .iter()
                .map(|&shard| u64::from(shard))
                .collect::<Vec<_>>();
            sorted.sort_unstable();
            assert_eq!(detailed, sorted, "{health}");
            let progress = &data["eventProgress"];
            // At least the registration and the certification.
            assert!(progress["persisted"].as_u64().unwrap() >= 2, "{health}");
            assert_eq!(
                progress["highestFinishedEventIndex"].as_u64(),
                progress["persisted"].as_u64().map(|n| n - 1),
                "{health}"
            );
            assert!(data["latestCheckpointSequenceNumber"].is_u64(), "{health}");
            let plain: serde_json::Value = net
                .http
                .get(format!("http://{}/v1/health", net.node_address(node)))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(
                plain["success"]["data"].get("shardDetail").is_none(),
                "{plain}"
            );
            let bad = net
                .http
                .get(format!(
                    "http://{}/v1/health?detailed=maybe",
                    net.node_address(node)
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(bad.status(), 400);
        }
    });
}

#[test]
fn node_that_missed_the_upload_recovers_its_slivers_after_certification() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        // Node 2 holds 3 shards: the other 7 are exactly a quorum.
        let missed = 2;
        let others: Vec<usize> = (0..N_NODES).filter(|&node| node != missed).collect();
        let (blob, _) = client.store(&test_data(1 << 20, 2), &others).await;
        let blob_id = *blob.metadata.blob_id();

        net.wait_certified(missed, &blob_id, STATUS_TIMEOUT).await;
        net.wait_node_slivers(missed, std::slice::from_ref(&blob), RECOVERY_TIMEOUT)
            .await
            .unwrap();

        let weight = net.shards.weight(&[missed]) as u64;
        let recovered = net
            .node_metric(missed, "walrus_node_slivers_recovered_total", &[])
            .await
            .unwrap();
        assert_eq!(
            recovered,
            (2 * weight) as f64,
            "one primary and one secondary per shard"
        );
        let fetched = net
            .node_metric(missed, "walrus_node_recovery_bytes_fetched_total", &[])
            .await
            .unwrap();
        assert!(fetched > 0.0);
        let layout = blob.metadata.layout();
        let primary = layout.sliver_length(SliverType::Primary) as f64;
        let secondary = layout.sliver_length(SliverType::Secondary) as f64;
        let own = weight as f64 * (primary + secondary);
        let size = blob.metadata.metadata().unencoded_length() as f64;
        println!(
            "RECOVERY TRAFFIC: blob {size} B, symbol {} B, primary sliver {primary} B, \
             secondary sliver {secondary} B; node {missed} ({weight} shards) rebuilt {own} B of \
             slivers and fetched {fetched} B = {:.3} x its slivers = {:.3} x the blob",
            layout.symbol_size,
            fetched / own,
            fetched / size,
        );
        // Red Stuff recovery costs about one sliver of traffic per sliver (plus proofs and
        // over-fetch by whole nodes), far from re-downloading the blob per sliver.
        assert!(
            fetched < 1.5 * own,
            "recovery fetched {fetched} B for {own} B"
        );
    });
}

#[test]
fn wiped_node_recovers_all_its_slivers_of_a_certified_blob() {
    StorageCluster::run(|StorageCluster { mut net, client }| async move {
        let all: Vec<usize> = (0..N_NODES).collect();
        let (blob, _) = client.store(&test_data(200_000, 3), &all).await;
        let blob_id = *blob.metadata.blob_id();
        // The node with the most shards (4: more than the other nodes' primary-recovery
        // margin alone).
        let wiped = 3;
        net.wait_certified(wiped, &blob_id, STATUS_TIMEOUT).await;

        net.stop_node(wiped).await.unwrap();
        net.network.wipe_node(wiped).await.unwrap();
        net.network.start_node(wiped).await.unwrap();

        net.wait_certified(wiped, &blob_id, STATUS_TIMEOUT).await;
        net.wait_node_slivers(wiped, std::slice::from_ref(&blob), RECOVERY_TIMEOUT)
            .await
            .unwrap();
        let recovered = net
            .node_metric(wiped, "walrus_node_slivers_recovered_total", &[])
            .await
            .unwrap();
        let weight = net.shards.weight(&[wiped]) as f64;
        assert_eq!(recovered, 2.0 * weight);
        // The slivers rebuilt first gave the second axis their symbols: one per sliver of
        // each axis, none read back and expanded again.
        let kept = net
            .node_metric(wiped, "walrus_node_recovery_symbols_kept_total", &[])
            .await
            .unwrap();
        assert_eq!(kept, weight * weight);
    });
}

/// What a node acknowledged (2xx) during the upload.
#[derive(Debug, Clone, Copy)]
enum Ack {
    Metadata(usize),
    Sliver(usize, SliverPairIndex, SliverType),
}

/// SIGKILL while uploads are in flight. A stream of uploads to one node runs (each item
/// recorded when acknowledged), and one upload is certainly in flight at the kill: blob
/// `stuck`, whose metadata and first primary sliver were acknowledged, has its next sliver's
/// request stuck after half of its body (no answer before the kill; the connection breaks
/// without one). Restarted, the node serves every acknowledged item byte-exact and nothing of
/// the half-sent sliver (an unacknowledged upload leaves no trace); the stuck blob's upload
/// then completes, it is certified, and every node serves all its slivers byte-exact.
#[test]
fn sigkill_mid_upload_loses_no_acknowledged_sliver() {
    StorageCluster::run(|StorageCluster { mut net, client }| async move {
        let target = 3;
        let blobs: Arc<Vec<EncodedBlob>> = Arc::new(
            (0..16)
                .map(|seed| encode(&test_data(64 << 10, 100 + seed), N_SHARDS))
                .collect(),
        );
        let stuck = encode(&test_data(256 << 10, 99), N_SHARDS);
        let stuck_id = *stuck.metadata.blob_id();
        for blob in blobs.iter() {
            client.register(blob, 5).await;
        }
        let stuck_object = client.register(&stuck, 5).await;
        for blob in blobs.iter().chain([&stuck]) {
            client
                .wait_registered(target, blob.metadata.blob_id())
                .await;
        }
        let pairs: Vec<Vec<SliverPairIndex>> = blobs
            .iter()
            .map(|blob| net.shards.pairs_of(target, blob.metadata.blob_id()))
            .collect();

        // The stuck blob: metadata and one primary sliver acknowledged, the secondary sliver
        // of the same pair half-sent.
        let mut half_sent = client.start_stuck_upload(target, &stuck).await;

        let acked = Arc::new(Mutex::new(Vec::new()));
        let uploader = {
            let node = client.node(target).clone();
            let blobs = blobs.clone();
            let acked = acked.clone();
            tokio::spawn(async move {
                let ack = |item| acked.lock().unwrap().push(item);
                let upload = async {
                    for (i, blob) in blobs.iter().enumerate() {
                        let blob_id = blob.metadata.blob_id();
                        node.put_metadata(blob_id, blob.metadata.metadata()).await?;
                        ack(Ack::Metadata(i));
                        for &pair in &pairs[i] {
                            let slivers = &blob.sliver_pairs[usize::from(pair.0)];
                            node.put_sliver(blob_id, pair, &slivers.primary).await?;
                            ack(Ack::Sliver(i, pair, SliverType::Primary));
                            node.put_sliver(blob_id, pair, &slivers.secondary).await?;
                            ack(Ack::Sliver(i, pair, SliverType::Secondary));
                        }
                    }
                    Ok::<(), NodeClientError>(())
                };
                upload.await.is_ok()
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().len() < 12 {
            assert!(Instant::now() < deadline, "the upload is stuck");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // The half-sent upload is still waiting for its body: no answer.
        half_sent.assert_unanswered(Duration::ZERO).await;
        net.network.kill_node(target).unwrap();
        let completed = tokio::time::timeout(Duration::from_secs(15), uploader)
            .await
            .expect("the uploader noticed the kill")
            .unwrap();
        assert!(!completed, "the kill came after the whole upload");
        half_sent.assert_broken_unanswered().await;
        let acked = acked.lock().unwrap().clone();
        println!(
            "{} items acknowledged before SIGKILL, and an upload of {} of {} bytes in flight",
            acked.len(),
            half_sent.body_len / 2,
            half_sent.body_len
        );

        net.network.start_node(target).await.unwrap();
        let node = client.node(target);
        for ack in acked {
            match ack {
                Ack::Metadata(i) => {
                    let metadata = node
                        .get_metadata(blobs[i].metadata.blob_id())
                        .await
                        .unwrap();
                    assert_eq!(metadata.metadata, *blobs[i].metadata.metadata());
                }
                Ack::Sliver(i, pair, axis) => {
                    let blob_id = blobs[i].metadata.blob_id();
                    let expected = &blobs[i].sliver_pairs[usize::from(pair.0)];
                    let intact = match axis {
                        SliverType::Primary => node
                            .get_sliver::<Primary>(blob_id, pair)
                            .await
                            .map(|sliver| sliver == expected.primary),
                        SliverType::Secondary => node
                            .get_sliver::<Secondary>(blob_id, pair)
                            .await
                            .map(|sliver| sliver == expected.secondary),
                    }
                    .unwrap_or_else(|e| panic!("acknowledged {ack:?} lost: {e}"));
                    assert!(intact, "acknowledged {ack:?} served with other bytes");
                }
            }
        }
        // Of the stuck blob, exactly the acknowledged part (not certified: nothing recovered).
        half_sent
            .assert_only_acknowledged_kept(node, &net.shards.pairs_of(target, &stuck_id), &stuck)
            .await;

        // The stuck blob's upload completes (to every node), it certifies, and every node
        // serves all of it.
        let all: Vec<usize> = (0..N_NODES).collect();
        client.upload(&stuck, &all).await;
        let certificate = client.certificate(&stuck_id, &all).await;
        client.certify(stuck_object.id, &certificate).await;
        for &node in &all {
            net.wait_certified(node, &stuck_id, STATUS_TIMEOUT).await;
            net.check_node_slivers(node, &stuck).await.unwrap();
        }
    });
}

#[test]
fn bad_uploads_are_refused_with_their_reason() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        let node = 3;
        let node_client = client.node(node);
        let blob = encode(&test_data(50_000, 5), N_SHARDS);
        let blob_id = *blob.metadata.blob_id();
        client.register(&blob, 5).await;
        client.wait_registered(node, &blob_id).await;
        node_client
            .put_metadata(&blob_id, blob.metadata.metadata())
            .await
            .unwrap();

        // A flipped byte: INVALID_SLIVER, nothing stored.
        let own = net.shards.pairs_of(node, &blob_id);
        let pair = own[0];
        let good = &blob.sliver_pairs[usize::from(pair.0)];
        let flipped_primary = node_client
            .put_sliver(&blob_id, pair, &flip_byte(&good.primary, 7))
            .await;
        let flipped_secondary = node_client
            .put_sliver(&blob_id, pair, &flip_byte(&good.secondary, 1000))
            .await;
        for answer in [flipped_primary, flipped_secondary] {
            assert_refused(answer, 400, ErrorReason::InvalidSliver);
        }
        assert!(!node_client
            .get_sliver_status(&blob_id, pair, SliverType::Primary)
            .await
            .unwrap()
            .is_stored());

        // A correct sliver of a shard the node does not hold: SHARD_NOT_ASSIGNED.
        let foreign = (0..N_SHARDS)
            .map(SliverPairIndex)
            .find(|pair| !own.contains(pair))
            .unwrap();
        assert_refused(
            node_client
                .put_sliver(
                    &blob_id,
                    foreign,
                    &blob.sliver_pairs[usize::from(foreign.0)].primary,
                )
                .await,
            400,
            ErrorReason::ShardNotAssigned,
        );

        // The intact sliver is accepted.
        node_client
            .put_sliver(&blob_id, pair, &good.primary)
            .await
            .unwrap();
        assert_eq!(
            node_client
                .get_sliver::<Primary>(&blob_id, pair)
                .await
                .unwrap(),
            good.primary
        );

        // Metadata of a blob never registered: NOT_REGISTERED once the registration wait
        // is over.
        let unregistered = encode(&test_data(50_000, 6), N_SHARDS);
        let start = Instant::now();
        assert_refused(
            node_client
                .put_metadata(
                    unregistered.metadata.blob_id(),
                    unregistered.metadata.metadata(),
                )
                .await,
            400,
            ErrorReason::NotRegistered,
        );
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(StorageCluster::REGISTRATION_WAIT_MS * 9 / 10)
                && waited < Duration::from_secs(10),
            "answered after {waited:?}"
        );
    });
}

#[test]
fn inconsistent_encoding_is_proven_invalid_on_chain() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        // Flip a byte of primary sliver j and commit to it in the metadata: a blob ID whose
        // encoding is inconsistent. Pick j held by a node other than the 4-shard one, so
        // that the others still reach a quorum without it.
        let (blob, j, skipped) = (0..N_SHARDS)
            .find_map(|j| {
                let blob =
                    inconsistent_encoding(test_data(20_000, 7), N_SHARDS, SliverPairIndex(j));
                let skipped = net
                    .shards
                    .holder(blob.metadata.blob_id(), SliverPairIndex(j));
                (net.shards.weight(&[skipped]) < 4).then_some((blob, j, skipped))
            })
            .unwrap();
        let blob_id = *blob.metadata.blob_id();
        let others: Vec<usize> = (0..N_NODES).filter(|&node| node != skipped).collect();
        println!("doctored primary sliver {j}, held by node {skipped}");

        let object = client.register(&blob, 5).await;
        client.upload(&blob, &others).await;
        let certificate = client.certificate(&blob_id, &others).await;
        client.certify(object.id, &certificate).await;

        // The skipped node recovers, finds the inconsistency, collects attestations and
        // submits the certificate: the chain emits InvalidBlobID ...
        let mut events = client.chain.event_stream(None);
        let wanted = U256::from(blob_id);
        tokio::time::timeout(Duration::from_secs(25), async {
            loop {
                let event = events.next().await.expect("the event stream").event;
                if matches!(&event, Event::InvalidBlobId(invalid) if invalid.blob_id == wanted) {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no InvalidBlobID event; log of node {skipped}:\n{}",
                net.node_log_tail(skipped, 60)
            )
        });

        // ... every node marks the blob invalid and serves nothing of it (410).
        for node in 0..N_NODES {
            net.wait_invalid(node, &blob_id, Duration::from_secs(10))
                .await
                .unwrap();
            let node_client = client.node(node);
            assert_refused(
                node_client.get_metadata(&blob_id).await,
                410,
                ErrorReason::BlobInvalid,
            );
            let pair = net.shards.pairs_of(node, &blob_id)[0];
            assert_refused(
                node_client.get_sliver::<Primary>(&blob_id, pair).await,
                410,
                ErrorReason::BlobInvalid,
            );
        }
        let inconsistent = net.node_recoveries(skipped, "inconsistent").await;
        assert!(inconsistent >= 1.0);
    });
}

#[test]
fn pending_uploads_are_buffered_until_the_registration_then_confirmed() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        let all: Vec<usize> = (0..N_NODES).collect();
        let blob = encode(&test_data(60_000, 11), N_SHARDS);
        let blob_id = *blob.metadata.blob_id();
        let early = 3; // the node of 4 shards
        let node = client.node(early);
        let pairs = net.shards.pairs_of(early, &blob_id);

        // Before the registration: a plain upload is refused (the node waited for it)...
        assert_refused(
            node.put_metadata(&blob_id, blob.metadata.metadata()).await,
            400,
            ErrorReason::NotRegistered,
        );
        // ...a pending one is verified and buffered: metadata first, then the slivers.
        let first = &blob.sliver_pairs[usize::from(pairs[0].0)];
        let pair_of_0 = net.shards.pairs_of(0, &blob_id)[0];
        assert_refused(
            client
                .node(0)
                .put_sliver_pending(
                    &blob_id,
                    pair_of_0,
                    &blob.sliver_pairs[usize::from(pair_of_0.0)].primary,
                )
                .await,
            404,
            ErrorReason::MetadataNotFound,
        );
        node.put_metadata_pending(&blob_id, blob.metadata.metadata())
            .await
            .expect("buffered metadata");
        assert_eq!(
            node.get_metadata_status(&blob_id).await.unwrap(),
            StoredOnNodeStatus::Buffered
        );
        assert_refused(
            node.put_sliver_pending(&blob_id, pairs[0], &flip_byte(&first.primary, 3))
                .await,
            400,
            ErrorReason::InvalidSliver,
        );
        for &pair in &pairs {
            let slivers = &blob.sliver_pairs[usize::from(pair.0)];
            node.put_sliver_pending(&blob_id, pair, &slivers.primary)
                .await
                .expect("a buffered primary sliver");
            node.put_sliver_pending(&blob_id, pair, &slivers.secondary)
                .await
                .expect("a buffered secondary sliver");
        }
        for &pair in &pairs {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                assert_eq!(
                    node.get_sliver_status(&blob_id, pair, axis).await.unwrap(),
                    StoredOnNodeStatus::Buffered
                );
            }
        }
        assert_eq!(
            net.node_metric(early, "walrus_node_slivers_buffered_total", &[])
                .await
                .unwrap(),
            (2 * pairs.len()) as f64
        );
        // Buffered is not stored: nothing is served, nothing is signed.
        assert_refused(
            node.get_sliver::<Primary>(&blob_id, pairs[0]).await,
            404,
            ErrorReason::SliverNotFound,
        );
        assert_refused(
            node.get_confirmation(&blob_id, None).await,
            400,
            ErrorReason::NotRegistered,
        );
        // The query is checked: only `pending`.
        let url = format!(
            "http://{}/v1/blobs/{blob_id}/metadata?pending=true&later=1",
            net.node_address(early)
        );
        let answer = net.http.put(&url).body(Vec::new()).send().await.unwrap();
        assert_eq!(answer.status(), 400);

        // The registration comes: a long-polled confirmation signs once the buffered uploads
        // are stored, and every status says stored.
        let object = client.register(&blob, 5).await;
        let signed = node
            .get_confirmation_waiting(&blob_id, None, Duration::from_secs(5))
            .await
            .expect("a confirmation after the registration");
        let key = &client.chain.committee_view(None).await.unwrap().members;
        let member = key
            .iter()
            .find(|member| {
                member.url.trim_end_matches('/') == format!("http://{}", net.node_address(early))
            })
            .expect("the node is a member");
        signed.verify_signature(&member.public_key).unwrap();
        assert_eq!(
            node.get_metadata_status(&blob_id).await.unwrap(),
            StoredOnNodeStatus::Stored
        );
        for &pair in &pairs {
            assert_eq!(
                node.get_sliver_status(&blob_id, pair, SliverType::Secondary)
                    .await
                    .unwrap(),
                StoredOnNodeStatus::Stored
            );
        }
        // The others get a plain upload; the blob certifies and node 3 holds exactly its
        // slivers.
        client.upload(&blob, &[0, 1, 2]).await;
        let certificate = client.certificate(&blob_id, &all).await;
        client.certify(object.id, &certificate).await;
        net.wait_certified(early, &blob_id, STATUS_TIMEOUT).await;
        net.check_node_slivers(early, &blob).await.unwrap();
    });
}
