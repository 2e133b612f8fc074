//! The Walrus chain client: typed operations on the `walrus` package, each one programmable
//! transaction built with `sui-transaction-builder`, signed with `sui-crypto` (Ed25519) and
//! executed through `sui_rpc::Client` (waiting for its checkpoint); reads of the `System`,
//! `Staking`, `Blob` ... objects decoded from their BCS with the twin's types
//! ([`crate::contract`]); and [`EventStream`], the `walrus` events from a stored cursor.
//!
//! Gas: the signer's SUI coins covering the budget ([`ChainConfig::gas_budget`]) at the
//! chain's reference gas price. WAL payments: the signer's WAL coins covering the price are
//! merged into one, which the call charges (`&mut Coin<WAL>`); stakes are split from it.

pub mod committee;
mod connection;
mod error;
mod events;
mod transfer;

use std::{str::FromStr, time::Duration};

use fastcrypto::traits::ToFromBytes;
use serde::de::DeserializeOwned;
use sui_crypto::{ed25519::Ed25519PrivateKey, SuiSigner};
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2::{self as pb, get_object_result},
};
use sui_sdk_types::{
    Address, Digest, Identifier, StructTag, TransactionEffects, TransactionEvents, TypeTag,
};
use sui_transaction_builder::{Argument, Function, ObjectInput, TransactionBuilder};
use tokio_stream::StreamExt;
use walrus_core::{crypto::signers_to_bitmap, messages::ProtocolMessageCertificate, ObjectId};

use crate::contract::{
    blob::Blob,
    bls_aggregate::BlsCommittee,
    redstuff,
    staking::{StakedWal, Staking, StorageNodeCap},
    storage_resource::Storage,
    sui::{Coin, U256},
    system::{self, System},
};

pub use connection::ChainConnection;
pub use error::ClientError;
pub use events::{decode_event, ChainEvent, EventCursor, EventStream};
pub use transfer::{Payment, SentTransactions};

/// The shared clock `0x6` and its initial shared version.
const CLOCK_ID: Address = Address::from_static("0x6");
const CLOCK_INITIAL_SHARED_VERSION: u64 = 1;
/// Module of `StakedWal` and `StorageNodeCap` in the `walrus` package (`staking.move`).
const STAKING_MODULE: &str = "staking";

/// Most blobs registered or certified in one transaction (Sui allows 1024 commands and
/// 2048 inputs a transaction; a registration takes 2 calls and 7 inputs).
pub const MAX_BLOBS_PER_TRANSACTION: usize = 100;

/// A transaction of many blobs gets the configured gas budget once per this many blobs, and
/// once more (a registration costs ~2% of the default budget on the localnet).
pub const BLOBS_PER_GAS_BUDGET: usize = 20;

/// The read mask of objects the client decodes.
const OBJECT_MASK: &str = "object_id,version,digest,object_type,contents";

/// Where the Walrus objects are and how transactions are paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// The `wal` package (the WAL coin type).
    pub wal_package: Address,
    /// The `walrus` package.
    pub walrus_package: Address,
    /// The shared `System` object.
    pub system_object: Address,
    /// Its initial shared version.
    pub system_initial_shared_version: u64,
    /// The shared `Staking` object.
    pub staking_object: Address,
    /// Its initial shared version.
    pub staking_initial_shared_version: u64,
    /// Gas budget of every transaction, in MIST; a transaction of many blobs gets this
    /// budget once per [`BLOBS_PER_GAS_BUDGET`] blobs (and once more).
    pub gas_budget: u64,
    /// How long to wait for an executed transaction's checkpoint.
    pub checkpoint_timeout: Duration,
}

impl ChainConfig {
    /// A configuration with a 0.1 SUI gas budget and a 30 s checkpoint timeout; `System` and
    /// `Staking` share `initial_shared_version` (as at genesis).
    pub fn new(
        wal_package: Address,
        walrus_package: Address,
        system_object: Address,
        staking_object: Address,
        initial_shared_version: u64,
    ) -> Self {
        Self {
            wal_package,
            walrus_package,
            system_object,
            system_initial_shared_version: initial_shared_version,
            staking_object,
            staking_initial_shared_version: initial_shared_version,
            gas_budget: 100_000_000,
            checkpoint_timeout: Duration::from_secs(30),
        }
    }

    /// `0x2::coin::Coin<{wal}::wal::WAL>`.
    pub fn wal_coin_type(&self) -> StructTag {
        StructTag::coin(self.wal_type())
    }

    /// `{wal}::wal::WAL`.
    pub fn wal_type(&self) -> TypeTag {
        TypeTag::Struct(Box::new(StructTag::new(
            self.wal_package,
            Identifier::from_static("wal"),
            Identifier::from_static("WAL"),
            Vec::new(),
        )))
    }

    /// The struct tag of `{walrus}::module::name`.
    pub fn walrus_type(&self, module: &'static str, name: &'static str) -> StructTag {
        StructTag::new(
            self.walrus_package,
            Identifier::from_static(module),
            Identifier::from_static(name),
            Vec::new(),
        )
    }
}

/// What to reserve and register for one blob ([`WalrusClient::reserve_and_register_blob`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRegistration {
    /// The blob ID.
    pub blob_id: U256,
    /// The Merkle root over the sliver pairs' hashes.
    pub root_hash: U256,
    /// Unencoded size in bytes.
    pub size: u64,
    /// Encoding type (`redstuff::RS2`).
    pub encoding_type: u8,
    /// Whether the owner may delete the blob before it expires.
    pub deletable: bool,
    /// Number of epochs to store it for, from the current one.
    pub epochs_ahead: u32,
    /// Attributes (key, value) set on the new `Blob` in the same transaction (e.g.
    /// `_walrusBlobType` = `quilt`).
    pub attributes: Vec<(String, String)>,
}

/// The arguments of `staking::register_candidate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistration {
    /// The node's name.
    pub name: String,
    /// Its network address.
    pub network_address: String,
    /// Its BLS public key (48 bytes, compressed G1).
    pub public_key: Vec<u8>,
    /// Its network public key.
    pub network_public_key: Vec<u8>,
    /// The proof of possession of the BLS key for the signer's address and the current epoch.
    pub proof_of_possession: Vec<u8>,
    /// Commission in basis points.
    pub commission_rate: u16,
    /// Storage price vote.
    pub storage_price: u64,
    /// Write price vote.
    pub write_price: u64,
    /// Capacity vote, in bytes.
    pub node_capacity: u64,
}

/// An executed transaction: its digest, Sui effects, events and checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutedTransaction {
    /// The transaction digest.
    pub digest: Digest,
    /// The effects.
    pub effects: TransactionEffects,
    /// The events, in emission order.
    pub events: Vec<sui_sdk_types::Event>,
    /// The checkpoint that holds it.
    pub checkpoint: Option<u64>,
}

impl ExecutedTransaction {
    /// The IDs of the objects the transaction wrote (created, mutated or unwrapped).
    pub fn written_objects(&self) -> Vec<Address> {
        match &self.effects {
            TransactionEffects::V2(effects) => effects
                .changed_objects
                .iter()
                .filter(|change| {
                    matches!(
                        change.output_state,
                        sui_sdk_types::ObjectOut::ObjectWrite { .. }
                    )
                })
                .map(|change| change.object_id)
                .collect(),
            TransactionEffects::V1(effects) => effects
                .created
                .iter()
                .chain(&effects.mutated)
                .chain(&effects.unwrapped)
                .map(|change| *change.reference.object_id())
                .collect(),
        }
    }

    /// The `walrus` events of the transaction, decoded with the twin's types.
    pub fn walrus_events(
        &self,
        walrus_package: Address,
    ) -> Result<Vec<crate::contract::events::Event>, ClientError> {
        self.events
            .iter()
            .filter_map(|event| decode_event(walrus_package, event).transpose())
            .collect()
    }
}

/// An object as read: its reference, type and BCS contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    /// Object ID.
    pub id: Address,
    /// Version.
    pub version: u64,
    /// Digest.
    pub digest: Digest,
    /// Move type.
    pub object_type: StructTag,
    /// BCS contents (the twin struct).
    pub contents: Vec<u8>,
}

impl RawObject {
    fn from_proto(object: &pb::Object) -> Result<Self, ClientError> {
        let decode = |what: &str, error: &dyn std::fmt::Display| {
            ClientError::Decode(format!("object {}: {what}: {error}", object.object_id()))
        };
        Ok(Self {
            id: Address::from_str(object.object_id()).map_err(|e| decode("object_id", &e))?,
            version: object.version(),
            digest: Digest::from_str(object.digest()).map_err(|e| decode("digest", &e))?,
            object_type: StructTag::from_str(object.object_type())
                .map_err(|e| decode("object_type", &e))?,
            contents: object.contents().value().to_vec(),
        })
    }

    /// The object as an owned input at this version.
    pub fn owned_input(&self) -> ObjectInput {
        ObjectInput::owned(self.id, self.version, self.digest)
    }

    /// Decodes the contents as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        bcs::from_bytes(&self.contents).map_err(|error| {
            ClientError::Decode(format!(
                "object {} of type {}: {error}",
                self.id, self.object_type
            ))
        })
    }
}

/// The Walrus chain client of one signer.
#[derive(Clone)]
pub struct WalrusClient {
    rpc: sui_rpc::Client,
    signer: Ed25519PrivateKey,
    address: Address,
    config: ChainConfig,
}

impl std::fmt::Debug for WalrusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalrusClient")
            .field("url", self.rpc.uri())
            .field("address", &self.address)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn to_address(id: ObjectId) -> Address {
    Address::new(id.0)
}

fn to_object_id(address: Address) -> ObjectId {
    ObjectId(address.into_inner())
}

/// Refuses a batch of more than [`MAX_BLOBS_PER_TRANSACTION`] blobs or with a blob ID twice
/// (their `Blob` objects could not be told apart).
fn check_batch(blob_ids: impl ExactSizeIterator<Item = U256>) -> Result<(), ClientError> {
    if blob_ids.len() > MAX_BLOBS_PER_TRANSACTION {
        return Err(ClientError::Build(format!(
            "{} blobs in one transaction, at most {MAX_BLOBS_PER_TRANSACTION}",
            blob_ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for blob_id in blob_ids {
        if !seen.insert(blob_id) {
            return Err(ClientError::Build(
                "the same blob ID twice in one registration".into(),
            ));
        }
    }
    Ok(())
}

fn build_error(error: impl std::fmt::Display) -> ClientError {
    ClientError::Build(error.to_string())
}

impl WalrusClient {
    /// A client of the chain at `url` (e.g. `http://127.0.0.1:9000`) signing with `signer`.
    pub fn new(
        url: &str,
        signer: Ed25519PrivateKey,
        config: ChainConfig,
    ) -> Result<Self, ClientError> {
        let rpc = sui_rpc::Client::new(url.to_owned())?;
        Ok(Self::from_rpc(rpc, signer, config))
    }

    /// A client over an existing `sui_rpc::Client`.
    pub fn from_rpc(rpc: sui_rpc::Client, signer: Ed25519PrivateKey, config: ChainConfig) -> Self {
        let address = signer.public_key().derive_address();
        Self {
            rpc,
            signer,
            address,
            config,
        }
    }

    /// The signer's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The configuration.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The underlying `sui_rpc::Client`.
    pub fn rpc(&self) -> &sui_rpc::Client {
        &self.rpc
    }

    /// An event stream of the `walrus` package's events after `after` (from the first
    /// checkpoint if `None`).
    pub fn event_stream(&self, after: Option<EventCursor>) -> EventStream {
        EventStream::new(self.rpc.clone(), self.config.walrus_package, after)
    }

    // ---------------------------------------------------------------- reads

    /// The current committee as a [`committee::CommitteeView`], for the node with `own_key`
    /// (`None` for a client).
    pub async fn committee_view(
        &self,
        own_key: Option<&walrus_core::crypto::PublicKey>,
    ) -> Result<committee::CommitteeView, ClientError> {
        // The two objects are read one after the other: an epoch change between the reads
        // gives a committee and an assignment of different epochs, so read again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let system = self.system().await?;
            let staking = self.staking().await?;
            if system.committee.epoch != staking.epoch && attempts < 5 {
                continue;
            }
            return committee::CommitteeView::from_chain(&system, &staking, own_key)
                .map_err(|error| ClientError::Decode(error.to_string()));
        }
    }

    /// The object `id` at its current version.
    pub async fn get_raw_object(&self, id: Address) -> Result<RawObject, ClientError> {
        let request = pb::GetObjectRequest::default()
            .with_object_id(id.to_string())
            .with_read_mask(FieldMask::from_str(OBJECT_MASK));
        let response = self
            .rpc
            .clone()
            .ledger_client()
            .get_object(request)
            .await
            .map_err(|status| {
                if status.code() == tonic::Code::NotFound {
                    ClientError::NotFound(format!("{id}: {}", status.message()))
                } else {
                    ClientError::from(status)
                }
            })?;
        RawObject::from_proto(response.get_ref().object())
    }

    /// The objects `ids` (missing ones are `None`).
    pub async fn get_raw_objects(
        &self,
        ids: &[Address],
    ) -> Result<Vec<Option<RawObject>>, ClientError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let requests = ids
            .iter()
            .map(|id| pb::GetObjectRequest::default().with_object_id(id.to_string()))
            .collect();
        let request = pb::BatchGetObjectsRequest::default()
            .with_requests(requests)
            .with_read_mask(FieldMask::from_str(OBJECT_MASK));
        let response = self
            .rpc
            .clone()
            .ledger_client()
            .batch_get_objects(request)
            .await?
            .into_inner();
        response
            .objects
            .iter()
            .map(|result| match &result.result {
                Some(get_object_result::Result::Object(object)) => {
                    RawObject::from_proto(object).map(Some)
                }
                _ => Ok(None),
            })
            .collect()
    }

    /// The object `id` decoded as `T`, checking its type is `expected`.
    async fn get_typed<T: DeserializeOwned>(
        &self,
        id: Address,
        expected: &StructTag,
    ) -> Result<T, ClientError> {
        let object = self.get_raw_object(id).await?;
        if object.object_type != *expected {
            return Err(ClientError::NotFound(format!(
                "{id} is a {}, not a {expected}",
                object.object_type
            )));
        }
        object.decode()
    }

    /// The shared `System` object.
    pub async fn system(&self) -> Result<System, ClientError> {
        let ty = self.config.walrus_type("system", "System");
        self.get_typed(self.config.system_object, &ty).await
    }

    /// The shared `Staking` object.
    pub async fn staking(&self) -> Result<Staking, ClientError> {
        let ty = self.config.walrus_type("staking", "Staking");
        self.get_typed(self.config.staking_object, &ty).await
    }

    /// The current committee (from `System`).
    pub async fn committee(&self) -> Result<BlsCommittee, ClientError> {
        Ok(self.system().await?.committee)
    }

    /// The `Blob` object `id`.
    pub async fn get_blob(&self, id: ObjectId) -> Result<Blob, ClientError> {
        let ty = self.config.walrus_type("blob", "Blob");
        self.get_typed(to_address(id), &ty).await
    }

    /// The `Storage` object `id`.
    pub async fn get_storage(&self, id: ObjectId) -> Result<Storage, ClientError> {
        let ty = self.config.walrus_type("storage_resource", "Storage");
        self.get_typed(to_address(id), &ty).await
    }

    /// The `StakedWal` object `id`.
    pub async fn get_staked_wal(&self, id: ObjectId) -> Result<StakedWal, ClientError> {
        let ty = self.config.walrus_type(STAKING_MODULE, "StakedWal");
        self.get_typed(to_address(id), &ty).await
    }

    /// The `StorageNodeCap` object `id`.
    pub async fn get_node_cap(&self, id: ObjectId) -> Result<StorageNodeCap, ClientError> {
        let ty = self.config.walrus_type(STAKING_MODULE, "StorageNodeCap");
        self.get_typed(to_address(id), &ty).await
    }

    /// The objects of type `ty` owned by `owner` (all pages).
    pub async fn owned_objects(
        &self,
        owner: Address,
        ty: &StructTag,
    ) -> Result<Vec<RawObject>, ClientError> {
        let request = pb::ListOwnedObjectsRequest::default()
            .with_owner(owner.to_string())
            .with_object_type(ty.to_string())
            .with_page_size(500u32)
            .with_read_mask(FieldMask::from_str(OBJECT_MASK));
        let mut stream = Box::pin(self.rpc.list_owned_objects(request));
        let mut objects = Vec::new();
        while let Some(object) = stream.next().await {
            objects.push(RawObject::from_proto(&object?)?);
        }
        Ok(objects)
    }

    async fn owned_decoded<T: DeserializeOwned>(
        &self,
        ty: &StructTag,
    ) -> Result<Vec<T>, ClientError> {
        self.owned_objects(self.address, ty)
            .await?
            .iter()
            .map(RawObject::decode)
            .collect()
    }

    /// The signer's `Blob` objects.
    pub async fn owned_blobs(&self) -> Result<Vec<Blob>, ClientError> {
        self.owned_decoded(&self.config.walrus_type("blob", "Blob"))
            .await
    }

    /// The signer's `Storage` objects.
    pub async fn owned_storage(&self) -> Result<Vec<Storage>, ClientError> {
        self.owned_decoded(&self.config.walrus_type("storage_resource", "Storage"))
            .await
    }

    /// The signer's `StakedWal` objects.
    pub async fn owned_staked_wal(&self) -> Result<Vec<StakedWal>, ClientError> {
        self.owned_decoded(&self.config.walrus_type(STAKING_MODULE, "StakedWal"))
            .await
    }

    /// The signer's `StorageNodeCap` objects.
    pub async fn owned_node_caps(&self) -> Result<Vec<StorageNodeCap>, ClientError> {
        self.owned_decoded(&self.config.walrus_type(STAKING_MODULE, "StorageNodeCap"))
            .await
    }

    /// The signer's WAL coins.
    pub async fn wal_coins(&self) -> Result<Vec<Coin>, ClientError> {
        self.owned_decoded(&self.config.wal_coin_type()).await
    }

    /// The signer's WAL balance (sum of its WAL coins), in FROST.
    pub async fn wal_balance(&self) -> Result<u64, ClientError> {
        Ok(self
            .wal_coins()
            .await?
            .iter()
            .fold(0u64, |total, coin| total.saturating_add(coin.balance)))
    }

    // ---------------------------------------------------------------- transactions

    fn shared_system(&self, mutable: bool) -> ObjectInput {
        ObjectInput::shared(
            self.config.system_object,
            self.config.system_initial_shared_version,
            mutable,
        )
    }

    fn shared_staking(&self) -> ObjectInput {
        ObjectInput::shared(
            self.config.staking_object,
            self.config.staking_initial_shared_version,
            true,
        )
    }

    fn call(
        &self,
        tx: &mut TransactionBuilder,
        module: &str,
        function: &str,
        args: Vec<Argument>,
    ) -> Result<Argument, ClientError> {
        let function = Function::new(
            self.config.walrus_package,
            Identifier::new(module).map_err(build_error)?,
            Identifier::new(function).map_err(build_error)?,
        );
        Ok(tx.move_call(function, args))
    }

    /// Coins of `coin` type owned by the signer whose balances sum to at least `amount`.
    async fn select_coins(
        &self,
        coin: &StructTag,
        amount: u64,
    ) -> Result<Vec<RawObject>, ClientError> {
        let mut selected = Vec::new();
        let mut total = 0u64;
        for object in self.owned_objects(self.address, coin).await? {
            let value: Coin = object.decode()?;
            total = total.saturating_add(value.balance);
            selected.push(object);
            if total >= amount {
                return Ok(selected);
            }
        }
        Err(ClientError::InsufficientFunds(format!(
            "{} holds {total} in {coin} coins, {amount} needed",
            self.address
        )))
    }

    /// One WAL coin argument holding at least `amount` (the signer's coins merged).
    async fn wal_payment(
        &self,
        tx: &mut TransactionBuilder,
        amount: u64,
    ) -> Result<Argument, ClientError> {
        let coins = self
            .select_coins(&self.config.wal_coin_type(), amount.max(1))
            .await?;
        let mut args = coins.iter().map(|coin| tx.object(coin.owned_input()));
        let first = args
            .next()
            .ok_or_else(|| ClientError::InsufficientFunds("no WAL coin".into()))?;
        let rest: Vec<Argument> = args.collect();
        if !rest.is_empty() {
            tx.merge_coins(first, rest);
        }
        Ok(first)
    }

    /// A transaction from the signer with gas coins and the reference gas price.
    async fn new_transaction(&self) -> Result<TransactionBuilder, ClientError> {
        self.new_transaction_with_budget(self.config.gas_budget)
            .await
    }

    /// A transaction of `blobs` blobs: the budget grows with the batch.
    async fn new_batch_transaction(&self, blobs: usize) -> Result<TransactionBuilder, ClientError> {
        let times = 1 + u64::try_from(blobs / BLOBS_PER_GAS_BUDGET).unwrap_or(u64::MAX);
        self.new_transaction_with_budget(self.config.gas_budget.saturating_mul(times))
            .await
    }

    /// A transaction from the signer paying up to `budget` MIST of gas.
    async fn new_transaction_with_budget(
        &self,
        budget: u64,
    ) -> Result<TransactionBuilder, ClientError> {
        let price = self.rpc.clone().get_reference_gas_price().await?;
        let gas = self.select_coins(&StructTag::gas_coin(), budget).await?;
        let mut tx = TransactionBuilder::new();
        tx.set_sender(self.address);
        tx.set_gas_price(price);
        tx.set_gas_budget(budget);
        tx.add_gas_objects(gas.iter().map(RawObject::owned_input));
        Ok(tx)
    }

    /// Builds, signs and executes `tx`, and waits for its checkpoint.
    pub async fn execute(
        &self,
        tx: TransactionBuilder,
    ) -> Result<ExecutedTransaction, ClientError> {
        let transaction = tx.try_build().map_err(build_error)?;
        let signature = self
            .signer
            .sign_transaction(&transaction)
            .map_err(build_error)?;
        let digest = transaction.digest();
        let request = pb::ExecuteTransactionRequest::default()
            .with_transaction(transaction)
            .with_signatures(vec![signature.into()])
            .with_read_mask(FieldMask::from_str(
                "digest,effects.bcs,effects.status,events.bcs,checkpoint",
            ));
        let response = self
            .rpc
            .clone()
            .execute_transaction_and_wait_for_checkpoint(request, self.config.checkpoint_timeout)
            .await
            .map_err(|error| match error {
                sui_rpc::client::ExecuteAndWaitError::RpcError(status) => {
                    ClientError::from_execution_status(status)
                }
                other => ClientError::CheckpointWait {
                    digest: digest.to_string(),
                    reason: other.to_string(),
                },
            })?
            .into_inner();
        let executed = response.transaction();
        let effects = executed.effects();
        if effects.status.is_some() && !effects.status().success() {
            return Err(ClientError::from_failed_status(effects.status()));
        }
        let effects: TransactionEffects = bcs::from_bytes(effects.bcs().value())
            .map_err(|error| ClientError::Decode(format!("effects: {error}")))?;
        let events = match &executed.events {
            Some(events) if events.bcs.is_some() => {
                bcs::from_bytes::<TransactionEvents>(events.bcs().value())
                    .map_err(|error| ClientError::Decode(format!("events: {error}")))?
                    .0
            }
            _ => Vec::new(),
        };
        Ok(ExecutedTransaction {
            digest,
            effects,
            events,
            checkpoint: executed.checkpoint,
        })
    }

    /// The written objects of `executed` that have type `ty`, decoded.
    async fn written_of_type<T: DeserializeOwned>(
        &self,
        executed: &ExecutedTransaction,
        ty: &StructTag,
    ) -> Result<Vec<(Address, T)>, ClientError> {
        let ids = executed.written_objects();
        self.get_raw_objects(&ids)
            .await?
            .into_iter()
            .flatten()
            .filter(|object| object.object_type == *ty)
            .map(|object| Ok((object.id, object.decode()?)))
            .collect()
    }

    /// The single written object of `ty` of `executed`.
    /// Transfers `value` (a result of `tx`) to the signer, executes `tx` and returns the
    /// object of type `ty` it wrote.
    async fn keep_and_execute<T: DeserializeOwned>(
        &self,
        mut tx: TransactionBuilder,
        value: Argument,
        ty: &StructTag,
    ) -> Result<T, ClientError> {
        let me = tx.pure(&self.address);
        tx.transfer_objects(vec![value], me);
        let executed = self.execute(tx).await?;
        self.written_one(&executed, ty).await
    }

    async fn written_one<T: DeserializeOwned>(
        &self,
        executed: &ExecutedTransaction,
        ty: &StructTag,
    ) -> Result<T, ClientError> {
        self.written_of_type(executed, ty)
            .await?
            .into_iter()
            .next()
            .map(|(_, value)| value)
            .ok_or_else(|| {
                ClientError::NotFound(format!(
                    "transaction {} wrote no {ty} (or it moved on)",
                    executed.digest
                ))
            })
    }

    /// `reserve_space` + `register_blob` in one transaction, paid from the signer's WAL; the
    /// new `Blob` goes to the signer.
    pub async fn reserve_and_register_blob(
        &self,
        registration: &BlobRegistration,
    ) -> Result<Blob, ClientError> {
        let mut blobs = self
            .reserve_and_register_blobs(std::slice::from_ref(registration))
            .await?;
        blobs
            .pop()
            .ok_or_else(|| ClientError::NotFound("the registration wrote no Blob".into()))
    }

    /// `reserve_space` + `register_blob` for each of `registrations` in **one** transaction
    /// (at most [`MAX_BLOBS_PER_TRANSACTION`], distinct blob IDs), paid from the signer's WAL;
    /// the new `Blob`s go to the signer and are returned in the order of `registrations`. All
    /// or nothing: a failure registers none of them.
    pub async fn reserve_and_register_blobs(
        &self,
        registrations: &[BlobRegistration],
    ) -> Result<Vec<Blob>, ClientError> {
        check_batch(
            registrations
                .iter()
                .map(|registration| registration.blob_id),
        )?;
        let system = self.system().await?;
        let mut prices = Vec::with_capacity(registrations.len());
        for registration in registrations {
            let encoded = redstuff::encoded_blob_length(
                registration.size,
                registration.encoding_type,
                system.n_shards(),
            )
            .map_err(|abort| ClientError::Build(format!("cannot encode this blob: {abort}")))?;
            let units = system::storage_units(encoded);
            let price = units
                .saturating_mul(system.storage_price_per_unit_size)
                .saturating_mul(u64::from(registration.epochs_ahead))
                .saturating_add(units.saturating_mul(system.write_price_per_unit_size));
            prices.push((encoded, price));
        }
        let total = prices
            .iter()
            .fold(0u64, |sum, (_, price)| sum.saturating_add(*price));

        let mut tx = self.new_batch_transaction(registrations.len()).await?;
        let system_arg = tx.object(self.shared_system(true));
        let wal = self.wal_payment(&mut tx, total).await?;
        let mut blobs = Vec::with_capacity(registrations.len());
        for (registration, (encoded, _)) in registrations.iter().zip(&prices) {
            let size = tx.pure(encoded);
            let epochs = tx.pure(&registration.epochs_ahead);
            let storage = self.call(
                &mut tx,
                "system",
                "reserve_space",
                vec![system_arg, size, epochs, wal],
            )?;
            let blob_id = tx.pure(&registration.blob_id);
            let root = tx.pure(&registration.root_hash);
            let blob_size = tx.pure(&registration.size);
            let encoding = tx.pure(&registration.encoding_type);
            let deletable = tx.pure(&registration.deletable);
            let blob = self.call(
                &mut tx,
                "system",
                "register_blob",
                vec![
                    system_arg, storage, blob_id, root, blob_size, encoding, deletable, wal,
                ],
            )?;
            for (key, value) in &registration.attributes {
                let key = tx.pure(key);
                let value = tx.pure(value);
                self.call(
                    &mut tx,
                    "blob",
                    "add_or_replace_attribute",
                    vec![blob, key, value],
                )?;
            }
            blobs.push(blob);
        }
        let me = tx.pure(&self.address);
        tx.transfer_objects(blobs, me);
        let executed = self.execute(tx).await?;
        let written: Vec<Blob> = self
            .written_of_type(&executed, &self.config.walrus_type("blob", "Blob"))
            .await?
            .into_iter()
            .map(|(_, blob)| blob)
            .collect();
        registrations
            .iter()
            .map(|registration| {
                written
                    .iter()
                    .find(|blob| blob.blob_id == registration.blob_id)
                    .cloned()
                    .ok_or_else(|| {
                        ClientError::NotFound(format!(
                            "transaction {} wrote no Blob of a registered blob ID (or it moved on)",
                            executed.digest
                        ))
                    })
            })
            .collect()
    }

    /// `certify_blob` with `certificate` (a confirmation certificate of the current
    /// committee); returns the certified blob.
    pub async fn certify_blob<T>(
        &self,
        blob: ObjectId,
        certificate: &ProtocolMessageCertificate<T>,
    ) -> Result<Blob, ClientError> {
        let mut blobs = self.certify_blobs(&[(blob, certificate)]).await?;
        blobs
            .pop()
            .ok_or_else(|| ClientError::NotFound(format!("blob object {blob}")))
    }

    /// `certify_blob` for each `(blob object, confirmation certificate of the current
    /// committee)` in **one** transaction (at most [`MAX_BLOBS_PER_TRANSACTION`]); returns the
    /// certified blobs in the same order. All or nothing.
    pub async fn certify_blobs<T>(
        &self,
        certificates: &[(ObjectId, &ProtocolMessageCertificate<T>)],
    ) -> Result<Vec<Blob>, ClientError> {
        if certificates.len() > MAX_BLOBS_PER_TRANSACTION {
            return Err(ClientError::Build(format!(
                "{} blobs in one transaction, at most {MAX_BLOBS_PER_TRANSACTION}",
                certificates.len()
            )));
        }
        let committee = self.committee().await?;
        let ids: Vec<Address> = certificates
            .iter()
            .map(|(blob, _)| to_address(*blob))
            .collect();
        let objects = self.get_raw_objects(&ids).await?;
        let mut tx = self.new_batch_transaction(certificates.len()).await?;
        let system = tx.object(self.shared_system(false));
        for ((blob, certificate), object) in certificates.iter().zip(objects) {
            let object =
                object.ok_or_else(|| ClientError::NotFound(format!("blob object {blob}")))?;
            let bitmap = signers_to_bitmap(&certificate.signers, committee.members.len())
                .map_err(build_error)?;
            let blob_arg = tx.object(object.owned_input());
            let signature = tx.pure(&certificate.signature.as_bytes().to_vec());
            let bitmap = tx.pure(&bitmap);
            let message = tx.pure(&certificate.serialized_message);
            self.call(
                &mut tx,
                "system",
                "certify_blob",
                vec![system, blob_arg, signature, bitmap, message],
            )?;
        }
        self.execute(tx).await?;
        self.get_raw_objects(&ids)
            .await?
            .into_iter()
            .zip(&ids)
            .map(|(object, id)| {
                object
                    .ok_or_else(|| ClientError::NotFound(format!("blob object {id}")))?
                    .decode()
            })
            .collect()
    }

    /// `invalidate_blob_id` with an invalid-blob-ID certificate (signers of weight at least
    /// one correct node).
    pub async fn invalidate_blob_id<T>(
        &self,
        certificate: &ProtocolMessageCertificate<T>,
    ) -> Result<ExecutedTransaction, ClientError> {
        let bitmap = self.signers_bitmap(&certificate.signers).await?;
        let mut tx = self.new_transaction().await?;
        let system = tx.object(self.shared_system(false));
        let signature = tx.pure(&certificate.signature.as_bytes().to_vec());
        let bitmap = tx.pure(&bitmap);
        let message = tx.pure(&certificate.serialized_message);
        self.call(
            &mut tx,
            "system",
            "invalidate_blob_id",
            vec![system, signature, bitmap, message],
        )?;
        self.execute(tx).await
    }

    /// The signer bitmap of member indices `signers` of the current committee.
    async fn signers_bitmap(&self, signers: &[u16]) -> Result<Vec<u8>, ClientError> {
        let committee = self.committee().await?;
        signers_to_bitmap(signers, committee.members.len()).map_err(build_error)
    }

    /// `delete_blob`: deletes a deletable blob; its storage goes back to the signer and is
    /// returned.
    pub async fn delete_blob(&self, blob: ObjectId) -> Result<Storage, ClientError> {
        let blob_object = self.get_raw_object(to_address(blob)).await?;
        let storage_id = blob_object.decode::<Blob>()?.storage.id;
        let mut tx = self.new_transaction().await?;
        let system = tx.object(self.shared_system(false));
        let blob_arg = tx.object(blob_object.owned_input());
        let storage = self.call(&mut tx, "system", "delete_blob", vec![system, blob_arg])?;
        let me = tx.pure(&self.address);
        tx.transfer_objects(vec![storage], me);
        self.execute(tx).await?;
        self.get_storage(storage_id).await
    }

    /// `add_or_replace_attribute` for each `(key, value)` of `pairs`, in order, on the signer's
    /// `Blob` object `blob`, in one transaction; returns the updated blob.
    pub async fn set_blob_attributes(
        &self,
        blob: ObjectId,
        pairs: &[(String, String)],
    ) -> Result<Blob, ClientError> {
        self.blob_attribute_calls(
            blob,
            pairs
                .iter()
                .map(|(key, value)| ("add_or_replace_attribute", key, Some(value))),
        )
        .await
    }

    /// `remove_attribute` for each of `keys` on the signer's `Blob` object `blob`, in one
    /// transaction (all or nothing: a key that is not set aborts it with
    /// `blob::EAttributeNotFound`); returns the updated blob.
    pub async fn remove_blob_attributes(
        &self,
        blob: ObjectId,
        keys: &[String],
    ) -> Result<Blob, ClientError> {
        self.blob_attribute_calls(blob, keys.iter().map(|key| ("remove_attribute", key, None)))
            .await
    }

    /// One transaction of `blob::{function}(blob, key[, value])` calls on the signer's `blob`.
    async fn blob_attribute_calls<'a>(
        &self,
        blob: ObjectId,
        calls: impl Iterator<Item = (&'static str, &'a String, Option<&'a String>)>,
    ) -> Result<Blob, ClientError> {
        let blob_object = self.get_raw_object(to_address(blob)).await?;
        blob_object.decode::<Blob>()?;
        let mut tx = self.new_transaction().await?;
        let blob_arg = tx.object(blob_object.owned_input());
        for (function, key, value) in calls {
            let mut args = vec![blob_arg, tx.pure(key)];
            if let Some(value) = value {
                args.push(tx.pure(value));
            }
            self.call(&mut tx, "blob", function, args)?;
        }
        self.execute(tx).await?;
        self.get_blob(blob).await
    }

    /// `burn_blob` for each of the signer's `Blob` objects `blobs` (expired ones: the contract
    /// aborts with `blob::EBlobNotExpired` otherwise), in one transaction (at most
    /// [`MAX_BLOBS_PER_TRANSACTION`]; all or nothing).
    pub async fn burn_blobs(&self, blobs: &[ObjectId]) -> Result<(), ClientError> {
        if blobs.len() > MAX_BLOBS_PER_TRANSACTION {
            return Err(ClientError::Build(format!(
                "{} blobs in one transaction, at most {MAX_BLOBS_PER_TRANSACTION}",
                blobs.len()
            )));
        }
        let ids: Vec<Address> = blobs.iter().map(|blob| to_address(*blob)).collect();
        let objects = self.get_raw_objects(&ids).await?;
        let mut tx = self.new_batch_transaction(blobs.len()).await?;
        let system = tx.object(self.shared_system(false));
        for (blob, object) in blobs.iter().zip(objects) {
            let object =
                object.ok_or_else(|| ClientError::NotFound(format!("blob object {blob}")))?;
            object.decode::<Blob>()?;
            let blob_arg = tx.object(object.owned_input());
            self.call(&mut tx, "system", "burn_blob", vec![system, blob_arg])?;
        }
        self.execute(tx).await?;
        Ok(())
    }

    /// Transfers the signer's `Blob` object `blob` to `recipient` (e.g. a publisher handing a
    /// stored blob to its user).
    pub async fn transfer_blob(
        &self,
        blob: ObjectId,
        recipient: Address,
    ) -> Result<(), ClientError> {
        let blob_object = self.get_raw_object(to_address(blob)).await?;
        blob_object.decode::<Blob>()?;
        let mut tx = self.new_transaction().await?;
        let blob_arg = tx.object(blob_object.owned_input());
        let to = tx.pure(&recipient);
        tx.transfer_objects(vec![blob_arg], to);
        self.execute(tx).await?;
        Ok(())
    }

    /// `extend_blob` by `epochs`, paid from the signer's WAL; returns the extended blob.
    pub async fn extend_blob(&self, blob: ObjectId, epochs: u32) -> Result<Blob, ClientError> {
        let system = self.system().await?;
        let blob_object = self.get_raw_object(to_address(blob)).await?;
        let value: Blob = blob_object.decode()?;
        let price = system::storage_units(value.storage.storage_size)
            .saturating_mul(system.storage_price_per_unit_size)
            .saturating_mul(u64::from(epochs));
        let mut tx = self.new_transaction().await?;
        let system_arg = tx.object(self.shared_system(true));
        let blob_arg = tx.object(blob_object.owned_input());
        let epochs = tx.pure(&epochs);
        let wal = self.wal_payment(&mut tx, price).await?;
        self.call(
            &mut tx,
            "system",
            "extend_blob",
            vec![system_arg, blob_arg, epochs, wal],
        )?;
        self.execute(tx).await?;
        self.get_blob(blob).await
    }

    /// `register_candidate`: registers the signer as a storage node; its `StorageNodeCap`
    /// goes to the signer and is returned.
    pub async fn register_candidate(
        &self,
        node: &NodeRegistration,
    ) -> Result<StorageNodeCap, ClientError> {
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let args = vec![
            staking,
            tx.pure(&node.name),
            tx.pure(&node.network_address),
            tx.pure(&node.public_key),
            tx.pure(&node.network_public_key),
            tx.pure(&node.proof_of_possession),
            tx.pure(&node.commission_rate),
            tx.pure(&node.storage_price),
            tx.pure(&node.write_price),
            tx.pure(&node.node_capacity),
        ];
        let cap = self.call(&mut tx, "staking", "register_candidate", args)?;
        let ty = self.config.walrus_type(STAKING_MODULE, "StorageNodeCap");
        self.keep_and_execute(tx, cap, &ty).await
    }

    /// `set_votes` of the node of `cap` (counted at the next `voting_end`).
    pub async fn set_votes(
        &self,
        cap: ObjectId,
        storage_price: u64,
        write_price: u64,
        node_capacity: u64,
    ) -> Result<ExecutedTransaction, ClientError> {
        self.cap_call(cap, "set_votes", |tx| {
            vec![
                tx.pure(&storage_price),
                tx.pure(&write_price),
                tx.pure(&node_capacity),
            ]
        })
        .await
    }

    /// `stake_with_pool`: stakes `amount` FROST of the signer's WAL with `node_id`; the
    /// `StakedWal` goes to the signer and is returned.
    pub async fn stake_with_pool(
        &self,
        node_id: ObjectId,
        amount: u64,
    ) -> Result<StakedWal, ClientError> {
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let wal = self.wal_payment(&mut tx, amount).await?;
        let amount = tx.pure(&amount);
        let part = tx.split_coins(wal, vec![amount]);
        let node = tx.pure(&node_id);
        let staked = self.call(
            &mut tx,
            "staking",
            "stake_with_pool",
            vec![staking, part[0], node],
        )?;
        let ty = self.config.walrus_type(STAKING_MODULE, "StakedWal");
        self.keep_and_execute(tx, staked, &ty).await
    }

    /// `request_withdraw_stake` of the signer's `StakedWal`; returns it updated.
    pub async fn request_withdraw_stake(
        &self,
        staked_wal: ObjectId,
    ) -> Result<StakedWal, ClientError> {
        let object = self.get_raw_object(to_address(staked_wal)).await?;
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let staked = tx.object(object.owned_input());
        self.call(
            &mut tx,
            "staking",
            "request_withdraw_stake",
            vec![staking, staked],
        )?;
        self.execute(tx).await?;
        self.get_staked_wal(staked_wal).await
    }

    /// `withdraw_stake`: the staked WAL's value (principal, plus its rewards minus commission
    /// if it was active) comes back to the signer as a WAL coin (returned).
    pub async fn withdraw_stake(&self, staked_wal: ObjectId) -> Result<Coin, ClientError> {
        let object = self.get_raw_object(to_address(staked_wal)).await?;
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let staked = tx.object(object.owned_input());
        let coin = self.call(&mut tx, "staking", "withdraw_stake", vec![staking, staked])?;
        self.keep_and_execute(tx, coin, &self.config.wal_coin_type())
            .await
    }

    /// `set_commission_rate` of the node of `cap` (basis points, from the next epoch change).
    pub async fn set_commission_rate(
        &self,
        cap: ObjectId,
        rate: u16,
    ) -> Result<ExecutedTransaction, ClientError> {
        self.cap_call(cap, "set_commission_rate", |tx| vec![tx.pure(&rate)])
            .await
    }

    /// `set_name` of the node of `cap`.
    pub async fn set_name(
        &self,
        cap: ObjectId,
        name: &str,
    ) -> Result<ExecutedTransaction, ClientError> {
        let name = name.to_string();
        self.cap_call(cap, "set_name", |tx| vec![tx.pure(&name)])
            .await
    }

    /// `set_network_address` of the node of `cap` (`host:port`).
    pub async fn set_network_address(
        &self,
        cap: ObjectId,
        network_address: &str,
    ) -> Result<ExecutedTransaction, ClientError> {
        let address = network_address.to_string();
        self.cap_call(cap, "set_network_address", |tx| vec![tx.pure(&address)])
            .await
    }

    /// `set_next_public_key` of the node of `cap`: its BLS key from the next committee
    /// selection on, with the proof of possession of the key for the signer's address and the
    /// current epoch.
    pub async fn set_next_public_key(
        &self,
        cap: ObjectId,
        public_key: &[u8],
        proof_of_possession: &[u8],
    ) -> Result<ExecutedTransaction, ClientError> {
        let (key, proof) = (public_key.to_vec(), proof_of_possession.to_vec());
        self.cap_call(cap, "set_next_public_key", |tx| {
            vec![tx.pure(&key), tx.pure(&proof)]
        })
        .await
    }

    /// `staking::<function>(staking, &cap, args..)` with the node capability `cap`.
    async fn cap_call(
        &self,
        cap: ObjectId,
        function: &'static str,
        args: impl FnOnce(&mut TransactionBuilder) -> Vec<Argument>,
    ) -> Result<ExecutedTransaction, ClientError> {
        let cap_object = self.get_raw_object(to_address(cap)).await?;
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let cap_arg = tx.object(cap_object.owned_input());
        let mut arguments = vec![staking, cap_arg];
        arguments.extend(args(&mut tx));
        self.call(&mut tx, "staking", function, arguments)?;
        self.execute(tx).await
    }

    /// `collect_commission` of the node of `cap`: a WAL coin to the signer (returned).
    pub async fn collect_commission(&self, cap: ObjectId) -> Result<Coin, ClientError> {
        let cap_object = self.get_raw_object(to_address(cap)).await?;
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let cap_arg = tx.object(cap_object.owned_input());
        let coin = self.call(
            &mut tx,
            "staking",
            "collect_commission",
            vec![staking, cap_arg],
        )?;
        self.keep_and_execute(tx, coin, &self.config.wal_coin_type())
            .await
    }

    /// `voting_end` (anyone may call it once half of the epoch has passed and the epoch
    /// change is done): selects the next committee and parameters.
    pub async fn voting_end(&self) -> Result<ExecutedTransaction, ClientError> {
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let clock = tx.object(ObjectInput::shared(
            CLOCK_ID,
            CLOCK_INITIAL_SHARED_VERSION,
            false,
        ));
        self.call(&mut tx, "staking", "voting_end", vec![staking, clock])?;
        self.execute(tx).await
    }

    /// `initiate_epoch_change` (anyone may call it once the epoch's duration has passed and
    /// the next committee is selected).
    pub async fn initiate_epoch_change(&self) -> Result<ExecutedTransaction, ClientError> {
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let system = tx.object(self.shared_system(true));
        let clock = tx.object(ObjectInput::shared(
            CLOCK_ID,
            CLOCK_INITIAL_SHARED_VERSION,
            false,
        ));
        self.call(
            &mut tx,
            "staking",
            "initiate_epoch_change",
            vec![staking, system, clock],
        )?;
        self.execute(tx).await
    }

    /// `epoch_sync_done` of the node of `cap` for `epoch`; returns the cap updated.
    pub async fn epoch_sync_done(
        &self,
        cap: ObjectId,
        epoch: u32,
    ) -> Result<StorageNodeCap, ClientError> {
        let cap_object = self.get_raw_object(to_address(cap)).await?;
        let mut tx = self.new_transaction().await?;
        let staking = tx.object(self.shared_staking());
        let cap_arg = tx.object(cap_object.owned_input());
        let epoch = tx.pure(&epoch);
        self.call(
            &mut tx,
            "staking",
            "epoch_sync_done",
            vec![staking, cap_arg, epoch],
        )?;
        self.execute(tx).await?;
        self.get_node_cap(cap).await
    }
}

/// The `ObjectId` of an address (for IDs read from effects).
pub fn object_id(address: Address) -> ObjectId {
    to_object_id(address)
}
