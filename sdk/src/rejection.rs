//! What the Walrus contracts refuse, typed: [`ContractRejection`] classifies a
//! [`ClientError::MoveAbort`] of the `system`, `storage_resource` and `staking` modules that a
//! client's call can run into (storing, deleting, extending, certifying, staking).
//!
//! An abort is classified by its location (module and code: the abort constants of
//! `walrus_chain::contract`), or by the constant's name when the location is not one of
//! those (a chain that reports only the name). Callers match on the variant
//! ([`SdkError::rejection`](crate::client::SdkError::rejection)) rather than on names.

use walrus_chain::{
    client::ClientError,
    contract::{staking, storage_resource, system, Abort},
};

/// A Move abort of the contracts, by what it means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ContractRejection {
    /// `system::EInvalidEpochsAhead`: zero epochs, or further ahead than the system allows.
    #[error("invalid number of epochs: zero or further ahead than the system allows")]
    InvalidEpochsAhead,
    /// `system::EStorageExceeded`: not enough free capacity in some epoch of the period.
    #[error("the network has not enough free storage capacity")]
    StorageExceeded,
    /// `system::EInsufficientPayment`: the coin paid holds less than the price.
    #[error("the payment does not cover the price")]
    InsufficientPayment,
    /// `system::EInvalidBlobId`: the blob ID does not match the root hash or the certificate.
    #[error("the blob ID does not match its root hash or the certificate")]
    InvalidBlobId,
    /// `system::EResourceBounds`: the storage does not cover the current epoch.
    #[error("the storage resource does not cover the current epoch")]
    ResourceBounds,
    /// `system::EResourceSize`: the storage is smaller than the blob's encoded size.
    #[error("the storage resource is smaller than the blob's encoded size")]
    ResourceSize,
    /// `system::EAlreadyCertified`: the blob object is certified already.
    #[error("the blob object is already certified")]
    AlreadyCertified,
    /// `system::EInvalidBlobPersistenceType`: the certificate's persistence type is not the
    /// blob object's.
    #[error("the certificate's persistence type does not match the blob object")]
    InvalidBlobPersistenceType,
    /// `system::EBlobNotDeletable`: deleting a permanent blob object.
    #[error("the blob object is not deletable")]
    BlobNotDeletable,
    /// `system::EBlobExpired`: the blob object's storage has ended.
    #[error("the blob object has expired")]
    BlobExpired,
    /// `system::ENotCertified`: extending a blob object that is not certified.
    #[error("the blob object is not certified")]
    NotCertified,
    /// `storage_resource::EInvalidEpoch`: a split epoch outside the storage's period.
    #[error("the split epoch is outside the storage's period")]
    InvalidSplitEpoch,
    /// `storage_resource::EIncompatibleEpochs`: fusing storage of incompatible periods.
    #[error("the storage resources' periods are incompatible")]
    IncompatibleEpochs,
    /// `storage_resource::EIncompatibleAmount`: fusing or splitting incompatible sizes.
    #[error("the storage resources' sizes are incompatible")]
    IncompatibleAmount,
    /// `staking::EZeroStake`: staking nothing.
    #[error("cannot stake zero WAL")]
    ZeroStake,
    /// `staking::EPoolNotFound`: no staking pool for the node.
    #[error("no staking pool for this node")]
    PoolNotFound,
    /// `staking::ENotWithdrawing`: withdrawing active stake whose withdrawal was not requested.
    #[error("the stake is active and its withdrawal was not requested")]
    NotWithdrawing,
    /// `staking::EWithdrawTooEarly`: withdrawing before the withdrawal epoch.
    #[error("the stake cannot be withdrawn before its withdrawal epoch")]
    WithdrawTooEarly,
    /// `staking::EAlreadyWithdrawing`: requesting a withdrawal twice.
    #[error("the stake's withdrawal was already requested")]
    AlreadyWithdrawing,
}

impl ContractRejection {
    /// Every rejection.
    pub const ALL: [Self; 19] = [
        Self::InvalidEpochsAhead,
        Self::StorageExceeded,
        Self::InsufficientPayment,
        Self::InvalidBlobId,
        Self::ResourceBounds,
        Self::ResourceSize,
        Self::AlreadyCertified,
        Self::InvalidBlobPersistenceType,
        Self::BlobNotDeletable,
        Self::BlobExpired,
        Self::NotCertified,
        Self::InvalidSplitEpoch,
        Self::IncompatibleEpochs,
        Self::IncompatibleAmount,
        Self::ZeroStake,
        Self::PoolNotFound,
        Self::NotWithdrawing,
        Self::WithdrawTooEarly,
        Self::AlreadyWithdrawing,
    ];

    /// The rejection of a chain error, if it is a Move abort this classifies.
    pub fn of(error: &ClientError) -> Option<Self> {
        let (module, code, name) = error.move_abort()?;
        Self::from_abort(module, code, name)
    }

    /// The rejection of the abort of `module` with `code` (named `name`, empty if unknown):
    /// by location, else by a non-empty name.
    pub fn from_abort(module: &str, code: u64, name: &str) -> Option<Self> {
        let at_location = |rejection: &Self| {
            let abort = rejection.abort();
            abort.module == module && abort.code == code
        };
        let named = |rejection: &Self| !name.is_empty() && rejection.abort().name == name;
        let mut all = Self::ALL.into_iter();
        all.clone().find(at_location).or_else(|| all.find(named))
    }

    /// The contract's abort constant.
    pub fn abort(self) -> Abort {
        match self {
            Self::InvalidEpochsAhead => system::E_INVALID_EPOCHS_AHEAD,
            Self::StorageExceeded => system::E_STORAGE_EXCEEDED,
            Self::InsufficientPayment => system::E_INSUFFICIENT_PAYMENT,
            Self::InvalidBlobId => system::E_INVALID_BLOB_ID,
            Self::ResourceBounds => system::E_RESOURCE_BOUNDS,
            Self::ResourceSize => system::E_RESOURCE_SIZE,
            Self::AlreadyCertified => system::E_ALREADY_CERTIFIED,
            Self::InvalidBlobPersistenceType => system::E_INVALID_BLOB_PERSISTENCE_TYPE,
            Self::BlobNotDeletable => system::E_BLOB_NOT_DELETABLE,
            Self::BlobExpired => system::E_BLOB_EXPIRED,
            Self::NotCertified => system::E_NOT_CERTIFIED,
            Self::InvalidSplitEpoch => storage_resource::E_INVALID_EPOCH,
            Self::IncompatibleEpochs => storage_resource::E_INCOMPATIBLE_EPOCHS,
            Self::IncompatibleAmount => storage_resource::E_INCOMPATIBLE_AMOUNT,
            Self::ZeroStake => staking::E_ZERO_STAKE,
            Self::PoolNotFound => staking::E_POOL_NOT_FOUND,
            Self::NotWithdrawing => staking::E_NOT_WITHDRAWING,
            Self::WithdrawTooEarly => staking::E_WITHDRAW_TOO_EARLY,
            Self::AlreadyWithdrawing => staking::E_ALREADY_WITHDRAWING,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::client::SdkError;

    fn move_abort(module: &str, code: u64, name: &str) -> ClientError {
        ClientError::MoveAbort {
            module: module.into(),
            code,
            name: name.into(),
            command: Some(1),
        }
    }

    #[test]
    fn every_rejection_is_one_distinct_abort() {
        let aborts: HashSet<(&str, u64)> = ContractRejection::ALL
            .iter()
            .map(|rejection| (rejection.abort().module, rejection.abort().code))
            .collect();
        let names: HashSet<&str> = ContractRejection::ALL
            .iter()
            .map(|rejection| rejection.abort().name)
            .collect();
        assert_eq!(aborts.len(), ContractRejection::ALL.len());
        assert_eq!(names.len(), ContractRejection::ALL.len());
        for rejection in ContractRejection::ALL {
            let Abort { module, code, name } = rejection.abort();
            // By location, with or without the name; by name wherever the chain locates it.
            for error in [
                move_abort(module, code, name),
                move_abort(module, code, ""),
                move_abort("unknown", 99, name),
            ] {
                assert_eq!(ContractRejection::of(&error), Some(rejection), "{error}");
            }
        }
    }

    #[test]
    fn aborts_are_classified_by_location_first() {
        use ContractRejection::*;
        let cases = [
            ("system", 0, "", Some(InvalidEpochsAhead)),
            ("system", 1, "", Some(StorageExceeded)),
            ("system", 2, "", Some(InsufficientPayment)),
            ("staking", 5, "", Some(WithdrawTooEarly)),
            // The same code in another module is another abort.
            ("storage_resource", 0, "", Some(InvalidSplitEpoch)),
            // The location wins over a name that contradicts it.
            ("system", 1, "EInvalidEpochsAhead", Some(StorageExceeded)),
            // Aborts of other modules, unknown codes and unknown names are not classified.
            ("bls_aggregate", 1, "ENotEnoughStake", None),
            ("balance", 2, "ENotEnough", None),
            ("system", 99, "", None),
            ("unknown", 0, "ESomethingElse", None),
            // Operators' aborts are no client's concern.
            ("staking", 7, "EEpochNotOver", None),
            ("staking", 11, "EWrongEpochState", None),
            ("staking", 12, "EVotingNotOver", None),
        ];
        for (module, code, name, expected) in cases {
            let error = move_abort(module, code, name);
            assert_eq!(ContractRejection::of(&error), expected, "{error}");
        }
    }

    #[test]
    fn sdk_errors_expose_the_rejection() {
        let abort = SdkError::Chain(move_abort("system", 8, "EBlobNotDeletable"));
        assert_eq!(abort.rejection(), Some(ContractRejection::BlobNotDeletable));
        let funds = SdkError::Chain(ClientError::InsufficientFunds("no WAL coin".into()));
        assert_eq!(funds.rejection(), None);
        assert_eq!(SdkError::Internal("boom".into()).rejection(), None);
        assert_eq!(
            ContractRejection::StorageExceeded.to_string(),
            "the network has not enough free storage capacity"
        );
    }
}
