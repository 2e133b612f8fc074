//! A test network: a genesis with funded users, transaction building with
//! `sui-transaction-builder`, Ed25519 signing with `sui-crypto`, and storage nodes with BLS
//! keys that register, stake and sign certificates.

#![allow(dead_code)]

use fastcrypto::traits::ToFromBytes;
use sui_crypto::{ed25519::Ed25519PrivateKey, SuiSigner};
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2::{
        ExecuteTransactionRequest, GetBalanceRequest, GetObjectRequest, GetServiceInfoRequest,
        GetServiceInfoResponse,
    },
    Client,
};
use sui_sdk_types::{Address, Identifier, Object, Transaction, UserSignature};
use sui_transaction_builder::{Argument, Function, ObjectInput, TransactionBuilder};
use walrus_chain::{
    client::{ChainConfig, NodeRegistration, WalrusClient},
    contract::{
        blob::Blob,
        bls_aggregate::BlsCommittee,
        redstuff,
        staking::{StakedWal, Staking, StorageNodeCap},
        storage_resource::Storage,
        sui::U256,
        system::System,
    },
};
use walrus_core::{
    crypto::{signers_to_bitmap, ProtocolKeyPair},
    encoding::{compute_metadata, EncodingConfig},
    merkle::Node as MerkleNode,
    messages::{ProtocolMessageCertificate, ProtocolMessageKind},
    ObjectId,
};
use walrus_localchain::{
    types::{ObjectType, ObjectValue},
    Effects, ExecutionError, Executor, Genesis, GenesisConfig, LocalServer,
    CLOCK_INITIAL_SHARED_VERSION, CLOCK_OBJECT_ID, REFERENCE_GAS_PRICE, WALRUS_PACKAGE_ID,
    WAL_PACKAGE_ID,
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

/// A transaction from `sender` paying with `gas` (any object, at any version).
pub fn tx_paid_with(sender: Address, gas: ObjectInput) -> TransactionBuilder {
    let mut tx = TransactionBuilder::new();
    tx.set_sender(sender);
    tx.set_gas_budget(GAS_BUDGET);
    tx.set_gas_price(REFERENCE_GAS_PRICE);
    tx.add_gas_objects([gas]);
    tx
}

/// Appends: split `amount` MIST off the gas coin and send it to `recipient`.
pub fn send_from_gas(tx: &mut TransactionBuilder, amount: u64, recipient: Address) {
    let amount = tx.pure(&amount);
    let gas = tx.gas();
    let parts = tx.split_coins(gas, vec![amount]);
    let recipient = tx.pure(&recipient);
    tx.transfer_objects(parts, recipient);
}

/// Appends `system::reserve_space(system, size, epochs, payment)`; returns the `Storage`.
pub fn reserve_space(
    tx: &mut TransactionBuilder,
    system: Argument,
    size: Argument,
    epochs: Argument,
    payment: Argument,
) -> Argument {
    call(
        tx,
        "system",
        "reserve_space",
        vec![system, size, epochs, payment],
    )
}

/// Appends `system::register_blob` of `data` (its blob ID and root hash for `N_SHARDS` shards,
/// its length, RS2) into `storage`, paid with `payment`; returns the `Blob`.
pub fn register_blob(
    tx: &mut TransactionBuilder,
    system: Argument,
    storage: Argument,
    data: &[u8],
    deletable: Argument,
    payment: Argument,
) -> Argument {
    let (blob_id, root) = blob_ids(data);
    let blob_id = tx.pure(&blob_id);
    let root = tx.pure(&root);
    let len = tx.pure(&(data.len() as u64));
    let encoding = tx.pure(&redstuff::RS2);
    call(
        tx,
        "system",
        "register_blob",
        vec![
            system, storage, blob_id, root, len, encoding, deletable, payment,
        ],
    )
}

/// Storage node `i`'s BLS key (from a fixed seed) and its proof of possession for `owner` in
/// epoch 0.
pub fn node_key(i: usize, owner: Address) -> (ProtocolKeyPair, Vec<u8>) {
    let bls = ProtocolKeyPair::from_seed([u8::try_from(i).unwrap() + 50; 32]);
    let pop = bls
        .proof_of_possession(owner.into_inner(), 0)
        .as_bytes()
        .to_vec();
    (bls, pop)
}

/// Storage node `i`'s registration through the chain client, by `owner`: its key and proof of
/// possession ([`node_key`]) and the votes of [`Net::register_candidate_tx`].
pub fn node_registration(i: usize, owner: Address) -> (ProtocolKeyPair, NodeRegistration) {
    let (bls, pop) = node_key(i, owner);
    let registration = NodeRegistration {
        name: format!("node-{i}"),
        network_address: format!("127.0.0.1:{}", 9000 + i),
        public_key: bls.public().as_bytes().to_vec(),
        network_public_key: vec![7; 32],
        proof_of_possession: pop,
        commission_rate: 100,
        storage_price: STORAGE_PRICE,
        write_price: WRITE_PRICE,
        node_capacity: 1 << 40,
    };
    (bls, registration)
}

/// A storage node registered through the chain client: its BLS key and its capability.
pub struct ClientNode {
    pub bls: ProtocolKeyPair,
    pub cap: StorageNodeCap,
}

/// A certificate over `message` by `nodes`, with the signers as their member indices in
/// `committee`: the certificate and the signers.
pub fn committee_certificate<T: ProtocolMessageKind>(
    committee: &BlsCommittee,
    nodes: &[&ClientNode],
    message: &T,
) -> (ProtocolMessageCertificate<T>, Vec<u16>) {
    let mut signers = Vec::new();
    let mut signed = Vec::new();
    for node in nodes {
        let index = committee
            .members
            .iter()
            .position(|member| member.node_id == node.cap.node_id)
            .unwrap();
        signers.push(u16::try_from(index).unwrap());
        signed.push(node.bls.sign_message(message));
    }
    let certificate =
        ProtocolMessageCertificate::from_signed_messages_and_indices(&signed, &signers).unwrap();
    (certificate, signers)
}

/// The chain client configuration of a genesis.
pub fn chain_config(genesis: &Genesis) -> ChainConfig {
    ChainConfig::new(
        WAL_PACKAGE_ID,
        WALRUS_PACKAGE_ID,
        genesis.system,
        genesis.staking,
        genesis.initial_shared_version,
    )
}

/// Sets the served chain's clock.
async fn set_clock(server: &LocalServer, timestamp_ms: u64) {
    let mut state = server.service.state().lock().await;
    state.executor.set_timestamp_ms(timestamp_ms).unwrap();
}

/// Moves the served chain's clock to half of the epoch and ends the voting through `client`,
/// then to the end of the epoch and changes the epoch through `client` (the epoch change must
/// be done: no committee is syncing).
pub async fn next_epoch_through(server: &LocalServer, client: &WalrusClient) {
    let now = {
        let state = server.service.state().lock().await;
        state.executor.timestamp_ms().unwrap()
    };
    set_clock(server, now + EPOCH_MS / 2).await;
    client.voting_end().await.unwrap();
    set_clock(server, now + EPOCH_MS).await;
    client.initiate_epoch_change().await.unwrap();
}

/// The service info, through gRPC.
pub async fn service_info(client: &mut Client) -> GetServiceInfoResponse {
    client
        .ledger_client()
        .get_service_info(GetServiceInfoRequest::default())
        .await
        .unwrap()
        .into_inner()
}

/// The object as the server has it (through its BCS).
pub async fn fetch(client: &mut Client, id: Address) -> Object {
    let response = client
        .ledger_client()
        .get_object(
            GetObjectRequest::default()
                .with_object_id(id.to_string())
                .with_read_mask(FieldMask::from_str("bcs")),
        )
        .await
        .unwrap();
    bcs::from_bytes(response.get_ref().object().bcs().value()).unwrap()
}

/// The SUI balance of `owner`, through gRPC.
pub async fn sui_balance(client: &mut Client, owner: Address) -> u64 {
    client
        .state_client()
        .get_balance(
            GetBalanceRequest::default()
                .with_owner(owner.to_string())
                .with_coin_type("0x2::sui::SUI"),
        )
        .await
        .unwrap()
        .get_ref()
        .balance()
        .balance()
}

/// `transaction` signed by `user`, as an execution request.
pub fn execute_request(
    net: &Net,
    user: usize,
    transaction: &Transaction,
) -> ExecuteTransactionRequest {
    let signature = net.sign(user, transaction);
    ExecuteTransactionRequest::default()
        .with_transaction(transaction.clone())
        .with_signatures(vec![signature.into()])
}

/// Splits 1 SUI off the gas coin of user 0 (at the server's version) and sends it to user 1:
/// the transaction and the gas coin it pays with.
pub async fn send_sui_tx(net: &Net, client: &mut Client) -> (Transaction, Object) {
    let gas = fetch(client, net.gas(0)).await;
    let mut tx = tx_paid_with(net.users[0].address, ObjectInput::from(&gas));
    send_from_gas(&mut tx, SUI, net.users[1].address);
    (tx.try_build().unwrap(), gas)
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
        tx_paid_with(self.users[user].address, self.input(self.gas(user)))
    }

    /// Appends the transfer of `objects` to `user` (what a transaction keeps).
    pub fn keep(&self, tx: &mut TransactionBuilder, user: usize, objects: Vec<Argument>) {
        let recipient = tx.pure(&self.users[user].address);
        tx.transfer_objects(objects, recipient);
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
        self.keep(&mut tx, user, vec![cap]);
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
        self.keep(&mut tx, user, vec![staked]);
        tx
    }

    /// Users 1..=4 register as storage nodes (BLS keys from seeds) and stake `STAKES` with
    /// their own pools.
    pub fn register_nodes(&mut self) {
        for (i, stake) in STAKES.iter().enumerate() {
            let user = i + 1;
            let (bls, pop) = node_key(i, self.users[user].address);
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

    /// `initiate_epoch_change` sent by `user`.
    pub fn epoch_change_tx(&self, user: usize) -> TransactionBuilder {
        let mut tx = self.tx(user);
        let staking = tx.object(self.staking(true));
        let system = tx.object(self.system(true));
        let clock = tx.object(self.clock());
        call(
            &mut tx,
            "staking",
            "initiate_epoch_change",
            vec![staking, system, clock],
        );
        tx
    }

    /// `voting_end` sent by `user`.
    pub fn voting_end_tx(&self, user: usize) -> TransactionBuilder {
        let mut tx = self.tx(user);
        let staking = tx.object(self.staking(true));
        let clock = tx.object(self.clock());
        call(&mut tx, "staking", "voting_end", vec![staking, clock]);
        tx
    }

    /// The next epoch, as the keeper and the nodes run it (all sent by user 0 but the
    /// nodes' reports): if the epoch change is syncing, every registered node reports; then the
    /// clock moves half an epoch and `voting_end` runs, then another half and
    /// `initiate_epoch_change` runs. Returns the effects of the epoch change.
    pub fn next_epoch(&mut self) -> Effects {
        let staking = self.staking_value();
        if staking.epoch_state == walrus_chain::contract::staking::EPOCH_CHANGE_SYNC {
            for node in 0..self.nodes.len() {
                let user = self.nodes[node].user;
                let tx = self.epoch_sync_done_tx(user, self.nodes[node].cap, staking.epoch);
                self.execute(user, tx).unwrap();
            }
        }
        let now = self.executor.timestamp_ms().unwrap();
        self.executor.set_timestamp_ms(now + EPOCH_MS / 2).unwrap();
        self.execute(0, self.voting_end_tx(0)).unwrap();
        self.executor.set_timestamp_ms(now + EPOCH_MS).unwrap();
        self.execute(0, self.epoch_change_tx(0)).unwrap()
    }

    /// `epoch_sync_done(staking, cap, epoch)` sent by `user` with the node capability `cap`.
    pub fn epoch_sync_done_tx(&self, user: usize, cap: Address, epoch: u32) -> TransactionBuilder {
        let mut tx = self.tx(user);
        let staking = tx.object(self.staking(true));
        let cap = tx.object(self.input(cap));
        let epoch = tx.pure(&epoch);
        call(
            &mut tx,
            "staking",
            "epoch_sync_done",
            vec![staking, cap, epoch],
        );
        tx
    }

    /// User 0 reserves storage for `data` (its encoded size) for `epochs` and registers `data`
    /// into it as a blob (`deletable` or not), paying with its WAL coin; the blob goes to
    /// user 0.
    pub fn reserve_and_register_tx(
        &self,
        data: &[u8],
        epochs: u32,
        deletable: bool,
    ) -> TransactionBuilder {
        let encoded_size =
            redstuff::encoded_blob_length(data.len() as u64, redstuff::RS2, N_SHARDS).unwrap();
        let mut tx = self.tx(0);
        let system = tx.object(self.system(true));
        let wal = tx.object(self.input(self.wal(0)));
        let size = tx.pure(&encoded_size);
        let epochs = tx.pure(&epochs);
        let storage = reserve_space(&mut tx, system, size, epochs, wal);
        let deletable = tx.pure(&deletable);
        let blob = register_blob(&mut tx, system, storage, data, deletable, wal);
        self.keep(&mut tx, 0, vec![blob]);
        tx
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
pub fn chain_config_from_health(health: &serde_json::Value) -> ChainConfig {
    ChainConfig::new(
        WAL_PACKAGE_ID,
        WALRUS_PACKAGE_ID,
        health["system_object"].as_str().unwrap().parse().unwrap(),
        health["staking_object"].as_str().unwrap().parse().unwrap(),
        health["initial_shared_version"].as_u64().unwrap(),
    )
}
