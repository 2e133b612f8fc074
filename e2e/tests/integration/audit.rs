//! `walrus audit` through the CLI process against a network of real processes (chain, 4
//! storage nodes, 10 shards): a stored blob is proven held by every shard (exit 0); with one
//! node stopped its shards are `unreachable` and the others `holds` (exit 3: still
//! recoverable); wiped and started again, its shards are `missing` until it has recovered
//! them from its peers, then `holds` (exit 0); a node that forges its recovery symbols
//! (`walrus-byzantine-node`) is reported `lying` while the wiped node is `missing`.

use std::{cell::RefCell, time::Duration};

use serde_json::Value;
use walrus_e2e::{poll, run, test_data, write_file, Faults, SymbolsFault, TestNetwork};

const N_SHARDS: u16 = 10;

/// `walrus --json audit BLOB_ID`: the exit code and the report.
async fn audit(net: &TestNetwork, blob_id: &str) -> (i32, Value) {
    let output = net
        .cli
        .run(&["--json", "audit", blob_id, "--timeout", "5"])
        .await
        .expect("the CLI runs");
    let code = output.status.code().expect("an exit code");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "audit exited {code} without a JSON report ({error}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, report)
}

/// The verdicts of the shards of the node at `url`, and of all other shards.
fn verdicts(report: &Value, url: &str) -> (Vec<String>, Vec<String>) {
    let (mut ours, mut others) = (Vec::new(), Vec::new());
    for node in report["nodes"].as_array().expect("nodes") {
        let into = if node["url"] == url {
            &mut ours
        } else {
            &mut others
        };
        for shard in node["shards"].as_array().expect("shards") {
            into.push(shard["verdict"].as_str().expect("a verdict").to_owned());
        }
    }
    (ours, others)
}

#[test]
fn audit_reports_unreachable_missing_and_recovered_shards() {
    run(|| async {
        let mut net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
        let file = write_file(&net.scratch(), "blob", &test_data(100_000, 91)).unwrap();
        let stored = net.cli.store(&file, 2).await.expect("stored");
        let blob_id = stored["blobId"].as_str().expect("a blob ID").to_owned();

        // Every shard holds the blob (uploads still finishing after certification are
        // waited for).
        let report = poll("every shard proven", Duration::from_secs(30), || async {
            match audit(&net, &blob_id).await {
                (0, report) => Ok(report),
                (code, report) => Err(format!("exit {code}: {report}")),
            }
        })
        .await
        .unwrap();
        assert_eq!(report["blobId"], blob_id.as_str());
        assert_eq!(report["unencodedLength"], 100_000);
        assert_eq!(report["summary"]["holds"], N_SHARDS);
        assert_eq!(report["summary"]["requiredForRead"], 4);
        assert_eq!(report["summary"]["recoverable"], true);

        // A stopped node: its shards are unreachable, the others hold; still recoverable.
        let victim = 1;
        let url = net.network.node_url(victim).unwrap().to_owned();
        let n_victim = net.shards.weight(&[victim]);
        net.network.stop_node(victim).await.expect("stopped");
        let (code, report) = audit(&net, &blob_id).await;
        assert_eq!(code, 3, "{report}");
        let (ours, others) = verdicts(&report, &url);
        assert_eq!(ours, vec!["unreachable"; n_victim], "{report}");
        assert!(others.iter().all(|v| v == "holds"), "{report}");
        assert_eq!(report["summary"]["unreachable"], n_victim);
        assert_eq!(report["summary"]["recoverable"], true);

        // Wiped and started: missing until it has recovered from its peers, then holds.
        net.network.wipe_node(victim).await.expect("wiped");
        net.network.start_node(victim).await.expect("started");
        let seen = RefCell::new(Vec::new());
        poll(
            "the wiped node's shards proven again",
            Duration::from_secs(90),
            || async {
                let (code, report) = audit(&net, &blob_id).await;
                let (ours, others) = verdicts(&report, &url);
                assert!(others.iter().all(|v| v == "holds"), "{report}");
                assert!(
                    ours.iter().all(|v| v == "missing" || v == "holds"),
                    "a wiped node's shards are missing or recovered: {report}"
                );
                seen.borrow_mut().extend(ours.iter().cloned());
                if code == 0 {
                    Ok(())
                } else {
                    assert_eq!(code, 3, "{report}");
                    Err(format!("{ours:?}"))
                }
            },
        )
        .await
        .unwrap();
        println!(
            "the wiped node's shards were reported missing {} times before recovery",
            seen.borrow().iter().filter(|v| *v == "missing").count()
        );

        // A liar and a wiped node at once: the liar forges every recovery symbol, the wiped
        // node (stopped, so it cannot recover meanwhile, then started empty) has nothing.
        let liar = 2;
        let liar_url = net.network.node_url(liar).unwrap().to_owned();
        let n_liar = net.shards.weight(&[liar]);
        net.set_faults(
            liar,
            &Faults {
                recovery_symbols: Some(SymbolsFault::Forged),
                ..Faults::default()
            },
        )
        .await
        .expect("a lying node");
        net.network.stop_node(victim).await.expect("stopped");
        net.network.wipe_node(victim).await.expect("wiped");
        net.network.start_node(victim).await.expect("started");
        let (code, report) = audit(&net, &blob_id).await;
        println!("audit with a wiped node and a lying node: exit {code}\n{report:#}");
        let (lies, others) = verdicts(&report, &liar_url);
        assert_eq!(lies, vec!["lying"; n_liar], "{report}");
        let (wiped, _) = verdicts(&report, &url);
        assert!(
            wiped.iter().all(|v| v == "missing" || v == "holds"),
            "{report}"
        );
        // Every other shard (the wiped node's included) holds, unless the wiped node has not
        // recovered it yet.
        let missing = wiped.iter().filter(|v| *v == "missing").count();
        let holds = others.iter().filter(|v| *v == "holds").count();
        assert_eq!(holds, others.len() - missing, "{report}");
        assert_eq!(report["summary"]["missing"], missing);
        assert_eq!(code, 3, "{report}");
        assert_eq!(report["summary"]["lying"], n_liar);
        net.make_honest(liar).await.expect("honest again");
    });
}
