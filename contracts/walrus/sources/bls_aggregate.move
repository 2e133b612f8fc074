// Rust twin: chain/src/contract/bls_aggregate.rs

/// The BLS committee of an epoch and the verification of aggregate-signature certificates
/// with shard-weighted thresholds.
module walrus::bls_aggregate;

use sui::{bls12381::{Self, bls12381_min_pk_verify}, group_ops};
use walrus::messages::{Self, CertifiedMessage};

// === Errors (codes = position, as the twin's `Abort::new("bls_aggregate", code, name)`) ===

/// The aggregate signature does not verify.
const ESigVerification: u64 = 0;
/// The signers hold too few shards.
const ENotEnoughStake: u64 = 1;
/// The signer bitmap has the wrong length or bits past the members.
const EInvalidBitmap: u64 = 2;
/// A member key is not a valid G1 point, or the weights overflow.
const EInvalidCommittee: u64 = 3;

/// Bytes of a compressed BLS12-381 G1 point (a min-pk public key).
const PUBLIC_KEY_LENGTH: u64 = 48;
/// `u16::MAX`, the largest shard count.
const MAX_N_SHARDS: u64 = 65_535;

/// One member of the committee.
public struct BlsCommitteeMember has copy, drop, store {
    /// Compressed BLS12-381 G1 public key (48 bytes).
    public_key: vector<u8>,
    /// Shards held.
    weight: u16,
    /// The member's node (staking pool) ID.
    node_id: ID,
}

/// The committee of one epoch.
public struct BlsCommittee has copy, drop, store {
    /// Members in committee order (signer bitmaps refer to it).
    members: vector<BlsCommitteeMember>,
    /// Total shards (sum of weights).
    n_shards: u16,
    /// The epoch.
    epoch: u32,
}

/// Quorum: `3 * weight >= 2 * n_shards + 1`.
public fun is_quorum(weight: u16, n_shards: u16): bool {
    3 * (weight as u64) > 2 * (n_shards as u64)
}

/// At least one correct member: `3 * weight >= n_shards + 1`.
public fun is_one_correct(weight: u16, n_shards: u16): bool {
    3 * (weight as u64) > (n_shards as u64)
}

/// A committee member. The twin builds `BlsCommitteeMember { .. }` directly (its fields are
/// `pub`); keys are validated by `new_bls_committee`.
public(package) fun new_bls_committee_member(
    public_key: vector<u8>,
    weight: u16,
    node_id: ID,
): BlsCommitteeMember {
    BlsCommitteeMember { public_key, weight, node_id }
}

/// The committee of `epoch`: every key must be a valid G1 public key; `n_shards` is the sum of
/// the weights.
public(package) fun new_bls_committee(
    epoch: u32,
    members: vector<BlsCommitteeMember>,
): BlsCommittee {
    let mut n_shards: u64 = 0;
    let mut index = 0;
    while (index < members.length()) {
        let member = &members[index];
        assert_valid_public_key(&member.public_key);
        n_shards = n_shards + (member.weight as u64);
        assert!(n_shards <= MAX_N_SHARDS, EInvalidCommittee);
        index = index + 1;
    };
    BlsCommittee { members, n_shards: (n_shards as u16), epoch }
}

/// A certificate by a quorum of shards for this committee's epoch.
public(package) fun verify_quorum_in_epoch(
    self: &BlsCommittee,
    signature: vector<u8>,
    signers_bitmap: vector<u8>,
    message: vector<u8>,
): CertifiedMessage {
    let weight = self.verify_certificate_and_weight(&signature, &signers_bitmap, &message, true);
    messages::new_certified_message(message, self.epoch, weight)
}

/// A certificate by at least one correct shard for this committee's epoch.
public(package) fun verify_one_correct_node_in_epoch(
    self: &BlsCommittee,
    signature: vector<u8>,
    signers_bitmap: vector<u8>,
    message: vector<u8>,
): CertifiedMessage {
    let weight = self.verify_certificate_and_weight(&signature, &signers_bitmap, &message, false);
    messages::new_certified_message(message, self.epoch, weight)
}

/// The signers of `signers_bitmap` (bit `i % 8` of byte `i / 8` is member `i`), in increasing
/// order. The bitmap must have `ceil(members / 8)` bytes and no bit past the members.
public fun signers(self: &BlsCommittee, signers_bitmap: &vector<u8>): vector<u64> {
    let members = self.members.length();
    assert!(signers_bitmap.length() == (members + 7) / 8, EInvalidBitmap);
    let mut signers = vector[];
    let mut byte_index = 0;
    while (byte_index < signers_bitmap.length()) {
        let byte = signers_bitmap[byte_index];
        let mut bit: u8 = 0;
        while (bit < 8) {
            if (((byte >> bit) & 1) == 1) {
                let member = byte_index * 8 + (bit as u64);
                assert!(member < members, EInvalidBitmap);
                signers.push_back(member);
            };
            bit = bit + 1;
        };
        byte_index = byte_index + 1;
    };
    signers
}

// === Accessors (the twin's fields are `pub`) ===

public fun members(self: &BlsCommittee): &vector<BlsCommitteeMember> {
    &self.members
}

public fun n_shards(self: &BlsCommittee): u16 {
    self.n_shards
}

public fun epoch(self: &BlsCommittee): u32 {
    self.epoch
}

public fun public_key(self: &BlsCommitteeMember): &vector<u8> {
    &self.public_key
}

public fun weight(self: &BlsCommitteeMember): u16 {
    self.weight
}

public fun node_id(self: &BlsCommitteeMember): ID {
    self.node_id
}

// === Internal ===

/// Checks the bitmap, then the signers' weight against the threshold (quorum or one correct
/// node), then the aggregate signature over `message` by the sum of the signers' keys; returns
/// the signers' weight.
fun verify_certificate_and_weight(
    self: &BlsCommittee,
    signature: &vector<u8>,
    signers_bitmap: &vector<u8>,
    message: &vector<u8>,
    quorum: bool,
): u16 {
    let signers = self.signers(signers_bitmap);
    // The weight is `n_shards` minus the weight of the non-signers (`signers` is increasing).
    let mut non_signer_weight: u16 = 0;
    let mut next_signer = 0;
    let mut index = 0;
    while (index < self.members.length()) {
        if (next_signer < signers.length() && signers[next_signer] == index) {
            next_signer = next_signer + 1;
        } else {
            non_signer_weight = non_signer_weight + self.members[index].weight;
        };
        index = index + 1;
    };
    let weight = self.n_shards - non_signer_weight;
    let enough = if (quorum) {
        is_quorum(weight, self.n_shards)
    } else {
        is_one_correct(weight, self.n_shards)
    };
    assert!(enough, ENotEnoughStake);
    let mut aggregate_key = bls12381::g1_identity();
    let mut i = 0;
    while (i < signers.length()) {
        let key = bls12381::g1_from_bytes(&self.members[signers[i]].public_key);
        aggregate_key = bls12381::g1_add(&aggregate_key, &key);
        i = i + 1;
    };
    assert!(
        bls12381_min_pk_verify(signature, group_ops::bytes(&aggregate_key), message),
        ESigVerification,
    );
    weight
}

/// A valid public key: 48 bytes, a point of the G1 subgroup, not the identity.
///
/// Difference from the twin: a 48-byte string that is not a G1 point aborts inside
/// `bls12381::g1_from_bytes` with `sui::group_ops::EInvalidInput` (1), not with
/// `EInvalidCommittee`: Move has no non-aborting way to validate a group element.
fun assert_valid_public_key(public_key: &vector<u8>) {
    assert!(public_key.length() == PUBLIC_KEY_LENGTH, EInvalidCommittee);
    let key = bls12381::g1_from_bytes(public_key);
    assert!(!group_ops::equal(&key, &bls12381::g1_identity()), EInvalidCommittee);
}
