//! Our storage nodes driven by the public Walrus TypeScript clients (npm `@mysten/walrus`'s
//! storage-node client and `@mysten/walrus-wasm`'s RS2 encoder, decoder and BLS functions),
//! through `e2e/ts/storage-node-client.mjs`: reads (status, metadata, slivers, decode), the
//! refusals as the public client classifies them, and the write path (a blob registered here,
//! encoded, uploaded and confirmed by the public client, certified here with the certificate
//! its WASM aggregated).
//!
//! Needs Node.js and the packages of `e2e/ts` (`npm ci --prefix e2e/ts`; `scripts/test.sh`
//! runs it).

use std::{path::PathBuf, process::Stdio, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};
use fastcrypto::traits::ToFromBytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use walrus_core::{crypto::AggregateSignature, messages::ConfirmationCertificate};
use walrus_e2e::{encode, test_data, within, ProtocolClient, StorageCluster};

const N_NODES: usize = StorageCluster::NODES;
/// Deadline of one run of the script (it makes a few dozen requests to local nodes).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// Deadline of a wait for a node to see a certification.
const STATUS_TIMEOUT: Duration = Duration::from_secs(20);

/// The directory of the script and its npm packages.
fn ts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ts");
    assert!(
        dir.join("node_modules/@mysten/walrus").is_dir(),
        "the public TypeScript clients are not installed: run `npm ci --prefix e2e/ts` \
         (scripts/test.sh does)"
    );
    dir
}

/// The committee as the script takes it: members in committee order (signer index =
/// position) with their URL, shards and BLS public key.
async fn committee_input(client: &ProtocolClient) -> Value {
    let view = client
        .chain
        .committee_view(None)
        .await
        .expect("the committee");
    let nodes: Vec<Value> = view
        .members
        .iter()
        .map(|member| {
            json!({
                "url": member.url.trim_end_matches('/'),
                "shards": member.shards.iter().map(|shard| shard.0).collect::<Vec<_>>(),
                "publicKey": STANDARD.encode(member.public_key.as_bytes()),
            })
        })
        .collect();
    json!({ "nShards": view.n_shards, "nodes": nodes })
}

/// Runs the script in `mode` on `input` (written to `dir`); returns its JSON answer.
async fn run_script(dir: &std::path::Path, mode: &str, input: &Value) -> Value {
    let input_path = dir.join(format!("{mode}.json"));
    std::fs::write(&input_path, input.to_string()).expect("the script's input written");
    let output = within(
        &format!("the public client ({mode})"),
        SCRIPT_TIMEOUT,
        tokio::process::Command::new("node")
            .arg("storage-node-client.mjs")
            .arg(mode)
            .arg(&input_path)
            .current_dir(ts_dir())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("Node.js runs (is `node` installed?)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the public client ({mode}) failed: {stderr}"
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "the public client ({mode}) printed no JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn public_client_reads_decodes_and_classifies_refusals() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        let all: Vec<usize> = (0..N_NODES).collect();
        let data = test_data(150_000, 7);
        let (blob, _) = client.store(&data, &all).await;
        let blob_id = *blob.metadata.blob_id();
        for node in 0..N_NODES {
            net.wait_certified(node, &blob_id, STATUS_TIMEOUT).await;
        }
        let dir = net.scratch();
        let data_file = dir.join("blob");
        std::fs::write(&data_file, &data).expect("the blob written");

        let mut input = committee_input(&client).await;
        input["blobId"] = json!(blob_id.to_string());
        input["dataFile"] = json!(data_file);
        let read = run_script(&dir, "read", &input).await;
        assert_eq!(
            read["statuses"],
            json!(vec!["permanent"; N_NODES]),
            "{read}"
        );
        assert_eq!(read["metadataStatus"], "stored", "{read}");
        let n_shards = usize::from(StorageCluster::SHARDS);
        assert_eq!(
            read["sliverStatuses"],
            json!(vec!["stored"; n_shards]),
            "{read}"
        );
        assert_eq!(read["slivers_fetched"], n_shards, "{read}");
        // RS2 at 10 shards: f = 3, so 10 - 2f = 4 primary slivers decode the blob.
        assert_eq!(read["slivers_decoded_from"], 4, "{read}");
        assert_eq!(
            read["decoded_sha256"],
            hex::encode(Sha256::digest(&data)),
            "{read}"
        );

        let refusals = run_script(&dir, "errors", &committee_input(&client).await).await;
        assert_eq!(
            refusals,
            json!({
                "store_unregistered_metadata": "BlobNotRegisteredError",
                "store_unregistered_sliver": "BlobNotRegisteredError",
                "get_unknown_metadata": "NotFoundError",
                "get_unknown_status": "nonexistent",
            })
        );
    });
}

#[test]
fn public_client_uploads_a_registered_blob_that_our_nodes_confirm_and_the_chain_certifies() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        let data = test_data(200_000, 8);
        // Encoded here only to register it: the upload is the public client's own encoding.
        let blob = encode(&data, StorageCluster::SHARDS);
        let blob_id = *blob.metadata.blob_id();
        let object = client.register(&blob, 3).await;
        for node in 0..N_NODES {
            client.wait_registered(node, &blob_id).await;
        }
        let dir = net.scratch();
        let data_file = dir.join("blob");
        std::fs::write(&data_file, &data).expect("the blob written");

        let mut input = committee_input(&client).await;
        input["blobId"] = json!(blob_id.to_string());
        input["dataFile"] = json!(data_file);
        let written = run_script(&dir, "write", &input).await;
        assert_eq!(written["blobId"], blob_id.to_string(), "{written}");
        // Each member got a primary and a secondary sliver per shard it holds.
        let view = client
            .chain
            .committee_view(None)
            .await
            .expect("the committee");
        let expected_uploads: Vec<usize> = view
            .members
            .iter()
            .map(|member| 2 * member.shards.len())
            .collect();
        assert_eq!(written["uploaded"], json!(expected_uploads), "{written}");

        // The certificate the public WASM aggregated, checked and accepted by the chain.
        let field = |name: &str| {
            STANDARD
                .decode(written[name].as_str().expect("a base64 field"))
                .expect("base64")
        };
        let signers: Vec<u16> =
            serde_json::from_value(written["signers"].clone()).expect("signer indices");
        let all_members: Vec<u16> = (0..view.members.len())
            .map(|index| u16::try_from(index).expect("a member index"))
            .collect();
        assert_eq!(signers, all_members);
        let signature =
            AggregateSignature::from_bytes(&field("signature")).expect("an aggregate signature");
        let certificate =
            ConfirmationCertificate::new(signers, field("serializedMessage"), signature);
        let message = certificate.decode_message().expect("a confirmation");
        assert_eq!(message.into_inner().message_contents.blob_id, blob_id);
        client.certify(object.id, &certificate).await;

        // Every node sees the certification and holds exactly our encoding's slivers.
        for node in 0..N_NODES {
            net.wait_certified(node, &blob_id, STATUS_TIMEOUT).await;
            net.check_node_slivers(node, &blob)
                .await
                .unwrap_or_else(|error| panic!("node {node}: {error}"));
        }
    });
}
