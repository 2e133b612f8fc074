//! The localnet's gRPC server: the subset of Sui's `sui.rpc.v2` API that Walrus needs, with
//! the server traits and messages of the published `sui-rpc` crate, over an [`Executor`]
//! behind a tokio mutex.
//!
//! Served (everything else answers `UNIMPLEMENTED`, the traits' default):
//! - `LedgerService`: `get_service_info`, `get_object`, `batch_get_objects`,
//!   `get_transaction`, `get_checkpoint`, `get_epoch`;
//! - `StateService`: `list_owned_objects`, `get_balance`, `list_balances`;
//! - `TransactionExecutionService`: `execute_transaction`;
//! - `SubscriptionService`: `subscribe_checkpoints` (without filters).
//!
//! A background task seals the executed transactions into a checkpoint every
//! [`ServiceConfig::checkpoint_interval`] when there are any ([`crate::checkpoints`]).

use std::{
    collections::BTreeMap, net::SocketAddr, path::Path, str::FromStr, sync::Arc, time::Duration,
};

use sui_rpc::{
    field::{FieldMask, FieldMaskTree, FieldMaskUtil, MessageFields},
    merge::Merge,
    proto::{
        google::rpc::Status as RpcStatus,
        sui::rpc::v2::{
            self as pb,
            get_checkpoint_request::CheckpointId,
            get_object_result,
            ledger_service_server::{LedgerService, LedgerServiceServer},
            state_service_server::{StateService, StateServiceServer},
            subscription_service_server::{SubscriptionService, SubscriptionServiceServer},
            transaction_execution_service_server::{
                TransactionExecutionService, TransactionExecutionServiceServer,
            },
        },
        timestamp_ms_to_proto,
    },
};
use sui_sdk_types::{Address, Digest, Object, StructTag, Transaction, TypeTag, UserSignature};
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};
use tokio_stream::StreamExt;
use tonic::{codegen::BoxStream, transport::server::TcpIncoming, Request, Response, Status};

use crate::{
    checkpoints::{genesis_checkpoint, now_ms, Ledger},
    db::{ChainDb, ChainDbError},
    Effects, ExecutionError, Executor, Genesis, GenesisConfig, REFERENCE_GAS_PRICE, SUI_EPOCH,
    SUI_FRAMEWORK_ID,
};

/// Default and largest page sizes of the list methods.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1_000;

/// The default of [`ServiceConfig::checkpoint_interval`], in ms: a transaction waits half of
/// it on average before its checkpoint is sealed (a store waits for two).
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 20;

/// Settings of the gRPC service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceConfig {
    /// How often pending executed transactions are sealed into a checkpoint.
    pub checkpoint_interval: Duration,
    /// Whether the `0x6` clock follows the wall clock: before each transaction it is set to
    /// the current time (what Sui's consensus commit prologue does). Off by default, so the
    /// chain's time only moves with [`Executor::set_timestamp_ms`].
    pub sync_clock: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval: Duration::from_millis(DEFAULT_CHECKPOINT_INTERVAL_MS),
            sync_clock: false,
        }
    }
}

/// The executor and the ledger, locked together.
#[derive(Debug)]
pub struct ChainState {
    /// The executor (objects and executed effects).
    pub executor: Executor,
    /// Executed transactions and checkpoints.
    pub ledger: Ledger,
}

impl ChainState {
    /// An in-memory chain over `executor`; checkpoint 0 is sealed at the executor's clock time.
    pub fn new(executor: Executor) -> Self {
        let genesis_ms = executor.timestamp_ms().unwrap_or(0);
        Self {
            executor,
            ledger: Ledger::new(genesis_ms),
        }
    }

    /// A durable chain in `dir` (a [`ChainDb`], `dir/chain.redb`): if the directory holds no
    /// chain, the genesis state of `config` and checkpoint 0 (at the genesis clock time) are
    /// written; otherwise the stored chain is loaded (it must come from the same `config`) and
    /// resumes where it stopped: same objects, transactions, checkpoints and chain ID, and the
    /// transactions executed but not yet in a checkpoint are sealed into the next one now.
    /// From then on every executed transaction and sealed checkpoint is committed to the
    /// database (fsync) before it is answered or broadcast.
    pub fn open(dir: &Path, config: &GenesisConfig) -> Result<(Self, Genesis), ChainDbError> {
        let db = Arc::new(ChainDb::open(dir)?);
        let (store, genesis) = config.build().map_err(ChainDbError::Genesis)?;
        let loaded = match db.load()? {
            Some(loaded) => loaded,
            None => {
                let genesis_ms = Executor::new(store.clone()).timestamp_ms().unwrap_or(0);
                db.write_genesis(genesis.digest, &store, &genesis_checkpoint(genesis_ms))?;
                db.load()?.ok_or_else(|| ChainDbError::Corrupt {
                    path: db.path().to_owned(),
                    reason: "genesis was written but cannot be read".to_owned(),
                })?
            }
        };
        if loaded.genesis_digest != genesis.digest {
            return Err(ChainDbError::GenesisMismatch {
                path: db.path().to_owned(),
                stored: loaded.genesis_digest,
                given: genesis.digest,
            });
        }
        let ledger = Ledger::restore(&loaded.checkpoints, &loaded.transactions, db.clone())?;
        let executor = Executor::restore(
            loaded.objects,
            loaded.transactions.into_iter().map(|stored| stored.effects),
            db,
        );
        let mut state = Self { executor, ledger };
        if state.ledger.has_pending() {
            let timestamp_ms = now_ms().max(state.executor.timestamp_ms().unwrap_or(0));
            state.ledger.seal(timestamp_ms)?;
        }
        Ok((state, genesis))
    }

    /// Executes a signed transaction and records it in the ledger (it goes into the next
    /// checkpoint): the one way anything changes the chain's objects besides the clock (the
    /// gRPC `execute_transaction`, the epoch keeper and the faucet all come here). On error
    /// nothing changes.
    pub fn execute(
        &mut self,
        transaction: &Transaction,
        signatures: &[UserSignature],
    ) -> Result<(Effects, pb::ExecutedTransaction), ExecutionError> {
        let effects = self.executor.execute(transaction, signatures)?;
        let executed = self.ledger.record(transaction, signatures, &effects);
        Ok((effects, executed))
    }

    /// Moves the `0x6` clock forward to `timestamp_ms` if it is behind (never back).
    pub fn advance_clock(&mut self, timestamp_ms: u64) -> Result<(), ExecutionError> {
        if timestamp_ms > self.executor.timestamp_ms()? {
            self.executor.set_timestamp_ms(timestamp_ms)?;
        }
        Ok(())
    }

    /// Seals the pending transactions into a checkpoint now (at the wall clock or the `0x6`
    /// clock, whichever is later); the sequence number of the new checkpoint, if any.
    pub fn seal_checkpoint(&mut self) -> Result<Option<u64>, ChainDbError> {
        let timestamp_ms = now_ms().max(self.executor.timestamp_ms().unwrap_or(0));
        Ok(self
            .ledger
            .seal(timestamp_ms)?
            .and_then(|checkpoint| checkpoint.sequence_number))
    }
}

/// The gRPC service: one value implements all served traits.
#[derive(Debug, Clone)]
pub struct LocalnetService {
    state: Arc<Mutex<ChainState>>,
    config: ServiceConfig,
}

impl LocalnetService {
    /// A service over `executor`; checkpoint 0 is sealed at the executor's clock time.
    pub fn new(executor: Executor, config: ServiceConfig) -> Self {
        Self::with_state(ChainState::new(executor), config)
    }

    /// A service over `state` (e.g. a durable chain from [`ChainState::open`]).
    pub fn with_state(state: ChainState, config: ServiceConfig) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
            config,
        }
    }

    /// The shared state (for tests and tools that read or change the chain directly).
    pub fn state(&self) -> &Arc<Mutex<ChainState>> {
        &self.state
    }

    /// Seals the pending transactions into a checkpoint now, if there are any. A database
    /// error leaves them pending (the next call retries) and is printed to stderr; see
    /// [`ChainState::seal_checkpoint`] to handle it.
    pub async fn seal_checkpoint(&self) {
        if let Err(error) = self.state.lock().await.seal_checkpoint() {
            eprintln!("walrus-localnet: cannot seal a checkpoint: {error}");
        }
    }

    /// Spawns the task that seals a checkpoint every `checkpoint_interval`.
    pub fn spawn_checkpoint_builder(&self) -> JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(service.config.checkpoint_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                service.seal_checkpoint().await;
            }
        })
    }

    /// Serves the gRPC API on `listener` until the server fails. The checkpoint builder must
    /// run as well ([`Self::spawn_checkpoint_builder`]; [`serve`] does both).
    pub async fn serve(self, listener: TcpListener) -> Result<(), tonic::transport::Error> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// [`Self::serve`] until `signal` completes (then the server stops accepting requests and
    /// returns once the open ones are answered).
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        tonic::transport::Server::builder()
            .add_service(LedgerServiceServer::new(self.clone()))
            .add_service(StateServiceServer::new(self.clone()))
            .add_service(TransactionExecutionServiceServer::new(self.clone()))
            .add_service(SubscriptionServiceServer::new(self))
            // Without TCP_NODELAY each answer's last frame (the trailers, a small write after
            // the body) waits for the client's delayed ACK: ~40 ms per call.
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                signal,
            )
            .await
    }
}

/// Serves the localnet's gRPC API over `executor` on `listener`, sealing checkpoints every
/// [`DEFAULT_CHECKPOINT_INTERVAL_MS`], until the server fails.
pub async fn serve(
    listener: TcpListener,
    executor: Executor,
) -> Result<(), tonic::transport::Error> {
    serve_with_config(listener, executor, ServiceConfig::default()).await
}

/// [`serve`] with explicit settings.
pub async fn serve_with_config(
    listener: TcpListener,
    executor: Executor,
    config: ServiceConfig,
) -> Result<(), tonic::transport::Error> {
    let service = LocalnetService::new(executor, config);
    let builder = service.spawn_checkpoint_builder();
    let result = service.serve(listener).await;
    builder.abort();
    result
}

/// A localnet served on `127.0.0.1` at a free port, in the background (for tests). Dropping
/// it stops the server.
#[derive(Debug)]
pub struct LocalServer {
    /// The address it listens on.
    pub address: SocketAddr,
    /// The service (its state can be read and changed directly).
    pub service: LocalnetService,
    tasks: Vec<JoinHandle<()>>,
}

impl LocalServer {
    /// Starts a localnet over `executor` on `127.0.0.1:0`.
    pub async fn start(executor: Executor, config: ServiceConfig) -> std::io::Result<Self> {
        Self::start_with_state(ChainState::new(executor), config).await
    }

    /// Starts a localnet over `state` (e.g. a durable chain from [`ChainState::open`]) on
    /// `127.0.0.1:0`.
    pub async fn start_with_state(
        state: ChainState,
        config: ServiceConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let service = LocalnetService::with_state(state, config);
        let builder = service.spawn_checkpoint_builder();
        let server = service.clone();
        let serving = tokio::spawn(async move {
            // The error has nowhere to go: the clients see the connection fail.
            let _ = server.serve(listener).await;
        });
        Ok(Self {
            address,
            service,
            tasks: vec![builder, serving],
        })
    }

    /// The URL for `sui_rpc::Client::new`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The gRPC status of a rejected transaction: malformed or wrongly signed transactions are
/// `INVALID_ARGUMENT`, a transaction executed before is `ALREADY_EXISTS`, internal errors are
/// `INTERNAL`, everything else (state-dependent) is `FAILED_PRECONDITION`. The message is the
/// executor's.
pub fn execution_status(error: &ExecutionError) -> Status {
    let message = error.to_string();
    match error {
        ExecutionError::UnsupportedTransactionKind
        | ExecutionError::Expiration(_)
        | ExecutionError::SignatureCount(_)
        | ExecutionError::InvalidSignature(_)
        | ExecutionError::SignerMismatch { .. }
        | ExecutionError::InvalidGasPayment(_) => Status::invalid_argument(message),
        ExecutionError::AlreadyExecuted(_) => Status::already_exists(message),
        ExecutionError::Internal(_) => Status::internal(message),
        _ => Status::failed_precondition(message),
    }
}

/// The request's read mask (or `default`), checked against the message `M`.
fn read_mask<M: MessageFields>(
    mask: Option<&FieldMask>,
    default: &str,
) -> Result<FieldMaskTree, Status> {
    let mask = mask
        .cloned()
        .unwrap_or_else(|| FieldMask::from_str(default));
    mask.validate::<M>()
        .map_err(|path| Status::invalid_argument(format!("invalid read_mask path: {path}")))?;
    Ok(FieldMaskTree::from(mask))
}

fn parse<T: FromStr>(what: &str, value: Option<&str>) -> Result<T, Status>
where
    T::Err: std::fmt::Display,
{
    let value = value.ok_or_else(|| Status::invalid_argument(format!("missing {what}")))?;
    T::from_str(value).map_err(|error| Status::invalid_argument(format!("invalid {what}: {error}")))
}

/// The `0x2::coin::Coin<T>` type argument and balance of a coin object.
fn coin_of(object: &Object) -> Option<(TypeTag, u64)> {
    let data = object.as_struct()?;
    let tag = data.object_type();
    if *tag.address() != SUI_FRAMEWORK_ID
        || tag.module().as_str() != "coin"
        || tag.name().as_str() != "Coin"
    {
        return None;
    }
    let [coin_type] = tag.type_params() else {
        return None;
    };
    // Coin { id: UID (32 bytes), balance: Balance { value: u64 } }.
    let balance = data.contents().get(32..40)?.try_into().ok()?;
    Some((coin_type.clone(), u64::from_le_bytes(balance)))
}

/// Whether `object` is of `filter`'s type (type parameters only compared when given).
fn matches_type(object: &Object, filter: &StructTag) -> bool {
    let Some(data) = object.as_struct() else {
        return false;
    };
    let tag = data.object_type();
    tag.address() == filter.address()
        && tag.module() == filter.module()
        && tag.name() == filter.name()
        && (filter.type_params().is_empty() || tag.type_params() == filter.type_params())
}

fn page_size(requested: Option<u32>) -> usize {
    match requested {
        None | Some(0) => DEFAULT_PAGE_SIZE,
        Some(size) => usize::try_from(size)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE),
    }
}

fn object_error(code: tonic::Code, message: String) -> pb::GetObjectResult {
    let status = RpcStatus {
        code: code as i32,
        message,
        ..RpcStatus::default()
    };
    let mut result = pb::GetObjectResult::default();
    result.result = Some(get_object_result::Result::Error(status));
    result
}

impl ChainState {
    /// The object (at `version`, which must be the current one: no history is kept).
    fn object(
        &self,
        request: &pb::GetObjectRequest,
        mask: &FieldMaskTree,
    ) -> Result<pb::Object, Status> {
        let id: Address = parse("object_id", request.object_id.as_deref())?;
        let object = self
            .executor
            .store()
            .get(&id)
            .ok_or_else(|| Status::not_found(format!("object {id} does not exist")))?;
        if let Some(version) = request.version {
            if version != object.version() {
                return Err(Status::not_found(format!(
                    "object {id} is at version {}; version {version} is not available",
                    object.version()
                )));
            }
        }
        Ok(pb::Object::merge_from(object.clone(), mask))
    }

    /// Coin balances of `owner`, by coin type.
    fn balances(&self, owner: Address) -> BTreeMap<String, u64> {
        let mut balances = BTreeMap::new();
        for (coin_type, balance) in self.executor.store().owned_by(owner).filter_map(coin_of) {
            let total: &mut u64 = balances.entry(coin_type.to_string()).or_default();
            *total = total.saturating_add(balance);
        }
        balances
    }
}

fn balance(coin_type: String, amount: u64) -> pb::Balance {
    let mut balance = pb::Balance::default();
    balance.coin_type = Some(coin_type);
    balance.balance = Some(amount);
    balance.coin_balance = Some(amount);
    balance.address_balance = Some(0);
    balance
}

#[tonic::async_trait]
impl LedgerService for LocalnetService {
    async fn get_service_info(
        &self,
        _request: Request<pb::GetServiceInfoRequest>,
    ) -> Result<Response<pb::GetServiceInfoResponse>, Status> {
        let state = self.state.lock().await;
        let mut info = pb::GetServiceInfoResponse::default();
        info.chain_id = Some(state.ledger.chain_id());
        info.chain = Some("localnet".to_owned());
        info.epoch = Some(SUI_EPOCH);
        info.checkpoint_height = Some(state.ledger.latest_sequence_number());
        info.timestamp = Some(timestamp_ms_to_proto(state.ledger.latest_timestamp_ms()));
        info.lowest_available_checkpoint = Some(0);
        info.lowest_available_checkpoint_objects = Some(0);
        info.server = Some(format!("walrus-localnet/{}", env!("CARGO_PKG_VERSION")));
        Ok(Response::new(info))
    }

    async fn get_object(
        &self,
        request: Request<pb::GetObjectRequest>,
    ) -> Result<Response<pb::GetObjectResponse>, Status> {
        let request = request.into_inner();
        let mask = read_mask::<pb::Object>(request.read_mask.as_ref(), "object_id,version,digest")?;
        let object = self.state.lock().await.object(&request, &mask)?;
        let mut response = pb::GetObjectResponse::default();
        response.object = Some(object);
        Ok(Response::new(response))
    }

    async fn batch_get_objects(
        &self,
        request: Request<pb::BatchGetObjectsRequest>,
    ) -> Result<Response<pb::BatchGetObjectsResponse>, Status> {
        let request = request.into_inner();
        let mask = read_mask::<pb::Object>(request.read_mask.as_ref(), "object_id,version,digest")?;
        let state = self.state.lock().await;
        let mut response = pb::BatchGetObjectsResponse::default();
        response.objects = request
            .requests
            .iter()
            .map(|request| match state.object(request, &mask) {
                Ok(object) => {
                    let mut result = pb::GetObjectResult::default();
                    result.result = Some(get_object_result::Result::Object(object));
                    result
                }
                Err(status) => object_error(status.code(), status.message().to_owned()),
            })
            .collect();
        Ok(Response::new(response))
    }

    async fn get_transaction(
        &self,
        request: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::GetTransactionResponse>, Status> {
        let request = request.into_inner();
        let digest: Digest = parse("digest", request.digest.as_deref())?;
        let mask = read_mask::<pb::ExecutedTransaction>(request.read_mask.as_ref(), "digest")?;
        let state = self.state.lock().await;
        let executed = state
            .ledger
            .transaction(&digest)
            .ok_or_else(|| Status::not_found(format!("transaction {digest} not found")))?;
        let mut response = pb::GetTransactionResponse::default();
        response.transaction = Some(pb::ExecutedTransaction::merge_from(executed, &mask));
        Ok(Response::new(response))
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let request = request.into_inner();
        let mask =
            read_mask::<pb::Checkpoint>(request.read_mask.as_ref(), "sequence_number,digest")?;
        let state = self.state.lock().await;
        let checkpoint = match &request.checkpoint_id {
            None => Some(state.ledger.latest_checkpoint()),
            Some(CheckpointId::SequenceNumber(sequence_number)) => {
                state.ledger.checkpoint(*sequence_number)
            }
            Some(CheckpointId::Digest(digest)) => {
                let digest: Digest = parse("checkpoint digest", Some(digest))?;
                state.ledger.checkpoint_by_digest(&digest)
            }
            Some(_) => return Err(Status::invalid_argument("unknown checkpoint_id")),
        }
        .ok_or_else(|| Status::not_found("checkpoint not found"))?;
        let mut response = pb::GetCheckpointResponse::default();
        response.checkpoint = Some(pb::Checkpoint::merge_from(checkpoint.as_ref(), &mask));
        Ok(Response::new(response))
    }

    async fn get_epoch(
        &self,
        request: Request<pb::GetEpochRequest>,
    ) -> Result<Response<pb::GetEpochResponse>, Status> {
        let request = request.into_inner();
        let mask = read_mask::<pb::Epoch>(request.read_mask.as_ref(), "epoch")?;
        if let Some(epoch) = request.epoch {
            if epoch != SUI_EPOCH {
                return Err(Status::not_found(format!(
                    "epoch {epoch} not found: the localnet stays in Sui epoch {SUI_EPOCH}"
                )));
            }
        }
        let state = self.state.lock().await;
        let mut epoch = pb::Epoch::default();
        epoch.epoch = Some(SUI_EPOCH);
        epoch.first_checkpoint = Some(0);
        epoch.start = state.ledger.genesis_timestamp();
        epoch.reference_gas_price = Some(REFERENCE_GAS_PRICE);
        let mut response = pb::GetEpochResponse::default();
        response.epoch = Some(pb::Epoch::merge_from(&epoch, &mask));
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl StateService for LocalnetService {
    async fn list_owned_objects(
        &self,
        request: Request<pb::ListOwnedObjectsRequest>,
    ) -> Result<Response<pb::ListOwnedObjectsResponse>, Status> {
        let request = request.into_inner();
        let owner: Address = parse("owner", request.owner.as_deref())?;
        let mask =
            read_mask::<pb::Object>(request.read_mask.as_ref(), "object_id,version,object_type")?;
        let filter = request
            .object_type
            .as_deref()
            .map(|ty| parse::<StructTag>("object_type", Some(ty)))
            .transpose()?;
        let after = request
            .page_token
            .as_deref()
            .map(|token| {
                <[u8; 32]>::try_from(token)
                    .map(Address::new)
                    .map_err(|_| Status::invalid_argument("invalid page_token"))
            })
            .transpose()?;
        let size = page_size(request.page_size);
        let state = self.state.lock().await;
        let mut objects: Vec<&Object> = state
            .executor
            .store()
            .owned_by(owner)
            .filter(|object| after.is_none_or(|after| object.object_id() > after))
            .filter(|object| filter.as_ref().is_none_or(|ty| matches_type(object, ty)))
            .take(size + 1)
            .collect();
        let mut response = pb::ListOwnedObjectsResponse::default();
        if objects.len() > size {
            objects.truncate(size);
            response.next_page_token = objects
                .last()
                .map(|last| last.object_id().into_inner().to_vec().into());
        }
        response.objects = objects
            .into_iter()
            .map(|object| pb::Object::merge_from(object.clone(), &mask))
            .collect();
        Ok(Response::new(response))
    }

    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::GetBalanceResponse>, Status> {
        let request = request.into_inner();
        let owner: Address = parse("owner", request.owner.as_deref())?;
        let coin_type: TypeTag = parse("coin_type", request.coin_type.as_deref())?;
        let coin_type = coin_type.to_string();
        let amount = self
            .state
            .lock()
            .await
            .balances(owner)
            .get(&coin_type)
            .copied()
            .unwrap_or(0);
        let mut response = pb::GetBalanceResponse::default();
        response.balance = Some(balance(coin_type, amount));
        Ok(Response::new(response))
    }

    async fn list_balances(
        &self,
        request: Request<pb::ListBalancesRequest>,
    ) -> Result<Response<pb::ListBalancesResponse>, Status> {
        let request = request.into_inner();
        let owner: Address = parse("owner", request.owner.as_deref())?;
        let after = request
            .page_token
            .as_deref()
            .map(|token| {
                String::from_utf8(token.to_vec())
                    .map_err(|_| Status::invalid_argument("invalid page_token"))
            })
            .transpose()?;
        let size = page_size(request.page_size);
        let balances = self.state.lock().await.balances(owner);
        let mut page: Vec<(String, u64)> = balances
            .into_iter()
            .filter(|(coin_type, _)| after.as_ref().is_none_or(|after| coin_type > after))
            .take(size + 1)
            .collect();
        let mut response = pb::ListBalancesResponse::default();
        if page.len() > size {
            page.truncate(size);
            response.next_page_token = page
                .last()
                .map(|(coin_type, _)| coin_type.clone().into_bytes().into());
        }
        response.balances = page
            .into_iter()
            .map(|(coin_type, amount)| balance(coin_type, amount))
            .collect();
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl TransactionExecutionService for LocalnetService {
    async fn execute_transaction(
        &self,
        request: Request<pb::ExecuteTransactionRequest>,
    ) -> Result<Response<pb::ExecuteTransactionResponse>, Status> {
        let request = request.into_inner();
        let mask = read_mask::<pb::ExecutedTransaction>(
            request.read_mask.as_ref(),
            "effects.status,checkpoint",
        )?;
        let transaction = request
            .transaction
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("missing transaction"))?;
        let transaction = Transaction::try_from(transaction)
            .map_err(|error| Status::invalid_argument(format!("invalid transaction: {error}")))?;
        let signatures = request
            .signatures
            .iter()
            .map(UserSignature::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Status::invalid_argument(format!("invalid signature: {error}")))?;
        let mut state = self.state.lock().await;
        if self.config.sync_clock {
            let now = now_ms();
            if now > state.executor.timestamp_ms().unwrap_or(u64::MAX) {
                state
                    .executor
                    .set_timestamp_ms(now)
                    .map_err(|error| execution_status(&error))?;
            }
        }
        let (_, executed) = state
            .execute(&transaction, &signatures)
            .map_err(|error| execution_status(&error))?;
        drop(state);
        let mut response = pb::ExecuteTransactionResponse::default();
        response.transaction = Some(pb::ExecutedTransaction::merge_from(&executed, &mask));
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl SubscriptionService for LocalnetService {
    async fn subscribe_checkpoints(
        &self,
        request: Request<pb::SubscribeCheckpointsRequest>,
    ) -> Result<Response<BoxStream<pb::SubscribeCheckpointsResponse>>, Status> {
        let request = request.into_inner();
        if request.filter.is_some() {
            return Err(Status::unimplemented(
                "checkpoint filters are not supported by the localnet",
            ));
        }
        let mask =
            read_mask::<pb::Checkpoint>(request.read_mask.as_ref(), "sequence_number,digest")?;
        let receiver = self.state.lock().await.ledger.subscribe();
        let stream = tokio_stream::wrappers::BroadcastStream::new(receiver).map(move |item| {
            let checkpoint = item.map_err(|error| {
                Status::data_loss(format!("the subscriber fell behind: {error}"))
            })?;
            let mut response = pb::SubscribeCheckpointsResponse::default();
            response.cursor = checkpoint.sequence_number;
            response.checkpoint = Some(pb::Checkpoint::merge_from(checkpoint.as_ref(), &mask));
            Ok(response)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
