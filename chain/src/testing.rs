//! Fixtures for tests of the contracts' twin and for the Move test-vector generator (feature `testing`):
//! a committee of deterministic BLS keys that signs certificates as `certify_blob` and
//! `invalidate_blob_id` take them, the blob ID and root hash of test data, a `System` with
//! a funded coin that registers and certifies blobs, and a staking network (`StakingNetwork`)
//! that runs the epoch state machine and pays storage rewards from one wallet.

use fastcrypto::{
    bls12381::min_pk::BLS12381AggregateSignature,
    traits::{AggregateAuthenticator, ToFromBytes},
};
use walrus_core::{
    crypto::{signers_to_bitmap, ProtocolKeyPair},
    encoding::{compute_metadata, EncodingConfig},
    merkle::Node,
    messages::{BlobPersistenceType, Confirmation, ProtocolMessageKind},
    BlobId, ObjectId,
};

use crate::contract::{
    blob::Blob,
    bls_aggregate::{new_bls_committee, BlsCommittee, BlsCommitteeMember},
    redstuff,
    staking::{StakedWal, Staking, StorageNodeCap, EPOCH_CHANGE_SYNC},
    sui::{Clock, Coin, TxContext, U256},
    system::{System, BYTES_PER_UNIT_SIZE},
    MoveResult,
};

/// An aggregate-signature certificate in the three arguments `certify_blob` and
/// `invalidate_blob_id` take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The aggregate BLS signature (96 bytes).
    pub signature: Vec<u8>,
    /// The signers' bitmap over the committee members.
    pub bitmap: Vec<u8>,
    /// The BCS of the signed protocol message.
    pub message: Vec<u8>,
}

/// Committee members with deterministic keys: member `i` has the key of seed
/// `[seed_base + i; 32]`, the node ID `[i; 32]` and `weights[i]` shards.
#[derive(Debug)]
pub struct TestCommittee {
    keys: Vec<ProtocolKeyPair>,
    weights: Vec<u16>,
}

impl TestCommittee {
    /// One member per weight, keys from `seed_base`.
    pub fn new(seed_base: u8, weights: &[u16]) -> Self {
        let keys = (0..weights.len())
            .map(|i| ProtocolKeyPair::from_seed([seed_base + member_byte(i); 32]))
            .collect();
        Self {
            keys,
            weights: weights.to_vec(),
        }
    }

    /// The members' key pairs.
    pub fn keys(&self) -> &[ProtocolKeyPair] {
        &self.keys
    }

    /// The members' BLS public keys (48 bytes each).
    pub fn public_keys(&self) -> Vec<Vec<u8>> {
        self.keys
            .iter()
            .map(|key| key.public().as_bytes().to_vec())
            .collect()
    }

    /// The total number of shards.
    pub fn n_shards(&self) -> u16 {
        self.weights.iter().sum()
    }

    /// The committee as the contracts hold it, for `epoch`.
    pub fn bls_committee(&self, epoch: u32) -> BlsCommittee {
        let members = self
            .public_keys()
            .into_iter()
            .zip(&self.weights)
            .enumerate()
            .map(|(i, (public_key, weight))| BlsCommitteeMember {
                public_key,
                weight: *weight,
                node_id: ObjectId([member_byte(i); 32]),
            })
            .collect();
        new_bls_committee(epoch, members).expect("a valid test committee")
    }

    /// `message` signed by `signers`.
    pub fn sign<T: ProtocolMessageKind>(&self, message: &T, signers: &[u16]) -> Certificate {
        self.sign_as(message, signers, signers)
    }

    /// `message` signed by each of `signatures_of` (a member may sign twice), with the bitmap
    /// of `bitmap_of`: for certificates whose signature and bitmap disagree.
    pub fn sign_as<T: ProtocolMessageKind>(
        &self,
        message: &T,
        signatures_of: &[u16],
        bitmap_of: &[u16],
    ) -> Certificate {
        let bytes = message.to_bcs_bytes();
        let signatures: Vec<_> = signatures_of
            .iter()
            .map(|i| self.keys[usize::from(*i)].sign_bytes(&bytes))
            .collect();
        let signature =
            BLS12381AggregateSignature::aggregate(&signatures).expect("signatures to aggregate");
        Certificate {
            signature: signature.as_bytes().to_vec(),
            bitmap: signers_to_bitmap(bitmap_of, self.keys.len()).expect("signers in range"),
            message: bytes,
        }
    }
}

/// The blob ID and root hash of `data` encoded for `n_shards`, as `register_blob` takes them.
pub fn blob_ids(data: &[u8], n_shards: u16) -> (U256, U256) {
    let config = EncodingConfig::new(n_shards).expect("a valid shard count");
    let metadata = compute_metadata(&config, data).expect("encodable test data");
    let Node::Digest(root) = metadata.root_hash() else {
        panic!("a blob's pairs have a root");
    };
    (U256::from(*metadata.blob_id()), U256(root))
}

/// A `System` of a test committee, a funded coin and a transaction context (sender `[7; 32]`,
/// digest `[8; 32]`), as the Move tests' `setup`.
#[derive(Debug)]
pub struct SystemFixture {
    /// The committee whose keys sign certificates.
    pub committee: TestCommittee,
    /// The system object.
    pub system: System,
    /// The payer's coin (10^9 FROST, ID `[9; 32]`).
    pub coin: Coin,
    /// The transaction context of every call.
    pub ctx: TxContext,
}

impl SystemFixture {
    /// A system whose first committee is `committee` in `epoch`, with these capacity, prices
    /// and reach.
    pub fn new(
        committee: TestCommittee,
        epoch: u32,
        capacity: u64,
        price: u64,
        write_price: u64,
        max_epochs_ahead: u32,
    ) -> Self {
        let mut ctx = TxContext::new([7; 32], [8; 32]);
        let system = System::create(
            committee.bls_committee(epoch),
            capacity,
            price,
            write_price,
            max_epochs_ahead,
            &mut ctx,
        );
        let coin = Coin {
            id: ObjectId([9; 32]),
            balance: 1_000_000_000,
        };
        Self {
            committee,
            system,
            coin,
            ctx,
        }
    }

    /// Reserves storage for `data` (encoding type 1) for `epochs` and registers it.
    pub fn register(&mut self, data: &[u8], deletable: bool, epochs: u32) -> Blob {
        let n_shards = self.system.n_shards();
        let size = u64::try_from(data.len()).expect("test data fit in u64");
        let encoded =
            redstuff::encoded_blob_length(size, 1, n_shards).expect("encodable test data");
        let storage = self
            .system
            .reserve_space(encoded, epochs, &mut self.coin, &mut self.ctx)
            .expect("storage for test data");
        let (blob_id, root) = blob_ids(data, n_shards);
        self.system
            .register_blob(
                storage,
                blob_id,
                root,
                size,
                1,
                deletable,
                &mut self.coin,
                &mut self.ctx,
            )
            .expect("a registration of test data")
    }

    /// The committee's certificate of `blob`'s storage confirmation for `epoch`, signed by
    /// `signers`.
    pub fn confirmation_certificate(
        &self,
        blob: &Blob,
        signers: &[u16],
        epoch: u32,
    ) -> Certificate {
        let persistence = if blob.deletable {
            BlobPersistenceType::Deletable { object_id: blob.id }
        } else {
            BlobPersistenceType::Permanent
        };
        let message = Confirmation::for_blob(epoch, BlobId::from(blob.blob_id), persistence);
        self.committee.sign(&message, signers)
    }

    /// Certifies `blob` with `certificate`.
    pub fn certify_with(&mut self, blob: &mut Blob, certificate: &Certificate) -> MoveResult<()> {
        self.system.certify_blob(
            blob,
            &certificate.signature,
            &certificate.bitmap,
            &certificate.message,
            &mut self.ctx,
        )
    }
}

/// A staking network on the twin: `Staking` and `System` in epoch 0, a clock, `n_nodes`
/// registered candidates, and one wallet that pays every stake and storage fee and receives
/// every withdrawal and commission (so that `total_wal` is constant). Node `i` has the key of
/// seed `[50 + i; 32]`, registers from address `[i + 1; 32]` and votes a storage price of 1 FROST
/// per unit, a write price of 0 and a capacity of 2^40 bytes.
#[derive(Debug)]
pub struct StakingNetwork {
    /// The staking object.
    pub staking: Staking,
    /// The system object.
    pub system: System,
    /// The clock.
    pub clock: Clock,
    /// The nodes' capabilities, in registration order.
    pub caps: Vec<StorageNodeCap>,
    /// The nodes' BLS keys.
    pub keys: Vec<ProtocolKeyPair>,
    /// The wallet.
    pub wallet: Coin,
    /// The context of every call but registrations (sender `[0; 32]`).
    pub ctx: TxContext,
}

impl StakingNetwork {
    /// The network with `n_nodes` candidates of commission `commission_rate`, `n_shards`
    /// shards, epochs of `epoch_duration_ms` and a wallet of `wallet` FROST.
    pub fn new(
        n_nodes: usize,
        n_shards: u16,
        epoch_duration_ms: u64,
        commission_rate: u16,
        wallet: u64,
    ) -> Self {
        let mut ctx = TxContext::new([0; 32], [0; 32]);
        let clock = Clock { timestamp_ms: 0 };
        let mut staking = Staking::create(n_shards, epoch_duration_ms, &clock, &mut ctx);
        let empty = new_bls_committee(0, Vec::new()).expect("the empty committee");
        let system = System::create(empty, 0, 0, 0, 10, &mut ctx);
        let keys: Vec<ProtocolKeyPair> = (0..n_nodes)
            .map(|i| ProtocolKeyPair::from_seed([50 + member_byte(i); 32]))
            .collect();
        let caps = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let sender = Self::node_sender(i);
                let mut node_ctx = TxContext::new(sender, [member_byte(i); 32]);
                staking
                    .register_candidate(
                        format!("node-{i}"),
                        format!("127.0.0.1:{}", 9000 + i),
                        key.public().as_bytes().to_vec(),
                        vec![0; 33],
                        key.proof_of_possession(sender, 0).as_bytes().to_vec(),
                        commission_rate,
                        1,
                        0,
                        1 << 40,
                        &mut node_ctx,
                    )
                    .expect("a valid candidate")
            })
            .collect();
        let wallet = Coin {
            id: ObjectId([0xcc; 32]),
            balance: wallet,
        };
        Self {
            staking,
            system,
            clock,
            caps,
            keys,
            wallet,
            ctx,
        }
    }

    /// The address node `i` registers from (and sends its operator calls from).
    pub fn node_sender(i: usize) -> [u8; 32] {
        [member_byte(i) + 1; 32]
    }

    /// Stakes `amount` FROST of the wallet with node `node`.
    pub fn stake(&mut self, node: usize, amount: u64) -> MoveResult<StakedWal> {
        let coin = self.wallet.split(amount, &mut self.ctx)?;
        let node_id = self.caps[node].node_id;
        match self.staking.stake_with_pool(coin, node_id, &mut self.ctx) {
            Ok(staked) => Ok(staked),
            Err(abort) => {
                self.wallet.balance += amount;
                Err(abort)
            }
        }
    }

    /// Withdraws `staked` into the wallet; returns the amount.
    pub fn withdraw(&mut self, staked: StakedWal) -> MoveResult<u64> {
        let coin = self.staking.withdraw_stake(staked, &mut self.ctx)?;
        let amount = coin.value();
        self.wallet.join(coin);
        Ok(amount)
    }

    /// Collects node `node`'s commission into the wallet; returns the amount.
    pub fn collect_commission(&mut self, node: usize) -> MoveResult<u64> {
        let coin = self
            .staking
            .collect_commission(&self.caps[node], &mut self.ctx)?;
        let amount = coin.value();
        self.wallet.join(coin);
        Ok(amount)
    }

    /// Moves the clock to at least `timestamp_ms`.
    fn clock_at_least(&mut self, timestamp_ms: u64) {
        self.clock.timestamp_ms = self.clock.timestamp_ms.max(timestamp_ms);
    }

    /// `voting_end`, with the clock moved to the middle of the epoch if it is earlier.
    pub fn voting_end(&mut self) -> MoveResult<()> {
        let half = self.staking.epoch_start_ms + self.staking.epoch_duration_ms / 2;
        self.clock_at_least(half);
        self.staking.voting_end(&self.clock, &mut self.ctx)
    }

    /// `initiate_epoch_change`, with the clock moved to the end of the epoch if it is earlier.
    pub fn initiate(&mut self) -> MoveResult<()> {
        let end = self.staking.epoch_start_ms + self.staking.epoch_duration_ms;
        self.clock_at_least(end);
        self.staking
            .initiate_epoch_change(&mut self.system, &self.clock, &mut self.ctx)
    }

    /// `epoch_sync_done` of node `node` for the current epoch.
    pub fn sync(&mut self, node: usize) -> MoveResult<()> {
        let epoch = self.staking.epoch;
        self.staking
            .epoch_sync_done(&mut self.caps[node], epoch, &mut self.ctx)
    }

    /// The next epoch: every node that has not synced yet syncs (if the epoch change is still
    /// syncing), then `voting_end` and `initiate_epoch_change`.
    pub fn next_epoch(&mut self) -> MoveResult<()> {
        if self.staking.epoch_state == EPOCH_CHANGE_SYNC {
            for node in 0..self.caps.len() {
                if self.caps[node].last_epoch_sync_done < self.staking.epoch {
                    self.sync(node)?;
                }
            }
        }
        self.voting_end()?;
        self.initiate()
    }

    /// Buys `units` storage units for the current epoch from the wallet: at the price of 1
    /// FROST per unit that the nodes vote, `units` FROST of rewards for the current epoch's
    /// committee.
    pub fn pay_storage(&mut self, units: u64) -> MoveResult<()> {
        self.system
            .reserve_space(
                units * BYTES_PER_UNIT_SIZE,
                1,
                &mut self.wallet,
                &mut self.ctx,
            )
            .map(drop)
    }

    /// All the WAL of the network: the wallet, the pools (staked and commission) and the
    /// system's rewards pool.
    pub fn total_wal(&self) -> u64 {
        let pools: u64 = self
            .staking
            .pools
            .iter()
            .map(|pool| pool.wal_balance + pool.commission)
            .sum();
        self.wallet.value() + pools + self.system.rewards_pool
    }
}

fn member_byte(i: usize) -> u8 {
    u8::try_from(i).expect("at most 256 test members")
}
