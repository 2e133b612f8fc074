//! The `walrus` CLI's staking commands and `walrus info committee` against a network of real
//! processes (chain, 4 storage nodes): the committee listed, 1.5 WAL staked with a member,
//! listed as pending, its withdrawal requested and paid back exactly, and the refusals (an
//! unknown StakedWal, another wallet's, a withdrawn one, bad amounts) said before anything is
//! sent.

use serde_json::Value;
use walrus_e2e::{run, Cli, TestNetwork};

/// 1.5 WAL in FROST.
const STAKE: u64 = 1_500_000_000;

/// Runs the CLI, which must fail; returns its stderr.
async fn fails(cli: &Cli, args: &[&str]) -> String {
    let output = cli.run(args).await.expect("the CLI runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "walrus {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// The StakedWal objects `cli`'s wallet owns (`list-staked-wal --json`).
async fn staked_wal(cli: &Cli) -> Vec<Value> {
    let listed = cli
        .json(&["list-staked-wal"])
        .await
        .expect("list-staked-wal");
    listed.as_array().expect("a JSON array").clone()
}

#[test]
fn staking_commands_stake_list_and_withdraw() {
    run(|| async {
        let net = TestNetwork::start(4, 8).await.expect("a network");
        let cli = &net.cli;
        let chain = net.chain_client().expect("a chain client");

        // The committee: 4 nodes, all members, 8 shards between them.
        let committee = cli.json(&["info", "committee"]).await.unwrap();
        let epoch = committee["epoch"].as_u64().expect("an epoch");
        assert_eq!(committee["nShards"], 8, "{committee}");
        assert!(committee["epochEndMs"].as_u64() > committee["epochStartMs"].as_u64());
        let nodes = committee["current"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 4, "{committee}");
        assert!(
            nodes.iter().all(|node| node["inCommittee"] == true),
            "{committee}"
        );
        let shards: u64 = nodes
            .iter()
            .map(|node| node["nShards"].as_u64().unwrap())
            .sum();
        assert_eq!(shards, 8, "{committee}");
        let node_id = nodes[0]["nodeId"].as_str().expect("a node ID").to_owned();
        let node_name = nodes[0]["name"].clone();
        // Plain `info` is unchanged.
        let info = cli.json(&["info"]).await.unwrap();
        assert_eq!(info["nShards"], 8, "{info}");
        assert_eq!(info["members"].as_array().map(Vec::len), Some(4), "{info}");

        // Amounts refused before anything is sent.
        let before = chain.wal_balance().await.unwrap();
        for (amount, reason) in [
            ("0", "more than zero"),
            ("-1", "negative"),
            ("1.0000000001", "9 decimals"),
            ("1,5", "not a decimal number"),
            ("2000000", "the wallet holds"),
        ] {
            let stderr = fails(cli, &["stake", "--node-id", &node_id, "--amount", amount]).await;
            assert!(stderr.contains(reason), "--amount {amount}: {stderr}");
        }
        let stderr = fails(cli, &["stake", "--node-id", "0x1234", "--amount", "1"]).await;
        assert!(stderr.contains("no storage node"), "{stderr}");
        assert_eq!(chain.wal_balance().await.unwrap(), before);
        assert!(staked_wal(cli).await.is_empty());

        // 1.5 WAL staked: pending until the next epoch.
        let staked = cli
            .json(&["stake", "--node-id", &node_id, "--amount", "1.5"])
            .await
            .unwrap();
        let id = staked["id"].as_str().expect("a StakedWal ID").to_owned();
        assert_eq!(staked["nodeId"], node_id.as_str(), "{staked}");
        assert_eq!(staked["principal"], STAKE, "{staked}");
        assert_eq!(staked["state"], "pendingActivation", "{staked}");
        assert!(
            staked["activationEpoch"].as_u64().unwrap() > epoch,
            "{staked}"
        );
        assert_eq!(chain.wal_balance().await.unwrap(), before - STAKE);
        let listed = staked_wal(cli).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["id"], id.as_str());
        assert_eq!(listed[0]["state"], "pendingActivation");
        assert_eq!(listed[0]["value"], STAKE);
        assert_eq!(listed[0]["nodeName"], node_name);
        let text = cli.ok(&["list-staked-wal"]).await.unwrap();
        assert!(text.contains("pending activation at epoch"), "{text}");
        assert!(text.contains("1.5 WAL (1500000000 FROST)"), "{text}");

        // Another wallet's StakedWal is not this wallet's to withdraw.
        let other = Cli::new(net.network.publisher_config_path());
        let others = other
            .json(&["stake", "--node-id", &node_id, "--amount", "1"])
            .await
            .unwrap();
        let others_id = others["id"].as_str().expect("a StakedWal ID");
        let stderr = fails(cli, &["withdraw-stake", "--staked-wal-id", others_id]).await;
        assert!(stderr.contains("not owned by this wallet"), "{stderr}");

        // Requested (pending stake: withdrawable at once) and withdrawn: exactly 1.5 WAL back.
        let requested = cli
            .json(&["request-withdraw-stake", "--staked-wal-id", &id])
            .await
            .unwrap();
        assert_eq!(requested["state"], "withdrawable", "{requested}");
        let stderr = fails(cli, &["request-withdraw-stake", "--staked-wal-id", &id]).await;
        assert!(stderr.contains("already requested"), "{stderr}");
        let withdrawn = cli
            .json(&["withdraw-stake", "--staked-wal-id", &id])
            .await
            .unwrap();
        assert_eq!(withdrawn["amount"], STAKE, "{withdrawn}");
        assert_eq!(withdrawn["stakedWalId"], id.as_str(), "{withdrawn}");
        assert_eq!(chain.wal_balance().await.unwrap(), before);
        assert!(staked_wal(cli).await.is_empty());

        // Unknown and already withdrawn StakedWal IDs.
        let unknown = format!("0x{}", "ab".repeat(32));
        for missing in [unknown.as_str(), id.as_str()] {
            let stderr = fails(cli, &["withdraw-stake", "--staked-wal-id", missing]).await;
            assert!(stderr.contains("no StakedWal"), "{missing}: {stderr}");
        }
        let stderr = fails(cli, &["withdraw-stake", "--staked-wal-id", "nonsense"]).await;
        assert!(stderr.contains("invalid object ID"), "{stderr}");
    });
}
