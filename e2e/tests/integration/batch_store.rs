//! Many blobs in one store (`WalrusSdk::store_many`, `walrus store A B C ...`) against real
//! processes (4 nodes, 10 shards): the chain work is batched (one registration and one
//! certification transaction for the whole batch), each file gets its own outcome (a file
//! too large for the shard count fails alone, before any transaction; a file stored twice in
//! the batch is stored once), the uploads go while the registration is on its way (the nodes
//! buffer slivers ahead of it), nothing is certified twice, and everything reads back.

use std::collections::HashMap;

use walrus_core::{encoding::EncodingConfig, BlobId};
use walrus_e2e::{run, test_data, write_file, TestNetwork};
use walrus_sdk::client::{NoProgress, SdkError, StoreOptions, StoreOutcome};

const NODES: usize = 4;
const SHARDS: u16 = 10;
/// Distinct blobs of the batch.
const DISTINCT: usize = 60;

#[test]
fn many_blobs_in_one_store_batch_the_chain_work_and_fail_per_blob() {
    run(|| async {
        let net = TestNetwork::start_with(NODES, SHARDS, |options| options.services = false)
            .await
            .expect("a network");
        let sdk = net.sdk().expect("an SDK client");
        let too_large = EncodingConfig::new(SHARDS).unwrap().max_blob_size() + 1;

        // 60 distinct 10 KB blobs (more than one default gas budget's worth of registrations),
        // the first one again, and one blob too large to encode.
        let mut blobs: Vec<Vec<u8>> = (0..DISTINCT as u64)
            .map(|seed| test_data(10_000, 100 + seed))
            .collect();
        blobs.push(blobs[0].clone());
        blobs.push(test_data(usize::try_from(too_large).unwrap(), 7));
        let outcome = sdk
            .store_many(blobs.clone(), StoreOptions::deletable(2), &NoProgress)
            .await
            .expect("the batch runs");
        assert_eq!(outcome.results.len(), blobs.len());
        assert_eq!(
            (
                outcome.register_transactions,
                outcome.certify_transactions,
                outcome.one_by_one
            ),
            (1, 1, 0),
            "{DISTINCT} blobs: one registration and one certification transaction"
        );
        match &outcome.results[DISTINCT + 1] {
            Err(SdkError::Encode(error)) => {
                assert!(error.to_string().contains("too large"), "{error}")
            }
            other => panic!("the oversize blob fails alone before the chain: {other:?}"),
        }
        let mut ids: Vec<(BlobId, &Vec<u8>)> = Vec::new();
        for (index, result) in outcome.results[..=DISTINCT].iter().enumerate() {
            let Ok(StoreOutcome::NewlyCreated { blob_object, .. }) = result else {
                panic!("blob {index} is newly created: {result:?}");
            };
            assert!(blob_object.deletable);
            assert!(
                blob_object.certified_epoch.is_some(),
                "blob {index} certified"
            );
            ids.push((blob_object.blob_id, &blobs[index]));
        }
        assert_eq!(
            outcome.results[DISTINCT].as_ref().unwrap(),
            outcome.results[0].as_ref().unwrap(),
            "the repeated blob shares the first one's outcome"
        );

        // Those small blobs were uploaded while their registration transaction was on its way
        // (`?pending=true`; the confirmations, which name each deletable blob's object, asked
        // once it landed): the nodes buffered slivers that arrived before they saw it.
        assert!(
            net.slivers_buffered().await > 0.0,
            "no sliver of the batch was uploaded ahead of its registration"
        );

        // Nothing registered or certified twice: one certified Blob object per blob ID.
        let mut objects: HashMap<BlobId, usize> = HashMap::new();
        for blob in sdk.chain().owned_blobs().await.expect("owned blobs") {
            assert!(
                blob.certified_epoch.is_some(),
                "every Blob object is certified"
            );
            *objects.entry(BlobId::from(blob.blob_id)).or_default() += 1;
        }
        assert_eq!(objects.len(), DISTINCT, "{objects:?}");
        assert!(objects.values().all(|count| *count == 1), "{objects:?}");
        for (blob_id, data) in &ids {
            let read = sdk.read(blob_id, &NoProgress).await.expect("read back");
            assert!(read == **data, "blob {blob_id} reads back differently");
        }

        // The CLI: several files in one call, one of them too large. Every file's outcome is
        // printed and the command fails because of the one.
        let scratch = net.scratch();
        let mut paths = Vec::new();
        for seed in 0..3u64 {
            let file = write_file(
                &scratch,
                &format!("small-{seed}"),
                &test_data(5_000, 500 + seed),
            )
            .unwrap();
            paths.push(file.to_str().unwrap().to_owned());
        }
        let large = write_file(&scratch, "large", &blobs[DISTINCT + 1]).unwrap();
        paths.push(large.to_str().unwrap().to_owned());
        let mut args = vec!["--json", "store", "--epochs", "1"];
        args.extend(paths.iter().map(String::as_str));
        let output = net.cli.run(&args).await.expect("the CLI runs");
        assert!(
            !output.status.success(),
            "one file failed, so the command fails"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("1 of 4 files could not be stored"),
            "{stderr}"
        );
        let printed: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("JSON outcomes");
        let printed = printed.as_array().expect("one entry per file");
        assert_eq!(printed.len(), 4);
        for (entry, path) in printed.iter().zip(&paths).take(3) {
            assert_eq!(entry["path"], path.as_str());
            let blob_id = entry["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
                .as_str()
                .unwrap_or_else(|| panic!("a stored file: {entry}"));
            let read = net
                .cli
                .read(blob_id, &scratch.join("read-back"))
                .await
                .expect("read with the CLI");
            assert!(read == std::fs::read(path).unwrap());
        }
        // Walrus's shape: the failure is an `error` result with its phase and message.
        let error = &printed[3]["blobStoreResult"]["error"];
        assert_eq!(error["failurePhase"], "encode", "{error}");
        let message = error["errorMsg"].as_str().expect("the large file's error");
        assert!(message.contains("too large"), "{message}");
    });
}
