// Rust twin: chain/src/contract/storage_resource.rs

/// A reservation of encoded bytes for a period of epochs, which can be split and fused.
module walrus::storage_resource;

// === Errors (codes = position, as the twin's `Abort::new("storage_resource", code, name)`) ===

/// A split epoch outside the period.
const EInvalidEpoch: u64 = 0;
/// Fusing periods that are not adjacent or not equal.
const EIncompatibleEpochs: u64 = 1;
/// Fusing or splitting incompatible sizes.
const EIncompatibleAmount: u64 = 2;

/// `storage_size` encoded bytes for epochs `[start_epoch, end_epoch)`.
public struct Storage has key, store {
    id: UID,
    start_epoch: u32,
    end_epoch: u32,
    storage_size: u64,
}

/// A new reservation (only the system sells storage).
public(package) fun create_storage(
    start_epoch: u32,
    end_epoch: u32,
    storage_size: u64,
    ctx: &mut TxContext,
): Storage {
    Storage { id: object::new(ctx), start_epoch, end_epoch, storage_size }
}

/// Keeps `[start, split_epoch)`, returns `[split_epoch, end)`.
public fun split_by_epoch(self: &mut Storage, split_epoch: u32, ctx: &mut TxContext): Storage {
    assert!(split_epoch > self.start_epoch && split_epoch < self.end_epoch, EInvalidEpoch);
    let end_epoch = self.end_epoch;
    self.end_epoch = split_epoch;
    create_storage(split_epoch, end_epoch, self.storage_size, ctx)
}

/// Keeps `split_size` bytes, returns the rest (both non-empty).
public fun split_by_size(self: &mut Storage, split_size: u64, ctx: &mut TxContext): Storage {
    assert!(split_size > 0 && split_size < self.storage_size, EIncompatibleAmount);
    let rest = self.storage_size - split_size;
    self.storage_size = split_size;
    create_storage(self.start_epoch, self.end_epoch, rest, ctx)
}

/// Appends (or prepends) the adjacent period of `other`, which must have the same size.
public fun fuse_periods(self: &mut Storage, other: Storage) {
    assert!(self.storage_size == other.storage_size, EIncompatibleAmount);
    if (self.end_epoch == other.start_epoch) {
        self.end_epoch = other.end_epoch;
    } else {
        assert!(self.start_epoch == other.end_epoch, EIncompatibleEpochs);
        self.start_epoch = other.start_epoch;
    };
    other.destroy();
}

/// Adds the size of `other`, which must cover the same period.
public fun fuse_amount(self: &mut Storage, other: Storage) {
    assert!(
        self.start_epoch == other.start_epoch && self.end_epoch == other.end_epoch,
        EIncompatibleEpochs,
    );
    self.storage_size = self.storage_size + other.storage_size;
    other.destroy();
}

/// `fuse_amount` when the periods are equal, otherwise `fuse_periods`.
public fun fuse(self: &mut Storage, other: Storage) {
    if (self.start_epoch == other.start_epoch && self.end_epoch == other.end_epoch) {
        self.fuse_amount(other)
    } else {
        self.fuse_periods(other)
    }
}

/// Destroys the reservation. (The twin drops `Storage` values; Move must delete the UID.)
public fun destroy(self: Storage) {
    let Storage { id, start_epoch: _, end_epoch: _, storage_size: _ } = self;
    id.delete();
}

// === Accessors (the twin's fields are `pub`) ===

public fun start_epoch(self: &Storage): u32 {
    self.start_epoch
}

public fun end_epoch(self: &Storage): u32 {
    self.end_epoch
}

public fun storage_size(self: &Storage): u64 {
    self.storage_size
}

/// Sets the end epoch (the twin's `system::extend_blob` assigns `blob.storage.end_epoch`).
public(package) fun set_end_epoch(self: &mut Storage, end_epoch: u32) {
    self.end_epoch = end_epoch;
}

/// Aborts with `EIncompatibleEpochs` unless the period starts at `epoch`. The twin's
/// `system::extend_blob_with_resource` checks `extension.start_epoch == blob.end_epoch()` with
/// `storage_resource::E_INCOMPATIBLE_EPOCHS` inline; Move constants are private to their module.
public(package) fun assert_start_epoch(self: &Storage, epoch: u32) {
    assert!(self.start_epoch == epoch, EIncompatibleEpochs);
}
