//! The SDK's storage-node side ([`StorageNodes`]) against committees of mock nodes, without a
//! chain: whole and ranged reads around missing, lying and silent nodes, quilt patches from
//! their own columns, blob status by validity weight, and audits.

use std::{
    collections::BTreeSet,
    ops::Range,
    os::fd::AsRawFd,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use walrus_chain::client::committee::{CommitteeView, MemberInfo};
use walrus_core::{
    crypto::{Committee, CommitteeMember, ProtocolKeyPair},
    encoding::{encode_blob, EncodedBlob, EncodingConfig},
    quilt::{encode_quilt, QuiltError, QuiltFile, QuiltIndex, QuiltPatchId},
    BlobId, ObjectId, SliverPairIndex,
};
use walrus_node_client::{
    api::{BlobStatus, DeletableCounts, EventId, TransactionDigest},
    testing::{blob_bytes, encoded_blob, Behavior, MockNode, Route},
    ErrorReason,
};
use walrus_sdk::{
    audit::{AuditOptions, Verdict},
    client::{ConsistencyCheck, NoProgress, PatchSelection, SdkConfig, SdkError},
    nodes::StorageNodes,
};

/// The three consistency checks, weakest first.
const CHECKS: [ConsistencyCheck; 3] = [
    ConsistencyCheck::Skip,
    ConsistencyCheck::Default,
    ConsistencyCheck::Strict,
];

/// Shards of the mock networks (`f = 3`: reads need 4 primary slivers, validity is 4 shards,
/// a quorum 7).
const N_SHARDS: u16 = 10;
/// Bytes of the blob: several rows of the primary source slivers.
const BLOB_LEN: usize = 20_000;
/// After this long without progress a read asks further nodes (tests with a silent node).
const HEDGE_AFTER: Duration = Duration::from_millis(200);
/// Never hedging in time (tests that count requests, whatever the machine's load).
const NO_HEDGE: Duration = Duration::from_secs(30);
/// Far longer than any test may take: a read that waits for a silent node fails the test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A bound on tests that must not wait for a silent node.
const PROMPTLY: Duration = Duration::from_secs(10);

/// A committee of ten mock nodes, node `i` holding the shard of pair `i` of the blob.
struct Network {
    blob: Arc<EncodedBlob>,
    nodes: Vec<MockNode>,
    view: CommitteeView,
}

impl Network {
    /// Node `i` answers as `behaviors[i]` (missing entries: honest) and reports `status`.
    async fn start(behaviors: Vec<Behavior>, status: impl Fn(usize) -> BlobStatus) -> Self {
        let blob = Arc::new(encoded_blob(N_SHARDS, BLOB_LEN, 0x5a));
        Self::start_with_blob(blob, behaviors, status).await
    }

    /// As [`Self::start`], serving `blob`.
    async fn start_with_blob(
        blob: Arc<EncodedBlob>,
        behaviors: Vec<Behavior>,
        status: impl Fn(usize) -> BlobStatus,
    ) -> Self {
        let blob_id = *blob.metadata.blob_id();
        let mut nodes = Vec::new();
        let mut members = Vec::new();
        let mut weights = Vec::new();
        for index in 0..N_SHARDS {
            let position = usize::from(index);
            let behavior = behaviors.get(position).cloned();
            let pair = SliverPairIndex(index);
            let node = MockNode::builder(blob.clone())
                .pairs([pair])
                .behavior(behavior.unwrap_or(Behavior::Honest))
                .status(status(position))
                .start()
                .await;
            let key = ProtocolKeyPair::from_seed([u8::try_from(index).unwrap(); 32]);
            weights.push(CommitteeMember {
                public_key: key.public().clone(),
                weight: 1,
            });
            members.push(MemberInfo {
                node_id: ObjectId([u8::try_from(index).unwrap() + 1; 32]),
                public_key: key.public().clone(),
                url: node.url().to_owned(),
                network_public_key: Vec::new(),
                shards: vec![pair.to_shard_index(N_SHARDS, &blob_id)],
            });
            nodes.push(node);
        }
        let view = CommitteeView {
            epoch: 1,
            n_shards: N_SHARDS,
            committee: Committee::new(1, N_SHARDS, weights).unwrap(),
            members,
            own_index: None,
            own_shards: BTreeSet::new(),
            previous: None,
            in_transition: false,
        };
        Self { blob, nodes, view }
    }

    /// Node `i` answers as `behaviors[i]`; every node knows nothing about the blob's status.
    async fn with(behaviors: Vec<Behavior>) -> Self {
        Self::start(behaviors, |_| BlobStatus::Nonexistent).await
    }

    fn blob_id(&self) -> BlobId {
        *self.blob.metadata.blob_id()
    }

    /// Sliver requests each node received.
    fn sliver_requests(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|node| node.requests(Route::Sliver))
            .collect()
    }
}

fn storage_nodes(hedge_after: Duration) -> StorageNodes {
    StorageNodes::new(SdkConfig {
        hedge_after,
        request_timeout: REQUEST_TIMEOUT,
        ..SdkConfig::default()
    })
}

fn data() -> Vec<u8> {
    blob_bytes(BLOB_LEN, 0x5a)
}

/// The bytes `range` of the blob.
fn data_in(range: &Range<u64>) -> Vec<u8> {
    let index = |at: u64| usize::try_from(at).unwrap();
    data()[index(range.start)..index(range.end)].to_vec()
}

async fn read_range(
    network: &Network,
    range: Range<u64>,
    hedge_after: Duration,
) -> Result<Vec<u8>, SdkError> {
    storage_nodes(hedge_after)
        .read_range(&network.view, &network.blob_id(), range, &NoProgress)
        .await
}

/// Bytes per row of the blob: the row `i` is in the primary source sliver `i`.
fn row_length(network: &Network) -> u64 {
    let layout = network.blob.metadata.layout();
    u64::try_from(layout.row_length()).unwrap()
}

#[tokio::test]
async fn reads_a_blob_from_honest_nodes() {
    let network = Network::with(vec![]).await;
    let nodes = storage_nodes(NO_HEDGE);
    let blob_id = network.blob_id();
    let bytes = nodes
        .read(&network.view, &blob_id, &NoProgress)
        .await
        .unwrap();
    assert_eq!(bytes, data());
    let size = nodes.blob_size(&network.view, &blob_id).await.unwrap();
    assert_eq!(size, BLOB_LEN as u64);
    // The four source slivers decode by copy: nobody else is asked.
    assert_eq!(network.sliver_requests(), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn reads_around_missing_lying_and_silent_nodes() {
    // The holders of the first six pairs (asked first) fail in every way; the last four are
    // exactly the slivers a read needs.
    let network = Network::with(vec![
        Behavior::Refuse(ErrorReason::SliverNotFound),
        Behavior::OtherSliver,
        Behavior::Body(vec![0xff; 100]),
        Behavior::Hang,
        Behavior::Body(vec![0; 8 << 20]),
        Behavior::Refuse(ErrorReason::Internal),
    ])
    .await;
    let started = Instant::now();
    let bytes = storage_nodes(HEDGE_AFTER)
        .read(&network.view, &network.blob_id(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(bytes, data());
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
    // Every node was asked once, the silent one included: none twice.
    assert_eq!(network.sliver_requests(), [1; 10]);
}

/// Reads the network's blob with [`StorageNodes::read_to_file`] into a fresh file.
async fn read_to_file(network: &Network, nodes: &StorageNodes) -> Result<Vec<u8>, SdkError> {
    read_to_file_checked(network, nodes, ConsistencyCheck::Default).await
}

/// As [`read_to_file`], with the consistency check `check`.
async fn read_to_file_checked(
    network: &Network,
    nodes: &StorageNodes,
    check: ConsistencyCheck,
) -> Result<Vec<u8>, SdkError> {
    let file = tempfile::tempfile().unwrap();
    let size = nodes
        .read_to_file(&network.view, &network.blob_id(), &file, check, &NoProgress)
        .await?;
    let bytes = std::fs::read(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
    assert_eq!(size, bytes.len() as u64);
    Ok(bytes)
}

#[tokio::test]
async fn reads_into_a_file_from_source_rows_or_by_decoding() {
    // All source rows: copied into place.
    let network = Network::with(vec![]).await;
    let nodes = storage_nodes(NO_HEDGE);
    assert_eq!(read_to_file(&network, &nodes).await.unwrap(), data());
    assert_eq!(network.sliver_requests(), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);

    // Two source rows missing, one lying: restored from repair rows a window at a time.
    let network = Network::with(vec![
        Behavior::Refuse(ErrorReason::SliverNotFound),
        Behavior::OtherSliver,
        Behavior::Honest,
        Behavior::Refuse(ErrorReason::SliverNotFound),
    ])
    .await;
    assert_eq!(
        read_to_file(&network, &storage_nodes(HEDGE_AFTER))
            .await
            .unwrap(),
        data()
    );
    assert_eq!(network.sliver_requests()[..6], [1, 1, 1, 1, 1, 1]);
}

/// Reads the network's blob with [`StorageNodes::read_stream`], collecting its chunks.
async fn read_stream(
    network: &Network,
    nodes: &StorageNodes,
    check: ConsistencyCheck,
) -> Result<Vec<u8>, SdkError> {
    let mut stream = nodes
        .read_stream(&network.view, &network.blob_id(), check)
        .await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.chunks.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    assert_eq!(stream.size, bytes.len() as u64);
    Ok(bytes)
}

/// Reads the network's blob in memory, into a file and as a stream, with `check`: the
/// three results, which must agree.
async fn read_three_ways(network: &Network, check: ConsistencyCheck) -> Result<Vec<u8>, SdkError> {
    let nodes = storage_nodes(HEDGE_AFTER);
    let in_memory = nodes
        .read_checked(&network.view, &network.blob_id(), check, &NoProgress)
        .await;
    let in_file = read_to_file_checked(network, &nodes, check).await;
    let streamed = read_stream(network, &nodes, check).await;
    let describe = |result: &Result<Vec<u8>, SdkError>| match result {
        Ok(bytes) => format!("{} bytes {:x?}", bytes.len(), &bytes[..8.min(bytes.len())]),
        Err(error) => format!("{error:?}"),
    };
    for other in [&in_file, &streamed] {
        assert_eq!(describe(&in_memory), describe(other), "{check}");
        if let (Ok(a), Ok(b)) = (&in_memory, other) {
            assert!(a == b, "{check}: the reads disagree");
        }
    }
    in_memory
}

#[tokio::test]
async fn streams_the_blob_in_order_from_source_rows_or_by_decoding() {
    for check in CHECKS {
        let network = Network::with(vec![]).await;
        assert_eq!(read_three_ways(&network, check).await.unwrap(), data());
        let network = Network::with(vec![
            Behavior::Refuse(ErrorReason::SliverNotFound),
            Behavior::Honest,
            Behavior::OtherSliver,
        ])
        .await;
        assert_eq!(read_three_ways(&network, check).await.unwrap(), data());
    }
}

#[tokio::test]
async fn a_stream_sends_the_first_rows_before_the_missing_ones_are_decoded() {
    // The holder of the last source row is silent: after `hedge_after` the read asks repair
    // rows and decodes it. The first row is sent before any repair row is even asked for.
    let hedge_after = Duration::from_secs(3);
    let network = Network::with(vec![
        Behavior::Honest,
        Behavior::Honest,
        Behavior::Honest,
        Behavior::Hang,
    ])
    .await;
    let nodes = storage_nodes(hedge_after);
    let mut stream = nodes
        .read_stream(&network.view, &network.blob_id(), ConsistencyCheck::Default)
        .await
        .unwrap();
    let first = stream.chunks.next().await.unwrap().unwrap();
    assert_eq!(
        network.sliver_requests()[4..],
        [0; 6],
        "no repair row asked yet"
    );
    let row = usize::try_from(row_length(&network)).unwrap();
    assert_eq!(first.as_ref(), &data()[..row]);
    let mut bytes = first.to_vec();
    while let Some(chunk) = stream.chunks.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert!(bytes == data());
    assert!(
        network.sliver_requests()[4..].contains(&1),
        "row 3 was decoded"
    );

    // Under the strict check nothing is sent before the whole blob re-encoded to its ID.
    let network = Network::with(vec![]).await;
    let mut stream = nodes
        .read_stream(&network.view, &network.blob_id(), ConsistencyCheck::Strict)
        .await
        .unwrap();
    assert!(stream.chunks.next().await.unwrap().is_ok());
    assert_eq!(network.sliver_requests()[..4], [1; 4]);
}

#[tokio::test]
async fn a_stream_ends_complete_only_if_the_whole_read_succeeds() {
    // A 1-byte blob: its only bytes are in row 0, whose holder answers; but 9 of 10 nodes
    // refuse, so `n - 2f` slivers cannot be had: the stream fails as a whole read does.
    let blob = Arc::new(encoded_blob(N_SHARDS, 1, 0x5a));
    let mut behaviors = vec![Behavior::Honest];
    behaviors.extend(vec![Behavior::Refuse(ErrorReason::SliverNotFound); 9]);
    let network = Network::start_with_blob(blob, behaviors, |_| BlobStatus::Nonexistent).await;
    let nodes = storage_nodes(HEDGE_AFTER);
    let error = read_stream(&network, &nodes, ConsistencyCheck::Default)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SdkError::NotEnoughSlivers { .. }),
        "{error:?}"
    );
    assert_eq!(network.sliver_requests()[0], 1, "row 0 was read");
}

/// A blob whose primary sliver `row` the writer doctored (flipping a byte) and committed to in
/// the metadata: every sliver verifies on its own, but the encoding is inconsistent.
fn doctored_blob(row: usize) -> Arc<EncodedBlob> {
    let config = walrus_core::encoding::EncodingConfig::new(N_SHARDS).unwrap();
    let mut encoded = walrus_core::encoding::encode_blob(&config, &data()).unwrap();
    let layout = *encoded.metadata.layout();
    let doctored = &mut encoded.sliver_pairs[row].primary;
    let mut bytes = doctored.symbols.data().to_vec();
    bytes[0] ^= 0xff;
    *doctored = walrus_core::encoding::PrimarySliver::new(
        walrus_core::encoding::Symbols::new(bytes, layout.symbol_size).unwrap(),
        doctored.index,
    );
    let mut hashes = encoded.metadata.metadata().hashes().to_vec();
    hashes[row].primary_hash = encoded.sliver_pairs[row].primary.root(&layout).unwrap();
    let metadata = walrus_core::metadata::BlobMetadata::V1(walrus_core::metadata::BlobMetadataV1 {
        encoding_type: encoded.metadata.metadata().encoding_type(),
        unencoded_length: data().len() as u64,
        hashes,
    });
    encoded.metadata = walrus_core::metadata::BlobMetadataWithId {
        blob_id: metadata.compute_blob_id(),
        metadata,
    }
    .verify(&config)
    .unwrap();
    Arc::new(encoded)
}

#[tokio::test]
async fn the_three_checks_against_an_inconsistent_writer() {
    let invalid = |result: Result<Vec<u8>, SdkError>, network: &Network| matches!(result, Err(SdkError::BlobInvalid(id)) if id == network.blob_id());
    // Repair row 5 doctored, every source row at hand: default and skip read the bytes
    // the metadata commit to (every source row matches its hash); strict re-encodes and
    // refuses.
    let network =
        Network::start_with_blob(doctored_blob(5), vec![], |_| BlobStatus::Nonexistent).await;
    let [skip, default, strict] = [
        read_three_ways(&network, ConsistencyCheck::Skip).await,
        read_three_ways(&network, ConsistencyCheck::Default).await,
        read_three_ways(&network, ConsistencyCheck::Strict).await,
    ];
    assert!(skip.unwrap() == data());
    assert!(default.unwrap() == data());
    assert!(invalid(strict, &network));

    // Source rows missing: the reads decode through the doctored row. Default finds restored
    // rows that do not match their hashes, strict a wrong blob ID; skip trusts the writer and
    // returns other bytes than the readers above got.
    let network = Network::start_with_blob(
        doctored_blob(5),
        vec![Behavior::Refuse(ErrorReason::SliverNotFound); 4],
        |_| BlobStatus::Nonexistent,
    )
    .await;
    let skipped = read_three_ways(&network, ConsistencyCheck::Skip)
        .await
        .unwrap();
    assert_eq!(skipped.len(), data().len());
    assert!(skipped != data());
    for check in [ConsistencyCheck::Default, ConsistencyCheck::Strict] {
        assert!(
            invalid(read_three_ways(&network, check).await, &network),
            "{check}"
        );
    }
}

#[tokio::test]
async fn reading_an_inconsistent_blob_into_a_file_is_refused() {
    // The writer doctored the repair row 5 (and committed to it): with the source rows
    // missing, the read decodes through it, and the restored rows do not match their hashes.
    let network = Network::start_with_blob(
        doctored_blob(5),
        vec![Behavior::Refuse(ErrorReason::SliverNotFound); 4],
        |_| BlobStatus::Nonexistent,
    )
    .await;
    let error = read_to_file(&network, &storage_nodes(HEDGE_AFTER))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SdkError::BlobInvalid(id) if id == network.blob_id()),
        "{error:?}"
    );
    // The doctored row was really used: the holders of pairs 4..8 were asked.
    assert_eq!(network.sliver_requests()[4..8], [1, 1, 1, 1]);
}

#[tokio::test]
async fn metadata_of_another_blob_are_not_used() {
    let other = encoded_blob(N_SHARDS, BLOB_LEN, 0x33)
        .metadata
        .into_unverified();
    // Seven nodes answer the metadata of another blob; the three others are enough.
    let network = Network::with(vec![Behavior::Metadata(other); 7]).await;
    let bytes = storage_nodes(HEDGE_AFTER)
        .read(&network.view, &network.blob_id(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(bytes, data());
}

#[tokio::test]
async fn too_few_slivers_fail_the_read() {
    // Seven of ten pairs are missing: three slivers cannot decode the blob.
    let network = Network::with(vec![Behavior::Refuse(ErrorReason::SliverNotFound); 7]).await;
    let error = storage_nodes(HEDGE_AFTER)
        .read(&network.view, &network.blob_id(), &NoProgress)
        .await
        .unwrap_err();
    match error {
        SdkError::NotEnoughSlivers { blob_id, detail } => {
            assert_eq!(blob_id, network.blob_id());
            assert!(detail.contains("3 of 4 primary slivers"), "{detail}");
        }
        other => panic!("expected too few slivers, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_blob_is_not_found_and_an_invalid_one_is_invalid() {
    let missing = Network::with(vec![Behavior::Refuse(ErrorReason::MetadataNotFound); 10]).await;
    let blob_id = missing.blob_id();
    let error = storage_nodes(HEDGE_AFTER)
        .read(&missing.view, &blob_id, &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SdkError::BlobNotFound(id) if id == blob_id),
        "{error:?}"
    );

    // Nodes of validity weight (4 shards) say the blob is invalid.
    let invalid = Network::with(vec![Behavior::Refuse(ErrorReason::BlobInvalid); 4]).await;
    let blob_id = invalid.blob_id();
    let nodes = storage_nodes(HEDGE_AFTER);
    let error = nodes
        .read(&invalid.view, &blob_id, &NoProgress)
        .await
        .unwrap_err();
    // Whether their metadata answers or those for the first four slivers come first, four
    // shards' reports make the blob invalid.
    match error {
        SdkError::BlobInvalid(id) => assert_eq!(id, blob_id),
        other => panic!("expected an invalid blob, got {other:?}"),
    }
}

#[tokio::test]
async fn a_range_reads_only_the_rows_it_covers() {
    let network = Network::with(vec![]).await;
    let row = row_length(&network);

    // Inside row 1, only the holder of pair 1 is asked; across rows 1 and 2, both holders.
    for (range, requests) in [
        (row + 10..2 * row - 10, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        (2 * row - 5..2 * row + 5, [0, 2, 1, 0, 0, 0, 0, 0, 0, 0]),
    ] {
        let bytes = read_range(&network, range.clone(), NO_HEDGE).await.unwrap();
        assert_eq!(bytes, data_in(&range));
        assert_eq!(network.sliver_requests(), requests);
    }

    // The last bytes, the whole blob, and nothing at all.
    let end = BLOB_LEN as u64;
    for range in [end - 3..end, 0..end] {
        assert_eq!(
            read_range(&network, range.clone(), NO_HEDGE).await.unwrap(),
            data_in(&range)
        );
    }
    let before = network.sliver_requests();
    assert!(read_range(&network, 7..7, NO_HEDGE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(network.sliver_requests(), before);
}

#[tokio::test]
async fn a_range_outside_the_blob_is_refused() {
    let network = Network::with(vec![]).await;
    let end = BLOB_LEN as u64;
    for range in [end - 1..end + 1, end + 5..end + 6] {
        let error = read_range(&network, range.clone(), NO_HEDGE)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SdkError::InvalidRange { start, end: stop, size }
                if start == range.start && stop == range.end && size == end),
            "{error:?}"
        );
    }
    let reversed = Range { start: 9, end: 3 };
    assert!(matches!(
        read_range(&network, reversed, NO_HEDGE).await,
        Err(SdkError::InvalidRange {
            start: 9,
            end: 3,
            ..
        })
    ));
}

#[tokio::test]
async fn a_range_whose_holder_is_silent_falls_back_to_a_whole_read() {
    let network = Network::with(vec![Behavior::Honest, Behavior::Hang]).await;
    let row = row_length(&network);
    let range = row + 1..row + 100;
    let started = Instant::now();
    let bytes = read_range(&network, range.clone(), HEDGE_AFTER)
        .await
        .unwrap();
    assert_eq!(bytes, data_in(&range));
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
    assert!(started.elapsed() >= HEDGE_AFTER);
    // The range asked the silent holder of row 1, then the whole read the four source
    // slivers (the silent one again) and more after it stalled.
    let requests = network.sliver_requests();
    assert_eq!(requests[..4], [1, 2, 1, 1], "{requests:?}");
    assert!(requests[4..].iter().sum::<usize>() >= 1, "{requests:?}");
}

fn certified_until(end_epoch: u32) -> BlobStatus {
    BlobStatus::Permanent {
        end_epoch,
        is_certified: true,
        status_event: EventId {
            tx_digest: TransactionDigest([end_epoch.to_le_bytes()[0]; 32]),
            event_seq: 0,
        },
        deletable_counts: DeletableCounts::default(),
        initial_certified_epoch: Some(1),
    }
}

#[tokio::test]
async fn the_status_is_what_validity_weight_reports() {
    // Three liars claim a later end epoch; one node never answers; six honest ones.
    let mut behaviors = vec![Behavior::Honest; 3];
    behaviors.push(Behavior::Hang);
    let network = Network::start(behaviors, |index| {
        if index < 3 {
            certified_until(100)
        } else {
            certified_until(5)
        }
    })
    .await;
    let started = Instant::now();
    let status = storage_nodes(HEDGE_AFTER)
        .status(&network.view, &network.blob_id())
        .await;
    assert_eq!(status, certified_until(5));
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());

    // Fewer than validity weight cannot make a blob exist.
    let minority = Network::start(vec![], |index| {
        if index < 3 {
            certified_until(100)
        } else {
            BlobStatus::Nonexistent
        }
    })
    .await;
    let status = storage_nodes(HEDGE_AFTER)
        .status(&minority.view, &minority.blob_id())
        .await;
    assert_eq!(status, BlobStatus::Nonexistent);
}

#[tokio::test]
async fn an_audit_reports_every_shard() {
    let mut behaviors = vec![Behavior::Honest; 7];
    behaviors.extend([
        Behavior::Refuse(ErrorReason::MetadataNotFound),
        Behavior::CorruptSymbols,
        Behavior::Hang,
    ]);
    let network = Network::with(behaviors).await;
    let options = AuditOptions {
        samples: 2,
        request_timeout: Duration::from_millis(500),
        max_concurrent_requests: 8,
    };
    let report = storage_nodes(HEDGE_AFTER)
        .audit(&network.view, &network.blob_id(), &options)
        .await
        .unwrap();
    assert_eq!(report.blob_id, network.blob_id());
    assert_eq!(report.unencoded_length, BLOB_LEN as u64);
    let verdicts: Vec<Verdict> = report
        .nodes
        .iter()
        .map(|node| {
            assert_eq!(node.shards.len(), 1);
            node.shards[0].verdict
        })
        .collect();
    let mut expected = vec![Verdict::Holds; 7];
    expected.extend([Verdict::Missing, Verdict::Lying, Verdict::Unreachable]);
    assert_eq!(verdicts, expected);
    let urls: Vec<&str> = report.nodes.iter().map(|node| node.url.as_str()).collect();
    let expected_urls: Vec<&str> = network.nodes.iter().map(MockNode::url).collect();
    assert_eq!(urls, expected_urls);
    let summary = report.summary;
    assert_eq!(
        (
            summary.holds,
            summary.missing,
            summary.lying,
            summary.unreachable
        ),
        (7, 1, 1, 1)
    );
    assert!(summary.recoverable && !report.all_hold());
}

/// A quilt of four files (one tagged `kind=note`, one spanning several columns) for the mock
/// network's ten shards, and the files.
fn quilt() -> (Arc<EncodedBlob>, QuiltIndex, Vec<QuiltFile>) {
    let tagged = |file: QuiltFile| {
        file.with_tags(
            [("kind".to_string(), "note".to_string())]
                .into_iter()
                .collect(),
        )
    };
    let files = vec![
        QuiltFile::new("b.bin", blob_bytes(3_000, 1)),
        tagged(QuiltFile::new("a.txt", b"first".to_vec())),
        QuiltFile::new("d", Vec::new()),
        tagged(QuiltFile::new("c.txt", blob_bytes(40, 2))),
    ];
    let config = EncodingConfig::new(N_SHARDS).unwrap();
    let quilt = encode_quilt(&config, &files).unwrap();
    let blob = encode_blob(&config, &quilt.bytes).unwrap();
    (Arc::new(blob), quilt.index, files)
}

/// The nodes holding column `column` of the quilt (one each here: node `n - 1 - column`).
fn column_holder(column: u16) -> usize {
    usize::from(N_SHARDS - 1 - column)
}

#[tokio::test]
async fn a_quilt_patch_is_read_from_its_own_columns_only() {
    let (blob, index, files) = quilt();
    let network = Network::start_with_blob(blob, vec![], |_| BlobStatus::Nonexistent).await;
    let nodes = storage_nodes(NO_HEDGE);
    let quilt_id = network.blob_id();
    let file = |identifier: &str| files.iter().find(|f| f.identifier == identifier).unwrap();

    // The index: column 0 only.
    let read = nodes
        .read_quilt_index(&network.view, &quilt_id, &NoProgress)
        .await
        .unwrap();
    assert_eq!(read, index);
    let mut expected = vec![0; usize::from(N_SHARDS)];
    expected[column_holder(0)] = 1;
    assert_eq!(network.sliver_requests(), expected);

    // One patch by its ID: its columns only, not even the index.
    let patch = index.by_identifiers(&["b.bin"]).unwrap()[0].clone();
    assert!(patch.end_index - patch.start_index > 1, "{patch:?}");
    let read = nodes
        .read_quilt_patch(&network.view, &patch.patch_id(quilt_id), &NoProgress)
        .await
        .unwrap();
    assert_eq!(&read.file, file("b.bin"));
    assert_eq!(read.patch_id, patch.patch_id(quilt_id));
    for column in patch.start_index..patch.end_index {
        expected[column_holder(column)] += 1;
    }
    assert_eq!(network.sliver_requests(), expected);

    // By identifiers (in the order asked), by tag, and all of them.
    let read = nodes
        .read_quilt(
            &network.view,
            &quilt_id,
            &PatchSelection::Identifiers(vec!["c.txt".into(), "a.txt".into()]),
            &NoProgress,
        )
        .await
        .unwrap();
    let identifiers: Vec<&str> = read.iter().map(|p| p.file.identifier.as_str()).collect();
    assert_eq!(identifiers, ["c.txt", "a.txt"]);
    assert_eq!(&read[0].file, file("c.txt"));
    let tagged = nodes
        .read_quilt(
            &network.view,
            &quilt_id,
            &PatchSelection::Tag {
                key: "kind".into(),
                value: "note".into(),
            },
            &NoProgress,
        )
        .await
        .unwrap();
    let identifiers: Vec<&str> = tagged.iter().map(|p| p.file.identifier.as_str()).collect();
    assert_eq!(identifiers, ["a.txt", "c.txt"]);
    let all = nodes
        .read_quilt(&network.view, &quilt_id, &PatchSelection::All, &NoProgress)
        .await
        .unwrap();
    assert_eq!(all.len(), files.len());
    for read in &all {
        assert_eq!(&read.file, file(&read.file.identifier));
    }

    // An identifier the quilt does not have.
    match nodes
        .read_quilt(
            &network.view,
            &quilt_id,
            &PatchSelection::Identifiers(vec!["a.txt".into(), "nope".into()]),
            &NoProgress,
        )
        .await
    {
        Err(SdkError::Quilt(QuiltError::PatchesNotFound(missing))) => {
            assert_eq!(missing, ["nope"])
        }
        other => panic!("expected a missing patch, got {other:?}"),
    }
}

#[tokio::test]
async fn a_quilt_patch_whose_column_holder_fails_is_read_from_the_whole_quilt() {
    let (blob, index, files) = quilt();
    let patch = index.by_identifiers(&["b.bin"]).unwrap()[0].clone();
    let file = files.iter().find(|f| f.identifier == "b.bin").unwrap();
    // The holder of the patch's last column lies (a genuine sliver of another column), then
    // refuses.
    for behavior in [
        Behavior::OtherSliver,
        Behavior::Refuse(ErrorReason::SliverNotFound),
    ] {
        let mut behaviors = vec![Behavior::Honest; usize::from(N_SHARDS)];
        let holder = column_holder(patch.end_index - 1);
        behaviors[holder] = behavior;
        let network =
            Network::start_with_blob(blob.clone(), behaviors, |_| BlobStatus::Nonexistent).await;
        let read = storage_nodes(HEDGE_AFTER)
            .read_quilt_patch(
                &network.view,
                &patch.patch_id(network.blob_id()),
                &NoProgress,
            )
            .await
            .unwrap();
        assert_eq!(&read.file, file);
        // The failed column was asked once; the whole read asked primary slivers of others.
        let requests = network.sliver_requests();
        assert!(requests[holder] >= 1, "{requests:?}");
        let total: usize = requests.iter().sum();
        let columns = usize::from(patch.end_index - patch.start_index);
        assert!(total >= columns + 4, "{requests:?}");
    }
}

#[tokio::test]
async fn a_patch_id_beyond_the_quilts_columns_fetches_nothing() {
    let (blob, _, _) = quilt();
    let network = Network::start_with_blob(blob, vec![], |_| BlobStatus::Nonexistent).await;
    // Ten shards: columns 0..7; secondary slivers 7..10 exist but are repair slivers.
    let made_up = QuiltPatchId {
        quilt_id: network.blob_id(),
        start_index: 5,
        end_index: 9,
    };
    let error = storage_nodes(NO_HEDGE)
        .read_quilt_patch(&network.view, &made_up, &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SdkError::Quilt(QuiltError::Malformed(_))),
        "{error:?}"
    );
    assert_eq!(network.sliver_requests().iter().sum::<usize>(), 0);
}

#[tokio::test]
async fn a_blob_that_is_no_quilt_is_refused_as_such() {
    let network = Network::with(vec![]).await;
    let error = storage_nodes(NO_HEDGE)
        .read_quilt_index(&network.view, &network.blob_id(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SdkError::Quilt(QuiltError::Malformed(_))),
        "{error:?}"
    );
    assert_eq!(network.sliver_requests().iter().sum::<usize>(), 0);
}
