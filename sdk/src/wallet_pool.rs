//! [`WalletPool`]: concurrent stores without contention for coins. Two transactions of one
//! wallet that run at once pick the same gas and WAL coins, and the chain refuses the second
//! (its coin versions are stale by then). The pool holds `n` sub-wallets, each an SDK client
//! of its own key, and runs at most one store per sub-wallet at a time: a store checks one
//! out ([`WalletPool::checkout`]) and gives it back when its [`WalletLease`] is dropped,
//! waiting while all are busy.
//!
//! **Keys.** Sub-wallet `i`'s key is derived from the main wallet's key and `i`
//! ([`walrus_chain::client::WalrusClient::derived_client`] with [`SUB_WALLET_DOMAIN`]), so a
//! restarted pool finds the same sub-wallets, with their funds and their `Blob` objects; no
//! key is written anywhere.
//!
//! **Funds.** The main wallet funds the sub-wallets; it runs no stores itself. A sub-wallet
//! is topped up when its SUI or WAL is below the floors of [`WalletPoolConfig`]: at creation
//! ("before use"), when a store gives it back below a floor, and when a store needs more than
//! it holds (a blob costing more WAL than the floor). A top-up brings the currency that is
//! short to what is needed plus the refill amount, so a wallet holds between the floor and
//! the floor plus the refill amount between stores, and is refilled once every refill amount
//! it spends. Refills are one transaction at a time from the main
//! wallet (its coins are never used twice at once), and each one also tops up the wallets
//! whose stores wait for a refill meanwhile and every idle sub-wallet known to be below a
//! floor, so several wallets running low at once cost one transaction.
//! Transfers to a sub-wallet create new coins and never touch the coins it is spending, so a
//! busy sub-wallet may be refilled.
//!
//! **Blob objects** stay with the sub-wallet that stored them, unless the caller sends them
//! on (e.g. the publisher's `send_object_to`).
//!
//! With `n_clients = 1` the pool is the main wallet alone: no sub-wallets, no refills, one
//! store at a time.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use sui_sdk_types::{Address, Digest};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use walrus_chain::{
    client::{Payment, WalrusClient},
    contract::{redstuff, system::storage_units},
};

use crate::client::{SdkConfig, SdkError, WalrusSdk};

/// The domain of the sub-wallets' key derivation.
pub const SUB_WALLET_DOMAIN: &[u8] = b"walrus-sdk/wallet-pool/sub-wallet";

/// Transactions of one store and its follow-up (register, certify, transfer of the object):
/// a sub-wallet about to store holds gas for this many full budgets.
const STORE_TRANSACTIONS: u64 = 3;

/// SUI (MIST) and WAL (FROST) amounts: a balance or what a store needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funds {
    /// SUI in MIST.
    pub sui: u64,
    /// WAL in FROST.
    pub wal: u64,
}

impl Funds {
    /// Whether `self` covers `needed` in both currencies.
    pub fn covers(&self, needed: &Funds) -> bool {
        self.sui >= needed.sui && self.wal >= needed.wal
    }

    /// Each currency's larger amount.
    pub fn max(&self, other: &Funds) -> Funds {
        Funds {
            sui: self.sui.max(other.sui),
            wal: self.wal.max(other.wal),
        }
    }
}

/// How many sub-wallets and how they are funded. Amounts as Walrus's publisher has them
/// (`--gas-refill-amount`, `--wal-refill-amount`, `--sub-wallets-min-balance`), with separate
/// SUI and WAL floors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletPoolConfig {
    /// Sub-wallets, i.e. stores running at once; 1 (or 0): the main wallet alone.
    pub n_clients: usize,
    /// MIST a top-up sends beyond what the sub-wallet needs (the floor, or a store's needs).
    pub gas_refill_amount: u64,
    /// FROST a top-up sends beyond what the sub-wallet needs.
    pub wal_refill_amount: u64,
    /// A sub-wallet with less SUI than this (MIST), or than three gas budgets (a store's
    /// transactions), is refilled.
    pub min_sui_balance: u64,
    /// A sub-wallet with less WAL than this (FROST) is refilled.
    pub min_wal_balance: u64,
}

impl Default for WalletPoolConfig {
    /// Four sub-wallets; 0.5 SUI and 0.5 WAL per refill and as floors (Walrus's defaults).
    fn default() -> Self {
        Self {
            n_clients: 4,
            gas_refill_amount: 500_000_000,
            wal_refill_amount: 500_000_000,
            min_sui_balance: 500_000_000,
            min_wal_balance: 500_000_000,
        }
    }
}

/// One refill transaction from the main wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefillReport {
    /// The transaction.
    pub digest: Digest,
    /// Who got what.
    pub payments: Vec<Payment>,
    /// The transaction's gas cost (MIST, paid by the main wallet).
    pub gas_cost: i64,
}

/// Told of every refill (e.g. the publisher's metrics).
pub trait RefillObserver: Send + Sync {
    /// A refill transaction succeeded.
    fn refilled(&self, report: &RefillReport);
    /// A refill transaction failed (e.g. the main wallet has too little).
    fn refill_failed(&self, error: &SdkError);
}

/// A sub-wallet as [`WalletPool::wallets`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletStatus {
    /// Its address.
    pub address: Address,
    /// Its balances as last seen (after its last store, plus refills since); `None` before
    /// the first look or after a failed one.
    pub balances: Option<Funds>,
    /// Whether a store is using it.
    pub busy: bool,
}

/// What the pool knows of one wallet.
#[derive(Debug, Clone, Copy, Default)]
struct WalletState {
    balances: Option<Funds>,
    busy: bool,
}

/// The pool. Cheap to clone.
#[derive(Clone)]
pub struct WalletPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// The funding wallet (in single mode, the only store wallet too).
    main: WalrusSdk,
    /// The store wallets, by index.
    wallets: Vec<WalrusSdk>,
    /// Whether `wallets` are sub-wallets funded by `main` (else `wallets == [main]`).
    funded: bool,
    config: WalletPoolConfig,
    /// Idle wallets, oldest first. Always at least as many as `available`'s permits.
    idle: Mutex<VecDeque<usize>>,
    /// One permit per idle wallet.
    available: Arc<Semaphore>,
    /// What is known of each wallet.
    states: Mutex<Vec<WalletState>>,
    /// Held while a refill transaction of the main wallet runs.
    refill: tokio::sync::Mutex<()>,
    /// Top-ups that holders of wallets wait for (the next refill transaction serves them).
    waiting: Mutex<Vec<(usize, Funds)>>,
    observer: Option<Arc<dyn RefillObserver>>,
}

impl std::fmt::Debug for WalletPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletPool")
            .field("main", &self.inner.main.chain().address())
            .field("n_clients", &self.inner.wallets.len())
            .field("funded", &self.inner.funded)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What to send to a wallet holding `balance` that needs `needed`: nothing if it holds that
/// much, else enough to hold `needed` plus the refill amount `refill` (which it can then spend
/// before it needs the next top-up).
fn top_up(balance: u64, needed: u64, refill: u64) -> u64 {
    if balance >= needed {
        0
    } else {
        (needed - balance).saturating_add(refill)
    }
}

impl WalletPool {
    /// A pool of `config.n_clients` sub-wallets funded by `main`, each an SDK client with
    /// `sdk_config`; every sub-wallet below a floor is topped up now, in one transaction. A
    /// failed top-up is reported to `observer` and logged, not returned: the next store that
    /// needs the wallet tries again. With `n_clients <= 1`, [`Self::single`].
    pub async fn new(
        main: WalrusSdk,
        sdk_config: SdkConfig,
        config: WalletPoolConfig,
        observer: Option<Arc<dyn RefillObserver>>,
    ) -> Self {
        if config.n_clients <= 1 {
            return Self::single(main);
        }
        let wallets = (0..config.n_clients)
            .map(|i| {
                let chain = main.chain().derived_client(SUB_WALLET_DOMAIN, i as u64);
                WalrusSdk::new(chain, sdk_config)
            })
            .collect();
        let pool = Self::with_wallets(main, wallets, true, config, observer);
        let inner = &pool.inner;
        let looks = inner.wallets.iter().map(|wallet| balances(wallet.chain()));
        for (i, looked) in futures::future::join_all(looks)
            .await
            .into_iter()
            .enumerate()
        {
            match looked {
                Ok(funds) => lock(&inner.states)[i].balances = Some(funds),
                Err(error) => {
                    tracing::warn!(%error, wallet = i, "cannot read a sub-wallet's balances")
                }
            }
        }
        let floors = inner.floors();
        let low = (0..inner.wallets.len()).find(|&i| {
            lock(&inner.states)[i]
                .balances
                .is_some_and(|funds| !funds.covers(&floors))
        });
        if let Some(i) = low {
            // Tops up every idle wallet below a floor, which at creation is all of them.
            if let Err(error) = inner.ensure_funds(i, floors).await {
                tracing::warn!(%error, "the initial funding of the sub-wallets failed");
            }
        }
        pool
    }

    /// The main wallet alone: one store at a time, no refills.
    pub fn single(main: WalrusSdk) -> Self {
        Self::with_wallets(
            main.clone(),
            vec![main],
            false,
            WalletPoolConfig {
                n_clients: 1,
                ..WalletPoolConfig::default()
            },
            None,
        )
    }

    fn with_wallets(
        main: WalrusSdk,
        wallets: Vec<WalrusSdk>,
        funded: bool,
        config: WalletPoolConfig,
        observer: Option<Arc<dyn RefillObserver>>,
    ) -> Self {
        let n = wallets.len();
        Self {
            inner: Arc::new(Inner {
                main,
                funded,
                config,
                idle: Mutex::new((0..n).collect()),
                available: Arc::new(Semaphore::new(n)),
                states: Mutex::new(vec![WalletState::default(); n]),
                refill: tokio::sync::Mutex::new(()),
                waiting: Mutex::new(Vec::new()),
                observer,
                wallets,
            }),
        }
    }

    /// The funding wallet.
    pub fn main(&self) -> &WalrusSdk {
        &self.inner.main
    }

    /// The configuration.
    pub fn config(&self) -> &WalletPoolConfig {
        &self.inner.config
    }

    /// Whether the wallets are sub-wallets funded by the main wallet (`false`: the main
    /// wallet alone).
    pub fn has_sub_wallets(&self) -> bool {
        self.inner.funded
    }

    /// The store wallets' addresses, by index.
    pub fn addresses(&self) -> Vec<Address> {
        self.inner
            .wallets
            .iter()
            .map(|wallet| wallet.chain().address())
            .collect()
    }

    /// The store wallets: address, last known balances, busy.
    pub fn wallets(&self) -> Vec<WalletStatus> {
        let states = lock(&self.inner.states);
        self.inner
            .wallets
            .iter()
            .zip(states.iter())
            .map(|(wallet, state)| WalletStatus {
                address: wallet.chain().address(),
                balances: state.balances,
                busy: state.busy,
            })
            .collect()
    }

    /// What a sub-wallet needs to store a blob of `size` bytes for `epochs` epochs: the gas of
    /// a store's transactions and the floors, and its WAL price at the chain's current prices
    /// (one read of the `System` object; nothing for the main wallet alone, and nothing
    /// beyond the floors for a blob the network cannot encode, whose store fails anyway).
    pub async fn funds_for_store(&self, size: u64, epochs: u32) -> Result<Funds, SdkError> {
        let inner = &self.inner;
        if !inner.funded {
            return Ok(Funds::default());
        }
        let system = inner.main.chain().system().await?;
        let price = match redstuff::encoded_blob_length(size, redstuff::RS2, system.n_shards()) {
            Ok(encoded) => {
                let units = storage_units(encoded);
                units
                    .saturating_mul(system.storage_price_per_unit_size)
                    .saturating_mul(u64::from(epochs))
                    .saturating_add(units.saturating_mul(system.write_price_per_unit_size))
            }
            Err(_) => 0,
        };
        Ok(inner.floors().max(&Funds { sui: 0, wal: price }))
    }

    /// Checks out an idle wallet holding at least `needed` (see [`Self::funds_for_store`]) and
    /// the floors, waiting while every wallet is busy; a sub-wallet short of them is topped up
    /// first. The wallet is the caller's alone until the lease is dropped.
    pub async fn checkout(&self, needed: Funds) -> Result<WalletLease, SdkError> {
        let inner = &self.inner;
        let permit = inner
            .available
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SdkError::Internal("the wallet pool is closed".into()))?;
        let index = lock(&inner.idle)
            .pop_front()
            .ok_or_else(|| SdkError::Internal("no idle wallet for a permit".into()))?;
        lock(&inner.states)[index].busy = true;
        let lease = WalletLease {
            pool: self.clone(),
            index,
            permit: Some(permit),
        };
        if inner.funded {
            let known = lock(&inner.states)[index].balances;
            if known.is_none() {
                let funds = balances(inner.wallets[index].chain()).await?;
                lock(&inner.states)[index].balances = Some(funds);
            }
            inner
                .ensure_funds(index, needed.max(&inner.floors()))
                .await?;
        }
        Ok(lease)
    }

    /// Waits until no wallet is checked out and every return (balance check, refill) is
    /// done.
    pub async fn wait_idle(&self) {
        let all = u32::try_from(self.inner.wallets.len()).unwrap_or(u32::MAX);
        let _ = self.inner.available.acquire_many(all).await;
    }
}

/// The SUI and WAL balances of `wallet`'s address.
async fn balances(wallet: &WalrusClient) -> Result<Funds, SdkError> {
    let address = wallet.address();
    let (sui, wal) = tokio::join!(
        wallet.sui_balance_of(address),
        wallet.wal_balance_of(address)
    );
    Ok(Funds {
        sui: sui?,
        wal: wal?,
    })
}

impl Inner {
    /// The floors: what every sub-wallet should hold between stores.
    fn floors(&self) -> Funds {
        let gas = self.main.chain().config().gas_budget;
        Funds {
            sui: self
                .config
                .min_sui_balance
                .max(gas.saturating_mul(STORE_TRANSACTIONS)),
            wal: self.config.min_wal_balance,
        }
    }

    /// Tops up wallet `index` (which the caller holds) to `needed` if its known balances fall
    /// short, in one transaction with the wallets whose holders wait for a top-up and every
    /// idle wallet known to be below a floor.
    async fn ensure_funds(&self, index: usize, needed: Funds) -> Result<(), SdkError> {
        let short = |states: &[WalletState]| {
            states[index]
                .balances
                .is_some_and(|funds| !funds.covers(&needed))
        };
        if !short(&lock(&self.states)) {
            return Ok(());
        }
        lock(&self.waiting).push((index, needed));
        let _refilling = self.refill.lock().await;
        // The wallets whose holders asked meanwhile are served by this transaction too.
        let asked: Vec<(usize, Funds)> = lock(&self.waiting).drain(..).collect();
        let payments = {
            let states = lock(&self.states);
            // A refill that ran while we waited may have covered this wallet; the others
            // that asked wait for the next one.
            if !short(&states) {
                lock(&self.waiting).extend(asked.into_iter().filter(|(i, _)| *i != index));
                return Ok(());
            }
            let floors = self.floors();
            let mut wanted = BTreeMap::from([(index, needed.max(&floors))]);
            for (i, needs) in asked {
                let entry = wanted.entry(i).or_insert(floors);
                *entry = entry.max(&needs);
            }
            for &i in lock(&self.idle).iter() {
                wanted.entry(i).or_insert(floors);
            }
            wanted
                .into_iter()
                .filter_map(|(i, wanted)| {
                    let funds = states[i].balances?;
                    let payment = Payment {
                        recipient: self.wallets[i].chain().address(),
                        sui: top_up(funds.sui, wanted.sui, self.config.gas_refill_amount),
                        wal: top_up(funds.wal, wanted.wal, self.config.wal_refill_amount),
                    };
                    (payment.sui > 0 || payment.wal > 0).then_some((i, payment))
                })
                .collect::<Vec<_>>()
        };
        let sent: Vec<Payment> = payments.iter().map(|(_, payment)| *payment).collect();
        match self.main.chain().transfer_funds(&sent).await {
            Ok(executed) => {
                {
                    let mut states = lock(&self.states);
                    for (i, payment) in &payments {
                        if let Some(funds) = states[*i].balances.as_mut() {
                            funds.sui = funds.sui.saturating_add(payment.sui);
                            funds.wal = funds.wal.saturating_add(payment.wal);
                        }
                    }
                }
                let report = RefillReport {
                    digest: executed.digest,
                    gas_cost: executed.gas_cost(),
                    payments: sent,
                };
                tracing::info!(
                    digest = %report.digest,
                    wallets = report.payments.len(),
                    "refilled sub-wallets from the main wallet"
                );
                if let Some(observer) = &self.observer {
                    observer.refilled(&report);
                }
                Ok(())
            }
            Err(error) => {
                let error = SdkError::from(error);
                tracing::warn!(%error, "refilling sub-wallets failed");
                if let Some(observer) = &self.observer {
                    observer.refill_failed(&error);
                }
                Err(error)
            }
        }
    }

    /// Takes wallet `index` back: reads its balances (a store spent from them), tops it up if
    /// it is below a floor, and makes it idle again.
    async fn check_in(&self, index: usize, permit: OwnedSemaphorePermit) {
        if self.funded {
            match balances(self.wallets[index].chain()).await {
                Ok(funds) => {
                    lock(&self.states)[index].balances = Some(funds);
                    // A failure is reported and logged; the next checkout tries again.
                    let _ = self.ensure_funds(index, self.floors()).await;
                }
                Err(error) => {
                    tracing::warn!(%error, wallet = index, "cannot read a sub-wallet's balances");
                    lock(&self.states)[index].balances = None;
                }
            }
        }
        self.release(index, permit);
    }

    /// Makes wallet `index` idle again.
    fn release(&self, index: usize, permit: OwnedSemaphorePermit) {
        lock(&self.states)[index].busy = false;
        lock(&self.idle).push_back(index);
        drop(permit);
    }
}

/// A checked-out wallet, the holder's alone; given back to the pool when dropped (its
/// balances are read again and it is topped up if low, in a background task).
#[derive(Debug)]
pub struct WalletLease {
    pool: WalletPool,
    index: usize,
    permit: Option<OwnedSemaphorePermit>,
}

impl WalletLease {
    /// The wallet's SDK client (its wallet pays and owns what it creates).
    pub fn sdk(&self) -> &WalrusSdk {
        &self.pool.inner.wallets[self.index]
    }

    /// The wallet's index in the pool.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for WalletLease {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let inner = self.pool.inner.clone();
        let index = self.index;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { inner.check_in(index, permit).await });
            }
            Err(_) => {
                // No runtime to look at the balances: the next checkout reads them.
                lock(&inner.states)[index].balances = None;
                inner.release(index, permit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use walrus_chain::client::ChainConnection;

    /// An SDK whose chain is an unused local port (construction does not connect).
    fn offline_sdk() -> WalrusSdk {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = ClientConfig {
            wallet_private_key: "07".repeat(32),
            chain: ChainConnection {
                rpc_url: format!("http://127.0.0.1:{port}"),
                wal_package: "0xa11".into(),
                walrus_package: "0xa12".into(),
                system_object: "0x5".into(),
                staking_object: "0x7".into(),
                initial_shared_version: 1,
            },
        };
        WalrusSdk::new(config.chain_client().unwrap(), SdkConfig::default())
    }

    #[test]
    fn top_ups_send_the_refill_amount_or_what_is_missing() {
        assert_eq!(top_up(10, 5, 100), 0);
        assert_eq!(top_up(5, 5, 100), 0);
        assert_eq!(top_up(4, 5, 100), 101);
        assert_eq!(top_up(0, 500, 100), 600);
        assert_eq!(top_up(0, 1, u64::MAX), u64::MAX);
        let funds = Funds { sui: 3, wal: 9 };
        assert!(funds.covers(&Funds { sui: 3, wal: 9 }));
        assert!(!funds.covers(&Funds { sui: 4, wal: 0 }));
        assert_eq!(
            funds.max(&Funds { sui: 5, wal: 1 }),
            Funds { sui: 5, wal: 9 }
        );
    }

    #[tokio::test]
    async fn sub_wallets_are_derived_from_the_main_key() {
        let main = offline_sdk();
        let config = WalletPoolConfig {
            n_clients: 3,
            ..WalletPoolConfig::default()
        };
        // The chain is down: the balances stay unknown and nothing is sent.
        let pool = WalletPool::new(main.clone(), SdkConfig::default(), config, None).await;
        let again = WalletPool::new(offline_sdk(), SdkConfig::default(), config, None).await;
        let addresses = pool.addresses();
        assert_eq!(addresses.len(), 3);
        assert_eq!(addresses, again.addresses());
        assert!(!addresses.contains(&main.chain().address()));
        assert_eq!(
            addresses[1],
            main.chain().derived_client(SUB_WALLET_DOMAIN, 1).address()
        );
        assert!(pool.has_sub_wallets());
        assert!(pool
            .wallets()
            .iter()
            .all(|wallet| wallet.balances.is_none()));
        // A checkout must read the balances first, and the chain is down.
        assert!(matches!(
            pool.checkout(Funds::default()).await,
            Err(SdkError::Chain(_))
        ));
        // The failed checkout gave its wallet back.
        tokio::time::timeout(std::time::Duration::from_secs(5), pool.wait_idle())
            .await
            .expect("every wallet is idle again");
    }

    #[tokio::test]
    async fn wallets_are_leased_one_store_at_a_time() {
        let main = offline_sdk();
        let pool = WalletPool::single(main.clone());
        assert!(!pool.has_sub_wallets());
        assert_eq!(pool.addresses(), vec![main.chain().address()]);
        assert_eq!(
            pool.funds_for_store(1 << 20, 5).await.unwrap(),
            Funds::default()
        );
        let lease = pool.checkout(Funds::default()).await.unwrap();
        assert_eq!(lease.sdk().chain().address(), main.chain().address());
        assert!(pool.wallets()[0].busy);
        // A second checkout waits until the lease is dropped.
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.checkout(Funds::default())
                    .await
                    .map(|lease| lease.index())
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());
        drop(lease);
        let index = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the waiting checkout gets the wallet")
            .unwrap()
            .unwrap();
        assert_eq!(index, 0);
        pool.wait_idle().await;
        assert!(!pool.wallets()[0].busy);
    }
}
