//! Twin of `walrus::bls_aggregate`: the BLS committee of an epoch and the verification of
//! aggregate-signature certificates with shard-weighted thresholds.

use fastcrypto::{
    bls12381::min_pk::BLS12381AggregateSignature,
    traits::{AggregateAuthenticator, ToFromBytes},
};
use serde::{Deserialize, Serialize};
use walrus_core::{crypto::public_key_from_bytes, ObjectId};

use super::{
    ensure,
    messages::{self, CertifiedMessage},
    Abort, MoveResult,
};

/// `ESigVerification`: the aggregate signature does not verify.
pub const E_SIG_VERIFICATION: Abort = Abort::new("bls_aggregate", 0, "ESigVerification");
/// `ENotEnoughStake`: the signers hold too few shards.
pub const E_NOT_ENOUGH_STAKE: Abort = Abort::new("bls_aggregate", 1, "ENotEnoughStake");
/// `EInvalidBitmap`: the signer bitmap has the wrong length or bits past the members.
pub const E_INVALID_BITMAP: Abort = Abort::new("bls_aggregate", 2, "EInvalidBitmap");
/// `EInvalidCommittee`: a member key is not a valid G1 point, or weights overflow.
pub const E_INVALID_COMMITTEE: Abort = Abort::new("bls_aggregate", 3, "EInvalidCommittee");

/// One member of the committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlsCommitteeMember {
    /// Compressed BLS12-381 G1 public key (48 bytes).
    pub public_key: Vec<u8>,
    /// Shards held.
    pub weight: u16,
    /// The member's node (staking pool) ID.
    pub node_id: ObjectId,
}

/// The committee of one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlsCommittee {
    /// Members in committee order (signer indices and bitmaps refer to it).
    pub members: Vec<BlsCommitteeMember>,
    /// Total shards (sum of weights).
    pub n_shards: u16,
    /// The epoch.
    pub epoch: u32,
}

/// Quorum: `3 * weight >= 2 * n_shards + 1`.
pub fn is_quorum(weight: u16, n_shards: u16) -> bool {
    3 * u64::from(weight) > 2 * u64::from(n_shards)
}

/// At least one correct member: `3 * weight >= n_shards + 1`.
pub fn is_one_correct(weight: u16, n_shards: u16) -> bool {
    3 * u64::from(weight) > u64::from(n_shards)
}

/// `new_bls_committee`: every key must be a valid G1 point; `n_shards` is the sum of weights.
pub fn new_bls_committee(epoch: u32, members: Vec<BlsCommitteeMember>) -> MoveResult<BlsCommittee> {
    let mut n_shards: u16 = 0;
    for member in &members {
        ensure(
            public_key_from_bytes(&member.public_key).is_ok(),
            E_INVALID_COMMITTEE,
        )?;
        n_shards = n_shards
            .checked_add(member.weight)
            .ok_or(E_INVALID_COMMITTEE)?;
    }
    Ok(BlsCommittee {
        members,
        n_shards,
        epoch,
    })
}

impl BlsCommittee {
    /// `verify_quorum_in_epoch`: a certificate by a quorum of shards for this epoch.
    pub fn verify_quorum_in_epoch(
        &self,
        signature: &[u8],
        signers_bitmap: &[u8],
        message: &[u8],
    ) -> MoveResult<CertifiedMessage> {
        let weight =
            self.verify_certificate_and_weight(signature, signers_bitmap, message, is_quorum)?;
        messages::new_certified_message(message, self.epoch, weight)
    }

    /// `verify_one_correct_node_in_epoch`: a certificate by at least one correct shard.
    pub fn verify_one_correct_node_in_epoch(
        &self,
        signature: &[u8],
        signers_bitmap: &[u8],
        message: &[u8],
    ) -> MoveResult<CertifiedMessage> {
        let weight =
            self.verify_certificate_and_weight(signature, signers_bitmap, message, is_one_correct)?;
        messages::new_certified_message(message, self.epoch, weight)
    }

    /// The signers of `bitmap` (LSB first, `ceil(members / 8)` bytes, no bits past the members),
    /// checked for the bitmap's shape.
    pub fn signers(&self, signers_bitmap: &[u8]) -> MoveResult<Vec<usize>> {
        let members = self.members.len();
        ensure(
            signers_bitmap.len() == members.div_ceil(8),
            E_INVALID_BITMAP,
        )?;
        let mut signers = Vec::new();
        for (byte_index, byte) in signers_bitmap.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) == 0 {
                    continue;
                }
                let member = byte_index * 8 + bit;
                ensure(member < members, E_INVALID_BITMAP)?;
                signers.push(member);
            }
        }
        Ok(signers)
    }

    fn verify_certificate_and_weight(
        &self,
        signature: &[u8],
        signers_bitmap: &[u8],
        message: &[u8],
        threshold: fn(u16, u16) -> bool,
    ) -> MoveResult<u16> {
        let signers = self.signers(signers_bitmap)?;
        let non_signer_weight: u16 = self
            .members
            .iter()
            .enumerate()
            .filter(|(index, _)| !signers.contains(index))
            .map(|(_, member)| member.weight)
            .sum();
        let weight = self.n_shards - non_signer_weight;
        ensure(threshold(weight, self.n_shards), E_NOT_ENOUGH_STAKE)?;
        let keys = signers
            .iter()
            .map(|index| public_key_from_bytes(&self.members[*index].public_key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| E_SIG_VERIFICATION)?;
        let aggregate =
            BLS12381AggregateSignature::from_bytes(signature).map_err(|_| E_SIG_VERIFICATION)?;
        aggregate
            .verify(&keys, message)
            .map_err(|_| E_SIG_VERIFICATION)?;
        Ok(weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walrus_core::{
        crypto::{signers_to_bitmap, ProtocolKeyPair},
        messages::{BlobPersistenceType, Confirmation, ProtocolMessageCertificate},
        BlobId,
    };

    fn committee(weights: &[u16], epoch: u32) -> (BlsCommittee, Vec<ProtocolKeyPair>) {
        let keys: Vec<ProtocolKeyPair> = (0..weights.len())
            .map(|i| ProtocolKeyPair::from_seed([u8::try_from(i).unwrap() + 1; 32]))
            .collect();
        let members = keys
            .iter()
            .zip(weights)
            .enumerate()
            .map(|(i, (key, weight))| BlsCommitteeMember {
                public_key: key.public().as_bytes().to_vec(),
                weight: *weight,
                node_id: ObjectId([u8::try_from(i).unwrap(); 32]),
            })
            .collect();
        (new_bls_committee(epoch, members).unwrap(), keys)
    }

    fn certificate(keys: &[ProtocolKeyPair], signers: &[u16], epoch: u32) -> (Vec<u8>, Vec<u8>) {
        let message =
            Confirmation::for_blob(epoch, BlobId([1; 32]), BlobPersistenceType::Permanent);
        let signed: Vec<_> = signers
            .iter()
            .map(|i| keys[usize::from(*i)].sign_message(&message))
            .collect();
        let certificate =
            ProtocolMessageCertificate::from_signed_messages_and_indices(&signed, signers).unwrap();
        (
            certificate.serialized_message,
            certificate.signature.as_bytes().to_vec(),
        )
    }

    #[test]
    fn quorum_certificates() {
        let (committee, keys) = committee(&[1, 2, 3, 4], 3);
        assert_eq!(committee.n_shards, 10);
        // 3 + 4 = 7 of 10 shards: 21 >= 21 is a quorum.
        let (message, signature) = certificate(&keys, &[2, 3], 3);
        let bitmap = signers_to_bitmap(&[2, 3], 4).unwrap();
        let certified = committee
            .verify_quorum_in_epoch(&signature, &bitmap, &message)
            .unwrap();
        assert_eq!(certified.stake_support, 7);
        // 2 + 4 = 6: not a quorum, but above validity.
        let (message, signature) = certificate(&keys, &[1, 3], 3);
        let bitmap = signers_to_bitmap(&[1, 3], 4).unwrap();
        assert_eq!(
            committee.verify_quorum_in_epoch(&signature, &bitmap, &message),
            Err(E_NOT_ENOUGH_STAKE)
        );
        assert!(committee
            .verify_one_correct_node_in_epoch(&signature, &bitmap, &message)
            .is_ok());
        // A bitmap claiming a signer that did not sign.
        let bitmap = signers_to_bitmap(&[1, 2, 3], 4).unwrap();
        assert_eq!(
            committee.verify_quorum_in_epoch(&signature, &bitmap, &message),
            Err(E_SIG_VERIFICATION)
        );
    }

    #[test]
    fn bad_bitmaps_and_epochs() {
        let (committee, keys) = committee(&[1, 2, 3, 4], 3);
        let (message, signature) = certificate(&keys, &[2, 3], 3);
        assert_eq!(
            committee.verify_quorum_in_epoch(&signature, &[0b1100, 0], &message),
            Err(E_INVALID_BITMAP)
        );
        assert_eq!(
            committee.verify_quorum_in_epoch(&signature, &[0b1_1100], &message),
            Err(E_INVALID_BITMAP)
        );
        let (message, signature) = certificate(&keys, &[2, 3], 4);
        assert_eq!(
            committee.verify_quorum_in_epoch(&signature, &[0b1100], &message),
            Err(messages::E_INCORRECT_EPOCH)
        );
        assert_eq!(
            committee.verify_quorum_in_epoch(&[0; 96], &[0b1100], &message),
            Err(E_SIG_VERIFICATION)
        );
    }

    #[test]
    fn invalid_keys_are_refused() {
        let member = BlsCommitteeMember {
            public_key: vec![0; 48],
            weight: 1,
            node_id: ObjectId([0; 32]),
        };
        assert_eq!(new_bls_committee(1, vec![member]), Err(E_INVALID_COMMITTEE));
    }

    #[test]
    fn committee_bcs_layout() {
        let committee = BlsCommittee {
            members: vec![BlsCommitteeMember {
                public_key: vec![5; 48],
                weight: 3,
                node_id: ObjectId([6; 32]),
            }],
            n_shards: 3,
            epoch: 2,
        };
        let mut expected = vec![1, 48];
        expected.extend([5; 48]);
        expected.extend([3, 0]);
        expected.extend([6; 32]);
        expected.extend([3, 0, 2, 0, 0, 0]);
        assert_eq!(bcs::to_bytes(&committee).unwrap(), expected);
    }
}
