// Rust twin: chain/src/contract/messages.rs

/// Parsing of the signed protocol messages the contracts accept: a 7-byte header (intent
/// type, intent version, app id, epoch as u32 LE) followed by the body.
module walrus::messages;

use sui::{bcs, bls12381::bls12381_min_pk_verify};

// === Errors (codes = position, as the twin's `Abort::new("messages", code, name)`) ===

/// The app id is not 3 (storage).
const EIncorrectAppId: u64 = 0;
/// The message is for another epoch than the committee's.
const EIncorrectEpoch: u64 = 1;
/// The intent type is not the one the function expects.
const EInvalidMsgType: u64 = 2;
/// The intent version is not 0.
const EIncorrectIntentVersion: u64 = 3;
/// The message is too short or its body does not parse.
const EMalformedMessage: u64 = 4;

/// Intent type of a proof of possession.
const PROOF_OF_POSSESSION_MSG_TYPE: u8 = 0;
/// Intent type of a storage confirmation (blob certificate).
const BLOB_CERT_MSG_TYPE: u8 = 1;
/// Intent type of an invalid-blob-ID attestation.
const INVALID_BLOB_ID_MSG_TYPE: u8 = 2;
/// The only intent version.
const INTENT_VERSION: u8 = 0;
/// The storage app id.
const STORAGE_APP_ID: u8 = 3;

/// Bytes of the header: intent type, intent version, app id, epoch (u32).
const HEADER_LENGTH: u64 = 7;
/// Bytes of a `u256` (a blob ID) or an object ID.
const ID_LENGTH: u64 = 32;

/// A message whose signature and stake were verified.
public struct CertifiedMessage has drop {
    intent_type: u8,
    intent_version: u8,
    cert_epoch: u32,
    /// The body after the 7-byte header.
    message: vector<u8>,
    /// Shards that signed.
    stake_support: u16,
}

/// How a certified blob is stored.
public enum BlobPersistenceType has copy, drop {
    /// Cannot be deleted before it expires.
    Permanent,
    /// Can be deleted by the owner of this `Blob` object.
    Deletable { object_id: ID },
}

/// A certified storage confirmation.
public struct CertifiedBlobMessage has drop {
    blob_id: u256,
    blob_persistence_type: BlobPersistenceType,
}

/// A certified invalid-blob-ID attestation.
public struct CertifiedInvalidBlobId has drop {
    blob_id: u256,
}

/// Parses the header of `message_bytes` and checks app id, epoch and intent version, in that
/// order.
public fun new_certified_message(
    message_bytes: vector<u8>,
    committee_epoch: u32,
    stake_support: u16,
): CertifiedMessage {
    assert!(message_bytes.length() >= HEADER_LENGTH, EMalformedMessage);
    let mut reader = bcs::new(message_bytes);
    let intent_type = reader.peel_u8();
    let intent_version = reader.peel_u8();
    let app_id = reader.peel_u8();
    assert!(app_id == STORAGE_APP_ID, EIncorrectAppId);
    let cert_epoch = reader.peel_u32();
    assert!(cert_epoch == committee_epoch, EIncorrectEpoch);
    assert!(intent_version == INTENT_VERSION, EIncorrectIntentVersion);
    CertifiedMessage {
        intent_type,
        intent_version,
        cert_epoch,
        message: reader.into_remainder_bytes(),
        stake_support,
    }
}

/// A storage confirmation: body `blob_id: u256, persistence type` where the type is `0`
/// (permanent) or `1` followed by the 32 bytes of the `Blob` object's ID (deletable).
/// Trailing bytes are allowed, as on Walrus.
public fun certify_blob_message(message: CertifiedMessage): CertifiedBlobMessage {
    assert!(message.intent_type == BLOB_CERT_MSG_TYPE, EInvalidMsgType);
    let CertifiedMessage { message: body, .. } = message;
    let length = body.length();
    assert!(length >= ID_LENGTH, EMalformedMessage);
    let mut reader = bcs::new(body);
    let blob_id = reader.peel_u256();
    assert!(length >= ID_LENGTH + 1, EMalformedMessage);
    let tag = reader.peel_u8();
    let blob_persistence_type = if (tag == 0) {
        BlobPersistenceType::Permanent
    } else if (tag == 1) {
        assert!(length >= 2 * ID_LENGTH + 1, EMalformedMessage);
        // The object ID's bytes as they are (the twin takes the 32 bytes unchanged): an
        // address, not a u256 (whose little-endian reading would reverse them).
        BlobPersistenceType::Deletable { object_id: object::id_from_address(reader.peel_address()) }
    } else {
        abort EMalformedMessage
    };
    CertifiedBlobMessage { blob_id, blob_persistence_type }
}

/// An invalid-blob-ID attestation: body `blob_id: u256` (trailing bytes allowed).
public fun invalid_blob_id_message(message: CertifiedMessage): CertifiedInvalidBlobId {
    assert!(message.intent_type == INVALID_BLOB_ID_MSG_TYPE, EInvalidMsgType);
    let CertifiedMessage { message: body, .. } = message;
    assert!(body.length() >= ID_LENGTH, EMalformedMessage);
    let mut reader = bcs::new(body);
    CertifiedInvalidBlobId { blob_id: reader.peel_u256() }
}

/// The message a storage-node candidate signs with its BLS key to prove it holds it: the
/// header (intent 0, `epoch`), its Sui address (32 bytes) and its public key (48 bytes, no
/// length prefix).
public fun proof_of_possession_bytes(
    epoch: u32,
    sui_address: address,
    public_key: &vector<u8>,
): vector<u8> {
    let mut bytes = vector[PROOF_OF_POSSESSION_MSG_TYPE, INTENT_VERSION, STORAGE_APP_ID];
    bytes.append(bcs::to_bytes(&epoch));
    bytes.append(bcs::to_bytes(&sui_address));
    bytes.append(*public_key);
    bytes
}

/// Whether `signature` is `public_key`'s BLS signature (min-pk) of the proof-of-possession
/// message of `sui_address` in `epoch` (false for a key or signature that does not decode, or a
/// key that is no valid G1 point). Used by `staking::register_candidate`.
public fun verify_proof_of_possession(
    epoch: u32,
    sui_address: address,
    public_key: &vector<u8>,
    signature: &vector<u8>,
): bool {
    let message = proof_of_possession_bytes(epoch, sui_address, public_key);
    bls12381_min_pk_verify(signature, public_key, &message)
}

// === BlobPersistenceType constructors (the twin builds the variants directly) ===

/// `BlobPersistenceType::Permanent`.
public fun permanent(): BlobPersistenceType {
    BlobPersistenceType::Permanent
}

/// `BlobPersistenceType::Deletable { object_id }`.
public fun deletable(object_id: ID): BlobPersistenceType {
    BlobPersistenceType::Deletable { object_id }
}

// === Accessors (the twin's fields are `pub`) ===

public fun intent_type(self: &CertifiedMessage): u8 {
    self.intent_type
}

public fun intent_version(self: &CertifiedMessage): u8 {
    self.intent_version
}

public fun cert_epoch(self: &CertifiedMessage): u32 {
    self.cert_epoch
}

public fun message(self: &CertifiedMessage): &vector<u8> {
    &self.message
}

public fun stake_support(self: &CertifiedMessage): u16 {
    self.stake_support
}

public fun blob_id(self: &CertifiedBlobMessage): u256 {
    self.blob_id
}

public fun blob_persistence_type(self: &CertifiedBlobMessage): BlobPersistenceType {
    self.blob_persistence_type
}

/// `CertifiedInvalidBlobId.blob_id` (one Move module cannot have two functions named
/// `blob_id`).
public fun invalid_blob_id(self: &CertifiedInvalidBlobId): u256 {
    self.blob_id
}
