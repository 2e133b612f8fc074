//! Twin of `walrus::messages`: parsing of the signed protocol messages the contracts accept
//! (`intent type, intent version, app id, epoch u32 LE, body`).

use walrus_core::ObjectId;

use super::{ensure, sui::U256, Abort, MoveResult};

/// `EIncorrectAppId`: the app id is not 3 (storage).
pub const E_INCORRECT_APP_ID: Abort = Abort::new("messages", 0, "EIncorrectAppId");
/// `EIncorrectEpoch`: the message is for another epoch than the committee's.
pub const E_INCORRECT_EPOCH: Abort = Abort::new("messages", 1, "EIncorrectEpoch");
/// `EInvalidMsgType`: the intent type is not the one the function expects.
pub const E_INVALID_MSG_TYPE: Abort = Abort::new("messages", 2, "EInvalidMsgType");
/// `EIncorrectIntentVersion`: the intent version is not 0.
pub const E_INCORRECT_INTENT_VERSION: Abort = Abort::new("messages", 3, "EIncorrectIntentVersion");
/// `EMalformedMessage`: the message is too short or its body does not parse.
pub const E_MALFORMED_MESSAGE: Abort = Abort::new("messages", 4, "EMalformedMessage");

/// Intent type of a proof of possession.
pub const PROOF_OF_POSSESSION_MSG_TYPE: u8 = 0;
/// Intent type of a storage confirmation (blob certificate).
pub const BLOB_CERT_MSG_TYPE: u8 = 1;
/// Intent type of an invalid-blob-ID attestation.
pub const INVALID_BLOB_ID_MSG_TYPE: u8 = 2;
/// The only intent version.
pub const INTENT_VERSION: u8 = 0;
/// The storage app id.
pub const STORAGE_APP_ID: u8 = 3;

/// A message whose signature and stake were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedMessage {
    /// Intent type.
    pub intent_type: u8,
    /// Intent version.
    pub intent_version: u8,
    /// Epoch the message was signed for.
    pub cert_epoch: u32,
    /// The body after the 7-byte header.
    pub message: Vec<u8>,
    /// Shards that signed.
    pub stake_support: u16,
}

/// How a certified blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPersistenceType {
    /// Cannot be deleted before it expires.
    Permanent,
    /// Can be deleted by the owner of this `Blob` object.
    Deletable {
        /// The `Blob` object.
        object_id: ObjectId,
    },
}

/// A certified storage confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedBlobMessage {
    /// The blob ID.
    pub blob_id: U256,
    /// Permanent or deletable.
    pub blob_persistence_type: BlobPersistenceType,
}

/// A certified invalid-blob-ID attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedInvalidBlobId {
    /// The blob ID.
    pub blob_id: U256,
}

/// `new_certified_message`: parses the header and checks app id, epoch and intent version, in
/// that order.
pub fn new_certified_message(
    message_bytes: &[u8],
    committee_epoch: u32,
    stake_support: u16,
) -> MoveResult<CertifiedMessage> {
    ensure(message_bytes.len() >= 7, E_MALFORMED_MESSAGE)?;
    let intent_type = message_bytes[0];
    let intent_version = message_bytes[1];
    let app_id = message_bytes[2];
    ensure(app_id == STORAGE_APP_ID, E_INCORRECT_APP_ID)?;
    let mut epoch_bytes = [0u8; 4];
    epoch_bytes.copy_from_slice(&message_bytes[3..7]);
    let cert_epoch = u32::from_le_bytes(epoch_bytes);
    ensure(cert_epoch == committee_epoch, E_INCORRECT_EPOCH)?;
    ensure(intent_version == INTENT_VERSION, E_INCORRECT_INTENT_VERSION)?;
    Ok(CertifiedMessage {
        intent_type,
        intent_version,
        cert_epoch,
        message: message_bytes[7..].to_vec(),
        stake_support,
    })
}

fn peel_u256(bytes: &[u8]) -> MoveResult<(U256, &[u8])> {
    ensure(bytes.len() >= 32, E_MALFORMED_MESSAGE)?;
    let mut value = [0u8; 32];
    value.copy_from_slice(&bytes[..32]);
    Ok((U256(value), &bytes[32..]))
}

/// `certify_blob_message`: a storage confirmation body `blob_id u256, persistence type`
/// (`0` permanent, `1` deletable followed by the object ID). Trailing bytes are allowed, as on
/// Walrus.
pub fn certify_blob_message(message: CertifiedMessage) -> MoveResult<CertifiedBlobMessage> {
    ensure(
        message.intent_type == BLOB_CERT_MSG_TYPE,
        E_INVALID_MSG_TYPE,
    )?;
    let (blob_id, rest) = peel_u256(&message.message)?;
    let (tag, rest) = rest.split_first().ok_or(E_MALFORMED_MESSAGE)?;
    let blob_persistence_type = match tag {
        0 => BlobPersistenceType::Permanent,
        1 => {
            let (object_id, _) = peel_u256(rest)?;
            BlobPersistenceType::Deletable {
                object_id: ObjectId(object_id.0),
            }
        }
        _ => return Err(E_MALFORMED_MESSAGE),
    };
    Ok(CertifiedBlobMessage {
        blob_id,
        blob_persistence_type,
    })
}

/// `invalid_blob_id_message`: an invalid-blob-ID body `blob_id u256`.
pub fn invalid_blob_id_message(message: CertifiedMessage) -> MoveResult<CertifiedInvalidBlobId> {
    ensure(
        message.intent_type == INVALID_BLOB_ID_MSG_TYPE,
        E_INVALID_MSG_TYPE,
    )?;
    let (blob_id, _) = peel_u256(&message.message)?;
    Ok(CertifiedInvalidBlobId { blob_id })
}

/// `proof_of_possession_bytes`: the message a candidate signs with its BLS key to prove it
/// holds it: header (intent 0), then its Sui address and its 48-byte public key.
pub fn proof_of_possession_bytes(epoch: u32, sui_address: &[u8; 32], public_key: &[u8]) -> Vec<u8> {
    let mut bytes = vec![PROOF_OF_POSSESSION_MSG_TYPE, INTENT_VERSION, STORAGE_APP_ID];
    bytes.extend_from_slice(&epoch.to_le_bytes());
    bytes.extend_from_slice(sui_address);
    bytes.extend_from_slice(public_key);
    bytes
}

/// `verify_proof_of_possession`: whether `signature` is the BLS signature, by `public_key`, of
/// the proof-of-possession message for `epoch` and `sui_address`.
pub fn verify_proof_of_possession(
    epoch: u32,
    sui_address: &[u8; 32],
    public_key: &[u8],
    signature: &[u8],
) -> bool {
    use fastcrypto::{bls12381::min_pk::BLS12381Signature, traits::ToFromBytes};
    let message = proof_of_possession_bytes(epoch, sui_address, public_key);
    walrus_core::crypto::public_key_from_bytes(public_key)
        .ok()
        .zip(BLS12381Signature::from_bytes(signature).ok())
        .is_some_and(|(key, signature)| {
            fastcrypto::traits::VerifyingKey::verify(&key, &message, &signature).is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(intent: u8, version: u8, app: u8, epoch: u32) -> Vec<u8> {
        let mut bytes = vec![intent, version, app];
        bytes.extend(epoch.to_le_bytes());
        bytes
    }

    #[test]
    fn parses_a_core_confirmation() {
        use walrus_core::messages::{
            BlobPersistenceType as CoreType, Confirmation, ProtocolMessageKind,
        };
        let blob_id = walrus_core::BlobId([7; 32]);
        let object_id = ObjectId([9; 32]);
        let confirmation = Confirmation::for_blob(5, blob_id, CoreType::Deletable { object_id });
        let bytes = confirmation.to_bcs_bytes();
        let certified = new_certified_message(&bytes, 5, 10).unwrap();
        let parsed = certify_blob_message(certified).unwrap();
        assert_eq!(parsed.blob_id, U256([7; 32]));
        assert_eq!(
            parsed.blob_persistence_type,
            BlobPersistenceType::Deletable { object_id }
        );
    }

    #[test]
    fn header_checks_in_order() {
        assert_eq!(
            new_certified_message(&header(1, 0, 2, 5), 5, 1),
            Err(E_INCORRECT_APP_ID)
        );
        assert_eq!(
            new_certified_message(&header(1, 0, 3, 4), 5, 1),
            Err(E_INCORRECT_EPOCH)
        );
        assert_eq!(
            new_certified_message(&header(1, 1, 3, 5), 5, 1),
            Err(E_INCORRECT_INTENT_VERSION)
        );
        assert_eq!(
            new_certified_message(&[1, 0, 3], 5, 1),
            Err(E_MALFORMED_MESSAGE)
        );
        let message = new_certified_message(&header(2, 0, 3, 5), 5, 1).unwrap();
        assert_eq!(certify_blob_message(message), Err(E_INVALID_MSG_TYPE));
        let message = new_certified_message(&header(1, 0, 3, 5), 5, 1).unwrap();
        assert_eq!(certify_blob_message(message), Err(E_MALFORMED_MESSAGE));
    }

    #[test]
    fn invalid_blob_id_body() {
        let mut bytes = header(2, 0, 3, 1);
        bytes.extend([4; 32]);
        let message = new_certified_message(&bytes, 1, 4).unwrap();
        assert_eq!(
            invalid_blob_id_message(message).unwrap().blob_id,
            U256([4; 32])
        );
    }

    #[test]
    fn proof_of_possession_layout_matches_core() {
        use fastcrypto::traits::ToFromBytes;
        use walrus_core::crypto::ProtocolKeyPair;
        use walrus_core::messages::{ProofOfPossessionMsg, ProtocolMessageKind};
        let key = ProtocolKeyPair::from_seed([3; 32]);
        let core = ProofOfPossessionMsg::for_key(4, [8; 32], key.public().clone()).to_bcs_bytes();
        assert_eq!(
            proof_of_possession_bytes(4, &[8; 32], key.public().as_bytes()),
            core
        );
    }
}
