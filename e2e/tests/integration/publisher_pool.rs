//! Concurrent stores on sub-wallets against a network of real processes (chain, 4 storage
//! nodes): the SDK's `WalletPool` alone (funding in one transaction, funds conserved to the
//! gas in the checkpoints' effects, at most one store per sub-wallet at a time, refills when
//! they run low) and a `walrus-publisher` process with `--n-clients 4` answering 8 concurrent
//! PUTs (every one stored, the `Blob` objects spread over several sub-wallets, `send_object_to`
//! sending one on, `/health` and `/metrics` showing the pool).

use std::{
    collections::{BTreeMap, BTreeSet},
    net::TcpListener,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;
use walrus_chain::client::WalrusClient;
use walrus_e2e::{run, test_data, within, TestNetwork};
use walrus_sdk::{
    client::{NoProgress, SdkConfig, SdkError, StoreOptions, StoreOutcome, WalrusSdk},
    wallet_pool::{
        Funds, RefillObserver, RefillReport, WalletPool, WalletPoolConfig, SUB_WALLET_DOMAIN,
    },
};

/// 0.01 SUI / WAL.
const CENTI: u64 = 10_000_000;

/// The SUI and WAL of each of `wallets`.
async fn balances(wallets: &[WalrusClient]) -> Vec<Funds> {
    let mut all = Vec::new();
    for wallet in wallets {
        all.push(Funds {
            sui: wallet.sui_balance_of(wallet.address()).await.unwrap(),
            wal: wallet.wal_balance_of(wallet.address()).await.unwrap(),
        });
    }
    all
}

/// The clients of sub-wallets `0..n` of `main`.
fn sub_wallets(main: &WalrusClient, n: u64) -> Vec<WalrusClient> {
    (0..n)
        .map(|i| main.derived_client(SUB_WALLET_DOMAIN, i))
        .collect()
}

fn total(funds: &[Funds]) -> (i128, i128) {
    funds.iter().fold((0, 0), |(sui, wal), funds| {
        (sui + i128::from(funds.sui), wal + i128::from(funds.wal))
    })
}

/// Records every refill.
#[derive(Default)]
struct Refills(Mutex<Vec<RefillReport>>);

impl RefillObserver for Refills {
    fn refilled(&self, report: &RefillReport) {
        self.0.lock().unwrap().push(report.clone());
    }

    fn refill_failed(&self, error: &SdkError) {
        panic!("a refill failed: {error}");
    }
}

#[test]
fn the_wallet_pool_funds_sub_wallets_and_conserves_funds() {
    run(|| async {
        let net = TestNetwork::start_with(4, 10, |options| options.services = false)
            .await
            .expect("a network");
        let main = net.funded_sdk(11).await.expect("a funded main wallet");
        let chain = main.chain().clone();
        // Top-ups of 1 MIST and 1 FROST beyond the floors: every store leaves its wallet
        // below them.
        let config = WalletPoolConfig {
            n_clients: 4,
            gas_refill_amount: 1,
            wal_refill_amount: 1,
            min_sui_balance: 40 * CENTI,
            min_wal_balance: CENTI,
        };
        let subs = sub_wallets(&chain, 4);
        let everyone: Vec<WalrusClient> = std::iter::once(chain.clone())
            .chain(subs.iter().cloned())
            .collect();
        let addresses: Vec<String> = subs.iter().map(|sub| sub.address().to_string()).collect();
        let first_checkpoint = chain.latest_checkpoint().await.unwrap() + 1;
        let before = balances(&everyone).await;
        assert!(before[1..].iter().all(|funds| *funds == Funds::default()));

        // Creation funds the four new sub-wallets in one transaction: the floors plus the
        // refill amounts.
        let refills = Arc::new(Refills::default());
        let pool = WalletPool::new(
            main.clone(),
            SdkConfig::default(),
            config,
            Some(refills.clone()),
        )
        .await;
        let pooled: Vec<String> = pool.addresses().iter().map(ToString::to_string).collect();
        assert_eq!(pooled, addresses);
        let funded = balances(&everyone).await;
        let first = refills.0.lock().unwrap().clone();
        assert_eq!(first.len(), 1, "one refill transaction: {first:?}");
        assert_eq!(first[0].payments.len(), 4);
        let floors = Funds {
            sui: 40 * CENTI,
            wal: CENTI,
        };
        let topped = Funds {
            sui: floors.sui + 1,
            wal: floors.wal + 1,
        };
        assert!(
            funded[1..].iter().all(|funds| *funds == topped),
            "{funded:?}"
        );
        assert_eq!(
            i128::from(funded[0].sui),
            i128::from(before[0].sui) - 4 * i128::from(topped.sui) - i128::from(first[0].gas_cost)
        );
        assert_eq!(funded[0].wal, before[0].wal - 4 * topped.wal);

        // Eight concurrent stores on four sub-wallets: never two on one wallet, four at once.
        let running = Arc::new(Mutex::new((vec![0usize; 4], 0usize, 0usize)));
        let mut stores = tokio::task::JoinSet::new();
        for seed in 0..8u64 {
            let (pool, running) = (pool.clone(), running.clone());
            stores.spawn(async move {
                let data = test_data(10_000, 100 + seed);
                let needed = pool.funds_for_store(data.len() as u64, 1).await?;
                let wallet = pool.checkout(needed).await?;
                {
                    let (per_wallet, now, most) = &mut *running.lock().unwrap();
                    per_wallet[wallet.index()] += 1;
                    assert_eq!(per_wallet[wallet.index()], 1, "two stores on one wallet");
                    *now += 1;
                    *most = (*most).max(*now);
                }
                let outcome = wallet
                    .sdk()
                    .store(data, StoreOptions::deletable(1), &NoProgress)
                    .await;
                {
                    let (per_wallet, now, _) = &mut *running.lock().unwrap();
                    per_wallet[wallet.index()] -= 1;
                    *now -= 1;
                }
                Ok::<_, SdkError>((wallet.index(), outcome?))
            });
        }
        let mut cost = 0u64;
        let mut used = BTreeSet::new();
        for result in within("eight stores", Duration::from_secs(60), stores.join_all()).await {
            let (index, outcome) = result.expect("every store succeeds");
            let StoreOutcome::NewlyCreated { cost: paid, .. } = outcome else {
                panic!("a new blob is newly created: {outcome:?}");
            };
            cost += paid;
            used.insert(index);
        }
        assert_eq!(running.lock().unwrap().2, 4, "four stores ran at once");
        assert_eq!(used.len(), 4, "every sub-wallet stored");

        // Every store left its wallet below the floors: each was topped up when given back.
        pool.wait_idle().await;
        let topped_up = refills.0.lock().unwrap().len();
        assert!(topped_up > 1, "refills after the stores");
        // A store that needs more than the floors gets it before it starts.
        let needs = Funds {
            sui: 0,
            wal: 5 * CENTI,
        };
        let wallet = pool.checkout(needs).await.unwrap();
        let held = wallet.sdk().chain().wal_balance().await.unwrap();
        assert!(held >= needs.wal, "{held} FROST");
        drop(wallet);
        pool.wait_idle().await;
        assert_eq!(refills.0.lock().unwrap().len(), topped_up + 1);
        let after = balances(&everyone).await;
        let reports = refills.0.lock().unwrap().clone();
        for (status, funds) in pool.wallets().iter().zip(&after[1..]) {
            assert!(funds.covers(&floors), "{funds:?}");
            assert_eq!(status.balances, Some(*funds), "the pool's view is exact");
        }

        // Conservation: SUI only went to gas (as the effects in the checkpoints say), WAL
        // only to the stores' prices.
        let last_checkpoint = chain.latest_checkpoint().await.unwrap();
        let senders: Vec<_> = everyone.iter().map(WalrusClient::address).collect();
        let gas = chain
            .gas_paid(&senders, first_checkpoint..=last_checkpoint)
            .await
            .unwrap();
        assert!(gas > 0);
        let (sui_before, wal_before) = total(&before);
        let (sui_after, wal_after) = total(&after);
        assert_eq!(sui_after, sui_before - i128::from(gas), "SUI");
        assert_eq!(wal_after, wal_before - i128::from(cost), "WAL");
        let sent = |pick: fn(&walrus_chain::client::Payment) -> u64| -> u64 {
            reports
                .iter()
                .flat_map(|report| &report.payments)
                .map(pick)
                .sum()
        };
        assert_eq!(
            after[0].wal,
            before[0].wal - sent(|payment| payment.wal),
            "the main wallet's WAL went to the sub-wallets only"
        );
        let refill_gas: i64 = reports.iter().map(|report| report.gas_cost).sum();
        println!(
            "{} refill transactions ({refill_gas} MIST of gas), {gas} MIST of gas in all, {cost} FROST for 8 stores",
            reports.len()
        );

        // The blobs belong to the sub-wallets that stored them; a restarted pool finds the
        // same wallets, funded, and sends nothing.
        let mut owned = 0;
        for sub in &subs {
            owned += sub.owned_blobs().await.unwrap().len();
        }
        assert_eq!(owned, 8);
        assert!(chain.owned_blobs().await.unwrap().is_empty());
        let again = Arc::new(Refills::default());
        let restarted =
            WalletPool::new(main, SdkConfig::default(), config, Some(again.clone())).await;
        assert_eq!(restarted.addresses(), pool.addresses());
        assert!(again.0.lock().unwrap().is_empty());
    });
}

/// A `walrus-publisher` process with its own flags, killed on drop.
struct PublisherProcess {
    url: String,
    child: std::process::Child,
}

impl PublisherProcess {
    async fn start(net: &TestNetwork, config: &std::path::Path, args: &[&str]) -> Self {
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap();
        let binary = walrus_localnet::network::default_bin_dir().join("walrus-publisher");
        let log = std::fs::File::create(net.scratch().join("publisher.log")).unwrap();
        let child = std::process::Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(address.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("walrus-publisher starts");
        let process = Self {
            url: format!("http://{address}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = net.http.get(format!("{}/health", process.url)).send().await;
            if health.is_ok_and(|response| response.status().is_success()) {
                return process;
            }
            assert!(Instant::now() < deadline, "the publisher did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PublisherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `series` (name and labels, as written) in Prometheus `text`.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .sum()
}

#[test]
fn the_publisher_runs_concurrent_stores_on_sub_wallets() {
    run(|| async {
        let net = TestNetwork::start_with(4, 10, |options| options.services = false)
            .await
            .expect("a network");
        // A fresh main wallet (its client configuration is written next to the network).
        let main: WalrusSdk = net.funded_sdk(21).await.expect("a funded main wallet");
        let config = net.scratch().join("client-21.toml");
        let publisher = PublisherProcess::start(
            &net,
            &config,
            &["--n-clients", "4", "--max-concurrent-uploads", "8"],
        )
        .await;

        let health: Value = net
            .http
            .get(format!("{}/health", publisher.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["nClients"], 4, "{health}");
        assert_eq!(health["walletAddress"], main.chain().address().to_string());
        // Funded at start with the default floors (0.5) plus refill amounts (0.5).
        let subs = sub_wallets(main.chain(), 4);
        let listed: Vec<String> = health["subWallets"]
            .as_array()
            .expect("sub-wallets")
            .iter()
            .map(|wallet| {
                assert_eq!(wallet["suiBalance"], 1_000_000_000u64, "{health}");
                assert_eq!(wallet["walBalance"], 1_000_000_000u64, "{health}");
                wallet["address"].as_str().unwrap().to_owned()
            })
            .collect();
        let expected: Vec<String> = subs.iter().map(|sub| sub.address().to_string()).collect();
        assert_eq!(listed, expected);

        // Eight concurrent PUTs: every one is stored.
        let mut puts = tokio::task::JoinSet::new();
        for seed in 0..8u64 {
            let (http, url) = (net.http.clone(), publisher.url.clone());
            puts.spawn(async move {
                let response = http
                    .put(format!("{url}/v1/blobs?epochs=1"))
                    .body(test_data(10_000, 200 + seed))
                    .send()
                    .await
                    .expect("the publisher answers");
                let status = response.status();
                let answer: Value = response.json().await.expect("JSON");
                (status, answer)
            });
        }
        let mut objects = BTreeSet::new();
        for (status, answer) in within("eight PUTs", Duration::from_secs(60), puts.join_all()).await
        {
            assert_eq!(status, StatusCode::OK, "{answer}");
            let id = answer["newlyCreated"]["blobObject"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("a new blob object: {answer}"));
            objects.insert(id.to_owned());
        }
        assert_eq!(objects.len(), 8);

        // Each object is owned by the sub-wallet that stored it, and several stored.
        let mut by_owner: BTreeMap<usize, usize> = BTreeMap::new();
        for (i, sub) in subs.iter().enumerate() {
            for blob in sub.owned_blobs().await.unwrap() {
                assert!(objects.contains(&blob.id.to_string()), "{}", blob.id);
                *by_owner.entry(i).or_default() += 1;
            }
        }
        assert_eq!(by_owner.values().sum::<usize>(), 8, "{by_owner:?}");
        assert!(
            by_owner.len() > 1,
            "one sub-wallet stored them all: {by_owner:?}"
        );
        assert!(main.chain().owned_blobs().await.unwrap().is_empty());

        // `send_object_to`: the sub-wallet that stored the blob sends its object on, keeps
        // none, and the recipient owns it.
        let recipient = main.chain().address();
        let response = net
            .http
            .put(format!(
                "{}/v1/blobs?epochs=1&send_object_to={recipient}",
                publisher.url
            ))
            .body(test_data(10_000, 300))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        let id = answer["newlyCreated"]["blobObject"]["id"].as_str().unwrap();
        for sub in &subs {
            let kept = sub.owned_blobs().await.unwrap();
            assert!(
                kept.iter().all(|blob| blob.id.to_string() != id),
                "{id} kept"
            );
        }
        let received = main.chain().owned_blobs().await.unwrap();
        assert_eq!(
            received
                .iter()
                .map(|blob| blob.id.to_string())
                .collect::<Vec<_>>(),
            [id],
            "the recipient owns the sent object"
        );

        let metrics = net
            .http
            .get(format!("{}/metrics", publisher.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            metric(
                &metrics,
                "walrus_publisher_stores_total{outcome=\"newly_created\"}"
            ),
            9.0
        );
        assert_eq!(
            metric(&metrics, "walrus_publisher_stores_total{outcome=\"error\"}"),
            0.0
        );
        assert_eq!(
            metric(&metrics, "walrus_publisher_refills_total{result=\"ok\"}"),
            1.0,
            "only the initial funding: the stores spent less than a refill"
        );
        assert_eq!(
            metric(&metrics, "walrus_publisher_refilled_wal_frost_total"),
            4e9
        );
    });
}
