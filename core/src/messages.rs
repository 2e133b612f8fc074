//! Signed protocol messages, byte-compatible with Walrus (`crates/walrus-core/src/messages*.rs`
//! and `contracts/walrus/sources/system/messages.move`).
//!
//! Every message is a [`ProtocolMessage`]: a 3-byte [`Intent`] (type, version 0, app id 3), a
//! little-endian `u32` epoch and the BCS body, with no length prefix. Nodes sign the raw BCS
//! bytes with BLS12-381 (min_pk, see [`crate::crypto`]). The typed wrappers ([`Confirmation`],
//! [`InvalidBlobIdMsg`], [`ProofOfPossessionMsg`]) refuse any other intent when decoded.
//!
//! | message | intent | BCS size |
//! |---|---|---|
//! | permanent storage confirmation | `[1, 0, 3]` | 40 bytes |
//! | deletable storage confirmation | `[1, 0, 3]` | 72 bytes |
//! | invalid blob ID | `[2, 0, 3]` | 39 bytes |
//! | proof of possession | `[0, 0, 3]` | 87 bytes (3 + 4 + 32 + 48) |
//! | shard-sync request | `[3, 0, 3]` | 50 bytes (3 + 4 + 2 + 1 + 32 + 8) |

use std::{fmt, marker::PhantomData};

use fastcrypto::traits::{AggregateAuthenticator, VerifyingKey};
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::{
    crypto::{AggregateSignature, PublicKey, Signature},
    BlobId, Epoch, ObjectId, ShardIndex, SliverType,
};

/// The intent types (first byte of every protocol message).
pub mod intent_type {
    /// Proof of possession of a BLS key, signed when registering as a storage node candidate.
    pub const PROOF_OF_POSSESSION: u8 = 0;
    /// Storage confirmation, aggregated into a blob certificate.
    pub const BLOB_CERT: u8 = 1;
    /// Attestation that a blob ID is invalid (inconsistently encoded).
    pub const INVALID_BLOB_ID: u8 = 2;
    /// Shard synchronisation request between storage nodes (off-chain only).
    pub const SYNC_SHARD: u8 = 3;
    /// Deny-list update.
    pub const DENY_LIST_UPDATE: u8 = 4;
    /// Deletion of a deny-listed blob.
    pub const DENY_LIST_BLOB_DELETED: u8 = 5;
    /// Protocol version update.
    pub const PROTOCOL_VERSION: u8 = 6;
}

/// The only intent version in use.
pub const INTENT_VERSION: u8 = 0;

/// The application id of Walrus storage messages.
pub const STORAGE_APP_ID: u8 = 3;

/// The 3-byte header of every protocol message: `type || version || app_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Intent {
    /// The kind of message (see [`intent_type`]).
    #[serde(rename = "type")]
    pub intent_type: u8,
    /// The intent version, [`INTENT_VERSION`].
    pub version: u8,
    /// The application id, [`STORAGE_APP_ID`].
    pub app_id: u8,
}

impl Intent {
    /// A storage intent (version 0, app id 3) of the given type.
    pub const fn storage(intent_type: u8) -> Self {
        Self {
            intent_type,
            version: INTENT_VERSION,
            app_id: STORAGE_APP_ID,
        }
    }

    /// The three wire bytes.
    pub const fn to_bytes(self) -> [u8; 3] {
        [self.intent_type, self.version, self.app_id]
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(type {}, version {}, app {})",
            self.intent_type, self.version, self.app_id
        )
    }
}

/// A message as it is signed: intent, epoch and contents. BCS: `intent (3 B) || epoch (u32 LE)
/// || BCS(contents)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolMessage<T> {
    /// The intent header.
    pub intent: Intent,
    /// The epoch in which the message was produced.
    pub epoch: Epoch,
    /// The body.
    pub message_contents: T,
}

/// A message's intent differs from the one its type requires.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("invalid intent: expected {expected}, got {actual}")]
pub struct InvalidIntentError {
    /// The intent the message type requires.
    pub expected: Intent,
    /// The intent found in the message.
    pub actual: Intent,
}

/// Why bytes could not be decoded as a typed protocol message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MessageDecodeError {
    /// The bytes are not a valid BCS encoding of the message (including trailing bytes).
    #[error("malformed message bytes: {0}")]
    Bcs(String),
    /// The message decodes but carries the wrong intent.
    #[error(transparent)]
    InvalidIntent(#[from] InvalidIntentError),
}

/// A protocol message type with a fixed intent: a checked wrapper around
/// [`ProtocolMessage<Self::Contents>`].
pub trait ProtocolMessageKind:
    Sized
    + Clone
    + fmt::Debug
    + Serialize
    + DeserializeOwned
    + TryFrom<ProtocolMessage<Self::Contents>, Error = InvalidIntentError>
{
    /// The body type.
    type Contents: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned;

    /// The intent type byte (see [`intent_type`]).
    const INTENT_TYPE: u8;

    /// The full intent required for this message type.
    fn required_intent() -> Intent {
        Intent::storage(Self::INTENT_TYPE)
    }

    /// The wrapped protocol message.
    fn as_protocol_message(&self) -> &ProtocolMessage<Self::Contents>;

    /// The epoch of the message.
    fn epoch(&self) -> Epoch {
        self.as_protocol_message().epoch
    }

    /// The body of the message.
    fn contents(&self) -> &Self::Contents {
        &self.as_protocol_message().message_contents
    }

    /// The BCS bytes that are signed.
    fn to_bcs_bytes(&self) -> Vec<u8> {
        bcs::to_bytes(self.as_protocol_message())
            .expect("protocol messages are small fixed-layout structs that BCS always encodes")
    }

    /// Decodes untrusted BCS bytes, checking the intent and refusing trailing bytes.
    fn from_bcs_bytes(bytes: &[u8]) -> Result<Self, MessageDecodeError> {
        let message: ProtocolMessage<Self::Contents> =
            bcs::from_bytes(bytes).map_err(|error| MessageDecodeError::Bcs(error.to_string()))?;
        Ok(Self::try_from(message)?)
    }
}

macro_rules! protocol_message_kind {
    ($(#[$doc:meta])* $name:ident, $contents:ty, $intent_type:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(ProtocolMessage<$contents>);

        impl $name {
            /// Wraps a body into a message of this type for `epoch`.
            pub fn new(epoch: Epoch, message_contents: $contents) -> Self {
                Self(ProtocolMessage {
                    intent: Intent::storage($intent_type),
                    epoch,
                    message_contents,
                })
            }

            /// The wrapped protocol message.
            pub fn into_inner(self) -> ProtocolMessage<$contents> {
                self.0
            }
        }

        impl TryFrom<ProtocolMessage<$contents>> for $name {
            type Error = InvalidIntentError;

            fn try_from(message: ProtocolMessage<$contents>) -> Result<Self, Self::Error> {
                let expected = Intent::storage($intent_type);
                if message.intent == expected {
                    Ok(Self(message))
                } else {
                    Err(InvalidIntentError {
                        expected,
                        actual: message.intent,
                    })
                }
            }
        }

        impl ProtocolMessageKind for $name {
            type Contents = $contents;
            const INTENT_TYPE: u8 = $intent_type;

            fn as_protocol_message(&self) -> &ProtocolMessage<$contents> {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let message = ProtocolMessage::<$contents>::deserialize(deserializer)?;
                Self::try_from(message).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// How a blob is stored: its persistence type as confirmed by the nodes.
/// BCS: `0x00` (permanent) or `0x01 || object id (32 B)` (deletable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlobPersistenceType {
    /// The blob cannot be deleted before its end epoch.
    Permanent,
    /// The blob can be deleted by the owner of the `Blob` object.
    Deletable {
        /// The Sui object ID of the `Blob` object.
        object_id: ObjectId,
    },
}

/// The body of a storage confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StorageConfirmationBody {
    /// The confirmed blob.
    pub blob_id: BlobId,
    /// Its persistence type.
    pub blob_type: BlobPersistenceType,
}

/// The body of a proof of possession: the node's Sui address and its BLS public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofOfPossessionBody {
    /// The Sui address of the node (32 bytes).
    pub sui_address: [u8; 32],
    /// The BLS public key whose possession is proven (48 bytes compressed, no length prefix).
    pub bls_public_key: PublicKey,
}

protocol_message_kind!(
    /// A storage confirmation: the node stores and has verified all slivers of the blob for
    /// the shards it holds in the epoch. Intent `[1, 0, 3]`.
    Confirmation,
    StorageConfirmationBody,
    intent_type::BLOB_CERT
);

protocol_message_kind!(
    /// An attestation that a blob ID is invalid. Intent `[2, 0, 3]`, body = the blob ID.
    InvalidBlobIdMsg,
    BlobId,
    intent_type::INVALID_BLOB_ID
);

protocol_message_kind!(
    /// A proof of possession of a BLS key. Intent `[0, 0, 3]`.
    ProofOfPossessionMsg,
    ProofOfPossessionBody,
    intent_type::PROOF_OF_POSSESSION
);

/// The body of a shard-sync request: the new owner of `shard_index` asks the shard's previous
/// owner for the slivers of `sliver_type` of up to `sliver_count` certified blobs, in blob-ID
/// order, starting at `starting_blob_id` (inclusive). The message's epoch is the epoch in which
/// the requester owns the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncShardRequestBody {
    /// The shard to sync.
    pub shard_index: ShardIndex,
    /// The axis of the slivers asked for.
    pub sliver_type: SliverType,
    /// The first blob ID of the batch (inclusive).
    pub starting_blob_id: BlobId,
    /// At most this many slivers.
    pub sliver_count: u64,
}

protocol_message_kind!(
    /// A shard-sync request, signed by the shard's new owner. Intent `[3, 0, 3]`.
    SyncShardMsg,
    SyncShardRequestBody,
    intent_type::SYNC_SHARD
);

/// A signed shard-sync request (the body of `POST /v1/migrate/sync_shard`).
pub type SignedSyncShardRequest = SignedMessage<SyncShardMsg>;

impl Confirmation {
    /// A storage confirmation of `blob_id` with the given persistence type.
    pub fn for_blob(epoch: Epoch, blob_id: BlobId, blob_type: BlobPersistenceType) -> Self {
        Self::new(epoch, StorageConfirmationBody { blob_id, blob_type })
    }
}

impl ProofOfPossessionMsg {
    /// The proof-of-possession message for a node's address and key.
    pub fn for_key(epoch: Epoch, sui_address: [u8; 32], bls_public_key: PublicKey) -> Self {
        Self::new(
            epoch,
            ProofOfPossessionBody {
                sui_address,
                bls_public_key,
            },
        )
    }
}

/// Why a signed message was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MessageVerificationError {
    /// The serialized message is not valid BCS for the message type.
    #[error("could not decode the signed message: {0}")]
    Decode(String),
    /// The message has the wrong intent for its type.
    #[error(transparent)]
    InvalidIntent(InvalidIntentError),
    /// The message is for another epoch.
    #[error("message epoch mismatch: expected {expected}, got {actual}")]
    EpochMismatch {
        /// The epoch the verifier expects.
        expected: Epoch,
        /// The epoch in the message.
        actual: Epoch,
    },
    /// The message body differs from the expected one.
    #[error("the message contents differ from the expected contents")]
    MessageContent,
    /// The BLS signature does not verify.
    #[error("signature verification failed")]
    SignatureVerification,
}

impl From<MessageDecodeError> for MessageVerificationError {
    fn from(error: MessageDecodeError) -> Self {
        match error {
            MessageDecodeError::Bcs(message) => Self::Decode(message),
            MessageDecodeError::InvalidIntent(error) => Self::InvalidIntent(error),
        }
    }
}

/// Serde for message bytes: standard padded base64 in human-readable formats, BCS bytes
/// (ULEB128 length + bytes) otherwise.
mod base64_if_human_readable {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Vec<u8>, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&STANDARD.encode(bytes))
        } else {
            bytes.serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            STANDARD.decode(text).map_err(de::Error::custom)
        } else {
            Vec::<u8>::deserialize(deserializer)
        }
    }
}

/// A message signed by one storage node.
///
/// JSON: `{"serializedMessage": "<standard base64>", "signature": "<base64 of 96 bytes>"}`.
/// BCS: `ULEB128 length || message bytes || 96-byte signature`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub struct SignedMessage<T> {
    /// The BCS bytes of the [`ProtocolMessage`] that were signed.
    #[serde(with = "base64_if_human_readable")]
    pub serialized_message: Vec<u8>,
    /// The BLS signature over `serialized_message`.
    pub signature: Signature,
    #[serde(skip)]
    message_type: PhantomData<T>,
}

impl<T> Clone for SignedMessage<T> {
    fn clone(&self) -> Self {
        Self::new_from_encoded(self.serialized_message.clone(), self.signature.clone())
    }
}

impl<T> fmt::Debug for SignedMessage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedMessage")
            .field("serialized_message", &hex::encode(&self.serialized_message))
            .field("signature", &self.signature)
            .finish()
    }
}

impl<T> PartialEq for SignedMessage<T> {
    fn eq(&self, other: &Self) -> bool {
        self.serialized_message == other.serialized_message && self.signature == other.signature
    }
}

impl<T> Eq for SignedMessage<T> {}

impl<T> SignedMessage<T> {
    /// Wraps already serialized message bytes and their signature.
    pub fn new_from_encoded(serialized_message: Vec<u8>, signature: Signature) -> Self {
        Self {
            serialized_message,
            signature,
            message_type: PhantomData,
        }
    }

    /// Checks only the BLS signature over the serialized bytes.
    pub fn verify_signature(&self, public_key: &PublicKey) -> Result<(), MessageVerificationError> {
        public_key
            .verify(&self.serialized_message, &self.signature)
            .map_err(|_| MessageVerificationError::SignatureVerification)
    }
}

impl<T: ProtocolMessageKind> SignedMessage<T> {
    /// Decodes the message (checking its intent) without verifying the signature.
    pub fn decode_message(&self) -> Result<T, MessageDecodeError> {
        T::from_bcs_bytes(&self.serialized_message)
    }

    /// Verifies the message as Walrus does: decodes it (intent check), compares the epoch, then
    /// the contents, and last checks the signature with the signer's public key. Returns the
    /// decoded message.
    pub fn verify_signature_and_get_message(
        &self,
        public_key: &PublicKey,
        expected_epoch: Epoch,
        expected_contents: &T::Contents,
    ) -> Result<T, MessageVerificationError> {
        let message = self.check_message(expected_epoch, expected_contents)?;
        self.verify_signature(public_key)?;
        Ok(message)
    }

    /// The checks of [`Self::verify_signature_and_get_message`] but the signature's: decodes
    /// the message, compares the epoch and the contents. For signatures checked later in a
    /// batch.
    pub fn check_message(
        &self,
        expected_epoch: Epoch,
        expected_contents: &T::Contents,
    ) -> Result<T, MessageVerificationError> {
        let message = self.decode_message()?;
        if message.epoch() != expected_epoch {
            return Err(MessageVerificationError::EpochMismatch {
                expected: expected_epoch,
                actual: message.epoch(),
            });
        }
        if message.contents() != expected_contents {
            return Err(MessageVerificationError::MessageContent);
        }
        Ok(message)
    }
}

/// A signed storage confirmation.
pub type SignedStorageConfirmation = SignedMessage<Confirmation>;

/// A storage confirmation as returned by a node's API. JSON: `{"signed": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StorageConfirmation {
    /// A confirmation signed by the node's BLS key.
    Signed(SignedStorageConfirmation),
}

/// A signed invalid-blob-ID attestation.
pub type SignedInvalidBlobIdMsg = SignedMessage<InvalidBlobIdMsg>;

/// Why a certificate could not be assembled.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CertificateError {
    /// No messages were given, or their serialized bytes differ.
    #[error("the signed messages are missing or not identical")]
    MessageMismatch,
    /// The number of signer indices differs from the number of messages.
    #[error("{messages} signed messages but {signers} signer indices")]
    SignerCountMismatch {
        /// Number of messages.
        messages: usize,
        /// Number of signer indices.
        signers: usize,
    },
    /// A signer index appears more than once.
    #[error("duplicate signer index {0}")]
    DuplicateSigner(u16),
    /// BLS aggregation failed (a signature is not a valid point).
    #[error("could not aggregate the signatures")]
    Aggregation,
}

/// An aggregate of identical messages signed by several committee members.
///
/// `signers` are indices into the committee's member list (nodes, not shards). No renaming:
/// in JSON `serialized_message` is an array of numbers. BCS: `ULEB128 n || u16 LE * n ||
/// ULEB128 length || message || 96-byte aggregate signature`.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ProtocolMessageCertificate<T> {
    /// Member indices of the signers, in the order their signatures were aggregated.
    pub signers: Vec<u16>,
    /// The BCS bytes of the signed [`ProtocolMessage`].
    pub serialized_message: Vec<u8>,
    /// The aggregate BLS signature.
    pub signature: AggregateSignature,
    #[serde(skip)]
    message_type: PhantomData<T>,
}

impl<T> Clone for ProtocolMessageCertificate<T> {
    fn clone(&self) -> Self {
        Self::new(
            self.signers.clone(),
            self.serialized_message.clone(),
            self.signature.clone(),
        )
    }
}

impl<T> fmt::Debug for ProtocolMessageCertificate<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolMessageCertificate")
            .field("signers", &self.signers)
            .field("serialized_message", &hex::encode(&self.serialized_message))
            .field("signature", &self.signature)
            .finish()
    }
}

impl<T> PartialEq for ProtocolMessageCertificate<T> {
    fn eq(&self, other: &Self) -> bool {
        self.signers == other.signers
            && self.serialized_message == other.serialized_message
            && self.signature == other.signature
    }
}

impl<T> Eq for ProtocolMessageCertificate<T> {}

impl<T> ProtocolMessageCertificate<T> {
    /// Assembles a certificate from its parts, without any check.
    pub fn new(
        signers: Vec<u16>,
        serialized_message: Vec<u8>,
        signature: AggregateSignature,
    ) -> Self {
        Self {
            signers,
            serialized_message,
            signature,
            message_type: PhantomData,
        }
    }

    /// Aggregates identical signed messages; `signer_indices[i]` is the committee member index
    /// of the signer of `signed_messages[i]`. Signatures are not verified here.
    pub fn from_signed_messages_and_indices(
        signed_messages: &[SignedMessage<T>],
        signer_indices: &[u16],
    ) -> Result<Self, CertificateError> {
        let first = signed_messages
            .first()
            .ok_or(CertificateError::MessageMismatch)?;
        if signed_messages
            .iter()
            .any(|message| message.serialized_message != first.serialized_message)
        {
            return Err(CertificateError::MessageMismatch);
        }
        if signed_messages.len() != signer_indices.len() {
            return Err(CertificateError::SignerCountMismatch {
                messages: signed_messages.len(),
                signers: signer_indices.len(),
            });
        }
        if let Some(duplicate) = first_duplicate(signer_indices) {
            return Err(CertificateError::DuplicateSigner(duplicate));
        }
        let signature =
            AggregateSignature::aggregate(signed_messages.iter().map(|message| &message.signature))
                .map_err(|_| CertificateError::Aggregation)?;
        Ok(Self::new(
            signer_indices.to_vec(),
            first.serialized_message.clone(),
            signature,
        ))
    }
}

impl<T: ProtocolMessageKind> ProtocolMessageCertificate<T> {
    /// Decodes the certified message (checking its intent) without verifying the certificate.
    pub fn decode_message(&self) -> Result<T, MessageDecodeError> {
        T::from_bcs_bytes(&self.serialized_message)
    }
}

/// A certificate over a storage confirmation (quorum threshold).
pub type ConfirmationCertificate = ProtocolMessageCertificate<Confirmation>;

/// A certificate that a blob ID is invalid (validity threshold).
pub type InvalidBlobCertificate = ProtocolMessageCertificate<InvalidBlobIdMsg>;

/// The first value that occurs twice in `indices`, if any.
pub(crate) fn first_duplicate(indices: &[u16]) -> Option<u16> {
    let mut seen = vec![false; usize::from(u16::MAX) + 1];
    indices.iter().copied().find(|&index| {
        let slot = &mut seen[usize::from(index)];
        std::mem::replace(slot, true)
    })
}

#[cfg(test)]
mod tests {
    use fastcrypto::traits::ToFromBytes;
    use proptest::prelude::*;

    use super::*;
    use crate::crypto::ProtocolKeyPair;

    fn blob_id() -> BlobId {
        BlobId(std::array::from_fn(|i| u8::try_from(i).unwrap()))
    }

    fn key(seed: u8) -> ProtocolKeyPair {
        ProtocolKeyPair::from_seed([seed; 32])
    }

    #[test]
    fn permanent_confirmation_is_40_bytes() {
        let message =
            Confirmation::for_blob(0x0403_0201, blob_id(), BlobPersistenceType::Permanent);
        let bytes = message.to_bcs_bytes();
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[..7], &[1, 0, 3, 1, 2, 3, 4]);
        assert_eq!(&bytes[7..39], &blob_id().0);
        assert_eq!(bytes[39], 0);
        assert_eq!(Confirmation::from_bcs_bytes(&bytes).unwrap(), message);
    }

    #[test]
    fn deletable_confirmation_is_72_bytes() {
        let object_id = ObjectId([0xab; 32]);
        let message =
            Confirmation::for_blob(7, blob_id(), BlobPersistenceType::Deletable { object_id });
        let bytes = message.to_bcs_bytes();
        assert_eq!(bytes.len(), 72);
        assert_eq!(&bytes[..7], &[1, 0, 3, 7, 0, 0, 0]);
        assert_eq!(&bytes[7..39], &blob_id().0);
        assert_eq!(bytes[39], 1);
        assert_eq!(&bytes[40..], &[0xab; 32]);
        assert_eq!(Confirmation::from_bcs_bytes(&bytes).unwrap(), message);
    }

    #[test]
    fn invalid_blob_id_is_39_bytes() {
        let message = InvalidBlobIdMsg::new(258, blob_id());
        let bytes = message.to_bcs_bytes();
        assert_eq!(bytes.len(), 39);
        assert_eq!(&bytes[..7], &[2, 0, 3, 2, 1, 0, 0]);
        assert_eq!(&bytes[7..], &blob_id().0);
        assert_eq!(InvalidBlobIdMsg::from_bcs_bytes(&bytes).unwrap(), message);
    }

    #[test]
    fn sync_shard_request_is_50_bytes() {
        let message = SyncShardMsg::new(
            7,
            SyncShardRequestBody {
                shard_index: ShardIndex(258),
                sliver_type: SliverType::Secondary,
                starting_blob_id: blob_id(),
                sliver_count: 10,
            },
        );
        let bytes = message.to_bcs_bytes();
        assert_eq!(bytes.len(), 50);
        assert_eq!(&bytes[..10], &[3, 0, 3, 7, 0, 0, 0, 2, 1, 1]);
        assert_eq!(&bytes[10..42], &blob_id().0);
        assert_eq!(&bytes[42..], &10u64.to_le_bytes());
        assert_eq!(SyncShardMsg::from_bcs_bytes(&bytes).unwrap(), message);
        assert!(InvalidBlobIdMsg::from_bcs_bytes(&bytes).is_err());
    }

    #[test]
    fn proof_of_possession_is_87_bytes() {
        let keypair = key(1);
        let public_key = keypair.public().clone();
        let message = ProofOfPossessionMsg::for_key(5, [9; 32], public_key.clone());
        let bytes = message.to_bcs_bytes();
        assert_eq!(bytes.len(), 87);
        assert_eq!(&bytes[..7], &[0, 0, 3, 5, 0, 0, 0]);
        assert_eq!(&bytes[7..39], &[9; 32]);
        assert_eq!(&bytes[39..], public_key.as_bytes());
        assert_eq!(
            ProofOfPossessionMsg::from_bcs_bytes(&bytes).unwrap(),
            message
        );
    }

    #[test]
    fn wrong_intent_is_rejected() {
        let mut bytes =
            Confirmation::for_blob(1, blob_id(), BlobPersistenceType::Permanent).to_bcs_bytes();
        for (position, value) in [(0, 2u8), (1, 1), (2, 0)] {
            let mut wrong = bytes.clone();
            wrong[position] = value;
            let error = Confirmation::from_bcs_bytes(&wrong).unwrap_err();
            assert_eq!(
                error,
                MessageDecodeError::InvalidIntent(InvalidIntentError {
                    expected: Intent::storage(intent_type::BLOB_CERT),
                    actual: Intent {
                        intent_type: wrong[0],
                        version: wrong[1],
                        app_id: wrong[2]
                    },
                })
            );
            // The serde path refuses it too.
            assert!(bcs::from_bytes::<Confirmation>(&wrong).is_err());
        }
        // An invalid-blob-ID message is not a confirmation even where the lengths allow it.
        let invalid = InvalidBlobIdMsg::new(1, blob_id()).to_bcs_bytes();
        assert!(matches!(
            Confirmation::from_bcs_bytes(&invalid),
            Err(MessageDecodeError::Bcs(_))
        ));
        let mut as_invalid = invalid.clone();
        as_invalid[0] = intent_type::BLOB_CERT;
        assert!(InvalidBlobIdMsg::from_bcs_bytes(&as_invalid).is_err());
        // Trailing bytes are refused.
        bytes.push(0);
        assert!(matches!(
            Confirmation::from_bcs_bytes(&bytes),
            Err(MessageDecodeError::Bcs(_))
        ));
    }

    #[test]
    fn signed_message_json_and_bcs_shape() {
        let keypair = key(2);
        let message = Confirmation::for_blob(3, blob_id(), BlobPersistenceType::Permanent);
        let signed = keypair.sign_message(&message);
        let json = serde_json::to_value(&signed).unwrap();
        let object = json.as_object().unwrap();
        assert_eq!(object.len(), 2);
        use base64::{engine::general_purpose::STANDARD, Engine as _};
        let text = object["serializedMessage"].as_str().unwrap();
        assert_eq!(STANDARD.decode(text).unwrap(), message.to_bcs_bytes());
        assert!(
            text.ends_with('='),
            "40 bytes in padded base64 end with '='"
        );
        let signature = object["signature"].as_str().unwrap();
        assert_eq!(
            STANDARD.decode(signature).unwrap(),
            signed.signature.as_bytes()
        );
        assert_eq!(signature.len(), 128);
        let back: SignedStorageConfirmation = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);

        let bcs_bytes = bcs::to_bytes(&signed).unwrap();
        assert_eq!(bcs_bytes.len(), 1 + 40 + 96);
        assert_eq!(bcs_bytes[0], 40);
        assert_eq!(&bcs_bytes[1..41], message.to_bcs_bytes().as_slice());
        assert_eq!(&bcs_bytes[41..], signed.signature.as_bytes());
        assert_eq!(
            bcs::from_bytes::<SignedStorageConfirmation>(&bcs_bytes).unwrap(),
            signed
        );
    }

    #[test]
    fn storage_confirmation_json_is_wrapped_in_signed() {
        let signed = key(3).sign_message(&Confirmation::for_blob(
            3,
            blob_id(),
            BlobPersistenceType::Permanent,
        ));
        let confirmation = StorageConfirmation::Signed(signed.clone());
        let json = serde_json::to_value(&confirmation).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "signed": serde_json::to_value(&signed).unwrap() })
        );
        let back: StorageConfirmation = serde_json::from_value(json).unwrap();
        assert_eq!(back, confirmation);
        // BCS: variant tag 0, then the signed message.
        let bytes = bcs::to_bytes(&confirmation).unwrap();
        assert_eq!(bytes[0], 0);
        assert_eq!(&bytes[1..], bcs::to_bytes(&signed).unwrap().as_slice());
    }

    #[test]
    fn sign_and_verify_round_trip_and_errors() {
        let keypair = key(4);
        let other = key(5);
        let body = StorageConfirmationBody {
            blob_id: blob_id(),
            blob_type: BlobPersistenceType::Permanent,
        };
        let signed = keypair.sign_message(&Confirmation::new(9, body));
        let message = signed
            .verify_signature_and_get_message(keypair.public(), 9, &body)
            .unwrap();
        assert_eq!(message.epoch(), 9);
        assert_eq!(message.contents(), &body);

        assert_eq!(
            signed.verify_signature_and_get_message(keypair.public(), 10, &body),
            Err(MessageVerificationError::EpochMismatch {
                expected: 10,
                actual: 9
            })
        );
        let other_body = StorageConfirmationBody {
            blob_type: BlobPersistenceType::Deletable {
                object_id: ObjectId([1; 32]),
            },
            ..body
        };
        assert_eq!(
            signed.verify_signature_and_get_message(keypair.public(), 9, &other_body),
            Err(MessageVerificationError::MessageContent)
        );
        assert_eq!(
            signed.verify_signature_and_get_message(other.public(), 9, &body),
            Err(MessageVerificationError::SignatureVerification)
        );

        // A correctly signed message with the wrong intent is refused before the signature.
        let mut bytes = Confirmation::new(9, body).to_bcs_bytes();
        bytes[0] = intent_type::SYNC_SHARD;
        let wrong =
            SignedStorageConfirmation::new_from_encoded(bytes.clone(), keypair.sign_bytes(&bytes));
        assert!(matches!(
            wrong.verify_signature_and_get_message(keypair.public(), 9, &body),
            Err(MessageVerificationError::InvalidIntent(_))
        ));
        let garbage = SignedStorageConfirmation::new_from_encoded(vec![1, 0], signed.signature);
        assert!(matches!(
            garbage.verify_signature_and_get_message(keypair.public(), 9, &body),
            Err(MessageVerificationError::Decode(_))
        ));
    }

    #[test]
    fn certificate_construction() {
        let keys = [key(6), key(7)];
        let message = InvalidBlobIdMsg::new(2, blob_id());
        let signed: Vec<_> = keys.iter().map(|k| k.sign_message(&message)).collect();
        let certificate =
            InvalidBlobCertificate::from_signed_messages_and_indices(&signed, &[1, 0]).unwrap();
        assert_eq!(certificate.signers, vec![1, 0]);
        assert_eq!(certificate.serialized_message, message.to_bcs_bytes());
        assert_eq!(certificate.decode_message().unwrap(), message);

        let bytes = bcs::to_bytes(&certificate).unwrap();
        assert_eq!(&bytes[..6], &[2, 1, 0, 0, 0, 39]);
        assert_eq!(&bytes[6..45], message.to_bcs_bytes().as_slice());
        assert_eq!(&bytes[45..], certificate.signature.as_bytes());
        assert_eq!(
            bcs::from_bytes::<InvalidBlobCertificate>(&bytes).unwrap(),
            certificate
        );
        let json = serde_json::to_value(&certificate).unwrap();
        assert!(json["serialized_message"].is_array());
        assert_eq!(json["signers"], serde_json::json!([1, 0]));

        assert_eq!(
            InvalidBlobCertificate::from_signed_messages_and_indices(&[], &[]),
            Err(CertificateError::MessageMismatch)
        );
        let different = keys[1].sign_message(&InvalidBlobIdMsg::new(3, blob_id()));
        assert_eq!(
            InvalidBlobCertificate::from_signed_messages_and_indices(
                &[signed[0].clone(), different],
                &[0, 1]
            ),
            Err(CertificateError::MessageMismatch)
        );
        assert_eq!(
            InvalidBlobCertificate::from_signed_messages_and_indices(&signed, &[0, 0]),
            Err(CertificateError::DuplicateSigner(0))
        );
        assert_eq!(
            InvalidBlobCertificate::from_signed_messages_and_indices(&signed, &[0]),
            Err(CertificateError::SignerCountMismatch {
                messages: 2,
                signers: 1
            })
        );
    }

    #[test]
    fn duplicate_detection() {
        assert_eq!(first_duplicate(&[]), None);
        assert_eq!(first_duplicate(&[0, 1, 65535]), None);
        assert_eq!(first_duplicate(&[3, 1, 65535, 1, 3]), Some(1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decoding_untrusted_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Confirmation::from_bcs_bytes(&bytes);
            let _ = InvalidBlobIdMsg::from_bcs_bytes(&bytes);
            let _ = ProofOfPossessionMsg::from_bcs_bytes(&bytes);
            let _ = bcs::from_bytes::<SignedStorageConfirmation>(&bytes);
            let _ = bcs::from_bytes::<StorageConfirmation>(&bytes);
            let _ = bcs::from_bytes::<ConfirmationCertificate>(&bytes);
            let _ = serde_json::from_slice::<StorageConfirmation>(&bytes);
        }

        #[test]
        fn confirmation_round_trips(
            epoch in any::<u32>(),
            id in any::<[u8; 32]>(),
            object in proptest::option::of(any::<[u8; 32]>()),
        ) {
            let blob_type = match object {
                Some(bytes) => BlobPersistenceType::Deletable { object_id: ObjectId(bytes) },
                None => BlobPersistenceType::Permanent,
            };
            let message = Confirmation::for_blob(epoch, BlobId(id), blob_type);
            let bytes = message.to_bcs_bytes();
            prop_assert_eq!(bytes.len(), if object.is_some() { 72 } else { 40 });
            prop_assert_eq!(&bytes[3..7], &epoch.to_le_bytes());
            prop_assert_eq!(Confirmation::from_bcs_bytes(&bytes).unwrap(), message.clone());
            let json = serde_json::to_string(&message).unwrap();
            prop_assert_eq!(serde_json::from_str::<Confirmation>(&json).unwrap(), message);
        }

        #[test]
        fn only_the_right_intent_decodes(intent in any::<[u8; 3]>(), epoch in any::<u32>()) {
            let mut bytes = InvalidBlobIdMsg::new(epoch, blob_id()).to_bcs_bytes();
            bytes[..3].copy_from_slice(&intent);
            let decoded = InvalidBlobIdMsg::from_bcs_bytes(&bytes);
            prop_assert_eq!(decoded.is_ok(), intent == [2, 0, 3]);
        }
    }
}
