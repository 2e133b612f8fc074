//! Twin of `walrus::storage_resource`: a reservation of encoded bytes for a period of epochs,
//! which can be split and fused.

use serde::{Deserialize, Serialize};
use walrus_core::ObjectId;

use super::{ensure, sui::TxContext, Abort, MoveResult};

/// `EInvalidEpoch`: a split epoch outside the period.
pub const E_INVALID_EPOCH: Abort = Abort::new("storage_resource", 0, "EInvalidEpoch");
/// `EIncompatibleEpochs`: fusing periods that are not adjacent or not equal.
pub const E_INCOMPATIBLE_EPOCHS: Abort = Abort::new("storage_resource", 1, "EIncompatibleEpochs");
/// `EIncompatibleAmount`: fusing or splitting incompatible sizes.
pub const E_INCOMPATIBLE_AMOUNT: Abort = Abort::new("storage_resource", 2, "EIncompatibleAmount");

/// `Storage`: `storage_size` encoded bytes for epochs `[start_epoch, end_epoch)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    /// Object ID.
    pub id: ObjectId,
    /// First epoch of the period.
    pub start_epoch: u32,
    /// First epoch after the period.
    pub end_epoch: u32,
    /// Encoded bytes reserved.
    pub storage_size: u64,
}

/// `create_storage` (package-internal): a new reservation.
pub(crate) fn create_storage(
    start_epoch: u32,
    end_epoch: u32,
    storage_size: u64,
    ctx: &mut TxContext,
) -> Storage {
    Storage {
        id: ctx.fresh_id(),
        start_epoch,
        end_epoch,
        storage_size,
    }
}

impl Storage {
    /// `split_by_epoch`: keeps `[start, split_epoch)`, returns `[split_epoch, end)`.
    pub fn split_by_epoch(&mut self, split_epoch: u32, ctx: &mut TxContext) -> MoveResult<Storage> {
        ensure(
            split_epoch > self.start_epoch && split_epoch < self.end_epoch,
            E_INVALID_EPOCH,
        )?;
        let end_epoch = self.end_epoch;
        self.end_epoch = split_epoch;
        Ok(create_storage(
            split_epoch,
            end_epoch,
            self.storage_size,
            ctx,
        ))
    }

    /// `split_by_size`: keeps `split_size` bytes, returns the rest (both non-empty).
    pub fn split_by_size(&mut self, split_size: u64, ctx: &mut TxContext) -> MoveResult<Storage> {
        ensure(
            split_size > 0 && split_size < self.storage_size,
            E_INCOMPATIBLE_AMOUNT,
        )?;
        let rest = self.storage_size - split_size;
        self.storage_size = split_size;
        Ok(create_storage(self.start_epoch, self.end_epoch, rest, ctx))
    }

    /// `fuse_periods`: appends the adjacent period of `other` (same size).
    pub fn fuse_periods(&mut self, other: Storage) -> MoveResult<()> {
        ensure(
            self.storage_size == other.storage_size,
            E_INCOMPATIBLE_AMOUNT,
        )?;
        if self.end_epoch == other.start_epoch {
            self.end_epoch = other.end_epoch;
        } else {
            ensure(self.start_epoch == other.end_epoch, E_INCOMPATIBLE_EPOCHS)?;
            self.start_epoch = other.start_epoch;
        }
        Ok(())
    }

    /// `fuse_amount`: adds the size of `other` (same period).
    pub fn fuse_amount(&mut self, other: Storage) -> MoveResult<()> {
        ensure(
            self.start_epoch == other.start_epoch && self.end_epoch == other.end_epoch,
            E_INCOMPATIBLE_EPOCHS,
        )?;
        self.storage_size += other.storage_size;
        Ok(())
    }

    /// `fuse`: `fuse_amount` when the periods are equal, otherwise `fuse_periods`.
    pub fn fuse(&mut self, other: Storage) -> MoveResult<()> {
        if self.start_epoch == other.start_epoch && self.end_epoch == other.end_epoch {
            self.fuse_amount(other)
        } else {
            self.fuse_periods(other)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(ctx: &mut TxContext) -> Storage {
        create_storage(2, 10, 1000, ctx)
    }

    #[test]
    fn layout() {
        let value = Storage {
            id: ObjectId([1; 32]),
            start_epoch: 2,
            end_epoch: 3,
            storage_size: 4,
        };
        let mut expected = vec![1; 32];
        expected.extend([2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bcs::to_bytes(&value).unwrap(), expected);
    }

    #[test]
    fn split_and_fuse_round_trip() {
        let mut ctx = TxContext::new([0; 32], [1; 32]);
        let mut first = storage(&mut ctx);
        let second = first.split_by_epoch(5, &mut ctx).unwrap();
        assert_eq!(
            (first.end_epoch, second.start_epoch, second.end_epoch),
            (5, 5, 10)
        );
        first.fuse(second).unwrap();
        assert_eq!((first.start_epoch, first.end_epoch), (2, 10));
        let half = first.split_by_size(400, &mut ctx).unwrap();
        assert_eq!((first.storage_size, half.storage_size), (400, 600));
        first.fuse(half).unwrap();
        assert_eq!(first.storage_size, 1000);
    }

    #[test]
    fn aborts() {
        let mut ctx = TxContext::new([0; 32], [1; 32]);
        let mut value = storage(&mut ctx);
        assert_eq!(value.split_by_epoch(2, &mut ctx), Err(E_INVALID_EPOCH));
        assert_eq!(value.split_by_epoch(10, &mut ctx), Err(E_INVALID_EPOCH));
        assert_eq!(value.split_by_size(0, &mut ctx), Err(E_INCOMPATIBLE_AMOUNT));
        assert_eq!(
            value.split_by_size(1000, &mut ctx),
            Err(E_INCOMPATIBLE_AMOUNT)
        );
        let other = create_storage(12, 14, 1000, &mut ctx);
        assert_eq!(
            value.clone().fuse_periods(other),
            Err(E_INCOMPATIBLE_EPOCHS)
        );
        let other = create_storage(10, 14, 999, &mut ctx);
        assert_eq!(
            value.clone().fuse_periods(other),
            Err(E_INCOMPATIBLE_AMOUNT)
        );
        let other = create_storage(3, 10, 5, &mut ctx);
        assert_eq!(value.fuse_amount(other), Err(E_INCOMPATIBLE_EPOCHS));
    }
}
