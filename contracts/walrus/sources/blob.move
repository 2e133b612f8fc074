// Rust twin: chain/src/contract/blob.rs

/// The `Blob` object that records a registered (and later certified) blob and the storage it
/// occupies.
module walrus::blob;

use std::string::String;
use sui::{bcs, hash, vec_map::{Self, VecMap}};
use walrus::{redstuff, storage_resource::Storage};

// === Errors (codes = position, as the twin's `Abort::new("blob", code, name)`) ===

/// `burn` of a blob that is still stored.
const EBlobNotExpired: u64 = 0;
/// Removing an attribute that is not set.
const EAttributeNotFound: u64 = 1;

/// A registered blob, its storage and its certification state.
public struct Blob has key, store {
    id: UID,
    /// Epoch of registration.
    registered_epoch: u32,
    blob_id: u256,
    /// Unencoded size in bytes.
    size: u64,
    /// Encoding type (1 = RS2).
    encoding_type: u8,
    /// Epoch of the first certification, if certified.
    certified_epoch: Option<u32>,
    /// The storage the blob occupies.
    storage: Storage,
    /// Whether the owner may delete it before it expires.
    deletable: bool,
    /// Key/value attributes (e.g. `content-type`).
    attributes: VecMap<String, String>,
}

/// `Blake2b256(BCS(encoding_type: u8, size: u64, root_hash: u256))` read as a little-endian
/// `u256`: exactly the blob ID the encoder computes. Aborts with
/// `redstuff::EInvalidEncodingType` for an encoding other than RS2.
public fun derive_blob_id(root_hash: u256, encoding_type: u8, size: u64): u256 {
    redstuff::assert_encoding_type(encoding_type);
    let mut preimage = bcs::to_bytes(&encoding_type);
    preimage.append(bcs::to_bytes(&size));
    preimage.append(bcs::to_bytes(&root_hash));
    let mut digest = bcs::new(hash::blake2b256(&preimage));
    digest.peel_u256()
}

/// A new, uncertified blob without attributes in `storage` (the twin's
/// `system::register_blob` builds `Blob { .. }` directly).
public(package) fun new(
    registered_epoch: u32,
    blob_id: u256,
    size: u64,
    encoding_type: u8,
    storage: Storage,
    deletable: bool,
    ctx: &mut TxContext,
): Blob {
    Blob {
        id: object::new(ctx),
        registered_epoch,
        blob_id,
        size,
        encoding_type,
        certified_epoch: option::none(),
        storage,
        deletable,
        attributes: vec_map::empty(),
    }
}

/// The end epoch (exclusive) of the blob's storage.
public fun end_epoch(self: &Blob): u32 {
    self.storage.end_epoch()
}

/// Whether the blob is certified.
public fun is_certified(self: &Blob): bool {
    self.certified_epoch.is_some()
}

/// The encoded size the blob occupies on `n_shards` shards.
public fun encoded_size(self: &Blob, n_shards: u16): u64 {
    redstuff::encoded_blob_length(self.size, self.encoding_type, n_shards)
}

/// Sets `key` to `value` (in place if the key is set, so the order of the map is kept).
public fun add_or_replace_attribute(self: &mut Blob, key: String, value: String) {
    if (self.attributes.contains(&key)) {
        *self.attributes.get_mut(&key) = value;
    } else {
        self.attributes.insert(key, value);
    }
}

/// Removes the attribute `key`.
public fun remove_attribute(self: &mut Blob, key: &String) {
    assert!(self.attributes.contains(key), EAttributeNotFound);
    let (_, _) = self.attributes.remove(key);
}

/// Destroys an expired blob (`current_epoch >= end_epoch`) and its storage. Called by
/// `system::burn_blob` with the current epoch.
public(package) fun burn(self: Blob, current_epoch: u32) {
    assert!(current_epoch >= self.end_epoch(), EBlobNotExpired);
    let storage = self.delete();
    storage.destroy();
}

/// Destroys the blob object and returns its storage (the twin's `system::delete_blob`
/// returns `blob.storage`).
public(package) fun delete(self: Blob): Storage {
    let Blob {
        id,
        registered_epoch: _,
        blob_id: _,
        size: _,
        encoding_type: _,
        certified_epoch: _,
        storage,
        deletable: _,
        attributes: _,
    } = self;
    id.delete();
    storage
}

// === Accessors (the twin's fields are `pub`) ===

/// The `Blob` object's ID (the twin's `id` field).
public fun object_id(self: &Blob): ID {
    self.id.to_inner()
}

public fun registered_epoch(self: &Blob): u32 {
    self.registered_epoch
}

public fun blob_id(self: &Blob): u256 {
    self.blob_id
}

public fun size(self: &Blob): u64 {
    self.size
}

public fun encoding_type(self: &Blob): u8 {
    self.encoding_type
}

public fun certified_epoch(self: &Blob): Option<u32> {
    self.certified_epoch
}

public fun storage(self: &Blob): &Storage {
    &self.storage
}

public fun deletable(self: &Blob): bool {
    self.deletable
}

public fun attributes(self: &Blob): &VecMap<String, String> {
    &self.attributes
}

/// Marks the blob certified in `epoch` (the twin assigns `blob.certified_epoch = Some(epoch)`).
public(package) fun set_certified_epoch(self: &mut Blob, epoch: u32) {
    self.certified_epoch = option::some(epoch);
}

/// The blob's storage, to extend it (the twin mutates `blob.storage` directly).
public(package) fun storage_mut(self: &mut Blob): &mut Storage {
    &mut self.storage
}
