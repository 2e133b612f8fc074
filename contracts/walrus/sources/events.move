// Rust twin: chain/src/contract/events.rs (where each `emit_*` is `ctx.emit(Event::*(..))`)

/// The events the contracts emit. Move event structs can only be built in this module, so the
/// other modules emit through the `public(package)` functions below.
module walrus::events;

use sui::event;

/// A blob was registered: nodes accept its slivers from now on.
public struct BlobRegistered has copy, drop {
    epoch: u32,
    blob_id: u256,
    size: u64,
    encoding_type: u8,
    end_epoch: u32,
    deletable: bool,
    object_id: ID,
}

/// A blob was certified (or its certified lifetime extended).
public struct BlobCertified has copy, drop {
    epoch: u32,
    blob_id: u256,
    end_epoch: u32,
    deletable: bool,
    object_id: ID,
    is_extension: bool,
}

/// A deletable blob was deleted.
public struct BlobDeleted has copy, drop {
    epoch: u32,
    blob_id: u256,
    end_epoch: u32,
    object_id: ID,
    was_certified: bool,
}

/// A blob ID was proven inconsistent by at least one correct node. (The Rust twin's struct is
/// `InvalidBlobId`; the Move name, i.e. the event type `events::InvalidBlobID`, is the one
/// `Event::type_name` reports.)
public struct InvalidBlobID has copy, drop {
    epoch: u32,
    blob_id: u256,
}

/// An epoch change started: the new committee takes over.
public struct EpochChangeStart has copy, drop {
    epoch: u32,
}

/// A quorum of the new committee holds its shards: the epoch change is done.
public struct EpochChangeDone has copy, drop {
    epoch: u32,
}

/// A node received shards at an epoch change.
public struct ShardsReceived has copy, drop {
    epoch: u32,
    shards: vector<u16>,
}

/// The committee and parameters of the next epoch were selected (`staking::voting_end`).
public struct EpochParametersSelected has copy, drop {
    next_epoch: u32,
}

/// A staking pool was created for a new storage node.
public struct StakingPoolCreated has copy, drop {
    node_id: ID,
}

public(package) fun emit_blob_registered(
    epoch: u32,
    blob_id: u256,
    size: u64,
    encoding_type: u8,
    end_epoch: u32,
    deletable: bool,
    object_id: ID,
) {
    event::emit(BlobRegistered {
        epoch,
        blob_id,
        size,
        encoding_type,
        end_epoch,
        deletable,
        object_id,
    });
}

public(package) fun emit_blob_certified(
    epoch: u32,
    blob_id: u256,
    end_epoch: u32,
    deletable: bool,
    object_id: ID,
    is_extension: bool,
) {
    event::emit(BlobCertified { epoch, blob_id, end_epoch, deletable, object_id, is_extension });
}

public(package) fun emit_blob_deleted(
    epoch: u32,
    blob_id: u256,
    end_epoch: u32,
    object_id: ID,
    was_certified: bool,
) {
    event::emit(BlobDeleted { epoch, blob_id, end_epoch, object_id, was_certified });
}

public(package) fun emit_invalid_blob_id(epoch: u32, blob_id: u256) {
    event::emit(InvalidBlobID { epoch, blob_id });
}

public(package) fun emit_epoch_change_start(epoch: u32) {
    event::emit(EpochChangeStart { epoch });
}

public(package) fun emit_epoch_change_done(epoch: u32) {
    event::emit(EpochChangeDone { epoch });
}

public(package) fun emit_shards_received(epoch: u32, shards: vector<u16>) {
    event::emit(ShardsReceived { epoch, shards });
}

public(package) fun emit_epoch_parameters_selected(next_epoch: u32) {
    event::emit(EpochParametersSelected { next_epoch });
}

public(package) fun emit_staking_pool_created(node_id: ID) {
    event::emit(StakingPoolCreated { node_id });
}
