//! Untrusted inconsistency proofs (as a node receives them before attesting that a blob ID is
//! invalid): BCS `InconsistencyProofEither`, verified against the metadata of a fixed honest
//! encoding (must always be refused) and of a fixed inconsistent one.
//!
//! Input: `BCS(InconsistencyProofEither)`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::encoding::{
    recover_sliver, EncodingAxis, InconsistencyProof, InconsistencyProofEither, RecoveryError,
};
use walrus_fuzz::{consistent, inconsistent};

/// A proof accepted for the inconsistent fixture must be reproduced by `recover_sliver` from
/// the same symbols.
fn cross_check<T: EncodingAxis>(proof: &InconsistencyProof<T>)
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    let metadata = &inconsistent().metadata;
    match recover_sliver(
        metadata,
        proof.target_sliver_index,
        proof.recovery_symbols.iter().cloned(),
    ) {
        Err(RecoveryError::Inconsistent(again)) => {
            assert_eq!(again.verify(metadata), Ok(()));
        }
        other => panic!(
            "a verified inconsistency proof, but recover_sliver on its symbols gave {:?}",
            other.map(|sliver| sliver.index)
        ),
    }
}

fuzz_target!(init: walrus_fuzz::seeds::init("inconsistency_proof"), |data: &[u8]| {
    let Ok(proof) = bcs::from_bytes::<InconsistencyProofEither>(data) else {
        return;
    };

    // Against an honest encoding every symbol that verifies is the encoder's own, so the
    // rebuilt sliver always matches: no proof may ever be accepted.
    let honest = proof.verify(&consistent().metadata);
    assert!(
        honest.is_err(),
        "inconsistency proof accepted for an honestly encoded blob"
    );

    if proof.verify(&inconsistent().metadata).is_ok() {
        match &proof {
            InconsistencyProofEither::Primary(inner) => {
                assert_eq!(
                    inner.verify(&inconsistent().metadata),
                    Ok(()),
                    "typed and either verify differ"
                );
                cross_check(inner);
            }
            InconsistencyProofEither::Secondary(inner) => {
                assert_eq!(inner.verify(&inconsistent().metadata), Ok(()));
                cross_check(inner);
            }
        }
    }
});
