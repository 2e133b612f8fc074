//! A test network: a genesis with funded users, transaction building with
//! `sui-transaction-builder`, Ed25519 signing with `sui-crypto`, and storage nodes with BLS
//! keys that register, stake and sign certificates.

#![allow(dead_code)]

use fastcrypto::traits::ToFromBytes;
use sui_crypto::{ed25519::Ed25519PrivateKey, SuiSigner};
use sui_sdk_types::{Address, Identifier, Object, Transaction, UserSignature};
use sui_transaction_builder::{Argument, Function, ObjectInput, TransactionBuilder};
use walrus_chain::contract::{
    blob::Blob,
    staking::{StakedWal, Staking, StorageNodeCap},
    storage_resource::Storage,
    sui::U256,
    system::System,
};
use walrus_core::{
    crypto::{signers_to_bitmap, ProtocolKeyPair},
    encoding::{compute_metadata, EncodingConfig},
    merkle::Node as MerkleNode,
    messages::{ProtocolMessageCertificate, ProtocolMessageKind},
    ObjectId,
};
use walrus_localnet::{
    types::{ObjectType, ObjectValue},
    Effects, ExecutionError, Executor, Genesis, GenesisConfig, CLOCK_INITIAL_SHARED_VERSION,
    CLOCK_OBJECT_ID, REFERENCE_GAS_PRICE, WALRUS_PACKAGE_ID,
};

pub const N_SHARDS: u16 = 10;
pub const EPOCH_MS: u64 = 60_000;
pub const MAX_EPOCHS_AHEAD: u32 = 10;
pub const GAS_BUDGET: u64 = 50_000_000;
pub const SUI: u64 = 1_000_000_000;
pub const WAL: u64 = 1_000_000_000;
pub const STORAGE_PRICE: u64 = 100;
pub const WRITE_PRICE: u64 = 7;
/// Stake of node `i` (in WAL): shards 1, 2, 3, 4 of 10.
pub const STAKES: [u64; 4] = [1_000, 2_000, 3_000, 4_000];

pub struct User {
    pub key: Ed25519PrivateKey,
    pub address: Address,
}

pub struct StorageNode {
    pub user: usize,
    pub bls: ProtocolKeyPair,
    pub node_id: ObjectId,
    pub cap: Address,
}

pub struct Net {
    pub executor: Executor,
    pub genesis: Genesis,
    pub users: Vec<User>,
    pub nodes: Vec<StorageNode>,
}

pub fn user(seed: u8) -> User {
    let key = Ed25519PrivateKey::new([seed; 32]);
    let address = key.public_key().derive_address();
    User { key, address }
}

/// Appends a Move call into the `walrus` package.
pub fn call(
    tx: &mut TransactionBuilder,
    module: &str,
    function: &str,
    args: Vec<Argument>,
) -> Argument {
    tx.move_call(
        Function::new(
            WALRUS_PACKAGE_ID,
            Identifier::new(module).unwrap(),
            Identifier::new(function).unwrap(),
        ),
        args,
    )
}

/// Blob ID and root hash of `data` for `N_SHARDS` shards.
pub fn blob_ids(data: &[u8]) -> (U256, U256) {
    let metadata = compute_metadata(&EncodingConfig::new(N_SHARDS).unwrap(), data).unwrap();
    let MerkleNode::Digest(root) = metadata.root_hash() else {
        panic!("a blob has a root");
    };
    (U256::from(*metadata.blob_id()), U256(root))
}

impl Net {
    /// The genesis configuration of [`Net::new`]: `n_users` users, each with two 10-SUI gas
    /// coins and a 100 000-WAL coin.
    pub fn config(n_users: u8) -> GenesisConfig {
        let mut config = GenesisConfig::new(N_SHARDS, EPOCH_MS, MAX_EPOCHS_AHEAD);
        config.start_timestamp_ms = 1_000;
        for user in (1..=n_users).map(user) {
            config = config.with_account(user.address, &[10 * SUI, 10 * SUI], &[100_000 * WAL]);
        }
        config
    }

    /// A genesis with `n_users` users, each with two 10-SUI gas coins and a 100 000-WAL coin.
    pub fn new(n_users: u8) -> Self {
        let users: Vec<User> = (1..=n_users).map(user).collect();
        let (executor, genesis) = Executor::from_genesis(&Self::config(n_users)).unwrap();
        Self {
            executor,
            genesis,
            users,
            nodes: Vec::new(),
        }
    }

    pub fn object(&self, id: Address) -> &Object {
        self.executor.store().get(&id).unwrap()
    }

    /// The object as an input at its current version.
    pub fn input(&self, id: Address) -> ObjectInput {
        ObjectInput::from(self.object(id))
    }

    pub fn system(&self, mutable: bool) -> ObjectInput {
        ObjectInput::shared(
            self.genesis.system,
            self.genesis.initial_shared_version,
            mutable,
        )
    }

    pub fn staking(&self, mutable: bool) -> ObjectInput {
        ObjectInput::shared(
            self.genesis.staking,
            self.genesis.initial_shared_version,
            mutable,
        )
    }

    pub fn clock(&self) -> ObjectInput {
        ObjectInput::shared(CLOCK_OBJECT_ID, CLOCK_INITIAL_SHARED_VERSION, false)
    }

    /// The objects of `ty` owned by `user`, by ID.
    pub fn owned(&self, user: usize, ty: ObjectType) -> Vec<Address> {
        self.executor
            .store()
            .owned_of_type(self.users[user].address, ty)
            .into_iter()
            .map(Object::object_id)
            .collect()
    }

    /// The user's gas coin (its first SUI coin of genesis).
    pub fn gas(&self, user: usize) -> Address {
        self.genesis
            .coins_of(self.users[user].address, ObjectType::SuiCoin)[0]
    }

    /// The user's WAL coin of genesis.
    pub fn wal(&self, user: usize) -> Address {
        self.genesis
            .coins_of(self.users[user].address, ObjectType::WalCoin)[0]
    }

    pub fn balance(&self, coin: Address) -> u64 {
        self.executor.store().coin_balance(&coin).unwrap()
    }

    /// A transaction from `user` paying gas with its gas coin.
    pub fn tx(&self, user: usize) -> TransactionBuilder {
        let mut tx = TransactionBuilder::new();
        tx.set_sender(self.users[user].address);
        tx.set_gas_budget(GAS_BUDGET);
        tx.set_gas_price(REFERENCE_GAS_PRICE);
        tx.add_gas_objects([self.input(self.gas(user))]);
        tx
    }

    pub fn sign(&self, user: usize, transaction: &Transaction) -> UserSignature {
        self.users[user].key.sign_transaction(transaction).unwrap()
    }

    pub fn execute(
        &mut self,
        user: usize,
        tx: TransactionBuilder,
    ) -> Result<Effects, ExecutionError> {
        let transaction = tx.try_build().unwrap();
        let signature = self.sign(user, &transaction);
        self.executor.execute(&transaction, &[signature])
    }

    /// Executes a transaction that must fail, and checks that nothing changed.
    pub fn reject(&mut self, user: usize, tx: TransactionBuilder) -> ExecutionError {
        let transaction = tx.try_build().unwrap();
        let signature = self.sign(user, &transaction);
        self.reject_signed(&transaction, &[signature])
    }

    pub fn reject_signed(
        &mut self,
        transaction: &Transaction,
        signatures: &[UserSignature],
    ) -> ExecutionError {
        let before = self.executor.store().clone();
        let error = self.executor.execute(transaction, signatures).unwrap_err();
        assert_eq!(
            *self.executor.store(),
            before,
            "a rejected transaction changed the store"
        );
        if !matches!(error, ExecutionError::AlreadyExecuted(_)) {
            assert!(self.executor.effects(&transaction.digest()).is_none());
        }
        error
    }

    pub fn value(&self, id: Address) -> ObjectValue {
        self.executor.store().value(&id).unwrap()
    }

    pub fn system_value(&self) -> System {
        match self.value(self.genesis.system) {
            ObjectValue::System(system) => *system,
            other => panic!("not a System: {other:?}"),
        }
    }

    pub fn staking_value(&self) -> Staking {
        match self.value(self.genesis.staking) {
            ObjectValue::Staking(staking) => *staking,
            other => panic!("not a Staking: {other:?}"),
        }
    }

    pub fn blob(&self, id: Address) -> Blob {
        match self.value(id) {
            ObjectValue::Blob(blob) => *blob,
            other => panic!("not a Blob: {other:?}"),
        }
    }

    pub fn storage(&self, id: Address) -> Storage {
        match self.value(id) {
            ObjectValue::Storage(storage) => storage,
            other => panic!("not a Storage: {other:?}"),
        }
    }

    pub fn staked_wal(&self, id: Address) -> StakedWal {
        match self.value(id) {
            ObjectValue::StakedWal(staked) => staked,
            other => panic!("not a StakedWal: {other:?}"),
        }
    }

    pub fn node_cap(&self, id: Address) -> StorageNodeCap {
        match self.value(id) {
            ObjectValue::StorageNodeCap(cap) => cap,
            other => panic!("not a StorageNodeCap: {other:?}"),
        }
    }

    /// `register_candidate` by `user` with the BLS key of `bls`, transferring the cap to the
    /// user.
    pub fn register_candidate_tx(
        &self,
        user: usize,
        bls: &ProtocolKeyPair,
        pop: Vec<u8>,
    ) -> TransactionBuilder {
        let mut tx = self.tx(user);
        let staking = tx.object(self.staking(true));
        let name = tx.pure(&format!("node-{user}"));
        let address = tx.pure(&format!("127.0.0.1:{}", 9000 + user));
        let public_key = tx.pure(&bls.public().as_bytes().to_vec());
        let network_key = tx.pure(&vec![7u8; 32]);
        let pop = tx.pure(&pop);
        let commission = tx.pure(&100u16);
        let storage_price = tx.pure(&STORAGE_PRICE);
        let write_price = tx.pure(&WRITE_PRICE);
        let capacity = tx.pure(&(1u64 << 40));
        let cap = call(
            &mut tx,
            "staking",
            "register_candidate",
            vec![
                staking,
                name,
                address,
                public_key,
                network_key,
                pop,
                commission,
                storage_price,
                write_price,
                capacity,
            ],
        );
        let me = tx.pure(&self.users[user].address);
        tx.transfer_objects(vec![cap], me);
        tx
    }

    /// Stakes `amount` WAL of `user` (split from its WAL coin) with `node_id`; the `StakedWal`
    /// goes to the user.
    pub fn stake_tx(&self, user: usize, node_id: ObjectId, amount: u64) -> TransactionBuilder {
        let mut tx = self.tx(user);
        let staking = tx.object(self.staking(true));
        let wal = tx.object(self.input(self.wal(user)));
        let amount = tx.pure(&amount);
        let part = tx.split_coins(wal, vec![amount]);
        let node = tx.pure(&node_id);
        let staked = call(
            &mut tx,
            "staking",
            "stake_with_pool",
            vec![staking, part[0], node],
        );
        let me = tx.pure(&self.users[user].address);
        tx.transfer_objects(vec![staked], me);
        tx
    }

    /// Users 1..=4 register as storage nodes (BLS keys from seeds) and stake `STAKES` with
    /// their own pools.
    pub fn register_nodes(&mut self) {
        for (i, stake) in STAKES.iter().enumerate() {
            let user = i + 1;
            let bls = ProtocolKeyPair::from_seed([u8::try_from(i).unwrap() + 50; 32]);
            let pop = bls
                .proof_of_possession(self.users[user].address.into_inner(), 0)
                .as_bytes()
                .to_vec();
            let effects = self
                .execute(user, self.register_candidate_tx(user, &bls, pop))
                .unwrap();
            let cap = effects.created_of_type(ObjectType::StorageNodeCap)[0].id();
            let node_id = self.node_cap(cap).node_id;
            self.execute(user, self.stake_tx(user, node_id, stake * WAL))
                .unwrap();
            self.nodes.push(StorageNode {
                user,
                bls,
                node_id,
                cap,
            });
        }
    }

    /// Moves the clock past the epoch and runs `initiate_epoch_change` (sent by user 0).
    pub fn next_epoch(&mut self) -> Effects {
        let now = self.executor.timestamp_ms().unwrap();
        self.executor.set_timestamp_ms(now + EPOCH_MS).unwrap();
        let mut tx = self.tx(0);
        let staking = tx.object(self.staking(true));
        let system = tx.object(self.system(true));
        let clock = tx.object(self.clock());
        call(
            &mut tx,
            "staking",
            "initiate_epoch_change",
            vec![staking, system, clock],
        );
        self.execute(0, tx).unwrap()
    }

    /// A certificate over `message` by the committee members `signers`: (signature, bitmap,
    /// message bytes).
    pub fn certificate<T: ProtocolMessageKind>(
        &self,
        message: &T,
        signers: &[u16],
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let signed: Vec<_> = signers
            .iter()
            .map(|i| self.nodes[usize::from(*i)].bls.sign_message(message))
            .collect();
        let certificate =
            ProtocolMessageCertificate::from_signed_messages_and_indices(&signed, signers).unwrap();
        let n_members = self.system_value().committee.members.len();
        (
            certificate.signature.as_bytes().to_vec(),
            signers_to_bitmap(signers, n_members).unwrap(),
            certificate.serialized_message,
        )
    }
}

/// A minimal HTTP/1.1 request to the faucet: (status, JSON body).
pub async fn http(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, serde_json::Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Ok((status, serde_json::from_str(body).unwrap()))
}

/// The chain client configuration from the faucet's `GET /health` answer.
pub fn chain_config_from_health(health: &serde_json::Value) -> walrus_chain::client::ChainConfig {
    walrus_chain::client::ChainConfig::new(
        walrus_localnet::WAL_PACKAGE_ID,
        WALRUS_PACKAGE_ID,
        health["system_object"].as_str().unwrap().parse().unwrap(),
        health["staking_object"].as_str().unwrap().parse().unwrap(),
        health["initial_shared_version"].as_u64().unwrap(),
    )
}
