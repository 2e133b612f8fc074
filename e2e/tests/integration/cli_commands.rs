//! The `walrus` CLI's commands that mirror Walrus's against a small network of real
//! processes (chain, 4 storage nodes, 8 shards, no publisher or aggregator): the `info`
//! sections against the chain's own objects, `blob-status` by blob ID and by file, `health`
//! of every selection (and of a stopped node), `delete` of several blobs, the storage
//! duration flags and `store-quilt --dry-run`, blob attributes set and read back,
//! `convert-blob-id`, `burn-blobs` refusals, `get-wal` from the faucet, and `json`.

use serde_json::Value;
use walrus_e2e::{run, Cli, TestNetwork};
use walrus_sdk::time::format_utc_ms;

/// Runs the CLI, which must fail; returns its stderr.
async fn fails(cli: &Cli, args: &[&str]) -> String {
    let output = cli.run(args).await.expect("the CLI runs");
    assert!(
        !output.status.success(),
        "walrus {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `contents` to `name` in `dir`; returns the path as text.
fn write_file(dir: &std::path::Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("a scratch file");
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[test]
fn cli_commands_against_a_network() {
    run(|| async {
        let mut net = TestNetwork::start_with(4, 8, |options| options.services = false)
            .await
            .expect("a network");
        let cli = &net.cli;
        let chain = net.chain_client().expect("a chain client");
        let scratch = net.scratch();

        // `info` sections: the same numbers as the chain's objects.
        let staking = chain.staking().await.unwrap();
        let system = chain.system().await.unwrap();
        let epoch = cli.json(&["info", "epoch"]).await.unwrap();
        assert_eq!(epoch["currentEpoch"], staking.epoch, "{epoch}");
        assert_eq!(
            epoch["startOfCurrentEpochMs"], staking.epoch_start_ms,
            "{epoch}"
        );
        assert_eq!(
            epoch["epochDurationMs"], staking.epoch_duration_ms,
            "{epoch}"
        );
        assert_eq!(epoch["maxEpochsAhead"], system.max_epochs_ahead, "{epoch}");
        let storage = cli.json(&["info", "storage"]).await.unwrap();
        assert_eq!(
            (storage["nShards"].as_u64(), storage["nNodes"].as_u64()),
            (Some(8), Some(4))
        );
        let size = cli.json(&["info", "size"]).await.unwrap();
        assert_eq!(size["storageUnitSize"], 1 << 20);
        // 8 shards: f = 2, 4 x 6 source symbols of at most 65534 bytes.
        assert_eq!(size["maxBlobSize"], 4 * 6 * 65_534);
        let price = cli.json(&["info", "price"]).await.unwrap();
        assert_eq!(
            price["storagePricePerUnitSize"],
            system.storage_price_per_unit_size
        );
        assert_eq!(
            price["writePricePerUnitSize"],
            system.write_price_per_unit_size
        );
        let bft = cli.json(&["info", "bft"]).await.unwrap();
        assert_eq!(
            (
                bft["maxFaultyShards"].as_u64(),
                bft["quorumThreshold"].as_u64()
            ),
            (Some(2), Some(6))
        );
        // 2 shards each: two nodes hold more than f = 2.
        assert_eq!(bft["minNodesAbove"], 2, "{bft}");
        let all = cli.json(&["info", "all"]).await.unwrap();
        assert_eq!(all["epochInfo"]["currentEpoch"], staking.epoch);
        assert_eq!(all["bftInfo"], bft);
        assert_eq!(
            all["committeeInfo"]["current"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(4)
        );
        let committee = cli.json(&["info", "committee"]).await.unwrap();
        assert_eq!(committee["nShards"], 8);
        let plain = cli.json(&["info"]).await.unwrap();
        assert_eq!(plain["nShards"], 8, "{plain}");
        assert_eq!(plain["epochInfo"]["currentEpoch"], staking.epoch, "{plain}");
        let text = cli.ok(&["info", "epoch"]).await.unwrap();
        assert!(
            text.contains(&format!("Current epoch: {}", staking.epoch)),
            "{text}"
        );
        let text = cli.ok(&["info"]).await.unwrap();
        assert!(text.contains("4 storage nodes hold 8 shards"), "{text}");

        // `blob-status`: a stored blob, by ID and by file (ID computed locally); a file never
        // stored is nonexistent.
        let stored_file = write_file(&scratch, "stored.txt", b"a blob whose status is asked");
        let stored = cli.store(stored_file.as_ref(), 2).await.unwrap();
        let blob_id = stored["blobId"].as_str().expect("a blob ID").to_owned();
        let by_id = cli
            .json(&["blob-status", "--blob-id", &blob_id])
            .await
            .unwrap();
        assert_eq!(by_id["blobId"], blob_id.as_str());
        let counts = &by_id["status"]["deletable"]["deletableCounts"];
        assert_eq!(counts["count_deletable_certified"], 1, "{by_id}");
        let by_file = cli
            .json(&["blob-status", "--file", &stored_file])
            .await
            .unwrap();
        assert_eq!(by_file["blobId"], blob_id.as_str(), "{by_file}");
        assert_eq!(by_file["file"], stored_file.as_str(), "{by_file}");
        assert_eq!(by_file["status"], by_id["status"]);
        let never = write_file(&scratch, "never.txt", b"never stored");
        let status = cli.json(&["blob-status", "--file", &never]).await.unwrap();
        assert_eq!(status["status"], "nonexistent", "{status}");
        let stderr = fails(
            cli,
            &["blob-status", "--blob-id", &blob_id, "--file", &never],
        )
        .await;
        assert!(stderr.contains("cannot be used with"), "{stderr}");
        let stderr = fails(cli, &["blob-status"]).await;
        assert!(stderr.contains("required"), "{stderr}");
        let text = cli
            .ok(&["blob-status", "--blob-id", &blob_id])
            .await
            .unwrap();
        assert!(text.contains("deletable (1 objects, 1 certified"), "{text}");

        // `health`: every committee node answers, in the chain's epoch, with its shards.
        let health = cli.json(&["health", "--committee"]).await.unwrap();
        let nodes = health["healthInfo"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 4, "{health}");
        let mut shards = 0;
        for node in nodes {
            let info = &node["healthInfo"]["Ok"];
            assert_eq!(info["epoch"], staking.epoch, "{node}");
            assert_eq!(info["nodeId"], node["nodeId"], "{node}");
            shards += info["shards"].as_array().expect("shards").len();
        }
        assert_eq!(shards, 8);
        let node_id = nodes[0]["nodeId"].as_str().unwrap().to_owned();
        let by_id = cli.json(&["health", "--node-ids", &node_id]).await.unwrap();
        assert_eq!(by_id["healthInfo"].as_array().map(Vec::len), Some(1));
        assert_eq!(by_id["healthInfo"][0]["nodeId"], node_id.as_str());
        let address = net.node_address(1).to_string();
        let by_url = cli
            .json(&["health", "--node-urls", &address])
            .await
            .unwrap();
        assert_eq!(
            by_url["healthInfo"][0]["nodeUrl"],
            format!("http://{address}")
        );
        let all = cli
            .json(&["health", "--active-set", "--sort-by", "id"])
            .await
            .unwrap();
        let ids: Vec<&str> = all["healthInfo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| node["nodeId"].as_str().unwrap())
            .collect();
        assert!(
            ids.len() == 4 && ids.windows(2).all(|w| w[0] <= w[1]),
            "{ids:?}"
        );
        let text = cli
            .ok(&["health", "--committee", "--detail"])
            .await
            .unwrap();
        assert!(
            text.contains(&format!("Epoch: {}", staking.epoch)),
            "{text}"
        );
        assert!(text.contains("Uptime:"), "{text}");
        let stderr = fails(cli, &["health", "--committee", "--active-set"]).await;
        assert!(stderr.contains("cannot be used with"), "{stderr}");
        let stderr = fails(cli, &["health", "--node-urls", "127.0.0.1:1"]).await;
        assert!(stderr.contains("not found in the active set"), "{stderr}");

        // `delete` of several blobs: by file, by blob ID and by object ID in one call.
        let files: Vec<String> = (0..3)
            .map(|i| {
                write_file(
                    &scratch,
                    &format!("delete-{i}.txt"),
                    format!("blob {i} to delete").as_bytes(),
                )
            })
            .collect();
        let mut objects = Vec::new();
        for file in &files {
            objects.push(cli.store(file.as_ref(), 1).await.unwrap());
        }
        let id_of = |object: &Value, key: &str| object[key].as_str().unwrap().to_owned();
        // Without --yes and without a terminal: refused before anything is done.
        let stderr = fails(cli, &["delete", "--files", &files[0]]).await;
        assert!(stderr.contains("pass --yes"), "{stderr}");
        let deleted = cli
            .json(&[
                "delete",
                "--files",
                &files[0],
                "--blob-ids",
                &id_of(&objects[1], "blobId"),
                "--object-ids",
                &id_of(&objects[2], "id"),
                "--yes",
            ])
            .await
            .unwrap();
        let outputs = deleted.as_array().expect("one output per blob");
        assert_eq!(outputs.len(), 3, "{deleted}");
        for (output, object) in outputs.iter().zip(&objects) {
            assert_eq!(output["deletedBlobs"][0]["id"], object["id"], "{output}");
            assert_eq!(output["noBlobFound"], false, "{output}");
            assert_eq!(output["postDeletionStatus"], "nonexistent", "{output}");
        }
        assert_eq!(outputs[0]["blobIdentity"]["file"], files[0].as_str());
        for object in &objects {
            let status = cli
                .json(&["blob-status", "--blob-id", &id_of(object, "blobId")])
                .await
                .unwrap();
            assert_eq!(status["status"], "nonexistent", "{status}");
        }
        // Nothing left to delete: said per blob; an unknown object is an error (exit 1).
        let again = cli
            .json(&[
                "delete",
                "--blob-ids",
                &id_of(&objects[1], "blobId"),
                "--yes",
            ])
            .await
            .unwrap();
        assert_eq!(again[0]["noBlobFound"], true, "{again}");
        let stderr = fails(
            cli,
            &["delete", "--object-ids", &id_of(&objects[2], "id"), "--yes"],
        )
        .await;
        assert!(stderr.contains("could not be deleted"), "{stderr}");
        let stderr = fails(cli, &["delete", "--yes"]).await;
        assert!(stderr.contains("required"), "{stderr}");

        // Storage duration flags, converted on the chain's clock.
        let end_epoch_of = |stored: &Value| {
            stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["storage"]["endEpoch"]
                .as_u64()
                .unwrap()
        };
        let epoch = u64::from(staking.epoch);
        let max = u64::from(system.max_epochs_ahead);
        let file = write_file(&scratch, "max.txt", b"stored for the maximum");
        let stored = cli
            .json(&["store", &file, "--epochs", "max"])
            .await
            .unwrap();
        assert_eq!(end_epoch_of(&stored), epoch + max, "{stored}");
        let file = write_file(&scratch, "end.txt", b"stored until an end epoch");
        let end = (epoch + 3).to_string();
        let stored = cli
            .json(&["store", &file, "--end-epoch", &end])
            .await
            .unwrap();
        assert_eq!(end_epoch_of(&stored), epoch + 3, "{stored}");
        // An expiry 1.5 epochs after the current epoch's start needs 2 epochs.
        let expiry_ms = staking.epoch_start_ms + staking.epoch_duration_ms * 3 / 2;
        let expiry = format_utc_ms(expiry_ms);
        let file = write_file(&scratch, "expiry.txt", b"stored past a time");
        let stored = cli
            .json(&["store", &file, "--earliest-expiry-time", &expiry])
            .await
            .unwrap();
        assert_eq!(end_epoch_of(&stored), epoch + 2, "{stored}");
        let too_far = (max + 1).to_string();
        let stderr = fails(cli, &["store", &file, "--epochs", &too_far]).await;
        assert!(
            stderr.contains(&format!("up to {max} epochs ahead")),
            "{stderr}"
        );
        let stderr = fails(cli, &["store", &file, "--epochs", "2", "--end-epoch", &end]).await;
        assert!(stderr.contains("cannot be used with"), "{stderr}");
        let stderr = fails(
            cli,
            &[
                "store",
                &file,
                "--earliest-expiry-time",
                "2001-01-01T00:00:00Z",
            ],
        )
        .await;
        assert!(stderr.contains("not in the future"), "{stderr}");

        // `store-quilt --dry-run`: the quilt ID and patch IDs of the real store, nothing sent.
        let quilt_dir = scratch.join("quilt");
        std::fs::create_dir(&quilt_dir).unwrap();
        write_file(&quilt_dir, "a.txt", b"first patch");
        write_file(&quilt_dir, "b.txt", b"second patch");
        let quilt_dir = quilt_dir.to_str().unwrap();
        let sui_before = chain.sui_balance_of(chain.address()).await.unwrap();
        let dry = cli
            .json(&[
                "store-quilt",
                "--paths",
                quilt_dir,
                "--epochs",
                "1",
                "--dry-run",
            ])
            .await
            .unwrap();
        assert!(
            dry["dryRunResult"]["storageCost"].as_u64().unwrap() > 0,
            "{dry}"
        );
        assert_eq!(
            chain.sui_balance_of(chain.address()).await.unwrap(),
            sui_before
        );
        let quilt = cli
            .json(&["store-quilt", "--paths", quilt_dir, "--epochs", "1"])
            .await
            .unwrap();
        let quilt_object = &quilt["blobStoreResult"]["newlyCreated"]["blobObject"];
        assert_eq!(
            dry["dryRunResult"]["blobId"], quilt_object["blobId"],
            "{dry} {quilt}"
        );
        assert_eq!(dry["storedQuiltBlobs"], quilt["storedQuiltBlobs"]);

        // Attributes: set, read back, replaced, fields removed, all removed.
        let object = &id_of(
            &stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"],
            "id",
        );
        let got = cli.json(&["get-blob-attribute", object]).await.unwrap();
        assert_eq!(got["attribute"], Value::Null, "{got}");
        cli.json(&[
            "set-blob-attribute",
            object,
            "--attr",
            "content-type",
            "text/plain",
            "--attr",
            "owner",
            "me",
        ])
        .await
        .unwrap();
        let got = cli.json(&["get-blob-attribute", object]).await.unwrap();
        assert_eq!(
            got["attribute"],
            serde_json::json!({"content-type": "text/plain", "owner": "me"}),
            "{got}"
        );
        let blob = chain.get_blob(object.parse().unwrap()).await.unwrap();
        assert_eq!(
            blob.attributes.get(&"owner".to_owned()).map(String::as_str),
            Some("me")
        );
        cli.json(&[
            "set-blob-attribute",
            object,
            "--attr",
            "owner",
            "you",
            "--attr",
            "k",
            "v",
        ])
        .await
        .unwrap();
        let left = cli
            .json(&[
                "remove-blob-attribute-fields",
                object,
                "--keys",
                "content-type",
                "k",
            ])
            .await
            .unwrap();
        assert_eq!(
            left["attribute"],
            serde_json::json!({"owner": "you"}),
            "{left}"
        );
        let stderr = fails(
            cli,
            &[
                "remove-blob-attribute-fields",
                object,
                "--keys",
                "owner",
                "nope",
            ],
        )
        .await;
        assert!(stderr.contains("has no attribute nope"), "{stderr}");
        let got = cli.json(&["get-blob-attribute", object]).await.unwrap();
        assert_eq!(
            got["attribute"],
            serde_json::json!({"owner": "you"}),
            "{got}"
        );
        cli.json(&["remove-blob-attribute", object]).await.unwrap();
        assert!(chain
            .get_blob(object.parse().unwrap())
            .await
            .unwrap()
            .attributes
            .contents
            .is_empty());
        let stderr = fails(cli, &["remove-blob-attribute", object]).await;
        assert!(stderr.contains("has no attributes to remove"), "{stderr}");
        let text = cli.ok(&["get-blob-attribute", object]).await.unwrap();
        assert!(text.contains("has no attributes"), "{text}");

        // convert-blob-id: the chain's decimal u256 of a stored blob and back.
        let blob_id = id_of(
            &stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"],
            "blobId",
        );
        let decimal = cli.json(&["convert-blob-id", &blob_id]).await.unwrap();
        let decimal = decimal.as_str().expect("a decimal string").to_owned();
        assert!(decimal.bytes().all(|b| b.is_ascii_digit()), "{decimal}");
        assert_eq!(
            cli.json(&["convert-blob-id", &decimal]).await.unwrap(),
            blob_id.as_str()
        );

        // burn-blobs: only expired blobs burn here; a live one is refused, nothing burned.
        let stderr = fails(cli, &["burn-blobs", "--object-ids", object, "--yes"]).await;
        assert!(stderr.contains("burns only expired blobs"), "{stderr}");
        assert!(chain.get_blob(object.parse().unwrap()).await.is_ok());
        let none = cli
            .json(&["burn-blobs", "--all-expired", "--yes"])
            .await
            .unwrap();
        assert_eq!(none["burnedObjectIds"], serde_json::json!([]), "{none}");
        let stderr = fails(cli, &["burn-blobs", "--all"]).await;
        assert!(stderr.contains("pass --yes"), "{stderr}");

        // get-wal: WAL from the localnet's faucet.
        let before = chain.wal_balance().await.unwrap();
        let faucet = net.network.info().faucet_url.clone();
        let got = cli
            .json(&["get-wal", "--faucet-url", &faucet, "--amount", "1000"])
            .await
            .unwrap();
        assert_eq!(got["amountFrost"], 1000, "{got}");
        assert_eq!(chain.wal_balance().await.unwrap(), before + 1000);
        let stderr = fails(cli, &["get-wal", "--faucet-url", &faucet, "--amount", "0"]).await;
        assert!(stderr.contains("0 is not in 1.."), "{stderr}");

        // `walrus json`: a command as JSON, as an argument and on stdin; JSON output.
        let config = net.network.client_config_path();
        let config = config.to_str().unwrap();
        let file = write_file(&scratch, "json.txt", b"stored through a JSON command");
        let command = serde_json::json!({
            "config": config,
            "command": {"store": {"files": [file], "epochs": 1, "permanent": true}},
        });
        let stored = cli.ok(&["json", &command.to_string()]).await.unwrap();
        let stored: Value = serde_json::from_str(&stored).unwrap();
        let object = &stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"];
        assert_eq!(object["deletable"], false, "{stored}");
        let blob_id = id_of(object, "blobId");
        let command = serde_json::json!({
            "config": config,
            "command": {"blobStatus": {"blobId": blob_id}},
        });
        let mut child =
            std::process::Command::new(walrus_localnet::network::default_bin_dir().join("walrus"))
                .arg("json")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            command.to_string().as_bytes(),
        )
        .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let status: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            status["status"]["permanent"]["isCertified"], true,
            "{status}"
        );
        let info = cli
            .ok(&["json", r#"{"command": {"info": {"command": "epoch"}}}"#])
            .await
            .unwrap();
        let info: Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["currentEpoch"], staking.epoch, "{info}");
        let stderr = fails(
            cli,
            &["json", r#"{"command": {"store": {"colour": "red"}}}"#],
        )
        .await;
        assert!(stderr.contains("has no option \"colour\""), "{stderr}");
        let stderr = fails(cli, &["json", "not json"]).await;
        assert!(stderr.contains("is not JSON"), "{stderr}");

        // A stopped node: listed by `health` with the error, after the answering ones.
        net.stop_node(3).await.unwrap();
        let cli = net.cli.clone();
        let health = cli.json(&["health", "--committee"]).await.unwrap();
        let nodes = health["healthInfo"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 4, "{health}");
        assert!(
            nodes[..3]
                .iter()
                .all(|node| node["healthInfo"]["Ok"].is_object()),
            "{health}"
        );
        assert!(nodes[3]["healthInfo"]["Err"].is_string(), "{health}");
        let text = cli.ok(&["health", "--committee"]).await.unwrap();
        assert!(text.contains("Unreachable or unhealthy"), "{text}");
    });
}
