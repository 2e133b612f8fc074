//! Generates `contracts/walrus/tests/test_vectors.move`, the vectors the Move unit tests need
//! and cannot compute themselves: BLS public keys and aggregate signatures (deterministic:
//! keys from fixed seeds, BLS signing is deterministic), blob IDs and root hashes from the Rust
//! encoder, and encoded lengths. Every vector is first run through the Rust twin
//! (`walrus-chain`) with the outcome the Move test expects, so a vector that the twin would
//! not accept (or reject) the same way is never written.
//!
//! ```text
//! cargo run -p walrus-move-test-vectors            # print
//! cargo run -p walrus-move-test-vectors -- --write # regenerate the file
//! cargo run -p walrus-move-test-vectors -- --check # verify the file
//! ```

use std::{fmt::Write as _, path::PathBuf, process::ExitCode};

use fastcrypto::traits::ToFromBytes;
use walrus_chain::contract::{
    blob::Blob,
    bls_aggregate::{self, new_bls_committee},
    init, messages as twin_messages, redstuff,
    staking::{self, Staking, StorageNodeCap},
    sui::{Clock, Coin, TxContext, U256},
    system::{self, System},
    Abort,
};
use walrus_chain::testing::{blob_ids, Certificate, SystemFixture, TestCommittee};
use walrus_core::{
    crypto::{verify_proof_of_possession, ProtocolKeyPair},
    encoding::EncodingConfig,
    messages::{
        BlobPersistenceType, Confirmation, InvalidBlobIdMsg, ProofOfPossessionMsg,
        ProtocolMessageKind,
    },
    BlobId, ObjectId,
};

/// Shards of the four committee members (as `chain/tests/integration/system_lifecycle.rs`).
const WEIGHTS: [u16; 4] = [1, 2, 3, 4];
/// Seed of member `i`'s BLS key: `[KEY_SEED_BASE + i; 32]`.
const KEY_SEED_BASE: u8 = 10;
/// The committee's (and the system's first) epoch.
const EPOCH: u32 = 1;
/// Shards of the committee (sum of `WEIGHTS`).
const N_SHARDS: u16 = 10;
/// System parameters of the fixture.
const CAPACITY: u64 = 1 << 30;
const PRICE: u64 = 100;
const WRITE_PRICE: u64 = 7;
const MAX_EPOCHS_AHEAD: u32 = 10;
/// Digest of the test transaction that registers the deletable blob `hello walrus`; the blob is
/// the first object it creates, so its ID is `blake2b256(0xf1 || digest || 0u64 LE)`.
const HELLO_TX_DIGEST: [u8; 32] = [0x0b; 32];
/// An object ID that is no blob's, for certificates naming the wrong `Blob` object.
const OTHER_OBJECT_ID: [u8; 32] = [0x42; 32];
/// The blob ID of the invalid-blob-ID certificates.
const INVALID_BLOB_ID: [u8; 32] = [5; 32];

/// Storage-node candidates of `staking_tests` (as `chain/tests/integration/staking.rs`): node `i` has the
/// key of seed `[NODE_KEY_SEED_BASE + i; 32]` and registers from the address `[i + 1; 32]`.
const N_NODES: usize = 5;
const NODE_KEY_SEED_BASE: u8 = 50;
/// The candidate of `staking_tests`' proof-of-possession tests, its address and another one.
const CANDIDATE_KEY_SEED: [u8; 32] = [9; 32];
const CANDIDATE_SENDER: [u8; 32] = [6; 32];
const OTHER_SENDER: [u8; 32] = [7; 32];
/// `staking_tests`' network: shards, epoch duration, votes of node `i` (storage price
/// `10 * (i + 1)`, write price 5, capacity 2^40) and commission.
const STAKING_N_SHARDS: u16 = 100;
const EPOCH_MS: u64 = 1000;
const NODE_WRITE_PRICE: u64 = 5;
const NODE_CAPACITY: u64 = 1 << 40;
const NODE_COMMISSION: u16 = 100;

/// The blobs the Move tests register: (name, contents).
const BLOBS: [(&str, &[u8]); 7] = [
    ("hello", b"hello walrus"),
    ("some_bytes", b"some bytes"),
    ("certify_me", b"certify me"),
    ("another_blob", b"another blob"),
    ("too_late", b"too late"),
    ("permanent", b"permanent"),
    ("uncertified", b"uncertified"),
];

/// Collects the generated Move source.
struct Move(String);

impl Move {
    fn line(&mut self, line: &str) {
        self.0.push_str(line);
        self.0.push('\n');
    }

    fn section(&mut self, title: &str) {
        self.line("");
        self.line(&format!("// === {title} ==="));
        self.line("");
    }

    fn bytes(&mut self, name: &str, bytes: &[u8]) {
        self.line(&format!(
            "public fun {name}(): vector<u8> {{ x\"{}\" }}",
            hex::encode(bytes)
        ));
    }

    fn byte_vectors(&mut self, name: &str, vectors: &[Vec<u8>]) {
        self.line(&format!("public fun {name}(): vector<vector<u8>> {{"));
        self.line("    vector[");
        for bytes in vectors {
            self.line(&format!("        x\"{}\",", hex::encode(bytes)));
        }
        self.line("    ]");
        self.line("}");
    }

    /// A `u256` whose BCS (little-endian) bytes are `le`.
    fn u256(&mut self, name: &str, le: &[u8; 32]) {
        let mut be = *le;
        be.reverse();
        self.line(&format!(
            "public fun {name}(): u256 {{ 0x{} }}",
            hex::encode(be)
        ));
    }

    fn u64(&mut self, name: &str, value: u64) {
        self.line(&format!("public fun {name}(): u64 {{ {value} }}"));
    }

    fn addresses(&mut self, name: &str, addresses: &[[u8; 32]]) {
        self.line(&format!("public fun {name}(): vector<address> {{"));
        self.line("    vector[");
        for bytes in addresses {
            self.line(&format!("        @0x{},", hex::encode(bytes)));
        }
        self.line("    ]");
        self.line("}");
    }

    fn address(&mut self, name: &str, bytes: &[u8; 32]) {
        self.line(&format!(
            "public fun {name}(): address {{ @0x{} }}",
            hex::encode(bytes)
        ));
    }

    fn certificate(&mut self, name: &str, certificate: &Certificate) {
        self.bytes(&format!("{name}_signature"), &certificate.signature);
        self.bytes(&format!("{name}_bitmap"), &certificate.bitmap);
        self.bytes(&format!("{name}_message"), &certificate.message);
    }
}

/// The committee of the Move tests: member `i` has the key of seed `[KEY_SEED_BASE + i; 32]`.
fn keys() -> TestCommittee {
    TestCommittee::new(KEY_SEED_BASE, &WEIGHTS)
}

/// (blob ID, root hash) of `data` on `N_SHARDS` shards.
fn ids(data: &[u8]) -> (U256, U256) {
    blob_ids(data, N_SHARDS)
}

fn confirmation(epoch: u32, blob_id: U256, persistence: BlobPersistenceType) -> Confirmation {
    Confirmation::for_blob(epoch, BlobId::from(blob_id), persistence)
}

/// The twin's fixture, as the Move tests' `setup`.
fn fixture() -> SystemFixture {
    SystemFixture::new(
        keys(),
        EPOCH,
        CAPACITY,
        PRICE,
        WRITE_PRICE,
        MAX_EPOCHS_AHEAD,
    )
}

/// Advances the fixture's system to the next epoch with the same committee.
fn advance_epoch(f: &mut SystemFixture) {
    let next = f.committee.bls_committee(f.system.epoch() + 1);
    f.system
        .advance_epoch(next, CAPACITY, PRICE, WRITE_PRICE)
        .unwrap();
}

fn generate() -> String {
    let keys = keys();
    let mut out = Move(String::new());
    out.line(
        "// Generated by `cargo run -p walrus-move-test-vectors -- --write` from walrus-core (BLS",
    );
    out.line("// keys from fixed seeds, the Rust RS2 encoder) and checked against the Rust twin");
    out.line("// (walrus-chain) before being written. Do not edit by hand.");
    out.line("#[test_only]");
    out.line("module walrus::test_vectors;");

    // --- Committee ---
    out.section(
        "Committee: member i has the key of seed [10 + i; 32], weight i + 1, node ID [i; 32]",
    );
    out.line(&format!("public fun committee_epoch(): u32 {{ {EPOCH} }}"));
    out.byte_vectors("public_keys", &keys.public_keys());
    out.line("public fun weights(): vector<u16> { vector[1, 2, 3, 4] }");
    let node_ids: Vec<[u8; 32]> = (0..WEIGHTS.len())
        .map(|i| [u8::try_from(i).unwrap(); 32])
        .collect();
    out.addresses("node_ids", &node_ids);

    // --- Blobs ---
    out.section(
        "Blobs: blob ID and root hash from the Rust encoder (10 shards), size, encoded length",
    );
    let mut blob_ids = std::collections::BTreeMap::new();
    for (name, data) in BLOBS {
        let (blob_id, root) = ids(data);
        let size = u64::try_from(data.len()).unwrap();
        let encoded = redstuff::encoded_blob_length(size, 1, N_SHARDS).unwrap();
        assert_eq!(
            Some(encoded),
            EncodingConfig::new(N_SHARDS)
                .unwrap()
                .encoded_blob_length(size)
        );
        out.line(&format!("// {:?}", String::from_utf8_lossy(data)));
        out.u256(&format!("{name}_blob_id"), &blob_id.0);
        out.u256(&format!("{name}_root_hash"), &root.0);
        out.u64(&format!("{name}_size"), size);
        out.u64(&format!("{name}_encoded_length"), encoded);
        blob_ids.insert(name, blob_id);
    }

    // --- Object IDs ---
    let mut hello_ctx = TxContext::new([0x0a; 32], HELLO_TX_DIGEST);
    let hello_object_id = hello_ctx.fresh_id();
    out.section(
        "Object IDs: the first object created by a transaction with digest hello_tx_digest()",
    );
    out.bytes("hello_tx_digest", &HELLO_TX_DIGEST);
    out.address("hello_object_id", &hello_object_id.0);
    out.address("other_object_id", &OTHER_OBJECT_ID);

    // --- Certificates, checked against the twin ---
    let hello = blob_ids["hello"];
    let certify_me = blob_ids["certify_me"];
    let another = blob_ids["another_blob"];
    let too_late = blob_ids["too_late"];
    let permanent = blob_ids["permanent"];
    let perm = BlobPersistenceType::Permanent;
    let deletable = |id: [u8; 32]| BlobPersistenceType::Deletable {
        object_id: ObjectId(id),
    };

    // bls_aggregate tests: a confirmation of blob [1; 32].
    let twin_committee = keys.bls_committee(EPOCH);
    let bls_message = confirmation(EPOCH, U256([1; 32]), perm);
    let bls_23 = keys.sign(&bls_message, &[2, 3]);
    let bls_13 = keys.sign(&bls_message, &[1, 3]);
    let bls_epoch2_23 = keys.sign(&confirmation(EPOCH + 1, U256([1; 32]), perm), &[2, 3]);
    let certified = twin_committee
        .verify_quorum_in_epoch(&bls_23.signature, &bls_23.bitmap, &bls_23.message)
        .unwrap();
    assert_eq!(certified.stake_support, 7);
    assert_eq!(
        twin_committee.verify_quorum_in_epoch(&bls_13.signature, &bls_13.bitmap, &bls_13.message),
        Err(bls_aggregate::E_NOT_ENOUGH_STAKE)
    );
    let one_correct = twin_committee
        .verify_one_correct_node_in_epoch(&bls_13.signature, &bls_13.bitmap, &bls_13.message)
        .unwrap();
    assert_eq!(one_correct.stake_support, 6);
    assert_eq!(
        twin_committee.verify_quorum_in_epoch(&bls_13.signature, &[0b1110], &bls_13.message),
        Err(bls_aggregate::E_SIG_VERIFICATION)
    );
    assert_eq!(
        twin_committee.verify_quorum_in_epoch(
            &bls_epoch2_23.signature,
            &bls_epoch2_23.bitmap,
            &bls_epoch2_23.message
        ),
        Err(twin_messages::E_INCORRECT_EPOCH)
    );

    // system tests.
    let hello_deletable_23 = keys.sign(
        &confirmation(EPOCH, hello, deletable(hello_object_id.0)),
        &[2, 3],
    );
    let hello_permanent_23 = keys.sign(&confirmation(EPOCH, hello, perm), &[2, 3]);
    let hello_other_object_23 = keys.sign(
        &confirmation(EPOCH, hello, deletable(OTHER_OBJECT_ID)),
        &[2, 3],
    );
    let certify_me_23 = keys.sign(&confirmation(EPOCH, certify_me, perm), &[2, 3]);
    let certify_me_023 = keys.sign(&confirmation(EPOCH, certify_me, perm), &[0, 2, 3]);
    let certify_me_epoch2_23 = keys.sign(&confirmation(EPOCH + 1, certify_me, perm), &[2, 3]);
    let certify_me_deletable_23 = keys.sign(
        &confirmation(EPOCH, certify_me, deletable(OTHER_OBJECT_ID)),
        &[2, 3],
    );
    // Member 3's signature aggregated twice with member 2's, bitmap {2, 3}.
    let certify_me_duplicate =
        keys.sign_as(&confirmation(EPOCH, certify_me, perm), &[2, 3, 3], &[2, 3]);
    let another_blob_23 = keys.sign(&confirmation(EPOCH, another, perm), &[2, 3]);
    let too_late_epoch2_23 = keys.sign(&confirmation(EPOCH + 1, too_late, perm), &[2, 3]);
    let permanent_23 = keys.sign(&confirmation(EPOCH, permanent, perm), &[2, 3]);
    let invalid_message = InvalidBlobIdMsg::new(EPOCH, BlobId(INVALID_BLOB_ID));
    let invalid_3 = keys.sign(&invalid_message, &[3]);
    let invalid_2 = keys.sign(&invalid_message, &[2]);
    let confirmation_3 = keys.sign(&confirmation(EPOCH, U256(INVALID_BLOB_ID), perm), &[3]);

    {
        // full_life_cycle: the deletable blob registered in the hello transaction.
        let mut f = fixture();
        let data = BLOBS[0].1;
        let size = u64::try_from(data.len()).unwrap();
        let encoded = redstuff::encoded_blob_length(size, 1, N_SHARDS).unwrap();
        let storage = f
            .system
            .reserve_space(encoded, 3, &mut f.coin, &mut f.ctx)
            .unwrap();
        let (blob_id, root) = ids(data);
        let mut hello_ctx = TxContext::new([0x0a; 32], HELLO_TX_DIGEST);
        let mut blob = f
            .system
            .register_blob(
                storage,
                blob_id,
                root,
                size,
                1,
                true,
                &mut f.coin,
                &mut hello_ctx,
            )
            .unwrap();
        assert_eq!(blob.id, hello_object_id);
        assert_eq!(
            f.certify_with(&mut blob.clone(), &hello_permanent_23),
            Err(system::E_INVALID_BLOB_PERSISTENCE_TYPE)
        );
        assert_eq!(
            f.certify_with(&mut blob.clone(), &hello_other_object_23),
            Err(system::E_INVALID_BLOB_PERSISTENCE_TYPE)
        );
        f.certify_with(&mut blob, &hello_deletable_23).unwrap();
        assert_eq!(blob.certified_epoch, Some(EPOCH));
    }
    {
        // certify aborts on a permanent blob.
        let mut f = fixture();
        let mut blob = f.register(b"certify me", false, 2);
        let c =
            |f: &mut SystemFixture, blob: &mut Blob, cert: &Certificate| f.certify_with(blob, cert);
        assert_eq!(
            c(&mut f, &mut blob, &certify_me_epoch2_23),
            Err(twin_messages::E_INCORRECT_EPOCH)
        );
        assert_eq!(
            c(&mut f, &mut blob, &certify_me_duplicate),
            Err(bls_aggregate::E_SIG_VERIFICATION)
        );
        let forged = Certificate {
            signature: another_blob_23.signature.clone(),
            bitmap: another_blob_23.bitmap.clone(),
            message: certify_me_23.message.clone(),
        };
        assert_eq!(
            c(&mut f, &mut blob, &forged),
            Err(bls_aggregate::E_SIG_VERIFICATION)
        );
        assert_eq!(
            c(&mut f, &mut blob, &another_blob_23),
            Err(system::E_INVALID_BLOB_ID)
        );
        assert_eq!(
            c(&mut f, &mut blob, &certify_me_deletable_23),
            Err(system::E_INVALID_BLOB_PERSISTENCE_TYPE)
        );
        c(&mut f, &mut blob, &certify_me_023).unwrap();
        assert_eq!(
            c(&mut f, &mut blob, &certify_me_23),
            Err(system::E_ALREADY_CERTIFIED)
        );
        let mut fresh = f.register(b"certify me", false, 2);
        c(&mut f, &mut fresh, &certify_me_23).unwrap();
        // Expired before certification.
        let mut late = f.register(b"too late", false, 1);
        advance_epoch(&mut f);
        assert_eq!(
            c(&mut f, &mut late, &too_late_epoch2_23),
            Err(system::E_BLOB_EXPIRED)
        );
    }
    {
        let mut f = fixture();
        let mut blob = f.register(b"permanent", false, 2);
        f.certify_with(&mut blob, &permanent_23).unwrap();
        let run = |cert: &Certificate, f: &mut SystemFixture| {
            f.system
                .invalidate_blob_id(&cert.signature, &cert.bitmap, &cert.message, &mut f.ctx)
        };
        assert_eq!(run(&invalid_3, &mut f), Ok(U256(INVALID_BLOB_ID)));
        assert_eq!(
            run(&invalid_2, &mut f),
            Err(bls_aggregate::E_NOT_ENOUGH_STAKE)
        );
        assert_eq!(
            run(&confirmation_3, &mut f),
            Err(twin_messages::E_INVALID_MSG_TYPE)
        );
    }

    out.section("Certificates (signature, signer bitmap, message) by the committee above");
    out.line(
        "// Confirmation of blob [1; 32], permanent, epoch 1: by members {2, 3} (7 shards) and",
    );
    out.line("// {1, 3} (6 shards); epoch 2 by {2, 3}.");
    out.certificate("bls_23", &bls_23);
    out.certificate("bls_13", &bls_13);
    out.certificate("bls_epoch2_23", &bls_epoch2_23);
    out.line("// Confirmations of hello (deletable, object hello_object_id / other_object_id; permanent).");
    out.certificate("hello_deletable_23", &hello_deletable_23);
    out.certificate("hello_permanent_23", &hello_permanent_23);
    out.certificate("hello_other_object_23", &hello_other_object_23);
    out.line(
        "// Confirmations of certify_me: permanent by {2, 3} and {0, 2, 3}; for epoch 2; deletable",
    );
    out.line("// (other_object_id); member 3's signature aggregated twice (bitmap {2, 3}).");
    out.certificate("certify_me_23", &certify_me_23);
    out.certificate("certify_me_023", &certify_me_023);
    out.certificate("certify_me_epoch2_23", &certify_me_epoch2_23);
    out.certificate("certify_me_deletable_23", &certify_me_deletable_23);
    out.certificate("certify_me_duplicate", &certify_me_duplicate);
    out.line(
        "// Permanent confirmations: another_blob and permanent (epoch 1), too_late (epoch 2).",
    );
    out.certificate("another_blob_23", &another_blob_23);
    out.certificate("permanent_23", &permanent_23);
    out.certificate("too_late_epoch2_23", &too_late_epoch2_23);
    out.line(
        "// Invalid blob ID [5; 32], epoch 1: by {3} (4 shards) and {2} (3 shards); a storage",
    );
    out.line("// confirmation of the same ID by {3}.");
    out.u256("invalid_blob_id", &INVALID_BLOB_ID);
    out.certificate("invalid_3", &invalid_3);
    out.certificate("invalid_2", &invalid_2);
    out.certificate("confirmation_3", &confirmation_3);

    // --- Messages ---
    out.section("Messages");
    let core_confirmation = Confirmation::for_blob(
        5,
        BlobId([7; 32]),
        BlobPersistenceType::Deletable {
            object_id: ObjectId([9; 32]),
        },
    )
    .to_bcs_bytes();
    let parsed = twin_messages::certify_blob_message(
        twin_messages::new_certified_message(&core_confirmation, 5, 10).unwrap(),
    )
    .unwrap();
    assert_eq!(parsed.blob_id, U256([7; 32]));
    out.line("// Confirmation::for_blob(5, BlobId([7; 32]), Deletable { object_id: [9; 32] }).");
    out.bytes("core_confirmation", &core_confirmation);
    let pop_key = ProtocolKeyPair::from_seed([3; 32]);
    let pop_address = [8u8; 32];
    let pop_message =
        ProofOfPossessionMsg::for_key(4, pop_address, pop_key.public().clone()).to_bcs_bytes();
    assert_eq!(
        twin_messages::proof_of_possession_bytes(4, &pop_address, pop_key.public().as_bytes()),
        pop_message
    );
    let pop_signature = pop_key.proof_of_possession(pop_address, 4);
    verify_proof_of_possession(&pop_address, pop_key.public(), 4, &pop_signature).unwrap();
    out.line("// Proof of possession of the key of seed [3; 32] for address [8; 32] in epoch 4.");
    out.bytes("pop_public_key", pop_key.public().as_bytes());
    out.address("pop_address", &pop_address);
    out.bytes("pop_message", &pop_message);
    out.bytes("pop_signature", pop_signature.as_bytes());

    staking_vectors(&mut out);

    // --- Redstuff ---
    out.section(
        "Encoded lengths from the Rust encoder: [n_shards, unencoded length, encoded length]",
    );
    out.line("public fun encoded_lengths(): vector<vector<u64>> {");
    out.line("    vector[");
    for n in [1u16, 4, 7, 10, 100, 1000] {
        let config = EncodingConfig::new(n).unwrap();
        for size in [0u64, 1, 2, 100, 65_537, 1_000_000] {
            if let Some(expected) = config.encoded_blob_length(size) {
                assert_eq!(redstuff::encoded_blob_length(size, 1, n), Ok(expected));
                let mut row = String::new();
                write!(row, "        vector[{n}, {size}, {expected}],").unwrap();
                out.line(&row);
            }
        }
    }
    out.line("    ]");
    out.line("}");
    out.0
}

/// The storage-node candidates of `staking_tests`: key `i` of seed `[NODE_KEY_SEED_BASE + i; 32]`.
fn node_key(i: usize) -> ProtocolKeyPair {
    ProtocolKeyPair::from_seed([NODE_KEY_SEED_BASE + u8::try_from(i).unwrap(); 32])
}

fn node_sender(i: usize) -> [u8; 32] {
    [u8::try_from(i).unwrap() + 1; 32]
}

/// The twin's network of `staking_tests::network`: `n_nodes` candidates registered in epoch 0
/// with the generated proofs of possession (name `node-i`, address `127.0.0.1:900i`, a zero
/// network key of 33 bytes, the votes and commission above).
struct Network {
    staking: Staking,
    system: System,
    clock: Clock,
    caps: Vec<StorageNodeCap>,
    ctx: TxContext,
}

impl Network {
    fn new(n_nodes: usize, pops: &[Vec<u8>]) -> Self {
        let mut ctx = TxContext::new([0; 32], [0; 32]);
        let clock = Clock { timestamp_ms: 0 };
        let mut staking = Staking::create(STAKING_N_SHARDS, EPOCH_MS, &clock, &mut ctx);
        let empty = new_bls_committee(0, Vec::new()).unwrap();
        let system = System::create(empty, 0, 0, 0, MAX_EPOCHS_AHEAD, &mut ctx);
        let caps = (0..n_nodes)
            .map(|i| {
                let mut ctx = TxContext::new(node_sender(i), [u8::try_from(i).unwrap(); 32]);
                staking
                    .register_candidate(
                        format!("node-{i}"),
                        format!("127.0.0.1:{}", 9000 + i),
                        node_key(i).public().as_bytes().to_vec(),
                        vec![0; 33],
                        pops[i].clone(),
                        NODE_COMMISSION,
                        10 * (u64::try_from(i).unwrap() + 1),
                        NODE_WRITE_PRICE,
                        NODE_CAPACITY,
                        &mut ctx,
                    )
                    .unwrap()
            })
            .collect();
        Self {
            staking,
            system,
            clock,
            caps,
            ctx,
        }
    }

    fn stake(&mut self, node: usize, amount: u64) -> staking::StakedWal {
        let coin = Coin {
            id: ObjectId([0xcc; 32]),
            balance: amount,
        };
        self.staking
            .stake_with_pool(coin, self.caps[node].node_id, &mut self.ctx)
            .unwrap()
    }

    /// `staking_tests::voting_end`: the clock to half of the epoch (if earlier), `voting_end`.
    fn voting_end(&mut self) -> Result<(), Abort> {
        let half = self.staking.epoch_start_ms + EPOCH_MS / 2;
        self.clock.timestamp_ms = self.clock.timestamp_ms.max(half);
        self.staking.voting_end(&self.clock, &mut self.ctx)
    }

    /// `staking_tests::initiate`: the clock to the end of the epoch (if earlier), the epoch
    /// change.
    fn initiate(&mut self) -> Result<(), Abort> {
        let end = self.staking.epoch_start_ms + EPOCH_MS;
        self.clock.timestamp_ms = self.clock.timestamp_ms.max(end);
        self.staking
            .initiate_epoch_change(&mut self.system, &self.clock, &mut self.ctx)
    }

    /// `staking_tests::next_epoch`: if the epoch change is syncing, every node that has not
    /// reported reports; then `voting_end` and `initiate_epoch_change`.
    fn next_epoch(&mut self) -> Result<(), Abort> {
        if self.staking.epoch_state == staking::EPOCH_CHANGE_SYNC {
            let epoch = self.staking.epoch;
            for cap in &mut self.caps {
                if cap.last_epoch_sync_done < epoch {
                    self.staking.epoch_sync_done(cap, epoch, &mut self.ctx)?;
                }
            }
        }
        self.voting_end()?;
        self.initiate()
    }

    /// `staking_tests::pay`: buys `mib` MiB of storage for the current epoch (rewards for its
    /// committee at the current price).
    fn pay(&mut self, mib: u64) {
        let mut payment = Coin {
            id: ObjectId([0xdd; 32]),
            balance: 1_000_000_000,
        };
        self.system
            .reserve_space(mib << 20, 1, &mut payment, &mut self.ctx)
            .unwrap();
    }

    fn withdraw(&mut self, staked: staking::StakedWal) -> Result<u64, Abort> {
        self.staking
            .withdraw_stake(staked, &mut self.ctx)
            .map(|coin| coin.balance)
    }

    fn collect(&mut self, node: usize) -> u64 {
        let cap = self.caps[node].clone();
        self.staking
            .collect_commission(&cap, &mut self.ctx)
            .unwrap()
            .balance
    }
}

/// The proofs of possession of `staking_tests` (and `init_tests`), each run through the twin's
/// `register_candidate` with the outcome the Move test expects, and the twin's results for the
/// values the Move tests assert.
fn staking_vectors(out: &mut Move) {
    let node_pops: Vec<Vec<u8>> = (0..N_NODES)
        .map(|i| {
            node_key(i)
                .proof_of_possession(node_sender(i), 0)
                .as_bytes()
                .to_vec()
        })
        .collect();
    let candidate = ProtocolKeyPair::from_seed(CANDIDATE_KEY_SEED);
    let candidate_key = candidate.public().as_bytes().to_vec();
    let candidate_pop = candidate
        .proof_of_possession(CANDIDATE_SENDER, 0)
        .as_bytes()
        .to_vec();
    let candidate_pop_epoch_1 = candidate
        .proof_of_possession(CANDIDATE_SENDER, 1)
        .as_bytes()
        .to_vec();
    let candidate_pop_other_sender = candidate
        .proof_of_possession(OTHER_SENDER, 0)
        .as_bytes()
        .to_vec();

    // Every node registers (`Network::new` unwraps).
    let all = Network::new(N_NODES, &node_pops);
    assert_eq!(all.staking.pools.len(), N_NODES);

    // candidates_need_a_valid_proof_of_possession and its abort tests, in epoch 0.
    let register = |staking: &mut Staking, key: &[u8], pop: &[u8], commission: u16, hint: u8| {
        let mut ctx = TxContext::new(CANDIDATE_SENDER, [hint; 32]);
        staking.register_candidate(
            "candidate".into(),
            "127.0.0.1:9100".into(),
            key.to_vec(),
            Vec::new(),
            pop.to_vec(),
            commission,
            1,
            1,
            1,
            &mut ctx,
        )
    };
    let invalid = Err(staking::E_INVALID_PROOF_OF_POSSESSION);
    let mut one = Network::new(1, &node_pops);
    let s = &mut one.staking;
    assert_eq!(
        register(s, &candidate_key, &candidate_pop_other_sender, 0, 0x21).map(|_| ()),
        invalid
    );
    assert_eq!(
        register(s, &candidate_key, &[1; 96], 0, 0x22).map(|_| ()),
        invalid
    );
    assert_eq!(
        register(s, &[0; 48], &candidate_pop, 0, 0x23).map(|_| ()),
        invalid
    );
    assert_eq!(
        register(s, &candidate_key, &candidate_pop_epoch_1, 0, 0x24).map(|_| ()),
        invalid
    );
    assert_eq!(
        register(s, &candidate_key, &candidate_pop, 10_001, 0x25).map(|_| ()),
        Err(staking::E_COMMISSION_TOO_HIGH)
    );
    register(s, &candidate_key, &candidate_pop, 10_000, 0x26).unwrap();
    assert_eq!(
        register(s, &candidate_key, &candidate_pop, 0, 0x27).map(|_| ()),
        Err(staking::E_DUPLICATE_NODE)
    );
    assert_eq!(s.pools.len(), 2);

    // proofs_of_possession_are_for_one_epoch: in epoch 1, the epoch-0 proof fails and the
    // epoch-1 one registers.
    let mut one = Network::new(1, &node_pops);
    one.stake(0, 1);
    one.next_epoch().unwrap();
    let s = &mut one.staking;
    assert_eq!(s.epoch, 1);
    assert_eq!(
        register(s, &candidate_key, &candidate_pop, 0, 0x28).map(|_| ()),
        invalid
    );
    register(s, &candidate_key, &candidate_pop_epoch_1, 0, 0x29).unwrap();

    // the_epoch_state_machine (3 nodes) and its aborts.
    let mut three = Network::new(3, &node_pops);
    assert_eq!(three.voting_end(), Err(staking::E_NO_STAKE));
    assert_eq!(three.initiate(), Err(staking::E_WRONG_EPOCH_STATE));
    let mut early = Network::new(3, &node_pops);
    early.stake(0, 100);
    let before_half = Clock {
        timestamp_ms: EPOCH_MS / 2 - 1,
    };
    assert_eq!(
        early.staking.voting_end(&before_half, &mut early.ctx),
        Err(staking::E_VOTING_NOT_OVER)
    );
    early.voting_end().unwrap();
    let before_end = Clock {
        timestamp_ms: EPOCH_MS - 1,
    };
    assert_eq!(
        early
            .staking
            .initiate_epoch_change(&mut early.system, &before_end, &mut early.ctx),
        Err(staking::E_EPOCH_NOT_OVER)
    );
    let mut three = Network::new(3, &node_pops);
    for (node, amount) in [(0, 100), (1, 300), (2, 600)] {
        three.stake(node, amount);
    }
    three.voting_end().unwrap();
    assert_eq!(three.staking.epoch_state, staking::NEXT_PARAMS_SELECTED);
    assert_eq!(three.voting_end(), Err(staking::E_WRONG_EPOCH_STATE));
    three.initiate().unwrap();
    assert_eq!(
        (
            three.staking.epoch,
            three.staking.epoch_state,
            three.staking.epoch_start_ms
        ),
        (1, staking::EPOCH_CHANGE_DONE, EPOCH_MS)
    );
    assert!(three.staking.previous_shard_assignment.is_empty());
    let weights: Vec<u16> = three
        .system
        .committee
        .members
        .iter()
        .map(|m| m.weight)
        .collect();
    assert_eq!(weights, [10, 30, 60]);
    assert_eq!(
        (
            three.system.storage_price_per_unit_size,
            three.system.write_price_per_unit_size,
            three.system.total_capacity_size
        ),
        (30, NODE_WRITE_PRICE, NODE_CAPACITY)
    );
    assert_eq!(
        (
            three.staking.pools[2].active_stake,
            three.staking.pools[2].num_shares,
            three.staking.pools[2].wal_balance
        ),
        (600, 600, 600)
    );
    let names: Vec<&str> = three.ctx.events().iter().map(|e| e.type_name()).collect();
    assert_eq!(
        names,
        [
            "EpochParametersSelected",
            "ShardsReceived",
            "ShardsReceived",
            "ShardsReceived",
            "EpochChangeStart",
            "EpochChangeDone"
        ]
    );
    let received = |net: &Network| -> Vec<Vec<u16>> {
        net.ctx
            .events()
            .iter()
            .filter_map(|event| match event {
                walrus_chain::contract::events::Event::ShardsReceived(e) => Some(e.shards.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        received(&three),
        [
            (0..10).collect::<Vec<u16>>(),
            (10..40).collect(),
            (40..100).collect()
        ]
    );
    let first_assignment = three.staking.shard_assignment.clone();
    three.stake(0, 1000);
    three.next_epoch().unwrap();
    assert_eq!(
        (three.staking.epoch, three.staking.epoch_state),
        (2, staking::EPOCH_CHANGE_SYNC)
    );
    assert_eq!(three.staking.previous_shard_assignment, first_assignment);
    let shards: Vec<u16> = (0..10).chain(25..40).chain(70..100).collect();
    assert_eq!(three.staking.shards_of(&three.caps[0].node_id), shards);
    assert_eq!(
        received(&three)[3],
        (25..40).chain(70..100).collect::<Vec<u16>>()
    );
    assert_eq!(three.voting_end(), Err(staking::E_WRONG_EPOCH_STATE));
    let mut caps = three.caps.clone();
    three
        .staking
        .epoch_sync_done(&mut caps[2], 2, &mut three.ctx)
        .unwrap();
    assert_eq!(
        (three.staking.epoch_state, three.staking.sync_done_weight),
        (staking::EPOCH_CHANGE_SYNC, 30)
    );
    three
        .staking
        .epoch_sync_done(&mut caps[0], 2, &mut three.ctx)
        .unwrap();
    assert_eq!(three.staking.epoch_state, staking::EPOCH_CHANGE_DONE);

    // the_committee_and_parameters_are_fixed_at_voting_end (2 nodes, stakes 1 and 3): node 1
    // votes 7, 3 and 1 GiB after epoch 1's voting_end.
    let mut two = Network::new(2, &node_pops);
    two.stake(0, 1);
    two.stake(1, 3);
    two.next_epoch().unwrap();
    two.voting_end().unwrap();
    let late = two.stake(1, 4);
    assert_eq!(late.activation_epoch, 3);
    let cap = two.caps[1].clone();
    two.staking.set_votes(&cap, 7, 3, 1 << 30).unwrap();
    two.initiate().unwrap();
    assert_eq!(
        (
            two.system.storage_price_per_unit_size,
            two.system.write_price_per_unit_size,
            two.system.total_capacity_size
        ),
        (20, NODE_WRITE_PRICE, NODE_CAPACITY)
    );
    assert_eq!(two.staking.pools[1].stake_at_epoch(3), 7);
    two.next_epoch().unwrap();
    // 1 : 7 of the stake, 13 : 87 of the shards (the tie of remainders to the earlier pool).
    let weights: Vec<u16> = two
        .system
        .committee
        .members
        .iter()
        .map(|m| m.weight)
        .collect();
    assert_eq!(weights, [13, 87]);
    assert_eq!(
        (
            two.system.storage_price_per_unit_size,
            two.system.write_price_per_unit_size,
            two.system.total_capacity_size
        ),
        (7, 3, 1 << 30)
    );

    // stake_and_withdrawals_take_effect_at_the_epoch_boundaries (2 nodes).
    let mut two = Network::new(2, &node_pops);
    let mut keep = two.stake(1, 1000);
    let mut first = two.stake(0, 100);
    two.voting_end().unwrap();
    let mut second = two.stake(0, 100);
    assert_eq!(second.activation_epoch, 2);
    let pending = two.stake(0, 50);
    assert_eq!(two.withdraw(pending), Ok(50));
    two.initiate().unwrap();
    assert_eq!(
        (
            two.staking.pools[0].active_stake,
            two.staking.pools[0].stake_at_epoch(2)
        ),
        (100, 200)
    );
    two.staking.request_withdraw_stake(&mut first).unwrap();
    assert_eq!(first.withdraw_epoch, Some(2));
    assert_eq!(
        two.staking.request_withdraw_stake(&mut first),
        Err(staking::E_ALREADY_WITHDRAWING)
    );
    assert_eq!(
        two.withdraw(first.clone()),
        Err(staking::E_WITHDRAW_TOO_EARLY)
    );
    let third = two.stake(0, 100);
    two.voting_end().unwrap();
    let fourth = two.stake(0, 100);
    assert_eq!(fourth.activation_epoch, 3);
    two.staking.request_withdraw_stake(&mut keep).unwrap();
    assert_eq!(keep.withdraw_epoch, Some(3));
    two.staking.request_withdraw_stake(&mut second).unwrap();
    assert_eq!(second.withdraw_epoch, Some(1));
    assert_eq!(two.withdraw(second), Ok(100));
    two.initiate().unwrap();
    let weights: Vec<u16> = two
        .system
        .committee
        .members
        .iter()
        .map(|m| m.weight)
        .collect();
    assert_eq!(weights, [17, 83]);
    assert_eq!(two.withdraw(first), Ok(100));
    assert_eq!(two.withdraw(third.clone()), Err(staking::E_NOT_WITHDRAWING));
    two.next_epoch().unwrap();
    assert_eq!(two.system.committee.members.len(), 1);
    assert_eq!(two.withdraw(keep), Ok(1000));
    assert_eq!(
        (
            two.staking.pools[0].active_stake,
            two.staking.pools[1].wal_balance
        ),
        (200, 0)
    );
    assert_eq!(two.staking.staked_wal_value(&third), 100);
    assert_eq!(two.staking.staked_wal_value(&fourth), 100);

    // rewards_pay_the_commission_then_compound (2 nodes, 1% commission; the median price of
    // the votes 10 and 20 over 50 shards each is 10).
    let mut two = Network::new(2, &node_pops);
    let staked = two.stake(0, 1000);
    let leaving = two.stake(1, 1000);
    two.voting_end().unwrap();
    assert_eq!(two.withdraw(leaving), Ok(1000));
    two.initiate().unwrap();
    assert_eq!(two.system.storage_price_per_unit_size, 10);
    assert_eq!(two.staking.pools[1].active_stake, 0);
    two.pay(100);
    two.next_epoch().unwrap();
    assert_eq!(
        (
            two.staking.pools[0].commission,
            two.staking.pools[0].active_stake,
            two.staking.pools[1].commission
        ),
        (5, 1495, 500)
    );
    assert_eq!(two.staking.staked_wal_value(&staked), 1495);
    assert_eq!(
        (two.collect(0), two.collect(0), two.collect(1)),
        (5, 0, 500)
    );
    assert_eq!(two.system.rewards_pool, 0);
    let cap = two.caps[0].clone();
    assert_eq!(
        two.staking.set_commission_rate(&cap, 10_001),
        Err(staking::E_COMMISSION_TOO_HIGH)
    );
    two.staking.set_commission_rate(&cap, 5000).unwrap();
    two.pay(10);
    two.next_epoch().unwrap();
    assert_eq!(
        (
            two.staking.pools[0].commission,
            two.staking.pools[0].active_stake,
            two.staking.pools[0].commission_rate
        ),
        (1, 1594, 5000)
    );
    two.pay(10);
    two.next_epoch().unwrap();
    assert_eq!(two.staking.pools[0].commission, 51);
    assert_eq!(two.staking.staked_wal_value(&staked), 1644);

    // rewards_are_shared_pro_rata_between_stakers (1 node, 1% commission, price 10).
    let mut one = Network::new(1, &node_pops);
    let mut first = one.stake(0, 1000);
    one.next_epoch().unwrap();
    let second = one.stake(0, 1000);
    assert_eq!(second.activation_epoch, 2);
    one.pay(50);
    one.next_epoch().unwrap();
    let pool = &one.staking.pools[0];
    assert_eq!((pool.active_stake, pool.num_shares), (2495, 1668));
    let rate = pool.rate_at(2);
    assert_eq!((rate.wal_amount, rate.share_amount), (1495, 1000));
    assert_eq!(
        (
            one.staking.staked_wal_value(&first),
            one.staking.staked_wal_value(&second)
        ),
        (1495, 999)
    );
    one.pay(30);
    one.next_epoch().unwrap();
    assert_eq!(
        (
            one.staking.staked_wal_value(&first),
            one.staking.staked_wal_value(&second)
        ),
        (1673, 1118)
    );
    one.staking.request_withdraw_stake(&mut first).unwrap();
    assert_eq!(first.withdraw_epoch, Some(4));
    one.pay(167);
    one.next_epoch().unwrap();
    assert_eq!(one.withdraw(first), Ok(2665));
    assert_eq!(one.staking.staked_wal_value(&second), 1781);
    assert_eq!(
        (
            one.staking.pools[0].wal_balance,
            one.staking.pools[0].commission
        ),
        (1781, 24)
    );

    // the_next_public_key_is_used_from_the_selected_committee_on (2 nodes): node 0 takes the
    // candidate's key in epoch 1.
    let candidate_pop_node_0_epoch_1 = candidate
        .proof_of_possession(node_sender(0), 1)
        .as_bytes()
        .to_vec();
    let mut two = Network::new(2, &node_pops);
    two.stake(0, 100);
    two.stake(1, 100);
    two.next_epoch().unwrap();
    let cap = two.caps[0].clone();
    let mut node_ctx = TxContext::new(node_sender(0), [0x32; 32]);
    assert_eq!(
        two.staking.set_next_public_key(
            &cap,
            candidate_key.clone(),
            candidate_pop_epoch_1.clone(),
            &mut node_ctx
        ),
        invalid
    );
    two.staking
        .set_next_public_key(
            &cap,
            candidate_key.clone(),
            candidate_pop_node_0_epoch_1.clone(),
            &mut node_ctx,
        )
        .unwrap();
    assert_eq!(
        register(
            &mut two.staking,
            &candidate_key,
            &candidate_pop_epoch_1,
            0,
            0x33
        )
        .map(|_| ()),
        Err(staking::E_DUPLICATE_NODE)
    );
    two.voting_end().unwrap();
    assert_eq!(two.staking.pools[0].info.public_key, candidate_key);
    assert_eq!(
        two.system.committee.members[0].public_key,
        node_key(0).public().as_bytes().to_vec()
    );
    two.initiate().unwrap();
    assert_eq!(two.system.committee.members[0].public_key, candidate_key);

    // The apportionment cases of `staking_tests` (the twin's unit test and two more).
    assert_eq!(staking::apportion(10, &[1, 1, 1]), [4, 3, 3]);
    assert_eq!(staking::apportion(2, &[1, 2, 3]), [0, 1, 1]);
    assert_eq!(staking::apportion(2, &[1, 1, 1]), [1, 1, 0]);
    assert_eq!(staking::apportion_amount(40, &[25, 75]), [10, 30]);

    // genesis_to_the_first_committee (init_tests): node 0 alone, 10 shards.
    let mut ctx = TxContext::new([0; 32], [0x30; 32]);
    let mut clock = Clock { timestamp_ms: 5 };
    let (mut system, mut genesis) =
        init::initialize_walrus(init::init(&mut ctx), 10, 1000, 4, &clock, &mut ctx).unwrap();
    let mut node_ctx = TxContext::new(node_sender(0), [0x31; 32]);
    let cap = genesis
        .register_candidate(
            "node-0".into(),
            "127.0.0.1:9000".into(),
            node_key(0).public().as_bytes().to_vec(),
            Vec::new(),
            node_pops[0].clone(),
            0,
            100,
            7,
            1 << 30,
            &mut node_ctx,
        )
        .unwrap();
    let coin = Coin {
        id: ObjectId([0xee; 32]),
        balance: 1000,
    };
    genesis
        .stake_with_pool(coin, cap.node_id, &mut node_ctx)
        .unwrap();
    clock.timestamp_ms += 500;
    genesis.voting_end(&clock, &mut ctx).unwrap();
    clock.timestamp_ms += 500;
    genesis
        .initiate_epoch_change(&mut system, &clock, &mut ctx)
        .unwrap();
    assert_eq!(genesis.epoch_state, staking::EPOCH_CHANGE_DONE);
    assert_eq!((system.epoch(), system.n_shards()), (1, 10));
    assert_eq!(
        (
            system.storage_price_per_unit_size,
            system.write_price_per_unit_size,
            system.total_capacity_size,
            genesis.epoch_start_ms
        ),
        (100, 7, 1 << 30, 1005)
    );

    out.section(&format!(
        "Staking: node i has the key of seed [{NODE_KEY_SEED_BASE} + i; 32] and registers from \
         address [i + 1; 32]"
    ));
    out.line(
        "// Node i's key, its address, and its proof of possession for that address in epoch 0.",
    );
    out.byte_vectors(
        "node_public_keys",
        &(0..N_NODES)
            .map(|i| node_key(i).public().as_bytes().to_vec())
            .collect::<Vec<_>>(),
    );
    out.addresses(
        "node_senders",
        &(0..N_NODES).map(node_sender).collect::<Vec<_>>(),
    );
    out.byte_vectors("node_pops", &node_pops);
    out.line(
        "// The candidate of seed [9; 32], registering from candidate_sender(): its proofs of",
    );
    out.line("// possession for epoch 0, for epoch 1, and for epoch 0 from other_sender().");
    out.bytes("candidate_public_key", &candidate_key);
    out.address("candidate_sender", &CANDIDATE_SENDER);
    out.address("other_sender", &OTHER_SENDER);
    out.bytes("candidate_pop", &candidate_pop);
    out.bytes("candidate_pop_epoch_1", &candidate_pop_epoch_1);
    out.bytes("candidate_pop_other_sender", &candidate_pop_other_sender);
    out.line("// The candidate's key signed for node_senders()[0] in epoch 1 (its next key).");
    out.bytes(
        "candidate_pop_node_0_epoch_1",
        &candidate_pop_node_0_epoch_1,
    );
}

fn main() -> ExitCode {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../walrus/tests/test_vectors.move");
    let generated = generate();
    match std::env::args().nth(1).as_deref() {
        None => print!("{generated}"),
        Some("--write") => {
            std::fs::write(&path, &generated).unwrap();
            eprintln!("wrote {}", path.display());
        }
        Some("--check") => {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != generated {
                eprintln!("{} is out of date: run with --write", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("{} is up to date", path.display());
        }
        Some(other) => {
            eprintln!("unknown argument {other}: expected --write or --check");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
