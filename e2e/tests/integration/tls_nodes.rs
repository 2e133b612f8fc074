//! Storage nodes serving HTTPS, as Walrus nodes do (`NetworkOptions::tls`): each node
//! registers its P-256 network key and `https://127.0.0.1:PORT`, serves a certificate
//! carrying that key, and every client (the SDK, the CLI, the publisher and the aggregator)
//! pins each node's certificate to the key the chain has for it. Plain HTTP is refused, and
//! so is a client pinned to another key.

use std::time::Duration;

use walrus_e2e::{test_data, TestNetwork};
use walrus_node::tls::NetworkKeyPair;
use walrus_node_client::NodeClient;
use walrus_sdk::client::{NoProgress, StoreOptions};

#[test]
fn nodes_serve_https_pinned_to_their_network_keys() {
    walrus_e2e::run(|| async {
        let net = TestNetwork::start_with(2, 4, |options| {
            options.tls = true;
            options.epoch_duration_ms = 3_600_000;
        })
        .await
        .expect("a network of TLS nodes");

        // The chain has each node's HTTPS address and network key.
        let view = net.committee().await.expect("the committee");
        for i in 0..2 {
            let url = net.network.node_url(i).expect("node URL");
            assert!(url.starts_with("https://127.0.0.1:"), "{url}");
            let key = net
                .network
                .dir()
                .node_network_key(i)
                .expect("node configuration")
                .expect("a network key");
            let member = view
                .members
                .iter()
                .find(|member| member.url == url)
                .unwrap_or_else(|| panic!("node {i} ({url}) in the committee"));
            assert_eq!(member.network_public_key, key.as_bytes().to_vec());
            net.node_client(i)
                .health()
                .await
                .expect("health over HTTPS");
        }

        // Store through the SDK, read through the SDK, the CLI and the aggregator.
        let data = test_data(100_000, 7);
        let sdk = net.sdk().expect("an SDK client");
        let blob_id = sdk
            .store(data.clone(), StoreOptions::permanent(1), &NoProgress)
            .await
            .expect("a store over HTTPS")
            .blob_id();
        let read = sdk.read(&blob_id, &NoProgress).await.expect("an SDK read");
        assert!(read == data, "the SDK read back other bytes");
        let out = net.scratch().join("read.bin");
        net.cli
            .ok(&[
                "read",
                &blob_id.to_string(),
                "--out",
                out.to_str().expect("a UTF-8 path"),
            ])
            .await
            .expect("a CLI read over HTTPS");
        assert!(std::fs::read(&out).expect("the CLI's file") == data);
        let response = net.aggregate(&format!("/v1/blobs/{blob_id}"), &[]).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert!(response.bytes().await.expect("the body").as_ref() == data.as_slice());
        let health = net
            .cli
            .json(&["health", "--committee"])
            .await
            .expect("walrus health");
        let nodes = health["healthInfo"].as_array().expect("nodes");
        assert!(
            nodes.len() == 2
                && nodes
                    .iter()
                    .all(|node| node["healthInfo"]["Ok"].is_object()),
            "{health}"
        );

        // The nodes speak TLS only: plain HTTP to the same port gets no answer.
        let plain = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        let address = net.node_address(0);
        let answer = plain
            .get(format!("http://{address}/v1/health"))
            .send()
            .await;
        assert!(answer.is_err(), "plain HTTP answered: {answer:?}");

        // A client pinned to another key refuses the node's certificate.
        let url = net.network.node_url(0).expect("node URL");
        let wrong = NetworkKeyPair::generate().expect("a key");
        let client = NodeClient::pinned(
            url,
            wrong.public(),
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .expect("a pinned client");
        let error = client.health().await.expect_err("the wrong key is refused");
        let text = error.to_string();
        assert!(
            text.contains(&wrong.public().to_string()) && text.contains("refused"),
            "{text}"
        );
    });
}
