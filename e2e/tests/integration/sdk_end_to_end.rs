//! The SDK (`walrus_sdk::client::WalrusSdk`) against real node processes and the chain
//! ([`StorageCluster`]: 4 nodes holding 1, 2, 3 and 4 of 10 shards): store
//! and read back blobs of several sizes, a second store answered `AlreadyCertified`, the status
//! the nodes agree on, a deletable blob deleted by its owner (every node drops its data), a file
//! stored through a spill file and read back into a file (bounded memory), and reads while a
//! node is down.

use std::time::Duration;

use futures::StreamExt;
use walrus_core::encoding::{compute_metadata, EncodingConfig};
use walrus_e2e::{poll, test_data, write_file, StorageCluster};
use walrus_node_client::api::BlobStatus;
use walrus_sdk::client::{
    ConsistencyCheck, NoProgress, SdkConfig, SdkError, StoreOptions, StoreOutcome, WalrusSdk,
};

#[test]
fn sdk_stores_and_reads_blobs_of_several_sizes() {
    StorageCluster::run(|StorageCluster { mut net, client }| async move {
        let epoch = client.epoch();
        let sdk = net
            .sdk()
            .expect("an SDK client of the network's client wallet");
        let mut stored = Vec::new();
        for (len, seed) in [(0usize, 1u64), (1, 2), (1 << 20, 3)] {
            let data = test_data(len, seed);
            let outcome = sdk
                .store(data.clone(), StoreOptions::permanent(2), &NoProgress)
                .await
                .unwrap_or_else(|error| panic!("storing {len} bytes: {error}"));
            let StoreOutcome::NewlyCreated {
                blob_object, cost, ..
            } = &outcome
            else {
                panic!("a fresh blob is newly created: {outcome:?}");
            };
            assert_eq!(blob_object.size, len as u64);
            assert_eq!(blob_object.storage.end_epoch, epoch + 2);
            assert_eq!(blob_object.certified_epoch, Some(epoch));
            assert!(!blob_object.deletable);
            assert!(*cost > 0);
            let blob_id = outcome.blob_id();
            let read = sdk.read(&blob_id, &NoProgress).await.expect("read back");
            assert!(read == data, "{len} bytes read back differ");
            stored.push((blob_id, data));
        }

        // Those small permanent blobs were uploaded while their registration was on its way
        // (`?pending=true`): the nodes buffered slivers that arrived before they saw it (a
        // registration takes a transaction and a checkpoint, an upload a few local requests).
        assert!(
            net.slivers_buffered().await > 0.0,
            "no sliver was uploaded ahead of its registration"
        );

        // The same bytes again: the nodes already hold them certified long enough.
        let (blob_id, data) = stored[2].clone();
        match sdk
            .store(data.clone(), StoreOptions::permanent(1), &NoProgress)
            .await
        {
            Ok(StoreOutcome::AlreadyCertified {
                blob_id: id,
                end_epoch,
                ..
            }) => {
                assert_eq!((id, end_epoch), (blob_id, epoch + 2));
            }
            other => panic!("expected AlreadyCertified, got {other:?}"),
        }
        match sdk.status(&blob_id).await.expect("status") {
            BlobStatus::Permanent {
                is_certified: true,
                end_epoch,
                ..
            } => assert_eq!(end_epoch, epoch + 2),
            other => panic!("unexpected status {other:?}"),
        }

        // Byte ranges: within one row, across rows, the last byte, empty, out of bounds.
        let size = data.len() as u64;
        assert_eq!(sdk.blob_size(&blob_id).await.expect("size"), size);
        for range in [0..10, 1000..300_000, size - 1..size, 7..7, 0..size] {
            let bytes = sdk
                .read_range(&blob_id, range.clone(), &NoProgress)
                .await
                .expect("range read");
            assert!(
                bytes[..]
                    == data[usize::try_from(range.start).unwrap()
                        ..usize::try_from(range.end).unwrap()],
                "range {range:?} differs"
            );
        }
        assert!(matches!(
            sdk.read_range(&blob_id, size - 1..size + 1, &NoProgress)
                .await,
            Err(SdkError::InvalidRange { .. })
        ));

        // A deletable blob, deleted by its owner: every node drops its data.
        let deletable = test_data(4096, 4);
        let outcome = sdk
            .store(deletable, StoreOptions::deletable(2), &NoProgress)
            .await
            .expect("store deletable");
        let StoreOutcome::NewlyCreated { blob_object, .. } = &outcome else {
            panic!("a deletable store always creates: {outcome:?}");
        };
        let object_id = blob_object.id;
        // Extend it, and find it among the wallet's blobs.
        let extended = sdk.extend(object_id, 3).await.expect("extend");
        assert_eq!(extended.storage.end_epoch, epoch + 5);
        let owned = sdk.list_blobs(false).await.expect("list blobs");
        assert!(owned.contains(&extended), "{owned:?}");
        let deleted_id = outcome.blob_id();
        assert!(matches!(
            sdk.status(&deleted_id).await.expect("status"),
            BlobStatus::Deletable { .. }
        ));
        sdk.delete(object_id).await.expect("delete");
        assert!(sdk
            .list_blobs(true)
            .await
            .expect("list blobs")
            .iter()
            .all(|blob| blob.id != object_id));
        for node in 0..StorageCluster::NODES {
            let node_client = client.node(node);
            poll(
                "the deleted blob's data to go",
                Duration::from_secs(20),
                || async move {
                    match node_client.get_metadata(&deleted_id).await {
                        Err(error) if error.is_not_found() => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(
            sdk.status(&deleted_id).await.expect("status"),
            BlobStatus::Nonexistent
        );

        // A file stored through a spill file (this client spills every file): the slivers and
        // blob ID of the in-memory encoder, uploaded a sliver at a time from disk.
        let spilling = WalrusSdk::new(
            net.chain_client().expect("a chain client"),
            SdkConfig {
                spill_threshold: 0,
                ..SdkConfig::default()
            },
        );
        let spilled_data = test_data(700_001, 5);
        let path = write_file(&net.scratch(), "spilled.bin", &spilled_data).unwrap();
        let outcome = spilling
            .store_file(&path, StoreOptions::permanent(2), &NoProgress)
            .await
            .expect("store through a spill file");
        assert!(
            matches!(outcome, StoreOutcome::NewlyCreated { .. }),
            "{outcome:?}"
        );
        let spilled_id = outcome.blob_id();
        let config = EncodingConfig::new(StorageCluster::SHARDS).unwrap();
        assert_eq!(
            spilled_id,
            *compute_metadata(&config, &spilled_data).unwrap().blob_id()
        );

        // A node down (the one with the most shards): reads still succeed from the others.
        let biggest = (0..StorageCluster::NODES)
            .max_by_key(|&node| net.shards.weight(&[node]))
            .expect("nodes");
        net.network.kill_node(biggest).unwrap();
        let read = sdk
            .read(&blob_id, &NoProgress)
            .await
            .expect("read with a node down");
        assert!(read == data);
        // Into a file, in bounded memory, re-encoded (strict): the rows of the dead node are
        // decoded.
        let file = tempfile::NamedTempFile::new().unwrap();
        let size = sdk
            .read_to_file(
                &spilled_id,
                file.as_file(),
                ConsistencyCheck::Strict,
                &NoProgress,
            )
            .await
            .expect("read into a file with a node down");
        assert_eq!(size, spilled_data.len() as u64);
        assert!(std::fs::read(file.path()).unwrap() == spilled_data);
        // Streamed, under the default check: the same bytes, in order.
        let mut stream = sdk
            .read_stream(&spilled_id, ConsistencyCheck::Default)
            .await
            .expect("a stream with a node down");
        assert_eq!(stream.size, spilled_data.len() as u64);
        let mut streamed = Vec::new();
        while let Some(chunk) = stream.chunks.next().await {
            streamed.extend_from_slice(&chunk.expect("a chunk"));
        }
        assert!(streamed == spilled_data);

        // A blob nobody stored.
        let unknown = walrus_core::BlobId([9; 32]);
        match sdk.read(&unknown, &NoProgress).await {
            Err(SdkError::BlobNotFound(id)) => assert_eq!(id, unknown),
            other => panic!("expected BlobNotFound, got {:?}", other.map(|b| b.len())),
        }
    });
}
