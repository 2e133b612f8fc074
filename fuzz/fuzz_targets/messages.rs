//! Untrusted protocol messages: signed messages (JSON as the storage-node API serves them, and
//! BCS), bare protocol messages (`Confirmation`, `InvalidBlobIdMsg`, `ProofOfPossessionMsg`,
//! `SyncShardMsg` from BCS bytes), certificates (BCS, verified against a fixed committee), signer bitmaps and
//! raw BLS keys and signatures.
//!
//! Input: any of these encodings (every decoder is tried on the whole input).

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::{
    crypto::{
        public_key_from_bytes, signature_from_bytes, verify_proof_of_possession, Threshold,
        PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH,
    },
    messages::{
        Confirmation, InvalidBlobIdMsg, MessageVerificationError, ProofOfPossessionMsg,
        ProtocolMessageCertificate, ProtocolMessageKind, SignedMessage, StorageConfirmation,
        SyncShardMsg,
    },
};
use walrus_fuzz::{committee, EPOCH};

/// A bare protocol message: the checked decoder and the serde impl agree, and what decodes is
/// canonical (re-encodes to the very bytes that were signed).
fn bare<T: ProtocolMessageKind + PartialEq>(data: &[u8]) {
    let checked = T::from_bcs_bytes(data);
    let serde = bcs::from_bytes::<T>(data);
    assert_eq!(
        checked.is_ok(),
        serde.is_ok(),
        "from_bcs_bytes and Deserialize disagree"
    );
    if let (Ok(checked), Ok(serde)) = (checked, serde) {
        assert_eq!(checked, serde);
        assert_eq!(checked.as_protocol_message().intent, T::required_intent());
        assert_eq!(
            checked.to_bcs_bytes(),
            data,
            "non-canonical message bytes accepted"
        );
        let _ = (checked.epoch(), checked.contents());
    }
}

/// A signed message decoded from untrusted bytes: decode its body and check its signature
/// against every committee key.
fn signed<T: ProtocolMessageKind + PartialEq>(message: &SignedMessage<T>) {
    let decoded = message.decode_message();
    if let Ok(decoded) = &decoded {
        assert_eq!(&decoded.to_bcs_bytes(), &message.serialized_message);
    }
    for member in committee().members() {
        let signature_ok = message.verify_signature(&member.public_key).is_ok();
        let Ok(decoded) = &decoded else {
            continue;
        };
        let full = message.verify_signature_and_get_message(
            &member.public_key,
            decoded.epoch(),
            decoded.contents(),
        );
        match full {
            Ok(returned) => {
                assert!(signature_ok);
                assert_eq!(&returned, decoded);
            }
            Err(MessageVerificationError::SignatureVerification) => assert!(!signature_ok),
            Err(error) => panic!("decoded message refused with its own epoch/contents: {error}"),
        }
        // Another epoch is always refused before the signature is looked at.
        assert!(matches!(
            message.verify_signature_and_get_message(
                &member.public_key,
                decoded.epoch().wrapping_add(1),
                decoded.contents(),
            ),
            Err(MessageVerificationError::EpochMismatch { .. })
        ));
    }
}

/// A certificate decoded from untrusted bytes, verified against the fixed committee.
fn certificate<T: ProtocolMessageKind + PartialEq>(certificate: &ProtocolMessageCertificate<T>) {
    let committee = committee();
    for threshold in [Threshold::Quorum, Threshold::Validity] {
        let Ok(message) = certificate.verify(committee, threshold) else {
            continue;
        };
        assert_eq!(message.epoch(), EPOCH);
        assert_eq!(certificate.decode_message().as_ref(), Ok(&message));
        let weight = committee
            .weight_of(&certificate.signers)
            .expect("verified signers are in range and distinct");
        assert!(threshold.is_met(weight, committee.n_shards()));
    }
}

fuzz_target!(init: walrus_fuzz::seeds::init("messages"), |data: &[u8]| {
    let committee = committee();

    // Bare protocol messages (the bytes nodes sign).
    bare::<Confirmation>(data);
    bare::<InvalidBlobIdMsg>(data);
    bare::<ProofOfPossessionMsg>(data);
    bare::<SyncShardMsg>(data);

    // Signed messages as BCS.
    if let Ok(message) = bcs::from_bytes::<SignedMessage<Confirmation>>(data) {
        signed(&message);
    }
    if let Ok(message) = bcs::from_bytes::<SignedMessage<InvalidBlobIdMsg>>(data) {
        signed(&message);
    }

    // Signed messages as JSON (the storage-node API).
    if let Ok(StorageConfirmation::Signed(message)) =
        serde_json::from_slice::<StorageConfirmation>(data)
    {
        let json = serde_json::to_vec(&StorageConfirmation::Signed(message.clone()))
            .expect("confirmations serialize");
        assert_eq!(
            serde_json::from_slice::<StorageConfirmation>(&json).ok(),
            Some(StorageConfirmation::Signed(message.clone())),
            "JSON round trip changed the confirmation"
        );
        signed(&message);
    }
    if let Ok(message) = serde_json::from_slice::<SignedMessage<Confirmation>>(data) {
        signed(&message);
    }
    if let Ok(message) = serde_json::from_slice::<SignedMessage<InvalidBlobIdMsg>>(data) {
        signed(&message);
    }

    // Certificates as BCS (and JSON).
    if let Ok(cert) = bcs::from_bytes::<ProtocolMessageCertificate<Confirmation>>(data) {
        certificate(&cert);
    }
    if let Ok(cert) = bcs::from_bytes::<ProtocolMessageCertificate<InvalidBlobIdMsg>>(data) {
        certificate(&cert);
    }
    if let Ok(cert) = serde_json::from_slice::<ProtocolMessageCertificate<Confirmation>>(data) {
        certificate(&cert);
    }

    // On-chain signer bitmaps.
    if let Ok(signers) = committee.signers_from_bitmap(data) {
        let weight = committee.weight_from_bitmap(data).expect("same checks");
        assert_eq!(committee.weight_of(&signers).ok(), Some(weight));
    }

    // Raw keys and signatures; a proof of possession when both fit.
    if data.len() >= PUBLIC_KEY_LENGTH {
        if let Ok(key) = public_key_from_bytes(&data[..PUBLIC_KEY_LENGTH]) {
            let rest = &data[PUBLIC_KEY_LENGTH..];
            if rest.len() >= 32 + SIGNATURE_LENGTH {
                let address: [u8; 32] = rest[..32].try_into().expect("32 bytes");
                if let Ok(signature) = signature_from_bytes(&rest[32..32 + SIGNATURE_LENGTH]) {
                    let _ = verify_proof_of_possession(&address, &key, EPOCH, &signature);
                }
            }
        }
    }
    if data.len() == SIGNATURE_LENGTH {
        let _ = signature_from_bytes(data);
    }
});
