//! A durable chain as a service (what `walrus-localnet chain` runs): the genesis file (TOML),
//! the epoch clock, the HTTP faucet and [`run_chain`] (a durable chain served over gRPC until a
//! shutdown signal).
//!
//! Epoch changes and faucet grants are **ordinary signed transactions** from built-in
//! accounts (see [`crate::operators`] for why): the epoch clock's keeper calls
//! `staking::voting_end` once half of the epoch has passed and `staking::initiate_epoch_change`
//! once it is over, and the faucet pays with `SplitCoins` + `TransferObjects` from its
//! genesis-funded coins. Both are executed, recorded and sealed into checkpoints like any user
//! transaction, so their events (`EpochParametersSelected`, `EpochChangeStart`,
//! `ShardsReceived`) reach `EventStream`. The next epoch starts only after a quorum of the
//! committee reported its shards synced (`staking::epoch_sync_done`), as on Walrus. Only the `0x6` clock update is a direct write (what
//! Sui's consensus commit prologue does).

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use fastcrypto::traits::ToFromBytes;
use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;
use tokio::{net::TcpListener, sync::watch};
use walrus_core::crypto::ProtocolKeyPair;

use crate::{
    checkpoints::now_ms,
    genesis::{GenesisAccount, GenesisNode},
    operators::{self, Operator, OperatorError, OperatorRunError},
    service::ChainState,
    types::ObjectType,
    ExecutionError, Genesis, GenesisConfig, LocalnetService, ServiceConfig, WALRUS_PACKAGE_ID,
    WAL_PACKAGE_ID,
};

/// The copy of the resolved genesis file kept in the data directory (used on restart).
pub const GENESIS_FILE_NAME: &str = "genesis.toml";

/// 1 SUI in MIST, 1 WAL in FROST.
pub const ONE_COIN: u64 = 1_000_000_000;

/// The genesis file (TOML). See the crate's README for the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// Number of shards.
    #[serde(default = "default_n_shards")]
    pub n_shards: u16,
    /// Epoch duration (ms).
    #[serde(default = "default_epoch_duration_ms")]
    pub epoch_duration_ms: u64,
    /// How many epochs ahead storage can be bought.
    #[serde(default = "default_max_epochs_ahead")]
    pub max_epochs_ahead: u32,
    /// The genesis clock time (ms since the Unix epoch); 0 or absent: the time the chain is
    /// created (written back into the data directory's copy).
    #[serde(default)]
    pub start_timestamp_ms: u64,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// The initial committee.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
}

fn default_n_shards() -> u16 {
    10
}
fn default_epoch_duration_ms() -> u64 {
    60_000
}
fn default_max_epochs_ahead() -> u32 {
    52
}
fn default_storage_price() -> u64 {
    100
}
fn default_write_price() -> u64 {
    10
}
fn default_capacity() -> u64 {
    1 << 40
}

/// An account of the genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// The address (`0x…`).
    pub address: String,
    /// MIST, one gas coin (absent or 0: none).
    #[serde(default)]
    pub sui: u64,
    /// FROST, one WAL coin (absent or 0: none).
    #[serde(default)]
    pub wal: u64,
}

/// A storage node of the genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// The node's Sui address (`0x…`; it owns the `StorageNodeCap` and the `StakedWal`).
    pub owner: String,
    /// Name (default `node-<index>`).
    #[serde(default)]
    pub name: Option<String>,
    /// Network address (`host:port`: plain HTTP; `https://host:port`: a node serving TLS).
    pub network_address: String,
    /// BLS protocol key: a 32-byte seed in hex (`ProtocolKeyPair::from_seed`)...
    #[serde(default)]
    pub bls_seed: Option<String>,
    /// ... or the 32-byte private key in hex.
    #[serde(default)]
    pub bls_private_key: Option<String>,
    /// The network public key in hex (default: 32 zero bytes).
    #[serde(default)]
    pub network_public_key: Option<String>,
    /// WAL (FROST) staked with the node at genesis.
    pub stake: u64,
    /// Commission rate (basis points).
    #[serde(default)]
    pub commission_rate: u16,
    /// Storage price vote.
    #[serde(default = "default_storage_price")]
    pub storage_price: u64,
    /// Write price vote.
    #[serde(default = "default_write_price")]
    pub write_price: u64,
    /// Capacity vote (bytes).
    #[serde(default = "default_capacity")]
    pub capacity: u64,
}

impl Default for GenesisFile {
    fn default() -> Self {
        Self {
            n_shards: default_n_shards(),
            epoch_duration_ms: default_epoch_duration_ms(),
            max_epochs_ahead: default_max_epochs_ahead(),
            start_timestamp_ms: 0,
            accounts: Vec::new(),
            nodes: Vec::new(),
        }
    }
}

fn parse_address(what: &str, value: &str) -> anyhow::Result<Address> {
    Address::from_str(value).map_err(|error| anyhow::anyhow!("invalid {what} {value:?}: {error}"))
}

fn parse_hex(what: &str, value: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(value.trim_start_matches("0x")).with_context(|| format!("invalid hex {what}"))
}

impl NodeEntry {
    /// The node's BLS key pair.
    pub fn key_pair(&self) -> anyhow::Result<ProtocolKeyPair> {
        match (&self.bls_seed, &self.bls_private_key) {
            (Some(seed), None) => {
                let seed: [u8; 32] = parse_hex("bls_seed", seed)?
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("bls_seed must be 32 bytes"))?;
                Ok(ProtocolKeyPair::from_seed(seed))
            }
            (None, Some(key)) => {
                ProtocolKeyPair::from_private_key_bytes(&parse_hex("bls_private_key", key)?)
                    .map_err(|error| anyhow::anyhow!("invalid bls_private_key: {error}"))
            }
            _ => bail!("a node needs exactly one of bls_seed and bls_private_key"),
        }
    }
}

impl GenesisFile {
    /// Reads a genesis file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid genesis file {}", path.display()))
    }

    /// The file as TOML.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }

    /// The executor's configuration: addresses parsed, proofs of possession computed from
    /// the nodes' keys, and the built-in keeper and faucet accounts funded
    /// ([`operators::add_operator_accounts`]).
    pub fn to_config(&self) -> anyhow::Result<GenesisConfig> {
        let mut config =
            GenesisConfig::new(self.n_shards, self.epoch_duration_ms, self.max_epochs_ahead);
        config.start_timestamp_ms = self.start_timestamp_ms;
        for account in &self.accounts {
            config.accounts.push(GenesisAccount {
                address: parse_address("account address", &account.address)?,
                sui_coins: [account.sui].into_iter().filter(|v| *v > 0).collect(),
                wal_coins: [account.wal].into_iter().filter(|v| *v > 0).collect(),
            });
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let owner = parse_address("node owner", &node.owner)?;
            let key = node.key_pair()?;
            let network_public_key = match &node.network_public_key {
                Some(key) => parse_hex("network_public_key", key)?,
                None => vec![0; 32],
            };
            config.nodes.push(GenesisNode {
                owner,
                name: node.name.clone().unwrap_or_else(|| format!("node-{index}")),
                network_address: node.network_address.clone(),
                public_key: key.public().as_bytes().to_vec(),
                proof_of_possession: key
                    .proof_of_possession(owner.into_inner(), 0)
                    .as_bytes()
                    .to_vec(),
                network_public_key,
                commission_rate: node.commission_rate,
                storage_price: node.storage_price,
                write_price: node.write_price,
                node_capacity: node.capacity,
                stake: node.stake,
            });
        }
        operators::add_operator_accounts(&mut config);
        Ok(config)
    }
}

/// Options of [`run_chain`] (the flags of `walrus-localnet chain`).
#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// The data directory.
    pub dir: PathBuf,
    /// The gRPC address.
    pub listen: SocketAddr,
    /// The HTTP faucet's address (none: no faucet).
    pub faucet_listen: Option<SocketAddr>,
    /// The genesis file (used only when the data directory holds no chain).
    pub genesis: Option<PathBuf>,
    /// Overrides the genesis file's epoch duration (only when the chain is created).
    pub epoch_duration_ms: Option<u64>,
    /// Checkpoint interval.
    pub checkpoint_interval: Duration,
    /// Faucet limits.
    pub faucet: FaucetConfig,
}

/// The faucet's amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaucetConfig {
    /// MIST sent when the request names no amount.
    pub default_sui: u64,
    /// FROST sent when the request names no amount.
    pub default_wal: u64,
    /// The largest MIST amount of one request.
    pub max_sui: u64,
    /// The largest FROST amount of one request.
    pub max_wal: u64,
    /// Requests granted per recipient in any 60 s window (0: no limit); more answer 429
    /// `rate_limited`.
    pub max_requests_per_minute: u32,
    /// Requests granted per minute across all recipients (a token bucket: bursts of at most
    /// this many, refilled evenly over a minute; 0: no limit), so that fresh addresses cannot
    /// drain the faucet; more answer 429 `global_rate_limited`.
    pub max_grants_per_minute: u32,
}

impl Default for FaucetConfig {
    fn default() -> Self {
        Self {
            default_sui: 100 * ONE_COIN,
            default_wal: 100 * ONE_COIN,
            max_sui: 10_000 * ONE_COIN,
            max_wal: 10_000 * ONE_COIN,
            max_requests_per_minute: 60,
            max_grants_per_minute: 600,
        }
    }
}

/// Opens (or creates) the chain in `options.dir`. A new chain uses the genesis file (or the
/// default one), with `start_timestamp_ms` = now if unset; its resolved copy is written to
/// `dir/genesis.toml`. An existing chain is resumed with that copy (a `--genesis` given then
/// is ignored, with a warning if it differs).
pub fn open_chain(options: &ChainOptions) -> anyhow::Result<(ChainState, Genesis, GenesisFile)> {
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("cannot create {}", options.dir.display()))?;
    let stored_path = options.dir.join(GENESIS_FILE_NAME);
    let file = if stored_path.exists() {
        let stored = GenesisFile::read(&stored_path)?;
        if let Some(path) = &options.genesis {
            let mut given = GenesisFile::read(path)?;
            given.start_timestamp_ms = stored.start_timestamp_ms;
            if let Some(duration) = options.epoch_duration_ms {
                given.epoch_duration_ms = duration;
            }
            if given != stored {
                tracing::warn!(
                    given = %path.display(),
                    stored = %stored_path.display(),
                    "the data directory holds a chain from another genesis file; resuming it",
                );
            }
        }
        tracing::info!(dir = %options.dir.display(), "resuming the chain");
        stored
    } else {
        let mut file = match &options.genesis {
            Some(path) => GenesisFile::read(path)?,
            None => GenesisFile::default(),
        };
        if let Some(duration) = options.epoch_duration_ms {
            file.epoch_duration_ms = duration;
        }
        if file.start_timestamp_ms == 0 {
            file.start_timestamp_ms = now_ms();
        }
        file
    };
    let config = file.to_config()?;
    let (state, genesis) = ChainState::open(&options.dir, &config)?;
    if !stored_path.exists() {
        // Written after the chain: a crash in between leaves a chain without its file, which
        // the next start reports (GenesisMismatch) instead of silently using another one.
        let tmp = options.dir.join(format!("{GENESIS_FILE_NAME}.tmp"));
        std::fs::write(&tmp, file.to_toml()?)?;
        std::fs::rename(&tmp, &stored_path)?;
        tracing::info!(dir = %options.dir.display(), "created a new chain");
    }
    Ok((state, genesis, file))
}

/// The epoch clock: every `tick` it moves the `0x6` clock to the wall clock and has the keeper
/// send the epoch-change calls that are due (`staking::voting_end`,
/// `staking::initiate_epoch_change`) as signed transactions ([`operators::run_keeper`]). Runs
/// until `shutdown` changes.
pub async fn epoch_clock(
    service: LocalnetService,
    genesis: Genesis,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error = String::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let mut state = service.state().lock().await;
        let result = state
            .advance_clock(now_ms())
            .map_err(OperatorRunError::from)
            .and_then(|()| operators::run_keeper(&mut state, &genesis));
        drop(state);
        match result {
            Ok(runs) => {
                if !runs.is_empty() {
                    last_error.clear();
                }
                for run in runs {
                    tracing::info!(
                        call = run.call.function(),
                        epoch = run.epoch,
                        digest = %run.effects.transaction_digest,
                        "epoch keeper"
                    );
                }
            }
            Err(error) => {
                let message = error.to_string();
                if message != last_error {
                    tracing::warn!(error = %message, "epoch clock");
                    last_error = message;
                }
            }
        }
    }
}

/// Per-recipient sliding-window rate limiting of the faucet.
#[derive(Debug)]
pub struct RateLimiter {
    max_per_window: u32,
    window: Duration,
    granted: Mutex<HashMap<Address, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `max_per_window` grants per recipient in any `window` (0: no limit).
    pub fn new(max_per_window: u32, window: Duration) -> Self {
        Self {
            max_per_window,
            window,
            granted: Mutex::new(HashMap::new()),
        }
    }

    /// Records a request for `recipient` at `now` if it is within the limit; otherwise
    /// returns how long until the oldest grant of the window expires.
    pub fn check(&self, recipient: Address, now: Instant) -> Result<(), Duration> {
        if self.max_per_window == 0 {
            return Ok(());
        }
        let mut granted = self
            .granted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let expired = |at: &Instant| now.saturating_duration_since(*at) >= self.window;
        if granted.len() > 10_000 {
            granted.retain(|_, times| times.back().is_some_and(|at| !expired(at)));
        }
        let times = granted.entry(recipient).or_default();
        while times.front().is_some_and(expired) {
            times.pop_front();
        }
        if times.len() >= self.max_per_window as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self
                .window
                .saturating_sub(now.saturating_duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }

    /// Forgets the request of `recipient` recorded at `at` by [`Self::check`] (it was not
    /// granted after all, e.g. refused by the [`GlobalRateLimiter`]).
    pub fn forget(&self, recipient: Address, at: Instant) {
        let mut granted = self
            .granted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(times) = granted.get_mut(&recipient) {
            if let Some(index) = times.iter().rposition(|time| *time == at) {
                times.remove(index);
            }
        }
    }
}

/// The faucet's limit across all recipients: a token bucket holding at most `per_minute`
/// grants, refilled at `per_minute` per 60 s (so a burst of `per_minute`, then one grant every
/// `60 / per_minute` s).
#[derive(Debug)]
pub struct GlobalRateLimiter {
    per_minute: u32,
    /// Tokens, and when they were counted (none before the first request: a full bucket).
    bucket: Mutex<Option<(f64, Instant)>>,
}

impl GlobalRateLimiter {
    /// At most `per_minute` grants per minute in all (0: no limit).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            bucket: Mutex::new(None),
        }
    }

    /// Takes a grant at `now` if the bucket holds one; otherwise returns how long until it
    /// does.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, counted) = bucket.unwrap_or((capacity, now));
        let refilled = now.saturating_duration_since(counted).as_secs_f64() * per_second;
        let tokens = (tokens + refilled).min(capacity);
        // `counted` never moves back, so an earlier `now` neither refills nor loses tokens.
        let counted = counted.max(now);
        if tokens >= 1.0 {
            *bucket = Some((tokens - 1.0, counted));
            Ok(())
        } else {
            *bucket = Some((tokens, counted));
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }
}

#[derive(Clone)]
struct FaucetState {
    service: LocalnetService,
    genesis: Genesis,
    config: FaucetConfig,
    limiter: Arc<RateLimiter>,
    global: Arc<GlobalRateLimiter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GasRequest {
    recipient: String,
    #[serde(default)]
    sui: Option<u64>,
    #[serde(default)]
    wal: Option<u64>,
}

fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

/// `wait` in whole seconds, rounded up, at least 1 (for `Retry-After`).
fn retry_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// 429 with `code`, `message` and `Retry-After: seconds`.
fn too_many_requests(code: &str, message: String, seconds: u64) -> Response {
    let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, code, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

async fn gas(State(state): State<FaucetState>, body: Bytes) -> Response {
    let request: GasRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                error.to_string(),
            )
        }
    };
    let recipient = match Address::from_str(&request.recipient) {
        Ok(address) => address,
        Err(error) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_recipient",
                format!("invalid recipient {:?}: {error}", request.recipient),
            )
        }
    };
    let sui = request.sui.unwrap_or(state.config.default_sui);
    let wal = request.wal.unwrap_or(state.config.default_wal);
    if sui > state.config.max_sui || wal > state.config.max_wal {
        return json_error(
            StatusCode::BAD_REQUEST,
            "amount_too_large",
            format!(
                "at most {} MIST and {} FROST per request",
                state.config.max_sui, state.config.max_wal
            ),
        );
    }
    if sui == 0 && wal == 0 {
        return json_error(
            StatusCode::BAD_REQUEST,
            "nothing_requested",
            "sui and wal are both 0",
        );
    }
    // Per recipient first, so that requests refused there take nothing of the global budget.
    let now = Instant::now();
    if let Err(wait) = state.limiter.check(recipient, now) {
        let seconds = retry_seconds(wait);
        return too_many_requests(
            "rate_limited",
            format!(
                "at most {} requests per minute for {recipient}; retry in {seconds} s",
                state.config.max_requests_per_minute,
            ),
            seconds,
        );
    }
    if let Err(wait) = state.global.check(now) {
        state.limiter.forget(recipient, now);
        let seconds = retry_seconds(wait);
        return too_many_requests(
            "global_rate_limited",
            format!(
                "the faucet grants at most {} requests per minute in all; retry in {seconds} s",
                state.config.max_grants_per_minute,
            ),
            seconds,
        );
    }
    let result = {
        let mut chain = state.service.state().lock().await;
        operators::run_faucet(&mut chain, &state.genesis, recipient, sui, wal)
    };
    match result {
        Ok(effects) => {
            let digest = effects.transaction_digest.to_string();
            tracing::info!(%recipient, sui, wal, %digest, "faucet");
            let mut coins = Vec::new();
            for (amount, ty, coin_type) in [
                (sui, ObjectType::SuiCoin, "0x2::sui::SUI".to_owned()),
                (
                    wal,
                    ObjectType::WalCoin,
                    format!("{WAL_PACKAGE_ID}::wal::WAL"),
                ),
            ] {
                for change in effects.created_of_type(ty) {
                    coins.push(serde_json::json!({
                        "id": change.id().to_string(),
                        "coin_type": coin_type,
                        "amount": amount,
                    }));
                }
            }
            Json(serde_json::json!({
                "recipient": recipient.to_string(),
                "coins": coins,
                "transaction_digest": digest,
            }))
            .into_response()
        }
        Err(
            error @ (OperatorRunError::Build(OperatorError::NoCoin { .. })
            | OperatorRunError::Execution(
                ExecutionError::InsufficientCoinBalance { .. }
                | ExecutionError::InsufficientGasBalance { .. },
            )),
        ) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "faucet_empty",
            error.to_string(),
        ),
        Err(error) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        ),
    }
}

async fn health(State(state): State<FaucetState>) -> Response {
    let chain = state.service.state().lock().await;
    let epoch = match chain.executor.store().value(&state.genesis.staking) {
        Ok(crate::types::ObjectValue::Staking(staking)) => staking.epoch,
        _ => 0,
    };
    Json(serde_json::json!({
        "status": "ok",
        "chain_id": chain.ledger.chain_id(),
        "epoch": epoch,
        "checkpoint": chain.ledger.latest_sequence_number(),
        "timestamp_ms": chain.executor.timestamp_ms().unwrap_or(0),
        "system_object": state.genesis.system.to_string(),
        "staking_object": state.genesis.staking.to_string(),
        "initial_shared_version": state.genesis.initial_shared_version,
        "walrus_package": WALRUS_PACKAGE_ID.to_string(),
        "wal_package": WAL_PACKAGE_ID.to_string(),
        "faucet_address": Operator::faucet().address().to_string(),
        "keeper_address": Operator::keeper().address().to_string(),
    }))
    .into_response()
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The faucet's HTTP routes: `POST /v1/gas`, `GET /health`.
fn faucet_router(state: FaucetState) -> Router {
    Router::new()
        .route("/v1/gas", post(gas))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(state)
}

/// Runs the chain until `shutdown` resolves: the gRPC service on `options.listen`, the
/// checkpoint builder, the epoch clock and the faucet. On shutdown the servers stop, the
/// pending transactions are sealed into a last checkpoint and the database is closed.
pub async fn run_chain(
    options: ChainOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (state, genesis, file) = open_chain(&options)?;
    let service = LocalnetService::with_state(
        state,
        ServiceConfig {
            checkpoint_interval: options.checkpoint_interval,
            sync_clock: true,
        },
    );
    {
        let chain = service.state().lock().await;
        tracing::info!(
            chain_id = %chain.ledger.chain_id(),
            checkpoint = chain.ledger.latest_sequence_number(),
            system = %genesis.system,
            staking = %genesis.staking,
            epoch_duration_ms = file.epoch_duration_ms,
            "chain open",
        );
    }
    let grpc_listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let faucet_listener = match options.faucet_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?,
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let wait_stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let builder = service.spawn_checkpoint_builder();
    let tick = Duration::from_millis((file.epoch_duration_ms / 10).clamp(20, 1_000));
    let clock = tokio::spawn(epoch_clock(
        service.clone(),
        genesis.clone(),
        tick,
        stop_rx.clone(),
    ));
    let mut grpc = tokio::spawn(
        service
            .clone()
            .serve_with_shutdown(grpc_listener, wait_stop(stop_rx.clone())),
    );
    tracing::info!(address = %options.listen, "gRPC listening");
    let faucet = match faucet_listener {
        Some(listener) => {
            let router = faucet_router(FaucetState {
                service: service.clone(),
                genesis: genesis.clone(),
                config: options.faucet,
                limiter: Arc::new(RateLimiter::new(
                    options.faucet.max_requests_per_minute,
                    Duration::from_secs(60),
                )),
                global: Arc::new(GlobalRateLimiter::new(options.faucet.max_grants_per_minute)),
            });
            tracing::info!(address = %listener.local_addr()?, "faucet listening");
            let signal = wait_stop(stop_rx.clone());
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await
            }))
        }
        None => None,
    };

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    // Open streams (subscriptions) would hold the graceful shutdown: wait a little, then go.
    let grace = Duration::from_secs(2);
    if tokio::time::timeout(grace, &mut grpc).await.is_err() {
        tracing::warn!("gRPC connections still open; closing them");
        grpc.abort();
        let _ = grpc.await;
    }
    if let Some(mut faucet) = faucet {
        if tokio::time::timeout(grace, &mut faucet).await.is_err() {
            faucet.abort();
            let _ = faucet.await;
        }
    }
    let _ = clock.await;
    builder.abort();
    let _ = builder.await;
    {
        let mut chain = service.state().lock().await;
        match chain.seal_checkpoint() {
            Ok(Some(sequence_number)) => {
                tracing::info!(sequence_number, "sealed the last checkpoint")
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "cannot seal the last checkpoint"),
        }
    }
    // The last handle: dropping it closes the database.
    drop(service);
    tracing::info!("stopped");
    Ok(())
}
