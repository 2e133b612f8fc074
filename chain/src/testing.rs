//! Fixtures for tests of the contracts' twin and for the Move test-vector generator (feature `testing`):
//! a committee of deterministic BLS keys that signs certificates as `certify_blob` and
//! `invalidate_blob_id` take them, the blob ID and root hash of test data, and a `System` with
//! a funded coin that registers and certifies blobs.

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
    sui::{Coin, TxContext, U256},
    system::System,
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

fn member_byte(i: usize) -> u8 {
    u8::try_from(i).expect("at most 256 test members")
}
