// Rust twin: chain/src/contract/system.rs

/// The shared `System` object: the committee, storage capacity and prices, per-epoch
/// accounting of used capacity and rewards, and the blob life cycle (reserve, register,
/// certify, extend, delete, invalidate).
module walrus::system;

use sui::{balance::{Self, Balance}, coin::Coin};
use wal::wal::WAL;
use walrus::{
    blob::{Self, Blob},
    bls_aggregate::BlsCommittee,
    events,
    messages,
    redstuff,
    storage_resource::{Self, Storage}
};

// === Errors (codes = position, as the twin's `Abort::new("system", code, name)`) ===

/// Zero epochs, or further ahead than `max_epochs_ahead`.
const EInvalidEpochsAhead: u64 = 0;
/// Not enough free capacity in some epoch of the period.
const EStorageExceeded: u64 = 1;
/// The coin holds less than the price.
const EInsufficientPayment: u64 = 2;
/// The blob ID does not match the root hash, or the certificate's blob.
const EInvalidBlobId: u64 = 3;
/// The storage does not cover the current epoch.
const EResourceBounds: u64 = 4;
/// The storage is smaller than the blob's encoded size.
const EResourceSize: u64 = 5;
/// The blob is certified already.
const EAlreadyCertified: u64 = 6;
/// The certificate's persistence type does not match the blob.
const EInvalidBlobPersistenceType: u64 = 7;
/// Deleting a permanent blob.
const EBlobNotDeletable: u64 = 8;
/// The blob's storage has ended.
const EBlobExpired: u64 = 9;
/// Extending a blob that is not certified.
const ENotCertified: u64 = 10;
/// The next committee is not for the next epoch.
const EInvalidCommitteeEpoch: u64 = 11;

/// Storage and write prices are per unit of this many encoded bytes (1 MiB).
const BYTES_PER_UNIT_SIZE: u64 = 1_048_576;
/// `u64::MAX`, as a `u128`.
const MAX_U64: u128 = 18_446_744_073_709_551_615;
/// `u32::MAX`, as a `u64`.
const MAX_U32: u64 = 4_294_967_295;

/// Used capacity and collected rewards of one epoch.
public struct FutureAccounting has copy, drop, store {
    epoch: u32,
    /// Encoded bytes reserved for the epoch.
    used_capacity: u64,
    /// FROST paid for the epoch, paid out to the stakers when it ends.
    rewards: u64,
}

/// The `System` shared object.
public struct System has key {
    id: UID,
    /// The current committee (its epoch is the current epoch).
    committee: BlsCommittee,
    /// Encoded bytes the network can store in each epoch.
    total_capacity_size: u64,
    /// FROST per unit per epoch of storage.
    storage_price_per_unit_size: u64,
    /// FROST per unit, paid once at registration.
    write_price_per_unit_size: u64,
    /// Entry `i` accounts for epoch `committee.epoch + i`, for `i < max_epochs_ahead`.
    future_accounting: vector<FutureAccounting>,
    /// All WAL paid and not yet distributed.
    rewards_pool: Balance<WAL>,
    /// How many epochs ahead storage can be bought.
    max_epochs_ahead: u32,
}

/// `ceil(size / 1 MiB)`.
public fun storage_units(size: u64): u64 {
    if (size % BYTES_PER_UNIT_SIZE == 0) size / BYTES_PER_UNIT_SIZE
    else size / BYTES_PER_UNIT_SIZE + 1
}

/// An empty system for `committee` (at genesis).
public(package) fun create(
    committee: BlsCommittee,
    total_capacity_size: u64,
    storage_price_per_unit_size: u64,
    write_price_per_unit_size: u64,
    max_epochs_ahead: u32,
    ctx: &mut TxContext,
): System {
    let epoch = committee.epoch();
    let mut future_accounting = vector[];
    let mut offset = 0;
    while (offset < max_epochs_ahead) {
        future_accounting.push_back(FutureAccounting {
            epoch: epoch + offset,
            used_capacity: 0,
            rewards: 0,
        });
        offset = offset + 1;
    };
    System {
        id: object::new(ctx),
        committee,
        total_capacity_size,
        storage_price_per_unit_size,
        write_price_per_unit_size,
        future_accounting,
        rewards_pool: balance::zero(),
        max_epochs_ahead,
    }
}

/// Shares the system (a key-only object can only be shared by its own module; the twin has no
/// counterpart).
public(package) fun share(self: System) {
    transfer::share_object(self)
}

/// Called by `staking` at an epoch change: installs the next committee (whose epoch must be
/// the next epoch) with the capacity and prices it voted for, drops the finished epoch's
/// accounting and returns its rewards, taken out of the rewards pool.
public(package) fun advance_epoch(
    self: &mut System,
    new_committee: BlsCommittee,
    total_capacity_size: u64,
    storage_price_per_unit_size: u64,
    write_price_per_unit_size: u64,
): Balance<WAL> {
    assert!(new_committee.epoch() == self.epoch() + 1, EInvalidCommitteeEpoch);
    let finished = self.future_accounting.remove(0);
    let next_epoch = finished.epoch + self.max_epochs_ahead;
    self
        .future_accounting
        .push_back(FutureAccounting { epoch: next_epoch, used_capacity: 0, rewards: 0 });
    self.committee = new_committee;
    self.total_capacity_size = total_capacity_size;
    self.storage_price_per_unit_size = storage_price_per_unit_size;
    self.write_price_per_unit_size = write_price_per_unit_size;
    self.rewards_pool.split(finished.rewards)
}

/// The current epoch.
public fun epoch(self: &System): u32 {
    self.committee.epoch()
}

/// Shards of the current committee.
public fun n_shards(self: &System): u16 {
    self.committee.n_shards()
}

/// Encoded bytes reserved in the current epoch.
public fun used_capacity_size(self: &System): u64 {
    if (self.future_accounting.is_empty()) 0 else self.future_accounting[0].used_capacity
}

/// Buys `storage_amount` encoded bytes for `epochs_ahead` epochs from now, paid from
/// `payment`.
public fun reserve_space(
    self: &mut System,
    storage_amount: u64,
    epochs_ahead: u32,
    payment: &mut Coin<WAL>,
    ctx: &mut TxContext,
): Storage {
    assert!(epochs_ahead > 0 && epochs_ahead <= self.max_epochs_ahead, EInvalidEpochsAhead);
    let start = self.epoch();
    let end = start + epochs_ahead;
    self.check_capacity(storage_amount, start, end);
    let cost = price_of(storage_amount, self.storage_price_per_unit_size, epochs_ahead);
    assert!(cost.is_some(), EInsufficientPayment);
    let cost = cost.destroy_some();
    assert!(payment.value() >= cost, EInsufficientPayment);
    let paid = payment.balance_mut().split(cost);
    self.book(storage_amount, start, end, paid);
    storage_resource::create_storage(start, end, storage_amount, ctx)
}

/// Records a blob of `size` bytes with `blob_id` (which must derive from `root_hash`) in
/// `storage`, paying the write price from `write_payment`.
public fun register_blob(
    self: &mut System,
    storage: Storage,
    blob_id: u256,
    root_hash: u256,
    size: u64,
    encoding_type: u8,
    deletable: bool,
    write_payment: &mut Coin<WAL>,
    ctx: &mut TxContext,
): Blob {
    let derived = blob::derive_blob_id(root_hash, encoding_type, size);
    assert!(derived == blob_id, EInvalidBlobId);
    let epoch = self.epoch();
    assert!(storage.start_epoch() <= epoch && epoch < storage.end_epoch(), EResourceBounds);
    let encoded = redstuff::encoded_blob_length(size, encoding_type, self.n_shards());
    assert!(encoded <= storage.storage_size(), EResourceSize);
    let cost = price_of(encoded, self.write_price_per_unit_size, 1);
    assert!(cost.is_some(), EInsufficientPayment);
    let cost = cost.destroy_some();
    assert!(write_payment.value() >= cost, EInsufficientPayment);
    let paid = write_payment.balance_mut().split(cost);
    self.book(0, epoch, epoch + 1, paid);
    let blob = blob::new(epoch, blob_id, size, encoding_type, storage, deletable, ctx);
    events::emit_blob_registered(
        epoch,
        blob_id,
        size,
        encoding_type,
        blob.end_epoch(),
        deletable,
        blob.object_id(),
    );
    blob
}

/// Marks `blob` certified with a storage-confirmation certificate signed by a quorum of shards
/// in the current epoch.
public fun certify_blob(
    self: &System,
    blob: &mut Blob,
    signature: vector<u8>,
    signers_bitmap: vector<u8>,
    message: vector<u8>,
) {
    let certified = self.committee.verify_quorum_in_epoch(signature, signers_bitmap, message);
    let message = messages::certify_blob_message(certified);
    assert!(message.blob_id() == blob.blob_id(), EInvalidBlobId);
    assert!(!blob.is_certified(), EAlreadyCertified);
    let epoch = self.epoch();
    assert!(epoch < blob.end_epoch(), EBlobExpired);
    // Permanent for a permanent blob; deletable with the blob's own object ID for a deletable
    // blob.
    let expected = if (blob.deletable()) {
        messages::deletable(blob.object_id())
    } else {
        messages::permanent()
    };
    assert!(message.blob_persistence_type() == expected, EInvalidBlobPersistenceType);
    blob.set_certified_epoch(epoch);
    events::emit_blob_certified(
        epoch,
        blob.blob_id(),
        blob.end_epoch(),
        blob.deletable(),
        blob.object_id(),
        false,
    );
}

/// Deletes a deletable, unexpired blob and returns its storage for reuse.
public fun delete_blob(self: &System, blob: Blob): Storage {
    assert!(blob.deletable(), EBlobNotDeletable);
    let epoch = self.epoch();
    assert!(epoch < blob.end_epoch(), EBlobExpired);
    events::emit_blob_deleted(
        epoch,
        blob.blob_id(),
        blob.end_epoch(),
        blob.object_id(),
        blob.is_certified(),
    );
    blob.delete()
}

/// Extends a certified blob by `extended_epochs`, buying the storage from `payment`.
public fun extend_blob(
    self: &mut System,
    blob: &mut Blob,
    extended_epochs: u32,
    payment: &mut Coin<WAL>,
) {
    assert!(blob.is_certified(), ENotCertified);
    let epoch = self.epoch();
    let end = blob.end_epoch();
    assert!(epoch < end, EBlobExpired);
    assert!((end as u64) + (extended_epochs as u64) <= MAX_U32, EInvalidEpochsAhead);
    let new_end = end + extended_epochs;
    assert!(extended_epochs > 0 && new_end - epoch <= self.max_epochs_ahead, EInvalidEpochsAhead);
    let size = blob.storage().storage_size();
    self.check_capacity(size, end, new_end);
    let cost = price_of(size, self.storage_price_per_unit_size, extended_epochs);
    assert!(cost.is_some(), EInsufficientPayment);
    let cost = cost.destroy_some();
    assert!(payment.value() >= cost, EInsufficientPayment);
    let paid = payment.balance_mut().split(cost);
    self.book(size, end, new_end, paid);
    blob.storage_mut().set_end_epoch(new_end);
    self.emit_extension(blob);
}

/// Extends a certified blob with storage bought separately, which must start where the blob's
/// storage ends and have the same size.
public fun extend_blob_with_resource(self: &System, blob: &mut Blob, extension: Storage) {
    assert!(blob.is_certified(), ENotCertified);
    assert!(self.epoch() < blob.end_epoch(), EBlobExpired);
    extension.assert_start_epoch(blob.end_epoch());
    blob.storage_mut().fuse_periods(extension);
    self.emit_extension(blob);
}

/// Destroys an expired blob (its storage has ended).
public fun burn_blob(self: &System, blob: Blob) {
    blob.burn(self.epoch());
}

/// Records that a blob ID is inconsistent, on a certificate signed by at least one correct
/// shard (`3w >= n + 1`); returns the blob ID.
public fun invalidate_blob_id(
    self: &System,
    signature: vector<u8>,
    members_bitmap: vector<u8>,
    message: vector<u8>,
): u256 {
    let certified = self
        .committee
        .verify_one_correct_node_in_epoch(signature, members_bitmap, message);
    let message = messages::invalid_blob_id_message(certified);
    let blob_id = message.invalid_blob_id();
    events::emit_invalid_blob_id(self.epoch(), blob_id);
    blob_id
}

// === Accessors (the twin's fields are `pub`) ===

public fun committee(self: &System): &BlsCommittee {
    &self.committee
}

public fun total_capacity_size(self: &System): u64 {
    self.total_capacity_size
}

public fun storage_price_per_unit_size(self: &System): u64 {
    self.storage_price_per_unit_size
}

public fun write_price_per_unit_size(self: &System): u64 {
    self.write_price_per_unit_size
}

public fun future_accounting(self: &System): &vector<FutureAccounting> {
    &self.future_accounting
}

/// The value of the rewards pool, in FROST (the twin's `rewards_pool: u64`).
public fun rewards_pool(self: &System): u64 {
    self.rewards_pool.value()
}

public fun max_epochs_ahead(self: &System): u32 {
    self.max_epochs_ahead
}

/// `FutureAccounting.used_capacity`.
public fun used_capacity(self: &FutureAccounting): u64 {
    self.used_capacity
}

/// `FutureAccounting.rewards`.
public fun rewards(self: &FutureAccounting): u64 {
    self.rewards
}

// === Internal ===

/// The price of `size` bytes for `epochs` epochs at `price` per unit per epoch, or none if it
/// exceeds any possible coin value. (`units * price < 2^108` and, when that fits in a `u64`,
/// `units * price * epochs < 2^96`: the `u128` products cannot overflow.)
fun price_of(size: u64, price: u64, epochs: u32): Option<u64> {
    if (epochs == 0) return option::some(0);
    let per_epoch = (storage_units(size) as u128) * (price as u128);
    if (per_epoch > MAX_U64) return option::none();
    let total = per_epoch * (epochs as u128);
    if (total > MAX_U64) option::none() else option::some((total as u64))
}

/// Checks that `size` more bytes fit in epochs `[start, end)` (callers have `start >= epoch`).
fun check_capacity(self: &System, size: u64, start: u32, end: u32) {
    let epoch = self.epoch();
    let mut target = start;
    while (target < end) {
        let offset = ((target - epoch) as u64);
        assert!(offset < self.future_accounting.length(), EInvalidEpochsAhead);
        let used = self.future_accounting[offset].used_capacity;
        // `used.saturating_add(size) <= total_capacity_size`, as the twin.
        let mut sum = (used as u128) + (size as u128);
        if (sum > MAX_U64) {
            sum = MAX_U64
        };
        assert!(sum <= (self.total_capacity_size as u128), EStorageExceeded);
        target = target + 1;
    };
}

/// Reserves `size` bytes in `[start, end)`, books `paid` as rewards of those epochs (split
/// evenly, the remainder to the first) and puts it into the rewards pool. Checks must have
/// passed.
fun book(self: &mut System, size: u64, start: u32, end: u32, paid: Balance<WAL>) {
    let cost = paid.value();
    let epoch = self.epoch();
    let epochs = ((end - start) as u64);
    let share = cost / (if (epochs == 0) 1 else epochs);
    let remainder = cost - share * epochs;
    let mut target = start;
    while (target < end) {
        let offset = ((target - epoch) as u64);
        let entry = &mut self.future_accounting[offset];
        entry.used_capacity = entry.used_capacity + size;
        entry.rewards = entry.rewards + share + (if (target == start) remainder else 0);
        target = target + 1;
    };
    self.rewards_pool.join(paid);
}

fun emit_extension(self: &System, blob: &Blob) {
    events::emit_blob_certified(
        self.epoch(),
        blob.blob_id(),
        blob.end_epoch(),
        blob.deletable(),
        blob.object_id(),
        true,
    );
}
