//! Storage nodes as real processes against the in-process chain: store and certify, recovery
//! of a node that missed the upload, of a wiped node, durability across SIGKILL, refusals of
//! bad uploads, and the invalid-blob proof of an inconsistent encoding.
//!
//! The network (see `common`): 4 nodes holding 1, 2, 3 and 4 of 10 shards (quorum 7,
//! validity 4).

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::io::AsyncReadExt;

use common::{run, test_data, Cluster, TestBlob, N_NODES, N_SHARDS, REGISTRATION_WAIT_MS};
use walrus_chain::contract::{events::Event, sui::U256};
use walrus_core::{
    encoding::{Primary, Secondary, SliverData},
    metadata::{BlobMetadata, BlobMetadataV1},
    SliverPairIndex, SliverType,
};
use walrus_node_client::{
    api::{BlobStatus, ErrorReason},
    NodeClientError,
};

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

/// `sliver` with one byte of its data flipped.
fn flip_byte<T: walrus_core::encoding::EncodingAxis>(
    sliver: &SliverData<T>,
    at: usize,
) -> SliverData<T> {
    let mut data = sliver.symbols.data().to_vec();
    let at = at % data.len();
    data[at] ^= 0x01;
    SliverData::from_data(data, sliver.symbols.symbol_size(), sliver.index).expect("same shape")
}

#[test]
fn upload_to_all_nodes_certifies_and_every_node_serves_the_blob() {
    run(|| async {
        let cluster = Cluster::start().await;
        let all: Vec<usize> = (0..N_NODES).collect();
        let blob = cluster.encode(test_data(100_000, 1));
        let object = cluster.register(&blob).await;
        cluster.upload(&blob, &all).await;

        // Every node confirms (each signature checked against its key).
        for &node in &all {
            cluster.confirmation(node, &blob.blob_id).await;
        }
        let certificate = cluster.certificate(&blob.blob_id, &all).await;
        let certified = cluster.certify(object.id, &certificate).await;
        assert_eq!(certified.blob_id, U256::from(blob.blob_id));
        let on_chain = cluster.walrus.get_blob(object.id).await.unwrap();
        assert_eq!(on_chain.certified_epoch, Some(cluster.epoch));

        for &node in &all {
            let status = cluster.wait_certified(node, &blob.blob_id).await;
            let BlobStatus::Permanent {
                end_epoch,
                initial_certified_epoch,
                ..
            } = status
            else {
                unreachable!()
            };
            assert_eq!(end_epoch, object.storage.end_epoch, "node {node}");
            assert_eq!(initial_certified_epoch, Some(cluster.epoch), "node {node}");
            cluster.check_slivers(node, &blob).await;
        }
    });
}

#[test]
fn node_that_missed_the_upload_recovers_its_slivers_after_certification() {
    run(|| async {
        let cluster = Cluster::start().await;
        // Node 2 holds 3 shards: the other 7 are exactly a quorum.
        let missed = 2;
        let others: Vec<usize> = (0..N_NODES).filter(|&node| node != missed).collect();
        let (blob, _) = cluster.store(test_data(1 << 20, 2), &others).await;

        cluster.wait_certified(missed, &blob.blob_id).await;
        cluster
            .wait_all_slivers(missed, &blob, Duration::from_secs(25))
            .await;

        let node = &cluster.nodes[missed];
        let weight = u64::from(cluster.weight(missed));
        let recovered = node.metric("walrus_node_slivers_recovered_total").await;
        assert_eq!(
            recovered,
            (2 * weight) as f64,
            "one primary and one secondary per shard"
        );
        let fetched = node
            .metric("walrus_node_recovery_bytes_fetched_total")
            .await;
        assert!(fetched > 0.0);
        let primary = blob.layout.sliver_length(SliverType::Primary) as f64;
        let secondary = blob.layout.sliver_length(SliverType::Secondary) as f64;
        let own = weight as f64 * (primary + secondary);
        let size = blob.data.len() as f64;
        println!(
            "RECOVERY TRAFFIC: blob {size} B, symbol {} B, primary sliver {primary} B, \
             secondary sliver {secondary} B; node {missed} ({weight} shards) rebuilt {own} B of \
             slivers and fetched {fetched} B = {:.3} x its slivers = {:.3} x the blob",
            blob.layout.symbol_size,
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
    run(|| async {
        let mut cluster = Cluster::start().await;
        let all: Vec<usize> = (0..N_NODES).collect();
        let (blob, _) = cluster.store(test_data(200_000, 3), &all).await;
        // The node with the most shards (4: more than the other nodes' primary-recovery
        // margin alone).
        let wiped = 3;
        cluster.wait_certified(wiped, &blob.blob_id).await;

        cluster.nodes[wiped].stop().await;
        std::fs::remove_dir_all(&cluster.nodes[wiped].storage_path).unwrap();
        cluster.nodes[wiped].spawn();
        cluster.nodes[wiped].wait_ready().await;

        cluster.wait_certified(wiped, &blob.blob_id).await;
        cluster
            .wait_all_slivers(wiped, &blob, Duration::from_secs(25))
            .await;
        let recovered = cluster.nodes[wiped]
            .metric("walrus_node_slivers_recovered_total")
            .await;
        assert_eq!(recovered, 2.0 * f64::from(cluster.weight(wiped)));
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
    run(|| async {
        let mut cluster = Cluster::start().await;
        let target = 3;
        let blobs: Arc<Vec<TestBlob>> = Arc::new(
            (0..16)
                .map(|seed| cluster.encode(test_data(64 << 10, 100 + seed)))
                .collect(),
        );
        let stuck = cluster.encode(test_data(256 << 10, 99));
        for blob in blobs.iter() {
            cluster.register(blob).await;
        }
        let stuck_object = cluster.register(&stuck).await;
        for blob in blobs.iter().chain([&stuck]) {
            cluster.wait_registered(target, &blob.blob_id).await;
        }
        let pairs: Vec<Vec<SliverPairIndex>> = blobs
            .iter()
            .map(|blob| cluster.pairs_of(target, &blob.blob_id))
            .collect();

        // The stuck blob: metadata and one primary sliver acknowledged, the secondary sliver
        // of the same pair half-sent.
        let client = cluster.nodes[target].client.clone();
        let stuck_pair = cluster.pairs_of(target, &stuck.blob_id)[0];
        client
            .put_metadata(&stuck.blob_id, &stuck.metadata)
            .await
            .unwrap();
        client
            .put_sliver(&stuck.blob_id, stuck_pair, &stuck.pair(stuck_pair).primary)
            .await
            .unwrap();
        let body = bcs::to_bytes(&stuck.pair(stuck_pair).secondary).unwrap();
        let mut half_sent = common::start_half_sent_put(
            cluster.nodes[target].address,
            &walrus_node_client::api::sliver_path(
                &stuck.blob_id,
                stuck_pair,
                SliverType::Secondary,
            ),
            &body,
        )
        .await;

        let acked = Arc::new(Mutex::new(Vec::new()));
        let uploader = {
            let client = client.clone();
            let blobs = blobs.clone();
            let acked = acked.clone();
            tokio::spawn(async move {
                let ack = |item| acked.lock().unwrap().push(item);
                for (i, blob) in blobs.iter().enumerate() {
                    if client
                        .put_metadata(&blob.blob_id, &blob.metadata)
                        .await
                        .is_err()
                    {
                        return false;
                    }
                    ack(Ack::Metadata(i));
                    for &pair in &pairs[i] {
                        let slivers = blob.pair(pair);
                        if client
                            .put_sliver(&blob.blob_id, pair, &slivers.primary)
                            .await
                            .is_err()
                        {
                            return false;
                        }
                        ack(Ack::Sliver(i, pair, SliverType::Primary));
                        if client
                            .put_sliver(&blob.blob_id, pair, &slivers.secondary)
                            .await
                            .is_err()
                        {
                            return false;
                        }
                        ack(Ack::Sliver(i, pair, SliverType::Secondary));
                    }
                }
                true
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().len() < 12 {
            assert!(Instant::now() < deadline, "the upload is stuck");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // The half-sent upload is still waiting for its body: no answer.
        let mut answer = [0u8; 256];
        assert!(
            tokio::time::timeout(Duration::ZERO, half_sent.read(&mut answer))
                .await
                .is_err(),
            "the node answered a half-sent upload"
        );
        cluster.nodes[target].kill();
        let completed = tokio::time::timeout(Duration::from_secs(15), uploader)
            .await
            .expect("the uploader noticed the kill")
            .unwrap();
        assert!(!completed, "the kill came after the whole upload");
        match tokio::time::timeout(Duration::from_secs(10), half_sent.read(&mut answer)).await {
            Ok(Ok(0) | Err(_)) => {}
            Ok(Ok(n)) => panic!(
                "the half-sent upload was answered: {}",
                String::from_utf8_lossy(&answer[..n])
            ),
            Err(_) => panic!("the half-sent upload's connection outlived the node"),
        }
        let acked = acked.lock().unwrap().clone();
        println!(
            "{} items acknowledged before SIGKILL, and an upload of {} of {} bytes in flight",
            acked.len(),
            body.len() / 2,
            body.len()
        );

        cluster.nodes[target].spawn();
        cluster.nodes[target].wait_ready().await;
        let client = &cluster.nodes[target].client;
        for ack in acked {
            match ack {
                Ack::Metadata(i) => {
                    let metadata = client.get_metadata(&blobs[i].blob_id).await.unwrap();
                    assert_eq!(metadata.metadata, blobs[i].metadata);
                }
                Ack::Sliver(i, pair, SliverType::Primary) => {
                    let sliver = client
                        .get_sliver::<Primary>(&blobs[i].blob_id, pair)
                        .await
                        .unwrap_or_else(|e| panic!("acknowledged {ack:?} lost: {e}"));
                    assert_eq!(sliver, blobs[i].pair(pair).primary);
                }
                Ack::Sliver(i, pair, SliverType::Secondary) => {
                    let sliver = client
                        .get_sliver::<Secondary>(&blobs[i].blob_id, pair)
                        .await
                        .unwrap_or_else(|e| panic!("acknowledged {ack:?} lost: {e}"));
                    assert_eq!(sliver, blobs[i].pair(pair).secondary);
                }
            }
        }
        // Of the stuck blob, exactly the acknowledged part (not certified: nothing recovered).
        assert_eq!(
            client
                .get_sliver::<Primary>(&stuck.blob_id, stuck_pair)
                .await
                .unwrap(),
            stuck.pair(stuck_pair).primary
        );
        for pair in cluster.pairs_of(target, &stuck.blob_id) {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                if pair == stuck_pair && axis == SliverType::Primary {
                    continue;
                }
                assert!(
                    !client
                        .get_sliver_status(&stuck.blob_id, pair, axis)
                        .await
                        .unwrap()
                        .is_stored(),
                    "pair {} {axis:?} of the stuck blob was never acknowledged",
                    pair.0
                );
            }
        }

        // The stuck blob's upload completes (to every node), it certifies, and every node
        // serves all of it.
        let all: Vec<usize> = (0..N_NODES).collect();
        cluster.upload(&stuck, &all).await;
        let certificate = cluster.certificate(&stuck.blob_id, &all).await;
        cluster.certify(stuck_object.id, &certificate).await;
        for &node in &all {
            cluster.wait_certified(node, &stuck.blob_id).await;
            cluster.check_slivers(node, &stuck).await;
        }
    });
}

#[test]
fn bad_uploads_are_refused_with_their_reason() {
    run(|| async {
        let cluster = Cluster::start().await;
        let node = 3;
        let client = &cluster.nodes[node].client;
        let blob = cluster.encode(test_data(50_000, 5));
        cluster.register(&blob).await;
        cluster.wait_registered(node, &blob.blob_id).await;
        client
            .put_metadata(&blob.blob_id, &blob.metadata)
            .await
            .unwrap();

        // A flipped byte: INVALID_SLIVER, nothing stored.
        let own = cluster.pairs_of(node, &blob.blob_id);
        let pair = own[0];
        let good = blob.pair(pair);
        assert_refused(
            client
                .put_sliver(&blob.blob_id, pair, &flip_byte(&good.primary, 7))
                .await,
            400,
            ErrorReason::InvalidSliver,
        );
        assert_refused(
            client
                .put_sliver(&blob.blob_id, pair, &flip_byte(&good.secondary, 1000))
                .await,
            400,
            ErrorReason::InvalidSliver,
        );
        assert!(!client
            .get_sliver_status(&blob.blob_id, pair, SliverType::Primary)
            .await
            .unwrap()
            .is_stored());

        // A correct sliver of a shard the node does not hold: SHARD_NOT_ASSIGNED.
        let foreign = (0..N_SHARDS)
            .map(SliverPairIndex)
            .find(|pair| !own.contains(pair))
            .unwrap();
        assert_refused(
            client
                .put_sliver(&blob.blob_id, foreign, &blob.pair(foreign).primary)
                .await,
            400,
            ErrorReason::ShardNotAssigned,
        );

        // The intact sliver is accepted.
        client
            .put_sliver(&blob.blob_id, pair, &good.primary)
            .await
            .unwrap();
        assert_eq!(
            client
                .get_sliver::<Primary>(&blob.blob_id, pair)
                .await
                .unwrap(),
            good.primary
        );

        // Metadata of a blob never registered: NOT_REGISTERED once the registration wait
        // is over.
        let unregistered = cluster.encode(test_data(50_000, 6));
        let start = Instant::now();
        assert_refused(
            client
                .put_metadata(&unregistered.blob_id, &unregistered.metadata)
                .await,
            400,
            ErrorReason::NotRegistered,
        );
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(REGISTRATION_WAIT_MS * 9 / 10)
                && waited < Duration::from_secs(10),
            "answered after {waited:?}"
        );
    });
}

#[test]
fn inconsistent_encoding_is_proven_invalid_on_chain() {
    run(|| async {
        let cluster = Cluster::start().await;
        let honest = cluster.encode(test_data(20_000, 7));
        let layout = honest.layout;

        // Flip a byte of primary sliver j and commit to it in the metadata: a blob ID whose
        // encoding is inconsistent. Pick j held by a node other than the 4-shard one, so
        // that the others still reach a quorum without it.
        let (blob, j, skipped) = (0..N_SHARDS)
            .find_map(|j| {
                let mut pairs = honest.pairs.clone();
                let pair = &mut pairs[usize::from(j)];
                pair.primary = flip_byte(&pair.primary, 3);
                let mut hashes = honest.metadata.hashes().to_vec();
                hashes[usize::from(j)].primary_hash = pair.primary.root(&layout).unwrap();
                let metadata = BlobMetadata::V1(BlobMetadataV1 {
                    encoding_type: honest.metadata.encoding_type(),
                    unencoded_length: honest.metadata.unencoded_length(),
                    hashes,
                });
                let blob = TestBlob {
                    blob_id: metadata.compute_blob_id(),
                    metadata,
                    pairs,
                    layout,
                    data: honest.data.clone(),
                };
                let skipped = cluster.holder(&blob.blob_id, SliverPairIndex(j));
                (cluster.weight(skipped) < 4).then_some((blob, j, skipped))
            })
            .unwrap();
        let others: Vec<usize> = (0..N_NODES).filter(|&node| node != skipped).collect();
        println!("doctored primary sliver {j}, held by node {skipped}");

        let object = cluster.register(&blob).await;
        cluster.upload(&blob, &others).await;
        let certificate = cluster.certificate(&blob.blob_id, &others).await;
        cluster.certify(object.id, &certificate).await;

        // The skipped node recovers, finds the inconsistency, collects attestations and
        // submits the certificate: the chain emits InvalidBlobID ...
        let mut events = cluster.walrus.event_stream(None);
        let wanted = U256::from(blob.blob_id);
        tokio::time::timeout(Duration::from_secs(25), async {
            loop {
                let (_, event) = events.next().await.expect("the event stream");
                if matches!(&event, Event::InvalidBlobId(invalid) if invalid.blob_id == wanted) {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no InvalidBlobID event; log of node {skipped}:\n{}",
                cluster.nodes[skipped].log_tail(60)
            )
        });

        // ... every node marks the blob invalid and serves nothing of it (410).
        for node in 0..N_NODES {
            let client = &cluster.nodes[node].client;
            common::poll("the invalid status", Duration::from_secs(10), || async {
                match client.get_blob_status(&blob.blob_id).await {
                    Ok(BlobStatus::Invalid { .. }) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            })
            .await;
            assert_refused(
                client.get_metadata(&blob.blob_id).await,
                410,
                ErrorReason::BlobInvalid,
            );
            let pair = cluster.pairs_of(node, &blob.blob_id)[0];
            assert_refused(
                client.get_sliver::<Primary>(&blob.blob_id, pair).await,
                410,
                ErrorReason::BlobInvalid,
            );
        }
        let inconsistent = cluster.nodes[skipped]
            .metric("walrus_node_recoveries_total{result=\"inconsistent\"}")
            .await;
        assert!(inconsistent >= 1.0);
    });
}
