//! BLS12-381 (min_pk) keys, signatures, proofs of possession, committees and certificate
//! verification, as Walrus uses them.
//!
//! Public keys are compressed G1 points (48 bytes), signatures G2 points (96 bytes); the
//! hash-to-curve DST is `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_` (fastcrypto's min_pk). In
//! BCS keys and signatures are raw fixed-size bytes; in JSON they are standard base64 strings.
//!
//! Certificates are checked as the Move contract `bls_aggregate.move` does, counting the weight
//! of a signer set in shards. [`signers_to_bitmap`] and [`Committee::weight_from_bitmap`]
//! reproduce the on-chain representation.

use std::fmt;

use fastcrypto::{
    bls12381::min_pk::{
        BLS12381AggregateSignature, BLS12381KeyPair, BLS12381PrivateKey, BLS12381PublicKey,
        BLS12381Signature,
    },
    traits::{AggregateAuthenticator, AllowedRng, KeyPair, Signer, ToFromBytes, VerifyingKey},
};
use rand::{rngs::StdRng, SeedableRng};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    bft,
    messages::{
        first_duplicate, MessageDecodeError, ProofOfPossessionMsg, ProtocolMessageCertificate,
        ProtocolMessageKind, SignedMessage,
    },
    Epoch,
};

/// A storage node's BLS public key (compressed G1, 48 bytes).
pub type PublicKey = BLS12381PublicKey;
/// A storage node's BLS private key (32 bytes).
pub type PrivateKey = BLS12381PrivateKey;
/// A BLS signature (compressed G2, 96 bytes).
pub type Signature = BLS12381Signature;
/// An aggregate of BLS signatures over one message (96 bytes).
pub type AggregateSignature = BLS12381AggregateSignature;

/// Length of a public key in bytes.
pub const PUBLIC_KEY_LENGTH: usize = 48;
/// Length of a signature or aggregate signature in bytes.
pub const SIGNATURE_LENGTH: usize = 96;

/// Errors of key and signature handling.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The bytes are not a valid public key (bad encoding, identity, or not in the subgroup).
    #[error("invalid BLS public key")]
    InvalidPublicKey,
    /// The bytes are not a valid private key.
    #[error("invalid BLS private key")]
    InvalidPrivateKey,
    /// The bytes are not a valid signature encoding.
    #[error("invalid BLS signature encoding")]
    InvalidSignature,
    /// The signature does not verify.
    #[error("signature verification failed")]
    SignatureVerification,
}

/// A storage node's BLS key pair (the "protocol key"), used to sign protocol messages.
pub struct ProtocolKeyPair(BLS12381KeyPair);

impl fmt::Debug for ProtocolKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtocolKeyPair(public: {})", self.public())
    }
}

impl From<BLS12381KeyPair> for ProtocolKeyPair {
    fn from(keypair: BLS12381KeyPair) -> Self {
        Self(keypair)
    }
}

impl ProtocolKeyPair {
    /// Generates a key pair from a cryptographic RNG.
    pub fn generate_with_rng<R: AllowedRng>(rng: &mut R) -> Self {
        Self(BLS12381KeyPair::generate(rng))
    }

    /// Generates a key pair deterministically from a 32-byte seed (via `StdRng`). Only as
    /// secret as the seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self::generate_with_rng(&mut StdRng::from_seed(seed))
    }

    /// Restores a key pair from the 32 bytes of its private key.
    pub fn from_private_key_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        BLS12381KeyPair::from_bytes(bytes)
            .map(Self)
            .map_err(|_| CryptoError::InvalidPrivateKey)
    }

    /// The 32 bytes of the private key (keep secret).
    pub fn private_key_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        self.0.public()
    }

    /// The underlying fastcrypto key pair.
    pub fn inner(&self) -> &BLS12381KeyPair {
        &self.0
    }

    /// Signs raw bytes.
    pub fn sign_bytes(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }

    /// Signs the BCS bytes of a protocol message.
    pub fn sign_message<T: ProtocolMessageKind>(&self, message: &T) -> SignedMessage<T> {
        let serialized_message = message.to_bcs_bytes();
        let signature = self.sign_bytes(&serialized_message);
        SignedMessage::new_from_encoded(serialized_message, signature)
    }

    /// The proof of possession of this key for a node's Sui address, as `register_candidate`
    /// expects it: a signature over the [`ProofOfPossessionMsg`] for `epoch`.
    pub fn proof_of_possession(&self, sui_address: [u8; 32], epoch: Epoch) -> Signature {
        let message = ProofOfPossessionMsg::for_key(epoch, sui_address, self.public().clone());
        self.sign_bytes(&message.to_bcs_bytes())
    }
}

/// Decodes and validates an untrusted public key (on the curve, in the subgroup, not the
/// identity).
pub fn public_key_from_bytes(bytes: &[u8]) -> Result<PublicKey, CryptoError> {
    let key = PublicKey::from_bytes(bytes).map_err(|_| CryptoError::InvalidPublicKey)?;
    key.validate().map_err(|_| CryptoError::InvalidPublicKey)?;
    Ok(key)
}

/// Decodes a signature (the subgroup check happens at verification).
pub fn signature_from_bytes(bytes: &[u8]) -> Result<Signature, CryptoError> {
    Signature::from_bytes(bytes).map_err(|_| CryptoError::InvalidSignature)
}

/// Verifies a proof of possession as `messages.move::verify_proof_of_possession` does: the
/// signature must be by `public_key` over the proof-of-possession message binding the key to
/// `sui_address` in `epoch`. The key is validated first.
pub fn verify_proof_of_possession(
    sui_address: &[u8; 32],
    public_key: &PublicKey,
    epoch: Epoch,
    signature: &Signature,
) -> Result<(), CryptoError> {
    public_key
        .validate()
        .map_err(|_| CryptoError::InvalidPublicKey)?;
    let message = ProofOfPossessionMsg::for_key(epoch, *sui_address, public_key.clone());
    public_key
        .verify(&message.to_bcs_bytes(), signature)
        .map_err(|_| CryptoError::SignatureVerification)
}

/// One member (storage node) of a committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeMember {
    /// The member's BLS public key.
    pub public_key: PublicKey,
    /// The member's weight: the number of shards it holds.
    pub weight: u16,
}

/// Why a committee is malformed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CommitteeError {
    /// The committee has no shards.
    #[error("a committee must have at least one shard")]
    NoShards,
    /// The member weights do not sum to the number of shards.
    #[error("member weights sum to {total}, but there are {n_shards} shards")]
    WeightMismatch {
        /// Sum of the member weights.
        total: u64,
        /// The number of shards.
        n_shards: u16,
    },
    /// More members than `u16` signer indices can address.
    #[error("{0} members exceed the 65536 addressable by u16 signer indices")]
    TooManyMembers(usize),
    /// A member's public key is invalid (identity or not in the subgroup).
    #[error("member {0} has an invalid public key")]
    InvalidPublicKey(usize),
}

/// The signature threshold a certificate must meet, counted in shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Threshold {
    /// A quorum, `n - f` shards (storage certificates, protocol and deny-list updates).
    Quorum,
    /// At least one correct shard (invalid blob ID, deny-listed blob deletion): the chain's rule
    /// `3w >= n + 1`, which is `f + 1` when `n = 3f + 1` and one more when `n` is a multiple of
    /// 3, so that every certificate accepted here is accepted on chain.
    Validity,
}

impl Threshold {
    /// The minimum signing weight out of `n_shards`: `n - f` for a quorum, `floor(n / 3) + 1`
    /// for validity.
    pub fn min_weight(self, n_shards: u16) -> u16 {
        match self {
            Threshold::Quorum => bft::min_n_correct(n_shards),
            Threshold::Validity => n_shards / 3 + 1,
        }
    }

    /// Whether `weight` shards meet the threshold: the Move contract's rule, `3w >= 2n + 1` for
    /// a quorum (equal to `n - f`), `3w >= n + 1` for validity.
    pub fn is_met(self, weight: u16, n_shards: u16) -> bool {
        weight >= self.min_weight(n_shards)
    }
}

/// Why a certificate (or signer bitmap) was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CertificateVerificationError {
    /// A signer index is not a member index.
    #[error("signer index {index} is out of range for {n_members} members")]
    SignerOutOfRange {
        /// The offending index.
        index: u16,
        /// The number of committee members.
        n_members: usize,
    },
    /// A signer index appears twice.
    #[error("duplicate signer index {0}")]
    DuplicateSigner(u16),
    /// The signers hold too few shards.
    #[error("signers hold {weight} shards, {required} required")]
    NotEnoughWeight {
        /// The signers' weight.
        weight: u16,
        /// The threshold.
        required: u16,
    },
    /// The certified message cannot be decoded or has the wrong intent.
    #[error(transparent)]
    Decode(#[from] MessageDecodeError),
    /// The message epoch is not the committee's epoch.
    #[error("certificate epoch mismatch: committee epoch {expected}, message epoch {actual}")]
    EpochMismatch {
        /// The committee's epoch.
        expected: Epoch,
        /// The message's epoch.
        actual: Epoch,
    },
    /// The aggregate signature does not verify against the signers' keys.
    #[error("aggregate signature verification failed")]
    SignatureVerification,
}

/// Why a signer bitmap is malformed (the Move contract's `EInvalidBitmap`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BitmapError {
    /// The bitmap is not `ceil(n_members / 8)` bytes long.
    #[error("bitmap has {actual} bytes, expected {expected}")]
    WrongLength {
        /// `ceil(n_members / 8)`.
        expected: usize,
        /// The bitmap length.
        actual: usize,
    },
    /// A bit past the last member is set.
    #[error("bit {0} is set but there is no such member")]
    BitPastMembers(usize),
    /// A signer index is not a member index.
    #[error("signer index {index} is out of range for {n_members} members")]
    SignerOutOfRange {
        /// The offending index.
        index: u16,
        /// The number of committee members.
        n_members: usize,
    },
}

/// The storage committee of an epoch: members in their on-chain order, with their shard
/// counts. Signer indices in certificates index [`Committee::members`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committee {
    epoch: Epoch,
    n_shards: u16,
    members: Vec<CommitteeMember>,
}

impl Committee {
    /// A committee, checking that `n_shards > 0`, the weights sum to `n_shards`, the members
    /// are addressable by `u16` indices and every public key is valid.
    pub fn new(
        epoch: Epoch,
        n_shards: u16,
        members: Vec<CommitteeMember>,
    ) -> Result<Self, CommitteeError> {
        if n_shards == 0 {
            return Err(CommitteeError::NoShards);
        }
        if members.len() > usize::from(u16::MAX) + 1 {
            return Err(CommitteeError::TooManyMembers(members.len()));
        }
        let total: u64 = members.iter().map(|member| u64::from(member.weight)).sum();
        if total != u64::from(n_shards) {
            return Err(CommitteeError::WeightMismatch { total, n_shards });
        }
        if let Some(index) = members
            .iter()
            .position(|member| member.public_key.validate().is_err())
        {
            return Err(CommitteeError::InvalidPublicKey(index));
        }
        Ok(Self {
            epoch,
            n_shards,
            members,
        })
    }

    /// The committee's epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The total number of shards.
    pub fn n_shards(&self) -> u16 {
        self.n_shards
    }

    /// The members, in signer-index order.
    pub fn members(&self) -> &[CommitteeMember] {
        &self.members
    }

    /// The number of members.
    pub fn n_members(&self) -> usize {
        self.members.len()
    }

    /// The member with the given signer index.
    pub fn member(&self, index: u16) -> Option<&CommitteeMember> {
        self.members.get(usize::from(index))
    }

    /// The total weight of a signer set, checking first that every index is in range and then
    /// that no index repeats.
    pub fn weight_of(&self, signers: &[u16]) -> Result<u16, CertificateVerificationError> {
        if let Some(&index) = signers
            .iter()
            .find(|&&index| usize::from(index) >= self.members.len())
        {
            return Err(CertificateVerificationError::SignerOutOfRange {
                index,
                n_members: self.members.len(),
            });
        }
        if let Some(duplicate) = first_duplicate(signers) {
            return Err(CertificateVerificationError::DuplicateSigner(duplicate));
        }
        // Distinct members hold at most `n_shards` shards together, so this never saturates.
        Ok(signers
            .iter()
            .map(|&index| self.members[usize::from(index)].weight)
            .fold(0u16, u16::saturating_add))
    }

    /// The signer indices set in an on-chain signer bitmap (ascending), validating it as the
    /// Move contract does.
    pub fn signers_from_bitmap(&self, bitmap: &[u8]) -> Result<Vec<u16>, BitmapError> {
        let expected = self.members.len().div_ceil(8);
        if bitmap.len() != expected {
            return Err(BitmapError::WrongLength {
                expected,
                actual: bitmap.len(),
            });
        }
        let mut signers = Vec::new();
        for (byte_index, byte) in bitmap.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) == 0 {
                    continue;
                }
                let index = byte_index * 8 + bit;
                match u16::try_from(index) {
                    Ok(signer) if index < self.members.len() => signers.push(signer),
                    _ => return Err(BitmapError::BitPastMembers(index)),
                }
            }
        }
        Ok(signers)
    }

    /// The signing weight of an on-chain signer bitmap, computed as the Move contract does:
    /// `n_shards` minus the weight of the non-signers.
    pub fn weight_from_bitmap(&self, bitmap: &[u8]) -> Result<u16, BitmapError> {
        let signers = self.signers_from_bitmap(bitmap)?;
        let mut is_signer = vec![false; self.members.len()];
        for signer in signers {
            is_signer[usize::from(signer)] = true;
        }
        let non_signer_weight = self
            .members
            .iter()
            .zip(&is_signer)
            .filter(|(_, &signed)| !signed)
            .map(|(member, _)| member.weight)
            .fold(0u16, u16::saturating_add);
        // Weights sum to `n_shards` (checked in `new`), so this never saturates.
        Ok(self.n_shards.saturating_sub(non_signer_weight))
    }
}

/// The on-chain signer bitmap (as `walrus-sui`'s `signers_to_bitmap`): `ceil(n_members / 8)`
/// bytes, signer `i` sets bit `i % 8` (least significant first) of byte `i / 8`. A repeated
/// index sets the same bit again.
pub fn signers_to_bitmap(signers: &[u16], n_members: usize) -> Result<Vec<u8>, BitmapError> {
    let mut bitmap = vec![0u8; n_members.div_ceil(8)];
    for &signer in signers {
        let index = usize::from(signer);
        if index >= n_members {
            return Err(BitmapError::SignerOutOfRange {
                index: signer,
                n_members,
            });
        }
        bitmap[index / 8] |= 1 << (index % 8);
    }
    Ok(bitmap)
}

/// Verifies a certificate against a committee and returns the certified message. Checks, in
/// order: signer indices in range, no duplicate signer, signing weight meets `threshold`, the
/// message decodes with the right intent, its epoch is the committee's epoch, and the aggregate
/// signature verifies against the signers' public keys.
pub fn verify_certificate<T: ProtocolMessageKind>(
    certificate: &ProtocolMessageCertificate<T>,
    committee: &Committee,
    threshold: Threshold,
) -> Result<T, CertificateVerificationError> {
    let weight = committee.weight_of(&certificate.signers)?;
    let required = threshold.min_weight(committee.n_shards());
    if weight < required {
        return Err(CertificateVerificationError::NotEnoughWeight { weight, required });
    }
    let message = certificate.decode_message()?;
    if message.epoch() != committee.epoch() {
        return Err(CertificateVerificationError::EpochMismatch {
            expected: committee.epoch(),
            actual: message.epoch(),
        });
    }
    certificate.verify_signature(committee)?;
    Ok(message)
}

impl<T: ProtocolMessageKind> ProtocolMessageCertificate<T> {
    /// Verifies the certificate against a committee; see [`verify_certificate`].
    pub fn verify(
        &self,
        committee: &Committee,
        threshold: Threshold,
    ) -> Result<T, CertificateVerificationError> {
        verify_certificate(self, committee, threshold)
    }

    /// Checks only the aggregate signature against the signers' public keys (whatever their
    /// weight): one pairing check for any number of signers, e.g. to verify a batch of signed
    /// messages at once.
    pub fn verify_signature(
        &self,
        committee: &Committee,
    ) -> Result<(), CertificateVerificationError> {
        committee.weight_of(&self.signers)?;
        let keys: Vec<PublicKey> = self
            .signers
            .iter()
            .map(|&index| committee.members[usize::from(index)].public_key.clone())
            .collect();
        self.signature
            .verify(&keys, &self.serialized_message)
            .map_err(|_| CertificateVerificationError::SignatureVerification)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::{
        messages::{
            BlobPersistenceType, Confirmation, ConfirmationCertificate, InvalidBlobCertificate,
            InvalidBlobIdMsg,
        },
        BlobId,
    };

    const EPOCH: Epoch = 5;
    const WEIGHTS: [u16; 4] = [1, 2, 3, 4];

    struct Fixture {
        keys: Vec<ProtocolKeyPair>,
        confirmation: Confirmation,
        /// `keys[i]`'s signature over `confirmation`.
        signed: Vec<SignedMessage<Confirmation>>,
        invalid: InvalidBlobIdMsg,
        signed_invalid: Vec<SignedMessage<InvalidBlobIdMsg>>,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let keys: Vec<_> = (0..6u8)
                .map(|seed| ProtocolKeyPair::from_seed([seed + 100; 32]))
                .collect();
            let confirmation =
                Confirmation::for_blob(EPOCH, BlobId([3; 32]), BlobPersistenceType::Permanent);
            let invalid = InvalidBlobIdMsg::new(EPOCH, BlobId([4; 32]));
            Fixture {
                signed: keys.iter().map(|k| k.sign_message(&confirmation)).collect(),
                signed_invalid: keys.iter().map(|k| k.sign_message(&invalid)).collect(),
                keys,
                confirmation,
                invalid,
            }
        })
    }

    fn committee_with(epoch: Epoch, weights: &[u16]) -> Committee {
        let members = weights
            .iter()
            .zip(&fixture().keys)
            .map(|(&weight, key)| CommitteeMember {
                public_key: key.public().clone(),
                weight,
            })
            .collect();
        Committee::new(epoch, weights.iter().sum(), members).unwrap()
    }

    fn committee() -> Committee {
        committee_with(EPOCH, &WEIGHTS)
    }

    fn certificate(signers: &[u16]) -> ConfirmationCertificate {
        let messages: Vec<_> = signers
            .iter()
            .map(|&i| fixture().signed[usize::from(i)].clone())
            .collect();
        ConfirmationCertificate::from_signed_messages_and_indices(&messages, signers).unwrap()
    }

    fn invalid_certificate(signers: &[u16]) -> InvalidBlobCertificate {
        let messages: Vec<_> = signers
            .iter()
            .map(|&i| fixture().signed_invalid[usize::from(i)].clone())
            .collect();
        InvalidBlobCertificate::from_signed_messages_and_indices(&messages, signers).unwrap()
    }

    #[test]
    fn key_encodings() {
        let key = ProtocolKeyPair::from_seed([1; 32]);
        assert_eq!(key.public().as_bytes().len(), PUBLIC_KEY_LENGTH);
        assert_eq!(
            bcs::to_bytes(key.public()).unwrap(),
            key.public().as_bytes()
        );
        let signature = key.sign_bytes(b"hello");
        assert_eq!(signature.as_bytes().len(), SIGNATURE_LENGTH);
        assert_eq!(bcs::to_bytes(&signature).unwrap(), signature.as_bytes());
        // Deterministic from the seed, and restorable from the private key.
        assert_eq!(ProtocolKeyPair::from_seed([1; 32]).public(), key.public());
        let restored = ProtocolKeyPair::from_private_key_bytes(key.private_key_bytes()).unwrap();
        assert_eq!(restored.public(), key.public());
        assert_eq!(
            public_key_from_bytes(key.public().as_bytes()).unwrap(),
            *key.public()
        );
        assert_eq!(
            signature_from_bytes(signature.as_bytes()).unwrap(),
            signature
        );
        // JSON is standard base64.
        use base64::{engine::general_purpose::STANDARD, Engine as _};
        let json = serde_json::to_value(key.public()).unwrap();
        assert_eq!(
            STANDARD.decode(json.as_str().unwrap()).unwrap(),
            key.public().as_bytes()
        );
        assert!(!format!("{key:?}").contains(&hex::encode(key.private_key_bytes())));
    }

    #[test]
    fn bad_key_bytes_are_refused() {
        assert_eq!(
            public_key_from_bytes(&[0; 48]),
            Err(CryptoError::InvalidPublicKey)
        );
        let mut identity = [0u8; 48];
        identity[0] = 0xc0;
        assert_eq!(
            public_key_from_bytes(&identity),
            Err(CryptoError::InvalidPublicKey)
        );
        assert_eq!(
            public_key_from_bytes(&[1; 47]),
            Err(CryptoError::InvalidPublicKey)
        );
        assert!(ProtocolKeyPair::from_private_key_bytes(&[0xff; 32]).is_err());
        assert_eq!(
            signature_from_bytes(&[1; 95]),
            Err(CryptoError::InvalidSignature)
        );
    }

    #[test]
    fn proof_of_possession_round_trip() {
        let key = ProtocolKeyPair::from_seed([7; 32]);
        let other = ProtocolKeyPair::from_seed([8; 32]);
        let address = [0x42; 32];
        let pop = key.proof_of_possession(address, 3);
        assert_eq!(
            verify_proof_of_possession(&address, key.public(), 3, &pop),
            Ok(())
        );
        let refused = Err(CryptoError::SignatureVerification);
        assert_eq!(
            verify_proof_of_possession(&address, key.public(), 4, &pop),
            refused
        );
        assert_eq!(
            verify_proof_of_possession(&[0x43; 32], key.public(), 3, &pop),
            refused
        );
        assert_eq!(
            verify_proof_of_possession(&address, other.public(), 3, &pop),
            refused
        );
        // The PoP is the signature over the 87-byte message.
        let message = ProofOfPossessionMsg::for_key(3, address, key.public().clone());
        assert_eq!(key.sign_message(&message).signature, pop);
    }

    #[test]
    fn committee_validation() {
        let keys = &fixture().keys;
        let member = |i: usize, weight| CommitteeMember {
            public_key: keys[i].public().clone(),
            weight,
        };
        assert_eq!(
            Committee::new(1, 3, vec![member(0, 1), member(1, 1)]),
            Err(CommitteeError::WeightMismatch {
                total: 2,
                n_shards: 3
            })
        );
        assert_eq!(Committee::new(1, 0, vec![]), Err(CommitteeError::NoShards));
        let mut invalid = member(1, 1);
        let mut identity = [0u8; 48];
        identity[0] = 0xc0;
        invalid.public_key = PublicKey::from_bytes(&identity).unwrap();
        assert_eq!(
            Committee::new(1, 2, vec![member(0, 1), invalid]),
            Err(CommitteeError::InvalidPublicKey(1))
        );
        let committee = committee();
        assert_eq!(
            (
                committee.epoch(),
                committee.n_shards(),
                committee.n_members()
            ),
            (EPOCH, 10, 4)
        );
    }

    #[test]
    fn quorum_is_exact() {
        let committee = committee();
        assert_eq!(Threshold::Quorum.min_weight(10), 7);
        // 3 + 4 = 7 shards: exactly a quorum.
        let message = certificate(&[2, 3])
            .verify(&committee, Threshold::Quorum)
            .unwrap();
        assert_eq!(message, fixture().confirmation);
        // 2 + 4 = 6 shards: one short.
        assert_eq!(
            certificate(&[1, 3]).verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::NotEnoughWeight {
                weight: 6,
                required: 7
            })
        );
        // 1 + 2 + 3 = 6 shards with three of four members: still one short.
        assert!(matches!(
            certificate(&[0, 1, 2]).verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::NotEnoughWeight { weight: 6, .. })
        ));
        assert!(certificate(&[3, 0, 1, 2])
            .verify(&committee, Threshold::Quorum)
            .is_ok());
    }

    #[test]
    fn validity_is_exact() {
        let committee = committee();
        assert_eq!(Threshold::Validity.min_weight(10), 4);
        let message = invalid_certificate(&[3])
            .verify(&committee, Threshold::Validity)
            .unwrap();
        assert_eq!(message, fixture().invalid);
        assert!(invalid_certificate(&[0, 2])
            .verify(&committee, Threshold::Validity)
            .is_ok());
        assert_eq!(
            invalid_certificate(&[2]).verify(&committee, Threshold::Validity),
            Err(CertificateVerificationError::NotEnoughWeight {
                weight: 3,
                required: 4
            })
        );
        assert!(invalid_certificate(&[0, 1])
            .verify(&committee, Threshold::Validity)
            .is_err());
    }

    #[test]
    fn malformed_signer_sets_are_refused() {
        let committee = committee();
        let good = certificate(&[2, 3]);
        let mut duplicate = good.clone();
        duplicate.signers = vec![3, 2, 3];
        assert_eq!(
            duplicate.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::DuplicateSigner(3))
        );
        let mut out_of_range = good.clone();
        out_of_range.signers = vec![2, 3, 4];
        assert_eq!(
            out_of_range.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::SignerOutOfRange {
                index: 4,
                n_members: 4
            })
        );
        // Range is checked before duplicates.
        out_of_range.signers = vec![3, 3, 9];
        assert!(matches!(
            out_of_range.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::SignerOutOfRange { index: 9, .. })
        ));
    }

    #[test]
    fn forged_signatures_are_refused() {
        let committee = committee();
        let fixture = fixture();
        // Claims members 2 and 3, but member 3's signature is by a non-member key.
        let forged = ConfirmationCertificate::from_signed_messages_and_indices(
            &[fixture.signed[2].clone(), fixture.signed[5].clone()],
            &[2, 3],
        )
        .unwrap();
        assert_eq!(
            forged.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::SignatureVerification)
        );
        // Adds a signer that did not sign.
        let mut padded = certificate(&[2, 3]);
        padded.signers.push(0);
        assert_eq!(
            padded.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::SignatureVerification)
        );
        // A valid aggregate over a different message.
        let mut swapped = certificate(&[2, 3]);
        swapped.serialized_message =
            Confirmation::for_blob(EPOCH, BlobId([9; 32]), BlobPersistenceType::Permanent)
                .to_bcs_bytes();
        assert_eq!(
            swapped.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::SignatureVerification)
        );
        // The identity signature with no real signers cannot reach a threshold, and garbage
        // message bytes fail decoding.
        let mut garbage = certificate(&[2, 3]);
        garbage.serialized_message = vec![1, 0, 3];
        assert!(matches!(
            garbage.verify(&committee, Threshold::Quorum),
            Err(CertificateVerificationError::Decode(
                MessageDecodeError::Bcs(_)
            ))
        ));
    }

    #[test]
    fn wrong_epoch_and_intent_are_refused() {
        let later = committee_with(EPOCH + 1, &WEIGHTS);
        assert_eq!(
            certificate(&[2, 3]).verify(&later, Threshold::Quorum),
            Err(CertificateVerificationError::EpochMismatch {
                expected: EPOCH + 1,
                actual: EPOCH
            })
        );
        // An invalid-blob certificate read as a confirmation certificate.
        let cert = invalid_certificate(&[2, 3]);
        let as_confirmation = ConfirmationCertificate::new(
            cert.signers.clone(),
            cert.serialized_message.clone(),
            cert.signature.clone(),
        );
        assert!(matches!(
            as_confirmation.verify(&committee(), Threshold::Quorum),
            Err(CertificateVerificationError::Decode(_))
        ));
    }

    #[test]
    fn bitmap_layout() {
        assert_eq!(signers_to_bitmap(&[], 0).unwrap(), Vec::<u8>::new());
        assert_eq!(signers_to_bitmap(&[0, 3], 4).unwrap(), vec![0b1001]);
        assert_eq!(
            signers_to_bitmap(&[8, 1, 15, 16], 17).unwrap(),
            vec![0b10, 0b1000_0001, 0b1]
        );
        assert_eq!(signers_to_bitmap(&[7, 7], 8).unwrap(), vec![0x80]);
        assert_eq!(
            signers_to_bitmap(&[8], 8),
            Err(BitmapError::SignerOutOfRange {
                index: 8,
                n_members: 8
            })
        );
        let committee = committee();
        assert_eq!(
            committee.signers_from_bitmap(&[0b1100]).unwrap(),
            vec![2, 3]
        );
        assert_eq!(committee.weight_from_bitmap(&[0b1100]).unwrap(), 7);
        assert_eq!(committee.weight_from_bitmap(&[0]).unwrap(), 0);
        assert_eq!(
            committee.weight_from_bitmap(&[0b1_0000]),
            Err(BitmapError::BitPastMembers(4))
        );
        assert_eq!(
            committee.weight_from_bitmap(&[0b1100, 0]),
            Err(BitmapError::WrongLength {
                expected: 1,
                actual: 2
            })
        );
    }

    #[test]
    fn thresholds_match_the_move_contract() {
        for n in 1..=300u16 {
            for weight in 0..=n {
                let (w, n32) = (u32::from(weight), u32::from(n));
                assert_eq!(
                    Threshold::Quorum.is_met(weight, n),
                    3 * w > 2 * n32,
                    "n={n} w={weight}"
                );
                assert_eq!(
                    Threshold::Validity.is_met(weight, n),
                    3 * w > n32,
                    "n={n} w={weight}"
                );
                // At least f + 1, so a valid certificate always includes a correct shard.
                if Threshold::Validity.is_met(weight, n) {
                    assert!(crate::bft::is_above_validity(usize::from(weight), n));
                }
            }
        }
        assert!(!Threshold::Validity.is_met(3, 9) && Threshold::Validity.is_met(4, 9));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn certificate_verifies_iff_weight_meets_threshold(
            mask in 0u8..16,
            quorum in any::<bool>(),
            rotate in 0usize..4,
        ) {
            let committee = committee();
            let mut signers: Vec<u16> = (0..4u16).filter(|i| mask & (1 << i) != 0).collect();
            let n_signers = signers.len();
            signers.rotate_left(rotate.min(n_signers));
            let weight: u16 = signers.iter().map(|&i| WEIGHTS[usize::from(i)]).sum();
            let threshold = if quorum { Threshold::Quorum } else { Threshold::Validity };
            let bitmap = signers_to_bitmap(&signers, committee.n_members()).unwrap();
            prop_assert_eq!(committee.weight_from_bitmap(&bitmap).unwrap(), weight);
            if signers.is_empty() {
                prop_assert_eq!(
                    ConfirmationCertificate::from_signed_messages_and_indices(&[], &[]).unwrap_err(),
                    crate::messages::CertificateError::MessageMismatch
                );
                return Ok(());
            }
            let result = certificate(&signers).verify(&committee, threshold);
            prop_assert_eq!(result.is_ok(), weight >= threshold.min_weight(10));
        }

        #[test]
        fn random_weights_and_subsets(
            weights in proptest::collection::vec(0u16..6, 6),
            mask in 1u8..64,
            quorum in any::<bool>(),
        ) {
            let n_shards: u16 = weights.iter().sum();
            prop_assume!(n_shards > 0);
            let committee = committee_with(EPOCH, &weights);
            let signers: Vec<u16> = (0..6u16).filter(|i| mask & (1 << i) != 0).collect();
            let weight: u16 = signers.iter().map(|&i| weights[usize::from(i)]).sum();
            let threshold = if quorum { Threshold::Quorum } else { Threshold::Validity };
            let bitmap = signers_to_bitmap(&signers, 6).unwrap();
            prop_assert_eq!(committee.signers_from_bitmap(&bitmap).unwrap(), signers.clone());
            prop_assert_eq!(committee.weight_from_bitmap(&bitmap).unwrap(), weight);
            let result = certificate(&signers).verify(&committee, threshold);
            match result {
                Ok(message) => {
                    prop_assert!(threshold.is_met(weight, n_shards));
                    prop_assert_eq!(message, fixture().confirmation.clone());
                }
                Err(error) => {
                    prop_assert!(!threshold.is_met(weight, n_shards));
                    prop_assert_eq!(
                        error,
                        CertificateVerificationError::NotEnoughWeight {
                            weight,
                            required: threshold.min_weight(n_shards),
                        }
                    );
                }
            }
        }
    }
}
