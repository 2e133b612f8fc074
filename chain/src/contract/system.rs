//! Twin of `walrus::system`: the shared `System` object: the committee, storage capacity and
//! prices, per-epoch accounting of used capacity and rewards, and the blob life cycle
//! (reserve, register, certify, extend, delete, invalidate).

use serde::{Deserialize, Serialize};
use walrus_core::ObjectId;

use super::{
    blob::{self, Blob},
    bls_aggregate::BlsCommittee,
    ensure,
    events::{BlobCertified, BlobDeleted, BlobRegistered, Event, InvalidBlobId},
    messages::{self, BlobPersistenceType},
    redstuff,
    storage_resource::{self, Storage},
    sui::{take_balance, Coin, TxContext, VecMap, U256},
    Abort, MoveResult,
};

/// `EInvalidEpochsAhead`: zero epochs, or further ahead than `max_epochs_ahead`.
pub const E_INVALID_EPOCHS_AHEAD: Abort = Abort::new("system", 0, "EInvalidEpochsAhead");
/// `EStorageExceeded`: not enough free capacity in some epoch of the period.
pub const E_STORAGE_EXCEEDED: Abort = Abort::new("system", 1, "EStorageExceeded");
/// `EInsufficientPayment`: the coin holds less than the price.
pub const E_INSUFFICIENT_PAYMENT: Abort = Abort::new("system", 2, "EInsufficientPayment");
/// `EInvalidBlobId`: the blob ID does not match the root hash, or the certificate's blob.
pub const E_INVALID_BLOB_ID: Abort = Abort::new("system", 3, "EInvalidBlobId");
/// `EResourceBounds`: the storage does not cover the current epoch.
pub const E_RESOURCE_BOUNDS: Abort = Abort::new("system", 4, "EResourceBounds");
/// `EResourceSize`: the storage is smaller than the blob's encoded size.
pub const E_RESOURCE_SIZE: Abort = Abort::new("system", 5, "EResourceSize");
/// `EAlreadyCertified`: the blob is certified already.
pub const E_ALREADY_CERTIFIED: Abort = Abort::new("system", 6, "EAlreadyCertified");
/// `EInvalidBlobPersistenceType`: the certificate's persistence type does not match the blob.
pub const E_INVALID_BLOB_PERSISTENCE_TYPE: Abort =
    Abort::new("system", 7, "EInvalidBlobPersistenceType");
/// `EBlobNotDeletable`: deleting a permanent blob.
pub const E_BLOB_NOT_DELETABLE: Abort = Abort::new("system", 8, "EBlobNotDeletable");
/// `EBlobExpired`: the blob's storage has ended.
pub const E_BLOB_EXPIRED: Abort = Abort::new("system", 9, "EBlobExpired");
/// `ENotCertified`: extending a blob that is not certified.
pub const E_NOT_CERTIFIED: Abort = Abort::new("system", 10, "ENotCertified");

/// `EInvalidCommitteeEpoch`: the next committee is not for the next epoch.
pub const E_INVALID_COMMITTEE_EPOCH: Abort = Abort::new("system", 11, "EInvalidCommitteeEpoch");

/// Storage and write prices are per unit of this many encoded bytes (1 MiB).
pub const BYTES_PER_UNIT_SIZE: u64 = 1024 * 1024;

/// Used capacity and collected rewards of one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FutureAccounting {
    /// The epoch.
    pub epoch: u32,
    /// Encoded bytes reserved for the epoch.
    pub used_capacity: u64,
    /// FROST paid for the epoch, paid out to stakers when it ends.
    pub rewards: u64,
}

/// The `System` shared object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// Object ID.
    pub id: ObjectId,
    /// The current committee (its epoch is the current epoch).
    pub committee: BlsCommittee,
    /// Encoded bytes the network can store in each epoch.
    pub total_capacity_size: u64,
    /// FROST per unit per epoch of storage.
    pub storage_price_per_unit_size: u64,
    /// FROST per unit, paid once at registration.
    pub write_price_per_unit_size: u64,
    /// Entry `i` accounts for epoch `committee.epoch + i`.
    pub future_accounting: Vec<FutureAccounting>,
    /// All FROST paid and not yet distributed.
    pub rewards_pool: u64,
    /// How many epochs ahead storage can be bought.
    pub max_epochs_ahead: u32,
}

/// `ceil(size / 1 MiB)`.
pub fn storage_units(size: u64) -> u64 {
    size.div_ceil(BYTES_PER_UNIT_SIZE)
}

/// The price of `size` bytes for `epochs` epochs at `price` per unit per epoch, or `None` if it
/// exceeds any possible coin value.
fn price_of(size: u64, price: u64, epochs: u32) -> Option<u64> {
    let total = u128::from(storage_units(size))
        .checked_mul(u128::from(price))?
        .checked_mul(u128::from(epochs))?;
    u64::try_from(total).ok()
}

impl System {
    /// `create` (package-internal, at genesis): an empty system for `committee`.
    pub fn create(
        committee: BlsCommittee,
        total_capacity_size: u64,
        storage_price_per_unit_size: u64,
        write_price_per_unit_size: u64,
        max_epochs_ahead: u32,
        ctx: &mut TxContext,
    ) -> Self {
        let epoch = committee.epoch;
        Self {
            id: ctx.fresh_id(),
            committee,
            total_capacity_size,
            storage_price_per_unit_size,
            write_price_per_unit_size,
            future_accounting: (0..max_epochs_ahead)
                .map(|offset| FutureAccounting {
                    epoch: epoch + offset,
                    used_capacity: 0,
                    rewards: 0,
                })
                .collect(),
            rewards_pool: 0,
            max_epochs_ahead,
        }
    }

    /// `advance_epoch` (`public(package)` in Move, called by `staking` at an epoch change):
    /// installs the next committee (whose epoch must be the next epoch) with the capacity and
    /// prices it voted for, drops the finished epoch's accounting and returns its rewards,
    /// taken out of the rewards pool.
    pub fn advance_epoch(
        &mut self,
        new_committee: BlsCommittee,
        total_capacity_size: u64,
        storage_price_per_unit_size: u64,
        write_price_per_unit_size: u64,
    ) -> MoveResult<u64> {
        ensure(
            new_committee.epoch == self.epoch() + 1,
            E_INVALID_COMMITTEE_EPOCH,
        )?;
        let finished = self.future_accounting.remove(0);
        let next_epoch = finished.epoch + self.max_epochs_ahead;
        self.future_accounting.push(FutureAccounting {
            epoch: next_epoch,
            used_capacity: 0,
            rewards: 0,
        });
        self.committee = new_committee;
        self.total_capacity_size = total_capacity_size;
        self.storage_price_per_unit_size = storage_price_per_unit_size;
        self.write_price_per_unit_size = write_price_per_unit_size;
        self.rewards_pool -= finished.rewards;
        Ok(finished.rewards)
    }

    /// `epoch`: the current epoch.
    pub fn epoch(&self) -> u32 {
        self.committee.epoch
    }

    /// `n_shards`.
    pub fn n_shards(&self) -> u16 {
        self.committee.n_shards
    }

    /// `used_capacity_size`: encoded bytes reserved in the current epoch.
    pub fn used_capacity_size(&self) -> u64 {
        self.future_accounting
            .first()
            .map_or(0, |entry| entry.used_capacity)
    }

    /// Checks that `size` more bytes fit in epochs `[start, end)`.
    fn check_capacity(&self, size: u64, start: u32, end: u32) -> MoveResult<()> {
        let epoch = self.epoch();
        for target in start..end {
            let offset = usize::try_from(target - epoch).map_err(|_| E_INVALID_EPOCHS_AHEAD)?;
            let entry = self
                .future_accounting
                .get(offset)
                .ok_or(E_INVALID_EPOCHS_AHEAD)?;
            ensure(
                entry.used_capacity.saturating_add(size) <= self.total_capacity_size,
                E_STORAGE_EXCEEDED,
            )?;
        }
        Ok(())
    }

    /// Reserves `size` bytes in `[start, end)` and books `cost` as rewards of those epochs
    /// (split evenly, the remainder to the first). Checks must have passed.
    fn book(&mut self, size: u64, start: u32, end: u32, cost: u64) {
        let epoch = self.epoch();
        let epochs = u64::from(end - start);
        let share = cost / epochs.max(1);
        let remainder = cost - share * epochs;
        for target in start..end {
            let offset = usize::try_from(target - epoch).expect("checked by check_capacity");
            let entry = &mut self.future_accounting[offset];
            entry.used_capacity += size;
            entry.rewards += share + if target == start { remainder } else { 0 };
        }
        self.rewards_pool += cost;
    }

    /// `reserve_space`: buys `storage_amount` encoded bytes for `epochs_ahead` epochs from
    /// now, paid from `payment`.
    pub fn reserve_space(
        &mut self,
        storage_amount: u64,
        epochs_ahead: u32,
        payment: &mut Coin,
        ctx: &mut TxContext,
    ) -> MoveResult<Storage> {
        ensure(
            epochs_ahead > 0 && epochs_ahead <= self.max_epochs_ahead,
            E_INVALID_EPOCHS_AHEAD,
        )?;
        let start = self.epoch();
        let end = start + epochs_ahead;
        self.check_capacity(storage_amount, start, end)?;
        let cost = price_of(
            storage_amount,
            self.storage_price_per_unit_size,
            epochs_ahead,
        )
        .ok_or(E_INSUFFICIENT_PAYMENT)?;
        ensure(payment.value() >= cost, E_INSUFFICIENT_PAYMENT)?;
        take_balance(&mut payment.balance, cost)?;
        self.book(storage_amount, start, end, cost);
        Ok(storage_resource::create_storage(
            start,
            end,
            storage_amount,
            ctx,
        ))
    }

    /// `register_blob`: records a blob of `size` bytes with `blob_id` (which must derive from
    /// `root_hash`) in `storage`, paying the write price from `write_payment`.
    #[allow(clippy::too_many_arguments)]
    pub fn register_blob(
        &mut self,
        storage: Storage,
        blob_id: U256,
        root_hash: U256,
        size: u64,
        encoding_type: u8,
        deletable: bool,
        write_payment: &mut Coin,
        ctx: &mut TxContext,
    ) -> MoveResult<Blob> {
        let derived = blob::derive_blob_id(root_hash, encoding_type, size)?;
        ensure(derived == blob_id, E_INVALID_BLOB_ID)?;
        let epoch = self.epoch();
        ensure(
            storage.start_epoch <= epoch && epoch < storage.end_epoch,
            E_RESOURCE_BOUNDS,
        )?;
        let encoded = redstuff::encoded_blob_length(size, encoding_type, self.n_shards())?;
        ensure(encoded <= storage.storage_size, E_RESOURCE_SIZE)?;
        let cost =
            price_of(encoded, self.write_price_per_unit_size, 1).ok_or(E_INSUFFICIENT_PAYMENT)?;
        ensure(write_payment.value() >= cost, E_INSUFFICIENT_PAYMENT)?;
        take_balance(&mut write_payment.balance, cost)?;
        self.book(0, epoch, epoch + 1, cost);
        let blob = Blob {
            id: ctx.fresh_id(),
            registered_epoch: epoch,
            blob_id,
            size,
            encoding_type,
            certified_epoch: None,
            storage,
            deletable,
            attributes: VecMap::default(),
        };
        ctx.emit(Event::BlobRegistered(BlobRegistered {
            epoch,
            blob_id,
            size,
            encoding_type,
            end_epoch: blob.end_epoch(),
            deletable,
            object_id: blob.id,
        }));
        Ok(blob)
    }

    /// `certify_blob`: marks `blob` certified with a storage-confirmation certificate signed
    /// by a quorum of shards in the current epoch.
    pub fn certify_blob(
        &self,
        blob: &mut Blob,
        signature: &[u8],
        signers_bitmap: &[u8],
        message: &[u8],
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        let certified =
            self.committee
                .verify_quorum_in_epoch(signature, signers_bitmap, message)?;
        let message = messages::certify_blob_message(certified)?;
        ensure(message.blob_id == blob.blob_id, E_INVALID_BLOB_ID)?;
        ensure(!blob.is_certified(), E_ALREADY_CERTIFIED)?;
        let epoch = self.epoch();
        ensure(epoch < blob.end_epoch(), E_BLOB_EXPIRED)?;
        let persistence_matches = match message.blob_persistence_type {
            BlobPersistenceType::Permanent => !blob.deletable,
            BlobPersistenceType::Deletable { object_id } => blob.deletable && object_id == blob.id,
        };
        ensure(persistence_matches, E_INVALID_BLOB_PERSISTENCE_TYPE)?;
        blob.certified_epoch = Some(epoch);
        ctx.emit(Event::BlobCertified(BlobCertified {
            epoch,
            blob_id: blob.blob_id,
            end_epoch: blob.end_epoch(),
            deletable: blob.deletable,
            object_id: blob.id,
            is_extension: false,
        }));
        Ok(())
    }

    /// `delete_blob`: deletes a deletable, unexpired blob and returns its storage for reuse.
    pub fn delete_blob(&self, blob: Blob, ctx: &mut TxContext) -> MoveResult<Storage> {
        ensure(blob.deletable, E_BLOB_NOT_DELETABLE)?;
        let epoch = self.epoch();
        ensure(epoch < blob.end_epoch(), E_BLOB_EXPIRED)?;
        ctx.emit(Event::BlobDeleted(BlobDeleted {
            epoch,
            blob_id: blob.blob_id,
            end_epoch: blob.end_epoch(),
            object_id: blob.id,
            was_certified: blob.is_certified(),
        }));
        Ok(blob.storage)
    }

    /// `extend_blob`: extends a certified blob by `extended_epochs`, buying the storage.
    pub fn extend_blob(
        &mut self,
        blob: &mut Blob,
        extended_epochs: u32,
        payment: &mut Coin,
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        ensure(blob.is_certified(), E_NOT_CERTIFIED)?;
        let epoch = self.epoch();
        let end = blob.end_epoch();
        ensure(epoch < end, E_BLOB_EXPIRED)?;
        let new_end = end
            .checked_add(extended_epochs)
            .ok_or(E_INVALID_EPOCHS_AHEAD)?;
        ensure(
            extended_epochs > 0 && new_end - epoch <= self.max_epochs_ahead,
            E_INVALID_EPOCHS_AHEAD,
        )?;
        let size = blob.storage.storage_size;
        self.check_capacity(size, end, new_end)?;
        let cost = price_of(size, self.storage_price_per_unit_size, extended_epochs)
            .ok_or(E_INSUFFICIENT_PAYMENT)?;
        ensure(payment.value() >= cost, E_INSUFFICIENT_PAYMENT)?;
        take_balance(&mut payment.balance, cost)?;
        self.book(size, end, new_end, cost);
        blob.storage.end_epoch = new_end;
        self.emit_extension(blob, ctx);
        Ok(())
    }

    /// `extend_blob_with_resource`: extends a certified blob with storage bought separately,
    /// which must start where the blob's storage ends and have the same size.
    pub fn extend_blob_with_resource(
        &self,
        blob: &mut Blob,
        extension: Storage,
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        ensure(blob.is_certified(), E_NOT_CERTIFIED)?;
        ensure(self.epoch() < blob.end_epoch(), E_BLOB_EXPIRED)?;
        ensure(
            extension.start_epoch == blob.end_epoch(),
            storage_resource::E_INCOMPATIBLE_EPOCHS,
        )?;
        blob.storage.fuse_periods(extension)?;
        self.emit_extension(blob, ctx);
        Ok(())
    }

    fn emit_extension(&self, blob: &Blob, ctx: &mut TxContext) {
        ctx.emit(Event::BlobCertified(BlobCertified {
            epoch: self.epoch(),
            blob_id: blob.blob_id,
            end_epoch: blob.end_epoch(),
            deletable: blob.deletable,
            object_id: blob.id,
            is_extension: true,
        }));
    }

    /// `burn_blob`: destroys an expired blob (its storage has ended).
    pub fn burn_blob(&self, blob: Blob) -> MoveResult<()> {
        blob.burn(self.epoch())
    }

    /// `invalidate_blob_id`: records that a blob ID is inconsistent, on a certificate signed by
    /// at least one correct shard (`3w >= n + 1`); returns the blob ID.
    pub fn invalidate_blob_id(
        &self,
        signature: &[u8],
        members_bitmap: &[u8],
        message: &[u8],
        ctx: &mut TxContext,
    ) -> MoveResult<U256> {
        let certified =
            self.committee
                .verify_one_correct_node_in_epoch(signature, members_bitmap, message)?;
        let message = messages::invalid_blob_id_message(certified)?;
        ctx.emit(Event::InvalidBlobId(InvalidBlobId {
            epoch: self.epoch(),
            blob_id: message.blob_id,
        }));
        Ok(message.blob_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_layout() {
        let system = System {
            id: ObjectId([1; 32]),
            committee: BlsCommittee {
                members: Vec::new(),
                n_shards: 2,
                epoch: 3,
            },
            total_capacity_size: 4,
            storage_price_per_unit_size: 5,
            write_price_per_unit_size: 6,
            future_accounting: vec![FutureAccounting {
                epoch: 7,
                used_capacity: 8,
                rewards: 9,
            }],
            rewards_pool: 10,
            max_epochs_ahead: 11,
        };
        let mut expected = vec![1; 32];
        expected.extend([0, 2, 0, 3, 0, 0, 0]);
        for value in [4u64, 5, 6] {
            expected.extend(value.to_le_bytes());
        }
        expected.push(1);
        expected.extend(7u32.to_le_bytes());
        expected.extend(8u64.to_le_bytes());
        expected.extend(9u64.to_le_bytes());
        expected.extend(10u64.to_le_bytes());
        expected.extend(11u32.to_le_bytes());
        assert_eq!(bcs::to_bytes(&system).unwrap(), expected);
    }

    #[test]
    fn storage_units_round_up() {
        assert_eq!(storage_units(0), 0);
        assert_eq!(storage_units(1), 1);
        assert_eq!(storage_units(BYTES_PER_UNIT_SIZE), 1);
        assert_eq!(storage_units(BYTES_PER_UNIT_SIZE + 1), 2);
        assert_eq!(price_of(u64::MAX, u64::MAX, 2), None);
        assert_eq!(price_of(u64::MAX, u64::MAX, u32::MAX), None);
    }
}
