//! The node's durable store: one [redb](https://docs.rs/redb) file (`node.redb`) in the
//! storage directory, holding
//!
//! - `metadata`: blob ID → BCS `BlobMetadata` (only metadata that verified against the ID);
//! - `slivers`: blob ID ‖ pair index (u16 BE) ‖ axis (0 primary, 1 secondary) → the BCS
//!   `SliverData` (only slivers that verified against the stored metadata): inline for slivers
//!   under [`MIN_SEGMENT_VALUE_BYTES`], else its [`Location`] in an append-only segment file
//!   (`segments/`, see [`crate::segments`]), written and fsync'd before the entry is committed;
//! - `segment_live`: segment number → bytes of it the `slivers` table points at (updated in
//!   the same transactions), so that dead segments are deleted and sparse ones compacted;
//! - `blob_info`: blob ID → BCS [`BlobInfo`], what the chain said about the blob;
//! - `recovery`: blob IDs that were certified and may miss slivers of our shards: a durable
//!   to-do list, emptied by the recovery worker;
//! - `shard_sync`: shard (u16 BE) → BCS [`ShardSync`], the durable progress of pulling a
//!   shard this node gained at an epoch change (a crash resumes at the last stored batch);
//! - `meta`: the event cursor (written in the same transaction as the effects of the event,
//!   so an event is applied exactly once), the events-processed count, the format version.
//!
//! Why redb: pure Rust (no C++ toolchain, a 10 s build instead of RocksDB's 9 min here), ACID
//! with copy-on-write B-trees, and every commit is fsync'd (`Durability::Immediate`, its
//! default), so a write acknowledged to a client survives a crash and a crash never leaves
//! half a write. Its single-writer model suits a node whose writes are sliver-sized and
//! already serialized by verification; reads never block on writes.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::segments::{Location, SegmentValue, Segments};
use serde::{Deserialize, Serialize};
use walrus_core::{
    encoding::{EncodingAxis, Sliver, SliverBytes, SliverData},
    merkle::Digest,
    metadata::BlobMetadata,
    BlobId, Epoch, ObjectId, ShardIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::api::{BlobStatus, DeletableCounts, EventCursor, EventId};

/// The database file's name inside the storage directory.
pub const DB_FILE_NAME: &str = "node.redb";
/// Version 3: large slivers live in segment files, the `slivers` table holds tagged values;
/// version 2 identified events as Sui does (`{tx_digest, event_seq}`); version 1 stored their
/// checkpoint position.
const FORMAT_VERSION: u32 = 3;
/// The segment files' directory inside the storage directory.
const SEGMENTS_DIR: &str = "segments";
/// Slivers of at least this many bytes (BCS) go to segment files; smaller ones stay inline in
/// the index, where a lookup costs less than a file read.
pub const MIN_SEGMENT_VALUE_BYTES: usize = 32 << 10;

const METADATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("metadata");
const SLIVERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("slivers");
/// Under a sliver's key: the nodes of its expansion's Merkle tree (32 bytes each, leaves first,
/// root last: [`MerkleTree::nodes`](walrus_core::merkle::MerkleTree::nodes)), kept from its
/// verification for slivers where they are small beside the sliver ([`keeps_tree_nodes`]):
/// recovery symbols and their proofs are then served without hashing anything. Stores written
/// before the inner nodes were kept hold the `n` leaf hashes alone (hence the table's name),
/// which the reader hashes up.
const TREE_NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("leaf_hashes");
const BLOB_INFO: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blob_info");
const RECOVERY: TableDefinition<&[u8], ()> = TableDefinition::new("recovery");
const SHARD_SYNC: TableDefinition<&[u8], &[u8]> = TableDefinition::new("shard_sync");
const SEGMENT_LIVE: TableDefinition<u32, u64> = TableDefinition::new("segment_live");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_FORMAT: &str = "format_version";
const META_CURSOR: &str = "event_cursor";
const META_EVENTS: &str = "events_processed";
const META_SYNC_REPORTED: &str = "epoch_sync_reported";
const META_RELEASED: &str = "shards_released_epoch";
const META_EPOCH_STARTED: &str = "epoch_started";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage directory could not be created.
    #[error("cannot create the storage directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// redb failed (open, read, write or commit).
    #[error("node database: {0}")]
    Redb(#[from] redb::Error),
    /// The group commit holding this write failed (the error is another thread's).
    #[error("node database: {0}")]
    GroupCommit(String),
    /// Stored bytes do not decode: the file is corrupt or of another version.
    #[error("node database is corrupt: {0}")]
    Corrupt(String),
    /// A segment file could not be created, written, synced, read or deleted.
    #[error("node segment files: {0}")]
    Segments(#[from] std::io::Error),
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(error: $t) -> Self {
                StoreError::Redb(error.into())
            }
        }
    )*};
}
redb_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// One registered blob object (a `Blob` on chain) of a blob ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobObjectInfo {
    /// Whether the owner may delete it before it expires.
    pub deletable: bool,
    /// The first epoch it is no longer stored.
    pub end_epoch: Epoch,
    /// The epoch it was certified, if it was.
    pub certified_epoch: Option<Epoch>,
    /// The event that last changed it.
    pub event: EventId,
}

/// What the chain said about a blob ID: its live blob objects and whether it was proven
/// invalid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// Registered, not deleted blob objects by object ID (expired ones are dropped on epoch
    /// change).
    pub objects: BTreeMap<ObjectId, BlobObjectInfo>,
    /// The `InvalidBlobID` event, if the blob was proven invalid.
    pub invalid: Option<EventId>,
}

impl BlobInfo {
    /// The objects still stored in `epoch`.
    fn live(&self, epoch: Epoch) -> impl Iterator<Item = (&ObjectId, &BlobObjectInfo)> {
        self.objects
            .iter()
            .filter(move |(_, object)| object.end_epoch > epoch)
    }

    /// Whether uploads are accepted in `epoch`: some object is live and the blob is not
    /// invalid.
    pub fn is_registered(&self, epoch: Epoch) -> bool {
        self.invalid.is_none() && self.live(epoch).next().is_some()
    }

    /// Whether some live object is certified in `epoch`.
    pub fn is_certified(&self, epoch: Epoch) -> bool {
        self.invalid.is_none()
            && self
                .live(epoch)
                .any(|(_, object)| object.certified_epoch.is_some())
    }

    /// Whether a live permanent object exists (permanent confirmation) or the live deletable
    /// object `object_id` does (deletable confirmation).
    pub fn can_confirm(&self, epoch: Epoch, deletable_object: Option<ObjectId>) -> bool {
        self.invalid.is_none()
            && match deletable_object {
                None => self.live(epoch).any(|(_, object)| !object.deletable),
                Some(id) => self
                    .live(epoch)
                    .any(|(object_id, object)| *object_id == id && object.deletable),
            }
    }

    /// The status reported by `GET /v1/blobs/{id}/status` in `epoch`.
    pub fn status(&self, epoch: Epoch) -> BlobStatus {
        if let Some(event) = self.invalid {
            return BlobStatus::Invalid { event };
        }
        let mut counts = DeletableCounts {
            count_deletable_total: 0,
            count_deletable_certified: 0,
        };
        let mut initial_certified_epoch: Option<Epoch> = None;
        // The permanent object that decides the status: certified first, then the longest.
        let mut permanent: Option<&BlobObjectInfo> = None;
        for (_, object) in self.live(epoch) {
            if let Some(certified) = object.certified_epoch {
                initial_certified_epoch =
                    Some(initial_certified_epoch.map_or(certified, |e| e.min(certified)));
            }
            if object.deletable {
                counts.count_deletable_total += 1;
                if object.certified_epoch.is_some() {
                    counts.count_deletable_certified += 1;
                }
            } else {
                let key = |o: &BlobObjectInfo| (o.certified_epoch.is_some(), o.end_epoch);
                if permanent.is_none_or(|best| key(object) > key(best)) {
                    permanent = Some(object);
                }
            }
        }
        match permanent {
            Some(object) => BlobStatus::Permanent {
                end_epoch: object.end_epoch,
                is_certified: object.certified_epoch.is_some(),
                status_event: object.event,
                deletable_counts: counts,
                initial_certified_epoch,
            },
            None if counts.count_deletable_total > 0 => BlobStatus::Deletable {
                initial_certified_epoch,
                deletable_counts: counts,
            },
            None => BlobStatus::Nonexistent,
        }
    }
}

/// The key of a sliver: blob ID ‖ pair index (big endian, so a blob's slivers are adjacent
/// and ordered) ‖ axis.
fn sliver_key(blob_id: &BlobId, pair: SliverPairIndex, axis: SliverType) -> [u8; 35] {
    let mut key = [0u8; 35];
    key[..32].copy_from_slice(blob_id.as_bytes());
    key[32..34].copy_from_slice(&pair.0.to_be_bytes());
    key[34] = match axis {
        SliverType::Primary => 0,
        SliverType::Secondary => 1,
    };
    key
}

/// The range of all sliver keys of a blob.
fn blob_sliver_range(blob_id: &BlobId) -> ([u8; 35], [u8; 35]) {
    let mut end = sliver_key(blob_id, SliverPairIndex(u16::MAX), SliverType::Secondary);
    end[34] = u8::MAX;
    (
        sliver_key(blob_id, SliverPairIndex(0), SliverType::Primary),
        end,
    )
}

/// Locks `mutex`; a panic of another holder leaves nothing half-done here (the queue holds
/// whole inserts; the committer lock guards nothing but turns), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

/// The node's durable store. All methods block (run them off the async runtime); every write
/// is one fsync'd transaction, except that concurrent inserts of metadata and slivers share
/// one (group commit: each returns only once the commit holding it is durable).
#[derive(Debug)]
pub struct NodeStore {
    db: Database,
    path: PathBuf,
    /// Inserts waiting for the next group commit.
    queued: Mutex<Vec<QueuedInsert>>,
    /// Held by the thread committing a group.
    committer: Mutex<()>,
    /// The large slivers' bytes.
    segments: Segments,
    /// Held while segments are reclaimed (one reclaimer at a time).
    reclaiming: Mutex<()>,
}

/// The tables whose inserts are group-committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GroupTable {
    Metadata,
    Slivers,
    TreeNodes,
}

impl GroupTable {
    fn definition(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        match self {
            GroupTable::Metadata => METADATA,
            GroupTable::Slivers => SLIVERS,
            GroupTable::TreeNodes => TREE_NODES,
        }
    }
}

/// A queued insert's value: BCS bytes, or a sliver written out as BCS only where it is stored
/// (straight into a segment's staging buffer for a large one: no copy of its own).
#[derive(Debug)]
enum QueuedValue {
    Bytes(Bytes),
    Sliver {
        sliver: Sliver,
        /// Its BCS length.
        len: usize,
    },
}

impl QueuedValue {
    fn sliver(sliver: Sliver) -> Result<Self, StoreError> {
        let len = match &sliver {
            Sliver::Primary(sliver) => bcs::serialized_size(sliver),
            Sliver::Secondary(sliver) => bcs::serialized_size(sliver),
        }
        .map_err(|e| corrupt("sliver", e))?;
        Ok(Self::Sliver { sliver, len })
    }

    /// The BCS bytes (written out for a sliver).
    fn to_bytes(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Self::Bytes(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
            Self::Sliver { .. } => Ok(std::borrow::Cow::Owned(self.to_written()?)),
        }
    }
}

impl SegmentValue for QueuedValue {
    fn byte_len(&self) -> usize {
        match self {
            Self::Bytes(bytes) => bytes.len(),
            Self::Sliver { len, .. } => *len,
        }
    }

    fn write_into(&self, mut out: &mut [u8]) -> std::io::Result<()> {
        match self {
            Self::Bytes(bytes) => bytes.as_ref().write_into(out),
            Self::Sliver { sliver, .. } => {
                match sliver {
                    Sliver::Primary(sliver) => bcs::serialize_into(&mut out, sliver),
                    Sliver::Secondary(sliver) => bcs::serialize_into(&mut out, sliver),
                }
                .map_err(std::io::Error::other)?;
                if out.is_empty() {
                    Ok(())
                } else {
                    Err(std::io::Error::other(
                        "a sliver's BCS is shorter than its length",
                    ))
                }
            }
        }
    }
}

/// A metadata or sliver insert waiting for its group commit.
#[derive(Debug)]
struct QueuedInsert {
    table: GroupTable,
    key: Vec<u8>,
    value: QueuedValue,
    /// Whether it was new (`false`: a value was there), or why the commit failed.
    reply: std::sync::mpsc::SyncSender<Result<bool, String>>,
}

/// The largest read buffer a thread keeps between sliver reads ([`NodeStore::sliver`]).
const KEPT_READ_BUFFER: usize = 8 << 20;

/// A sliver that verified against its blob's metadata, with the nodes of its expansion's
/// Merkle tree the verification computed (empty if not known).
#[derive(Debug, Clone)]
pub struct VerifiedSliver {
    /// The sliver.
    pub sliver: Sliver,
    /// Its tree's nodes, [`MerkleTree::nodes`](walrus_core::merkle::MerkleTree::nodes) (or
    /// none).
    pub tree_nodes: Vec<Digest>,
}

/// Whether a sliver of `sliver_len` bytes keeps its `tree_nodes`: only if there are some and
/// they are at most a quarter of its size (about `2n` nodes: a 4 MiB blob's slivers at 100
/// shards keep 6.5 KB beside 63-123 KB); for small slivers hashing the expansion again is
/// cheap and the nodes would outweigh them.
fn keeps_tree_nodes(tree_nodes: &[Digest], sliver_len: usize) -> bool {
    !tree_nodes.is_empty() && tree_nodes.len() * 32 * 4 <= sliver_len
}

/// How the `slivers` table holds a sliver's BCS bytes: tag 0 and the bytes, or tag 1 and their
/// [`Location`] in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoredValue<'a> {
    Inline(&'a [u8]),
    InSegment(Location),
}

const INLINE_TAG: u8 = 0;
const SEGMENT_TAG: u8 = 1;

impl<'a> StoredValue<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((&INLINE_TAG, rest)) => Ok(Self::Inline(rest)),
            Some((&SEGMENT_TAG, rest)) => Location::from_bytes(rest)
                .map(Self::InSegment)
                .ok_or_else(|| corrupt("sliver location", "not 16 bytes")),
            _ => Err(corrupt("sliver", "unknown value tag")),
        }
    }

    /// The sliver's BCS length.
    fn len(&self) -> u64 {
        match self {
            Self::Inline(bytes) => bytes.len() as u64,
            Self::InSegment(location) => location.len.into(),
        }
    }

    fn to_bytes(self) -> Vec<u8> {
        match self {
            Self::Inline(bytes) => [&[INLINE_TAG], bytes].concat(),
            Self::InSegment(location) => [&[SEGMENT_TAG][..], &location.to_bytes()].concat(),
        }
    }
}

/// Adds (`add`) or takes the lengths of `locations` to or from their segments' live bytes.
fn count_live(
    tx: &redb::WriteTransaction,
    locations: impl IntoIterator<Item = Location>,
    add: bool,
) -> Result<(), StoreError> {
    let mut deltas = BTreeMap::<u32, u64>::new();
    for location in locations {
        *deltas.entry(location.segment).or_default() += u64::from(location.len);
    }
    let mut live = tx.open_table(SEGMENT_LIVE)?;
    for (segment, delta) in deltas {
        let now = live.get(segment)?.map_or(0, |value| value.value());
        let next = if add {
            now.saturating_add(delta)
        } else {
            now.saturating_sub(delta)
        };
        live.insert(segment, next)?;
    }
    Ok(())
}

/// A group commit's items for a sliver (BCS `value` under `key`) and its tree nodes if kept;
/// `sliver_items` gets the sliver's position among `items`.
fn push_sliver_items(
    items: &mut Vec<(GroupTable, Vec<u8>, QueuedValue)>,
    sliver_items: &mut Vec<usize>,
    key: [u8; 35],
    value: QueuedValue,
    tree_nodes: &[Digest],
) {
    if keeps_tree_nodes(tree_nodes, value.byte_len()) {
        items.push((
            GroupTable::TreeNodes,
            key.to_vec(),
            QueuedValue::Bytes(Bytes::from(tree_nodes.concat())),
        ));
    }
    sliver_items.push(items.len());
    items.push((GroupTable::Slivers, key.to_vec(), value));
}

/// Memory redb may use for its page cache and write buffers. Its default (1 GiB) is for one
/// database per machine; slivers are written once and read rarely, and ten nodes of a
/// localnet on one machine with 1 GiB each starved the page cache during large stores.
const STORE_CACHE_BYTES: usize = 128 << 20;

/// Most bytes of slivers a compaction holds in memory at once.
const COMPACTION_BATCH_BYTES: u64 = 16 << 20;

impl NodeStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE_NAME);
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(&path)?;
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let format = meta.get(META_FORMAT)?.map(|v| v.value().to_vec());
            match format {
                None => {
                    meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
                }
                Some(bytes) if bytes == FORMAT_VERSION.to_le_bytes() => {}
                Some(bytes) => {
                    return Err(StoreError::Corrupt(format!(
                        "unsupported format version {bytes:?} (this node reads and writes \
                         {FORMAT_VERSION}); a store of another version is not converted: move \
                         it away and start with an empty one (the node recovers its shards' \
                         slivers from its peers)"
                    )))
                }
            }
            tx.open_table(METADATA)?;
            tx.open_table(SLIVERS)?;
            tx.open_table(TREE_NODES)?;
            tx.open_table(BLOB_INFO)?;
            tx.open_table(RECOVERY)?;
            tx.open_table(SHARD_SYNC)?;
        }
        let live = Self::segment_live_in(&tx.open_table(SEGMENT_LIVE)?)?;
        let (segments, found) =
            Segments::open(&dir.join(SEGMENTS_DIR), live.iter().map(|(s, _)| *s))?;
        // Segments of an earlier run nothing points into (their slivers deleted, or appended
        // and never committed) go now; the others are sealed and reclaimed as they empty.
        {
            let mut table = tx.open_table(SEGMENT_LIVE)?;
            for segment in found {
                if table.get(segment)?.is_none_or(|bytes| bytes.value() == 0) {
                    table.remove(segment)?;
                    segments.remove(segment)?;
                }
            }
        }
        tx.commit()?;
        Ok(Self {
            db,
            path,
            queued: Mutex::new(Vec::new()),
            committer: Mutex::new(()),
            segments,
            reclaiming: Mutex::new(()),
        })
    }

    /// Every segment's live bytes.
    fn segment_live_in(
        table: &impl ReadableTable<u32, u64>,
    ) -> Result<Vec<(u32, u64)>, StoreError> {
        let mut live = Vec::new();
        for entry in table.iter()? {
            let (segment, bytes) = entry?;
            live.push((segment.value(), bytes.value()));
        }
        Ok(live)
    }

    /// The `slivers` table's values for the BCS `slivers` given: large ones appended to the
    /// active segment (durable on return: commit their entries after this), small ones inline;
    /// also the locations appended, to count as live in the same commit.
    fn index_values<V: SegmentValue + ?Sized>(
        &self,
        slivers: &[&V],
    ) -> Result<(Vec<Vec<u8>>, Vec<Location>), StoreError> {
        let large = slivers
            .iter()
            .filter(|bcs| bcs.byte_len() >= MIN_SEGMENT_VALUE_BYTES)
            .copied();
        let appended = self.segments.append(large)?;
        let mut locations = appended.iter();
        let mut values = Vec::with_capacity(slivers.len());
        for bcs in slivers {
            let location = (bcs.byte_len() >= MIN_SEGMENT_VALUE_BYTES)
                .then(|| locations.next())
                .flatten();
            values.push(match location {
                Some(location) => StoredValue::InSegment(*location).to_bytes(),
                None => StoredValue::Inline(&bcs.to_written()?).to_bytes(),
            });
        }
        Ok((values, appended))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The BCS value under `key` in `table`, decoded.
    fn get_bcs<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(table)?;
        let Some(value) = table.get(key)? else {
            return Ok(None);
        };
        bcs::from_bytes(value.value())
            .map(Some)
            .map_err(|e| corrupt(what, e))
    }

    /// Stores `value` (BCS) under `key` in `table` unless a value is there; `true` if stored.
    /// Concurrent calls share one fsync'd commit: see [`Self::insert_all`].
    fn insert_new<T: Serialize>(
        &self,
        table: GroupTable,
        key: &[u8],
        value: &T,
        what: &str,
    ) -> Result<bool, StoreError> {
        let value = walrus_core::to_bcs_exact(value).map_err(|e| corrupt(what, e))?;
        let value = QueuedValue::Bytes(Bytes::from(value));
        Ok(self.insert_all(vec![(table, key.to_vec(), value)])?[0])
    }

    /// Stores each `(table, key, BCS value)` unless a value is there; per item, `true` if
    /// stored. Items of one call and of concurrent calls share fsync'd commits: the first
    /// caller to find no commit running commits everything queued, the others wait for the
    /// commit that holds theirs.
    fn insert_all(
        &self,
        items: Vec<(GroupTable, Vec<u8>, QueuedValue)>,
    ) -> Result<Vec<bool>, StoreError> {
        // A re-upload of stored data costs a read, not an fsync'd commit.
        let mut stored = vec![false; items.len()];
        let mut waiting = Vec::new();
        let mut queue = Vec::new();
        {
            let tx = self.db.begin_read()?;
            for (index, (table, key, value)) in items.into_iter().enumerate() {
                if tx
                    .open_table(table.definition())?
                    .get(key.as_slice())?
                    .is_some()
                {
                    continue;
                }
                let (reply, answer) = std::sync::mpsc::sync_channel(1);
                waiting.push((index, answer));
                queue.push(QueuedInsert {
                    table,
                    key,
                    value,
                    reply,
                });
            }
        }
        // Queued together, so that one commit holds them all.
        lock(&self.queued).extend(queue);
        // Takes the answers that came; the first failed commit is the error.
        let collect =
            |waiting: &mut Vec<(usize, std::sync::mpsc::Receiver<Result<bool, String>>)>,
             stored: &mut Vec<bool>|
             -> Result<(), StoreError> {
                let mut failure = None;
                waiting.retain(|(index, answer)| match answer.try_recv() {
                    Ok(Ok(new)) => {
                        stored[*index] = new;
                        false
                    }
                    Ok(Err(error)) => {
                        failure.get_or_insert(error);
                        false
                    }
                    Err(_) => true,
                });
                failure.map_or(Ok(()), |error| Err(StoreError::GroupCommit(error)))
            };
        loop {
            collect(&mut waiting, &mut stored)?;
            if waiting.is_empty() {
                return Ok(stored);
            }
            let _committing = lock(&self.committer);
            // The previous commit may have held these inserts.
            collect(&mut waiting, &mut stored)?;
            if waiting.is_empty() {
                return Ok(stored);
            }
            let group = std::mem::take(&mut *lock(&self.queued));
            self.commit_group(group);
        }
    }

    /// Inserts `group` in one transaction and answers each insert. New large slivers are
    /// appended to a segment (and synced) before the transaction pointing at them commits.
    fn commit_group(&self, group: Vec<QueuedInsert>) {
        let applied = (|| -> Result<Vec<bool>, StoreError> {
            let tx = self.db.begin_write()?;
            let mut fresh = Vec::with_capacity(group.len());
            // A key queued twice is stored once, the first time.
            let mut queued = std::collections::HashSet::new();
            for insert in &group {
                let table = tx.open_table(insert.table.definition())?;
                fresh.push(
                    table.get(insert.key.as_slice())?.is_none()
                        && queued.insert((insert.table, insert.key.as_slice())),
                );
            }
            let slivers: Vec<&QueuedValue> = group
                .iter()
                .zip(&fresh)
                .filter(|(insert, new)| **new && insert.table == GroupTable::Slivers)
                .map(|(insert, _)| &insert.value)
                .collect();
            let (values, appended) = self.index_values(&slivers)?;
            let mut values = values.into_iter();
            for (insert, _) in group.iter().zip(&fresh).filter(|(_, new)| **new) {
                let mut table = tx.open_table(insert.table.definition())?;
                if insert.table == GroupTable::Slivers {
                    let value = values
                        .next()
                        .ok_or_else(|| corrupt("group commit", "a sliver without its value"))?;
                    table.insert(insert.key.as_slice(), value.as_slice())?;
                } else {
                    table.insert(insert.key.as_slice(), insert.value.to_bytes()?.as_ref())?;
                }
            }
            count_live(&tx, appended, true)?;
            tx.commit()?;
            Ok(fresh)
        })();
        match applied {
            Ok(fresh) => {
                for (insert, new) in group.iter().zip(fresh) {
                    let _ = insert.reply.send(Ok(new));
                }
            }
            Err(error) => {
                for insert in &group {
                    let _ = insert.reply.send(Err(error.to_string()));
                }
            }
        }
    }

    /// The stored metadata of `blob_id`.
    pub fn metadata(&self, blob_id: &BlobId) -> Result<Option<BlobMetadata>, StoreError> {
        self.get_bcs(METADATA, blob_id.as_bytes(), "metadata")
    }

    /// Whether metadata of `blob_id` are stored (without reading them).
    pub fn has_metadata(&self, blob_id: &BlobId) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx
            .open_table(METADATA)?
            .get(blob_id.as_bytes().as_slice())?
            .is_some())
    }

    /// Stores verified metadata; `false` if they were already stored.
    pub fn put_metadata(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
    ) -> Result<bool, StoreError> {
        self.insert_new(
            GroupTable::Metadata,
            blob_id.as_bytes(),
            metadata,
            "metadata",
        )
    }

    /// The stored sliver of `axis` `T` in pair `pair`.
    pub fn sliver<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
    ) -> Result<Option<SliverData<T>>, StoreError> {
        self.with_sliver_bytes(&sliver_key(blob_id, pair, T::TYPE), |sliver| {
            sliver.to_sliver()
        })
    }

    /// The BCS bytes of the sliver under `key`, from the index or its segment (read through
    /// the page cache: a blob's readers may ask for it again).
    fn sliver_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_sliver_value(key, |stored| match stored {
            StoredValue::Inline(bytes) => Ok(bytes.to_vec()),
            StoredValue::InSegment(location) => self.segments.read(location),
        })
    }

    /// `use_sliver` on the sliver under `key`, read in place from its BCS bytes in this
    /// thread's read buffer (kept between calls for values up to [`KEPT_READ_BUFFER`]: no
    /// allocation and no zeroing per read; read past the page cache where the file system
    /// allows it; nothing is copied unless `use_sliver` copies it). `use_sliver` must not read
    /// another sliver.
    fn with_sliver_bytes<T: EncodingAxis, R>(
        &self,
        key: &[u8],
        use_sliver: impl FnOnce(SliverBytes<'_, T>) -> R,
    ) -> Result<Option<R>, StoreError> {
        thread_local! {
            static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        READ_BUFFER.with_borrow_mut(|buffer| {
            let found = self.read_sliver_value(key, |stored| match stored {
                StoredValue::Inline(bytes) => {
                    buffer.clear();
                    buffer.extend_from_slice(bytes);
                    Ok(0..bytes.len())
                }
                StoredValue::InSegment(location) => self.segments.read_into(location, buffer),
            });
            let used = match found {
                Ok(Some(range)) => SliverBytes::decode(&buffer[range])
                    .map(|sliver| Some(use_sliver(sliver)))
                    .map_err(|e| corrupt("sliver", e)),
                Ok(None) => Ok(None),
                Err(error) => Err(error),
            };
            if buffer.capacity() > KEPT_READ_BUFFER {
                *buffer = Vec::new();
            }
            used
        })
    }

    /// Looks the sliver under `key` up and reads its value with `read` (the inline bytes or
    /// the segment location); `None` if there is no such sliver.
    fn read_sliver_value<R>(
        &self,
        key: &[u8],
        mut read: impl FnMut(StoredValue<'_>) -> std::io::Result<R>,
    ) -> Result<Option<R>, StoreError> {
        // Compaction may move the value between the lookup and the read, and delete the
        // segment looked up: then the lookup is made again.
        for _ in 0..3 {
            let location = {
                let tx = self.db.begin_read()?;
                let table = tx.open_table(SLIVERS)?;
                let Some(stored) = table.get(key)? else {
                    return Ok(None);
                };
                match StoredValue::parse(stored.value())? {
                    inline @ StoredValue::Inline(_) => return Ok(Some(read(inline)?)),
                    StoredValue::InSegment(location) => location,
                }
            };
            match read(StoredValue::InSegment(location)) {
                Ok(value) => return Ok(Some(value)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(corrupt(
            "sliver",
            "its segment was deleted under three lookups",
        ))
    }

    /// The stored BCS bytes of the sliver of `axis` in pair `pair`.
    pub fn sliver_bytes(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.sliver_value(&sliver_key(blob_id, pair, axis))
    }

    /// Whether the sliver of `axis` in pair `pair` is stored.
    pub fn has_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
    ) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(SLIVERS)?;
        Ok(table
            .get(sliver_key(blob_id, pair, axis).as_slice())?
            .is_some())
    }

    /// Stores a verified sliver with the tree nodes its verification computed (kept if
    /// [`keeps_tree_nodes`]; empty: none known); `false` if it was already stored.
    pub fn put_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: impl Into<Sliver>,
        tree_nodes: &[Digest],
    ) -> Result<bool, StoreError> {
        Ok(self.put_slivers(blob_id, [(pair, sliver.into(), tree_nodes)])?[0])
    }

    /// Stores the BCS bytes of a verified sliver of axis `T` as they came, as
    /// [`Self::put_sliver`] stores the sliver they encode (decoding is canonical: bytes that
    /// [`SliverBytes::decode`] reads are the sliver's only encoding, which this checks, cheaply,
    /// before anything is stored); `true` if new.
    pub fn put_sliver_bcs<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        bcs_bytes: Bytes,
        tree_nodes: &[Digest],
    ) -> Result<bool, StoreError> {
        SliverBytes::<T>::decode(&bcs_bytes).map_err(|e| corrupt("sliver", e))?;
        let mut items = Vec::with_capacity(2);
        let mut sliver_items = Vec::with_capacity(1);
        push_sliver_items(
            &mut items,
            &mut sliver_items,
            sliver_key(blob_id, pair, T::TYPE),
            QueuedValue::Bytes(bcs_bytes),
            tree_nodes,
        );
        Ok(self.insert_all(items)?[sliver_items[0]])
    }

    /// Stores verified slivers of axis `T` of `blob_id`, each as [`Self::put_sliver`], in one
    /// group commit; per sliver, whether it was new.
    pub fn put_slivers<'a>(
        &self,
        blob_id: &BlobId,
        slivers: impl IntoIterator<Item = (SliverPairIndex, Sliver, &'a [Digest])>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut items = Vec::new();
        let mut sliver_items = Vec::new();
        for (pair, sliver, tree_nodes) in slivers {
            let key = sliver_key(blob_id, pair, sliver.sliver_type());
            let value = QueuedValue::sliver(sliver)?;
            push_sliver_items(&mut items, &mut sliver_items, key, value, tree_nodes);
        }
        let stored = self.insert_all(items)?;
        Ok(sliver_items.iter().map(|index| stored[*index]).collect())
    }

    /// `use_sliver` on the stored sliver of axis `T` in pair `pair`, read in place (see
    /// [`Self::with_sliver_bytes`]), and its tree nodes, if kept (or the leaf hashes alone,
    /// from an older store); `None` if the sliver is not stored.
    pub fn with_sliver_and_tree_nodes<T: EncodingAxis, R>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        use_sliver: impl FnOnce(SliverBytes<'_, T>, Option<Vec<Digest>>) -> R,
    ) -> Result<Option<R>, StoreError> {
        let key = sliver_key(blob_id, pair, T::TYPE);
        let tree_nodes = {
            let tx = self.db.begin_read()?;
            tx.open_table(TREE_NODES)?
                .get(key.as_slice())?
                .and_then(|value| {
                    let (hashes, rest) = value.value().as_chunks::<32>();
                    rest.is_empty().then(|| hashes.to_vec())
                })
        };
        self.with_sliver_bytes(&key, |sliver| use_sliver(sliver, tree_nodes))
    }

    /// Stores verified `metadata` and `slivers` of `blob_id` (those not stored yet, each with
    /// its tree nodes as for [`Self::put_sliver`]) in one group commit (one fsync for all);
    /// returns whether the metadata and each sliver were new.
    pub fn put_blob_data(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
        slivers: &[(SliverPairIndex, &Sliver, &[Digest])],
    ) -> Result<(bool, Vec<bool>), StoreError> {
        let mut items = Vec::with_capacity(2 * slivers.len() + 1);
        items.push((
            GroupTable::Metadata,
            blob_id.as_bytes().to_vec(),
            QueuedValue::Bytes(Bytes::from(
                bcs::to_bytes(metadata).map_err(|e| corrupt("metadata", e))?,
            )),
        ));
        // Where each sliver's answer is among the items.
        let mut sliver_items = Vec::with_capacity(slivers.len());
        for (pair, sliver, tree_nodes) in slivers {
            let (axis, value) = match sliver {
                Sliver::Primary(sliver) => (SliverType::Primary, walrus_core::to_bcs_exact(sliver)),
                Sliver::Secondary(sliver) => {
                    (SliverType::Secondary, walrus_core::to_bcs_exact(sliver))
                }
            };
            let value = value.map_err(|e| corrupt("sliver", e))?;
            push_sliver_items(
                &mut items,
                &mut sliver_items,
                sliver_key(blob_id, *pair, axis),
                QueuedValue::Bytes(Bytes::from(value)),
                tree_nodes,
            );
        }
        let stored = self.insert_all(items)?;
        let fresh = sliver_items.iter().map(|index| stored[*index]).collect();
        Ok((stored[0], fresh))
    }

    /// Deletes the metadata and every sliver of `blob_id`; returns what was freed.
    pub fn delete_blob_data(&self, blob_id: &BlobId) -> Result<Usage, StoreError> {
        let tx = self.db.begin_write()?;
        let freed = Self::delete_data_in(&tx, blob_id)?;
        tx.commit()?;
        self.reclaim_segments_logged();
        Ok(freed)
    }

    /// [`Self::reclaim_segments`] after a delete: the delete stands whatever happens here, so
    /// a failure is logged (and the next delete tries again).
    fn reclaim_segments_logged(&self) {
        if let Err(error) = self.reclaim_segments() {
            tracing::warn!(%error, "reclaiming segment space failed; will retry after the next delete");
        }
    }

    /// Deletes the sealed segments the index no longer points into, and compacts those less
    /// than half of which it points into (their live slivers appended to the active segment,
    /// the index moved to them, the segment deleted). Returns the number of segments deleted.
    pub fn reclaim_segments(&self) -> Result<usize, StoreError> {
        let _reclaiming = lock(&self.reclaiming);
        let live = {
            let tx = self.db.begin_read()?;
            Self::segment_live_in(&tx.open_table(SEGMENT_LIVE)?)?
        };
        let mut deleted = 0;
        for (segment, bytes) in live {
            if segment == self.segments.active() {
                continue;
            }
            if bytes > 0 {
                if bytes.saturating_mul(2) >= self.segments.file_len(segment)? {
                    continue;
                }
                self.compact_segment(segment)?;
            }
            let tx = self.db.begin_write()?;
            let empty = {
                let mut table = tx.open_table(SEGMENT_LIVE)?;
                let empty = table.get(segment)?.is_none_or(|bytes| bytes.value() == 0);
                if empty {
                    table.remove(segment)?;
                }
                empty
            };
            tx.commit()?;
            if empty {
                self.segments.remove(segment)?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Moves every sliver the index keeps in `segment` to the active segment, a batch of at
    /// most [`COMPACTION_BATCH_BYTES`] at a time (each appended and synced, then the index
    /// moved in one commit; a sliver deleted in the meantime is left behind as garbage).
    fn compact_segment(&self, segment: u32) -> Result<(), StoreError> {
        let mut moving = Vec::new();
        {
            let tx = self.db.begin_read()?;
            for entry in tx.open_table(SLIVERS)?.iter()? {
                let (key, value) = entry?;
                if let StoredValue::InSegment(location) = StoredValue::parse(value.value())? {
                    if location.segment == segment {
                        moving.push((key.value().to_vec(), location));
                    }
                }
            }
        }
        let mut rest = moving.as_slice();
        while !rest.is_empty() {
            let mut bytes = 0;
            let count = rest
                .iter()
                .take_while(|(_, location)| {
                    bytes += u64::from(location.len);
                    bytes <= COMPACTION_BATCH_BYTES
                })
                .count()
                .max(1);
            let (batch, later) = rest.split_at(count);
            rest = later;
            let values = batch
                .iter()
                .map(|(_, location)| self.segments.read(*location))
                .collect::<Result<Vec<_>, _>>()?;
            let moved = self.segments.append(values.iter().map(Vec::as_slice))?;
            let tx = self.db.begin_write()?;
            let (mut from, mut to) = (Vec::new(), Vec::new());
            {
                let mut slivers = tx.open_table(SLIVERS)?;
                for ((key, old), new) in batch.iter().zip(moved) {
                    let old_value = StoredValue::InSegment(*old).to_bytes();
                    let current = slivers.get(key.as_slice())?.map(|v| v.value() == old_value);
                    if current == Some(true) {
                        let new_value = StoredValue::InSegment(new).to_bytes();
                        slivers.insert(key.as_slice(), new_value.as_slice())?;
                        from.push(*old);
                        to.push(new);
                    }
                }
            }
            count_live(&tx, from, false)?;
            count_live(&tx, to, true)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn delete_data_in(tx: &redb::WriteTransaction, blob_id: &BlobId) -> Result<Usage, StoreError> {
        let mut freed = Usage::default();
        let mut metadata = tx.open_table(METADATA)?;
        if let Some(value) = metadata.remove(blob_id.as_bytes().as_slice())? {
            freed.bytes += value.value().len() as u64;
        }
        let mut slivers = tx.open_table(SLIVERS)?;
        let (start, end) = blob_sliver_range(blob_id);
        let mut dead = Vec::new();
        for entry in slivers.extract_from_if(start.as_slice()..=end.as_slice(), |_, _| true)? {
            let (_, value) = entry?;
            Self::free_sliver(value.value(), &mut freed, &mut dead)?;
        }
        count_live(tx, dead, false)?;
        tx.open_table(TREE_NODES)?
            .retain_in(start.as_slice()..=end.as_slice(), |_, _| false)?;
        Ok(freed)
    }

    /// Counts the sliver whose index value is `value` as freed, and its location as dead.
    fn free_sliver(
        value: &[u8],
        freed: &mut Usage,
        dead: &mut Vec<Location>,
    ) -> Result<(), StoreError> {
        let value = StoredValue::parse(value)?;
        freed.bytes += value.len();
        freed.slivers += 1;
        if let StoredValue::InSegment(location) = value {
            dead.push(location);
        }
        Ok(())
    }

    /// What the chain said about `blob_id` (default if nothing).
    pub fn blob_info(&self, blob_id: &BlobId) -> Result<BlobInfo, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BLOB_INFO)?;
        Self::blob_info_in(&table, blob_id)
    }

    fn blob_info_in(
        table: &impl ReadableTable<&'static [u8], &'static [u8]>,
        blob_id: &BlobId,
    ) -> Result<BlobInfo, StoreError> {
        match table.get(blob_id.as_bytes().as_slice())? {
            Some(value) => bcs::from_bytes(value.value()).map_err(|e| corrupt("blob info", e)),
            None => Ok(BlobInfo::default()),
        }
    }

    /// The stored event cursor and the number of events processed.
    pub fn event_progress(&self) -> Result<(Option<EventCursor>, u64), StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let cursor = match meta.get(META_CURSOR)? {
            Some(value) => Some(bcs::from_bytes(value.value()).map_err(|e| corrupt("cursor", e))?),
            None => None,
        };
        Ok((cursor, Self::events_processed_in(&meta)?))
    }

    /// Applies one chain event atomically with its cursor: `update` changes the blob info of
    /// `blob_id` (if any) and says what to do with the blob's data. Returns what was freed.
    pub fn apply_event(
        &self,
        cursor: EventCursor,
        blob_id: Option<&BlobId>,
        update: impl FnOnce(&mut BlobInfo) -> EventEffect,
    ) -> Result<Usage, StoreError> {
        let tx = self.db.begin_write()?;
        let (freed, _) = Self::apply_event_in(&tx, cursor, blob_id, update)?;
        tx.commit()?;
        Ok(freed)
    }

    /// Applies `events` in order, as [`Self::apply_event`] does, in one transaction (one
    /// fsync for all: the follower applies a checkpoint's events together); the cursor ends at
    /// the last one. Returns what was freed and the blobs to recover.
    pub fn apply_events(&self, events: Vec<BlobEvent>) -> Result<(Usage, Vec<BlobId>), StoreError> {
        let tx = self.db.begin_write()?;
        let mut freed = Usage::default();
        let mut recover = Vec::new();
        for event in events {
            let (event_freed, effect) =
                Self::apply_event_in(&tx, event.cursor, event.blob_id.as_ref(), event.update)?;
            freed += event_freed;
            if let (EventEffect::Recover, Some(blob_id)) = (effect, event.blob_id) {
                recover.push(blob_id);
            }
        }
        tx.commit()?;
        Ok((freed, recover))
    }

    fn apply_event_in(
        tx: &redb::WriteTransaction,
        cursor: EventCursor,
        blob_id: Option<&BlobId>,
        update: impl FnOnce(&mut BlobInfo) -> EventEffect,
    ) -> Result<(Usage, EventEffect), StoreError> {
        let mut freed = Usage::default();
        Self::advance_cursor_in(tx, cursor)?;
        let Some(blob_id) = blob_id else {
            return Ok((freed, EventEffect::None));
        };
        let mut infos = tx.open_table(BLOB_INFO)?;
        let mut info = Self::blob_info_in(&infos, blob_id)?;
        let effect = update(&mut info);
        let bytes = bcs::to_bytes(&info).map_err(|e| corrupt("blob info", e))?;
        if info == BlobInfo::default() {
            infos.remove(blob_id.as_bytes().as_slice())?;
        } else {
            infos.insert(blob_id.as_bytes().as_slice(), bytes.as_slice())?;
        }
        drop(infos);
        match effect {
            EventEffect::None => {}
            EventEffect::Recover => {
                tx.open_table(RECOVERY)?
                    .insert(blob_id.as_bytes().as_slice(), ())?;
            }
            EventEffect::DeleteData => {
                freed = Self::delete_data_in(tx, blob_id)?;
                tx.open_table(RECOVERY)?
                    .remove(blob_id.as_bytes().as_slice())?;
            }
        }
        Ok((freed, effect))
    }

    /// Applies an `EpochChangeStart` of `epoch` with its cursor, in one transaction: from then
    /// on every blob event before the epoch change is in the store.
    pub fn apply_epoch_start(&self, cursor: EventCursor, epoch: Epoch) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        Self::advance_cursor_in(&tx, cursor)?;
        tx.open_table(META)?
            .insert(META_EPOCH_STARTED, epoch.to_le_bytes().as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// The latest epoch whose `EpochChangeStart` event was applied.
    pub fn epoch_started(&self) -> Result<Option<Epoch>, StoreError> {
        self.meta_epoch(META_EPOCH_STARTED)
    }

    /// The number of events processed, from the `meta` table.
    fn events_processed_in(
        meta: &impl ReadableTable<&'static str, &'static [u8]>,
    ) -> Result<u64, StoreError> {
        match meta.get(META_EVENTS)? {
            Some(value) => {
                Ok(u64::from_le_bytes(value.value().try_into().map_err(
                    |_| StoreError::Corrupt("events processed".into()),
                )?))
            }
            None => Ok(0),
        }
    }

    /// Stores the event cursor and counts the event, in `tx`.
    fn advance_cursor_in(
        tx: &redb::WriteTransaction,
        cursor: EventCursor,
    ) -> Result<(), StoreError> {
        let mut meta = tx.open_table(META)?;
        let processed = Self::events_processed_in(&meta)?;
        let cursor_bytes = bcs::to_bytes(&cursor).map_err(|e| corrupt("cursor", e))?;
        meta.insert(META_CURSOR, cursor_bytes.as_slice())?;
        meta.insert(META_EVENTS, (processed + 1).to_le_bytes().as_slice())?;
        Ok(())
    }

    /// Drops the objects that expired by `epoch` from every blob info, deletes the data of
    /// blobs with no live object left (invalid blobs keep their info); returns the blob IDs
    /// whose data was deleted and what was freed.
    pub fn expire(&self, epoch: Epoch) -> Result<(Vec<BlobId>, Usage), StoreError> {
        let tx = self.db.begin_write()?;
        let mut expired = Vec::new();
        let mut freed = Usage::default();
        {
            let mut infos = tx.open_table(BLOB_INFO)?;
            let mut changed: Vec<(BlobId, BlobInfo)> = Vec::new();
            for entry in infos.iter()? {
                let (key, value) = entry?;
                let mut info: BlobInfo =
                    bcs::from_bytes(value.value()).map_err(|e| corrupt("blob info", e))?;
                let before = info.objects.len();
                info.objects.retain(|_, object| object.end_epoch > epoch);
                if info.objects.len() != before {
                    let id = BlobId(
                        key.value()
                            .try_into()
                            .map_err(|_| StoreError::Corrupt("blob info key".into()))?,
                    );
                    changed.push((id, info));
                }
            }
            for (blob_id, info) in changed {
                if info.objects.is_empty() && info.invalid.is_none() {
                    infos.remove(blob_id.as_bytes().as_slice())?;
                    expired.push(blob_id);
                } else {
                    let bytes = bcs::to_bytes(&info).map_err(|e| corrupt("blob info", e))?;
                    infos.insert(blob_id.as_bytes().as_slice(), bytes.as_slice())?;
                }
            }
        }
        for blob_id in &expired {
            freed += Self::delete_data_in(&tx, blob_id)?;
            tx.open_table(RECOVERY)?
                .remove(blob_id.as_bytes().as_slice())?;
        }
        tx.commit()?;
        if !expired.is_empty() {
            self.reclaim_segments_logged();
        }
        Ok((expired, freed))
    }

    /// The blobs waiting for recovery.
    pub fn pending_recoveries(&self) -> Result<Vec<BlobId>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(RECOVERY)?;
        let mut ids = Vec::new();
        for entry in table.iter()? {
            let (key, _) = entry?;
            ids.push(BlobId(
                key.value()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("recovery key".into()))?,
            ));
        }
        Ok(ids)
    }

    /// Marks `blob_id` as recovered (or no longer worth recovering). Not fsync'd on its own:
    /// the next durable commit (any upload, rebuilt sliver or event) makes it durable, and if
    /// a crash comes first the blob is checked again after the restart and found complete.
    pub fn finish_recovery(&self, blob_id: &BlobId) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::None)
            .map_err(|e| corrupt("recovery list", e))?;
        tx.open_table(RECOVERY)?
            .remove(blob_id.as_bytes().as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Adds `blob_id` to the recovery to-do list.
    pub fn schedule_recovery(&self, blob_id: &BlobId) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(RECOVERY)?
            .insert(blob_id.as_bytes().as_slice(), ())?;
        tx.commit()?;
        Ok(())
    }

    /// The certified, valid blobs live in `epoch` from `start` (inclusive) in blob-ID order, at
    /// most `limit` of them.
    pub fn certified_blobs_from(
        &self,
        start: &BlobId,
        limit: usize,
        epoch: Epoch,
    ) -> Result<Vec<BlobId>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BLOB_INFO)?;
        let mut ids = Vec::new();
        for entry in table.range(start.as_bytes().as_slice()..)? {
            if ids.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let info: BlobInfo =
                bcs::from_bytes(value.value()).map_err(|e| corrupt("blob info", e))?;
            if info.is_certified(epoch) {
                ids.push(BlobId(
                    key.value()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("blob info key".into()))?,
                ));
            }
        }
        Ok(ids)
    }

    /// The progress of every shard being (or last) synced.
    pub fn shard_syncs(&self) -> Result<BTreeMap<ShardIndex, ShardSync>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(SHARD_SYNC)?;
        let mut syncs = BTreeMap::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let shard = u16::from_be_bytes(
                key.value()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("shard sync key".into()))?,
            );
            let sync = bcs::from_bytes(value.value()).map_err(|e| corrupt("shard sync", e))?;
            syncs.insert(ShardIndex(shard), sync);
        }
        Ok(syncs)
    }

    /// Starts syncing `shards` for `epoch` (from the first blob, primary slivers first), unless
    /// a sync of that shard for `epoch` is already recorded; syncs of other shards recorded
    /// for earlier epochs are dropped. One transaction.
    pub fn start_shard_syncs(&self, epoch: Epoch, shards: &[ShardIndex]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(SHARD_SYNC)?;
            let mut stale: Vec<Vec<u8>> = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                let sync: ShardSync =
                    bcs::from_bytes(value.value()).map_err(|e| corrupt("shard sync", e))?;
                if sync.epoch < epoch {
                    stale.push(key.value().to_vec());
                }
            }
            for key in stale {
                table.remove(key.as_slice())?;
            }
            for shard in shards {
                let key = shard.0.to_be_bytes();
                if table.get(key.as_slice())?.is_none() {
                    let sync = ShardSync {
                        epoch,
                        phase: SyncPhase::Direct {
                            axis: SliverType::Primary,
                            from: BlobId([0; 32]),
                        },
                    };
                    let bytes = bcs::to_bytes(&sync).map_err(|e| corrupt("shard sync", e))?;
                    table.insert(key.as_slice(), bytes.as_slice())?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores verified slivers of a synced batch of `shard` (keeping slivers already stored)
    /// and its new progress `next`, in one transaction: a crash either keeps both or neither.
    /// `slivers` are `(blob ID, pair, sliver)`; returns what was added.
    pub fn put_synced_batch(
        &self,
        shard: ShardIndex,
        slivers: &[(BlobId, SliverPairIndex, Sliver)],
        next: &ShardSync,
    ) -> Result<Usage, StoreError> {
        let tx = self.db.begin_write()?;
        let mut added = Usage::default();
        {
            let mut table = tx.open_table(SLIVERS)?;
            let mut keys = Vec::with_capacity(slivers.len());
            let mut encoded = Vec::with_capacity(slivers.len());
            let mut batch_keys = std::collections::HashSet::new();
            for (blob_id, pair, sliver) in slivers {
                let key = sliver_key(blob_id, *pair, sliver.sliver_type());
                if table.get(key.as_slice())?.is_some() || !batch_keys.insert(key) {
                    continue;
                }
                let bytes = match sliver {
                    Sliver::Primary(sliver) => walrus_core::to_bcs_exact(sliver),
                    Sliver::Secondary(sliver) => walrus_core::to_bcs_exact(sliver),
                }
                .map_err(|e| corrupt("sliver", e))?;
                added.bytes += bytes.len() as u64;
                added.slivers += 1;
                keys.push(key);
                encoded.push(bytes);
            }
            let encoded: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
            let (values, appended) = self.index_values(&encoded)?;
            for (key, value) in keys.iter().zip(&values) {
                table.insert(key.as_slice(), value.as_slice())?;
            }
            count_live(&tx, appended, true)?;
            let bytes = bcs::to_bytes(next).map_err(|e| corrupt("shard sync", e))?;
            tx.open_table(SHARD_SYNC)?
                .insert(shard.0.to_be_bytes().as_slice(), bytes.as_slice())?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Records the progress of syncing `shard`.
    pub fn set_shard_sync(&self, shard: ShardIndex, sync: &ShardSync) -> Result<(), StoreError> {
        self.put_synced_batch(shard, &[], sync).map(drop)
    }

    /// Deletes every sliver of a shard not in `own` (shards given away once the epoch change
    /// is done) and records `epoch` as released; returns what was freed.
    pub fn release_shards(
        &self,
        own: &std::collections::BTreeSet<ShardIndex>,
        n_shards: u16,
        epoch: Epoch,
    ) -> Result<Usage, StoreError> {
        let tx = self.db.begin_write()?;
        let mut freed = Usage::default();
        {
            let mut slivers = tx.open_table(SLIVERS)?;
            let mut dead = Vec::new();
            for entry in slivers.extract_if(|key, _| !Self::key_in_shards(key, own, n_shards))? {
                let (_, value) = entry?;
                Self::free_sliver(value.value(), &mut freed, &mut dead)?;
            }
            count_live(&tx, dead, false)?;
            tx.open_table(TREE_NODES)?
                .retain(|key, _| Self::key_in_shards(key, own, n_shards))?;
            tx.open_table(META)?
                .insert(META_RELEASED, epoch.to_le_bytes().as_slice())?;
        }
        tx.commit()?;
        if freed.slivers > 0 {
            self.reclaim_segments_logged();
        }
        Ok(freed)
    }

    /// Whether the sliver under `key` belongs to one of `shards` (malformed keys do not).
    fn key_in_shards(
        key: &[u8],
        shards: &std::collections::BTreeSet<ShardIndex>,
        n_shards: u16,
    ) -> bool {
        let (Some(blob_id), Some(pair)) = (key.get(..32), key.get(32..34)) else {
            return false;
        };
        let Ok(blob_id) = <[u8; 32]>::try_from(blob_id) else {
            return false;
        };
        let pair = SliverPairIndex(u16::from_be_bytes([pair[0], pair[1]]));
        pair.0 < n_shards && shards.contains(&pair.to_shard_index(n_shards, &BlobId(blob_id)))
    }

    /// The last epoch whose given-away shards were deleted.
    pub fn released_epoch(&self) -> Result<Option<Epoch>, StoreError> {
        self.meta_epoch(META_RELEASED)
    }

    /// The last epoch this node reported synced on chain (`epoch_sync_done`).
    pub fn sync_reported_epoch(&self) -> Result<Option<Epoch>, StoreError> {
        self.meta_epoch(META_SYNC_REPORTED)
    }

    /// Records that `epoch_sync_done` for `epoch` went through.
    pub fn set_sync_reported_epoch(&self, epoch: Epoch) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(META)?
            .insert(META_SYNC_REPORTED, epoch.to_le_bytes().as_slice())?;
        tx.commit()?;
        Ok(())
    }

    fn meta_epoch(&self, key: &str) -> Result<Option<Epoch>, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        match meta.get(key)? {
            Some(value) => Ok(Some(u32::from_le_bytes(
                value
                    .value()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(key.to_owned()))?,
            ))),
            None => Ok(None),
        }
    }

    /// Everything stored (a full scan: for the metrics at start-up).
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let tx = self.db.begin_read()?;
        let mut usage = Usage::default();
        for entry in tx.open_table(METADATA)?.iter()? {
            usage.bytes += entry?.1.value().len() as u64;
        }
        for entry in tx.open_table(SLIVERS)?.iter()? {
            usage.bytes += StoredValue::parse(entry?.1.value())?.len();
            usage.slivers += 1;
        }
        Ok(usage)
    }
}

/// An amount of stored data: bytes of metadata and slivers, and the sliver count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of metadata and slivers.
    pub bytes: u64,
    /// Slivers.
    pub slivers: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.bytes += other.bytes;
        self.slivers += other.slivers;
    }
}

/// The durable progress of syncing one gained shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSync {
    /// The epoch in which the shard was gained.
    pub epoch: Epoch,
    /// Where the sync stands.
    pub phase: SyncPhase,
}

/// Where a shard sync stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncPhase {
    /// Pulling slivers of `axis` from the previous owner, from blob `from` (inclusive);
    /// primary slivers first, then secondary ones.
    Direct {
        /// The axis being pulled.
        axis: SliverType,
        /// The next blob to ask for.
        from: BlobId,
    },
    /// Every sliver was pulled, or the blobs missing some were put on the recovery list.
    Done,
}

/// One chain event for [`NodeStore::apply_events`]: its cursor, the blob it concerns (if any)
/// and the change to that blob's info, which says what to do with the blob's data.
pub struct BlobEvent {
    /// The event's position on chain.
    pub cursor: EventCursor,
    /// The blob the event concerns.
    pub blob_id: Option<BlobId>,
    /// The change to the blob's info.
    pub update: InfoUpdate,
}

/// A change to a blob's info, saying what to do with the blob's data.
pub type InfoUpdate = Box<dyn FnOnce(&mut BlobInfo) -> EventEffect + Send>;

impl std::fmt::Debug for BlobEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobEvent")
            .field("cursor", &self.cursor)
            .field("blob_id", &self.blob_id)
            .finish_non_exhaustive()
    }
}

/// What an event does to a blob's data, besides its info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventEffect {
    /// Nothing.
    None,
    /// Check the blob for missing slivers and recover them (certified).
    Recover,
    /// Delete the blob's metadata and slivers (deleted or invalid).
    DeleteData,
}

/// Stores the metadata and every sliver of `blob` (tests of the store and the node).
#[cfg(test)]
pub(crate) fn put_whole_blob(store: &NodeStore, blob: &walrus_core::encoding::EncodedBlob) {
    let blob_id = *blob.metadata.blob_id();
    store
        .put_metadata(&blob_id, blob.metadata.metadata())
        .unwrap();
    for pair in &blob.sliver_pairs {
        store
            .put_sliver(&blob_id, pair.index(), pair.primary.clone(), &[])
            .unwrap();
        store
            .put_sliver(&blob_id, pair.index(), pair.secondary.clone(), &[])
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use walrus_core::{
        encoding::{encode_blob, EncodingConfig, Primary, Secondary},
        metadata::BlobMetadata,
    };

    use super::*;

    fn encoded(n: u16) -> (BlobId, BlobMetadata, walrus_core::encoding::EncodedBlob) {
        let config = EncodingConfig::new(n).unwrap();
        let blob = encode_blob(&config, b"hello store").unwrap();
        let metadata = blob.metadata.as_unverified().clone();
        (metadata.blob_id, metadata.metadata, blob)
    }

    /// The position of the first event of checkpoint `checkpoint`.
    fn cursor(checkpoint: u64) -> EventCursor {
        EventCursor {
            checkpoint,
            event_index: 0,
        }
    }

    /// An event of the transaction whose digest is 32 bytes of `n`'s low byte.
    fn event(n: u64) -> EventId {
        EventId {
            tx_digest: walrus_node_client::api::TransactionDigest([n.to_le_bytes()[0]; 32]),
            event_seq: n,
        }
    }

    /// The stored sliver of axis `T` in `pair` and its tree nodes, copied out.
    fn sliver_with_tree_nodes<T: EncodingAxis>(
        store: &NodeStore,
        blob_id: &BlobId,
        pair: SliverPairIndex,
    ) -> Option<(SliverData<T>, Option<Vec<Digest>>)> {
        store
            .with_sliver_and_tree_nodes(blob_id, pair, |sliver, nodes| (sliver.to_sliver(), nodes))
            .unwrap()
    }

    #[test]
    fn a_queued_sliver_writes_its_bcs_where_it_is_stored() {
        let blob = encoded_large(3, 200_000);
        for sliver in [
            Sliver::Primary(blob.sliver_pairs[0].primary.clone()),
            Sliver::Secondary(blob.sliver_pairs[0].secondary.clone()),
        ] {
            let bcs_bytes = match &sliver {
                Sliver::Primary(sliver) => walrus_core::to_bcs_exact(sliver),
                Sliver::Secondary(sliver) => walrus_core::to_bcs_exact(sliver),
            }
            .unwrap();
            let queued = QueuedValue::sliver(sliver).unwrap();
            assert_eq!(queued.byte_len(), bcs_bytes.len());
            assert_eq!(queued.to_bytes().unwrap().as_ref(), bcs_bytes.as_slice());
            // A window of another length is an error, not a panic nor a partial value.
            let mut short = vec![0; bcs_bytes.len() - 1];
            assert!(queued.write_into(&mut short).is_err());
            let mut long = vec![0; bcs_bytes.len() + 1];
            assert!(queued.write_into(&mut long).is_err());
        }
    }

    #[test]
    fn tree_nodes_are_kept_beside_large_slivers_and_go_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        let config = EncodingConfig::new(4).unwrap();
        let blob = encode_blob(&config, &vec![7u8; 20_000]).unwrap();
        let blob_id = *blob.metadata.blob_id();
        let metadata = blob.metadata.metadata().clone();
        let hashes = |pair: &walrus_core::encoding::SliverPair| {
            (
                pair.primary
                    .verify_with_tree(&blob.metadata)
                    .unwrap()
                    .into_nodes(),
                pair.secondary
                    .verify_with_tree(&blob.metadata)
                    .unwrap()
                    .into_nodes(),
            )
        };
        // By put_sliver and by put_blob_data.
        let (primary_hashes, _) = hashes(&blob.sliver_pairs[0]);
        let first = &blob.sliver_pairs[0];
        assert!(store
            .put_sliver(
                &blob_id,
                first.index(),
                first.primary.clone(),
                &primary_hashes
            )
            .unwrap());
        let second = &blob.sliver_pairs[1];
        let (_, secondary_hashes) = hashes(second);
        let secondary = Sliver::Secondary(second.secondary.clone());
        let items = [(second.index(), &secondary, secondary_hashes.as_slice())];
        assert_eq!(
            store.put_blob_data(&blob_id, &metadata, &items).unwrap(),
            (true, vec![true])
        );
        let read = sliver_with_tree_nodes::<Primary>(&store, &blob_id, first.index()).unwrap();
        assert_eq!(read, (first.primary.clone(), Some(primary_hashes)));
        let read = sliver_with_tree_nodes::<Secondary>(&store, &blob_id, second.index()).unwrap();
        assert_eq!(read, (second.secondary.clone(), Some(secondary_hashes)));
        // None given: none kept; nothing stored: nothing read.
        let third = &blob.sliver_pairs[2];
        store
            .put_sliver(&blob_id, third.index(), third.primary.clone(), &[])
            .unwrap();
        let read = sliver_with_tree_nodes::<Primary>(&store, &blob_id, third.index());
        assert_eq!(read, Some((third.primary.clone(), None)));
        assert_eq!(
            sliver_with_tree_nodes::<Secondary>(&store, &blob_id, third.index()),
            None
        );
        // A small sliver does not keep them (they would outweigh it).
        let (small_id, _, small) = encoded(4);
        let pair = &small.sliver_pairs[0];
        let small_hashes = pair
            .primary
            .verify_with_tree(&small.metadata)
            .unwrap()
            .into_nodes();
        store
            .put_sliver(&small_id, pair.index(), pair.primary.clone(), &small_hashes)
            .unwrap();
        let read = sliver_with_tree_nodes::<Primary>(&store, &small_id, pair.index());
        assert_eq!(read, Some((pair.primary.clone(), None)));
        let kept = |store: &NodeStore| {
            let tx = store.db.begin_read().unwrap();
            redb::ReadableTableMetadata::len(&tx.open_table(TREE_NODES).unwrap()).unwrap()
        };
        assert_eq!(kept(&store), 2);
        // Released with their shard, deleted with their blob.
        let shard = first.index().to_shard_index(4, &blob_id);
        let keep: std::collections::BTreeSet<ShardIndex> =
            (0..4).map(ShardIndex).filter(|s| *s != shard).collect();
        store.release_shards(&keep, 4, 1).unwrap();
        assert_eq!(kept(&store), 1);
        assert_eq!(
            sliver_with_tree_nodes::<Primary>(&store, &blob_id, first.index()),
            None
        );
        store.delete_blob_data(&blob_id).unwrap();
        assert_eq!(kept(&store), 0);
    }

    #[test]
    fn a_blob_s_data_in_one_commit_stores_only_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        let (blob_id, metadata, blob) = encoded(4);
        let pair = &blob.sliver_pairs[1];
        // One sliver is already there: only the others are new.
        store
            .put_sliver(&blob_id, pair.index(), pair.primary.clone(), &[])
            .unwrap();
        let primary = Sliver::Primary(pair.primary.clone());
        let secondary = Sliver::Secondary(pair.secondary.clone());
        let items = [
            (pair.index(), &primary, &[][..]),
            (pair.index(), &secondary, &[][..]),
        ];
        assert_eq!(
            store.put_blob_data(&blob_id, &metadata, &items).unwrap(),
            (true, vec![false, true])
        );
        assert_eq!(store.metadata(&blob_id).unwrap(), Some(metadata.clone()));
        assert_eq!(
            store.sliver::<Secondary>(&blob_id, pair.index()).unwrap(),
            Some(pair.secondary.clone())
        );
        // Again: nothing is new, nothing is written.
        assert_eq!(
            store.put_blob_data(&blob_id, &metadata, &items).unwrap(),
            (false, vec![false, false])
        );
        // Concurrent callers share commits and each learns what it stored.
        let store = std::sync::Arc::new(store);
        let handles: Vec<_> = blob
            .sliver_pairs
            .iter()
            .map(|pair| {
                let (store, metadata) = (store.clone(), metadata.clone());
                let sliver = Sliver::Secondary(pair.secondary.clone());
                let index = pair.index();
                std::thread::spawn(move || {
                    store
                        .put_blob_data(&blob_id, &metadata, &[(index, &sliver, &[])])
                        .unwrap()
                })
            })
            .collect();
        let answers: Vec<(bool, Vec<bool>)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let new_secondaries = answers.iter().filter(|(_, fresh)| fresh[0]).count();
        assert_eq!(new_secondaries, blob.sliver_pairs.len() - 1);
        assert!(answers.iter().all(|(metadata_new, _)| !metadata_new));
    }

    #[test]
    fn a_store_of_another_format_version_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        drop(NodeStore::open(dir.path()).unwrap());
        {
            let db = redb::Database::open(dir.path().join(DB_FILE_NAME)).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert(META_FORMAT, 1u32.to_le_bytes().as_slice())
                .unwrap();
            tx.commit().unwrap();
        }
        let error = NodeStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("unsupported format version"), "{error}");
        assert!(error.contains("empty one"), "{error}");
    }

    /// A blob of `len` bytes at 4 shards (slivers of about `len / 3` and `len / 2` bytes).
    fn encoded_large(seed: u8, len: usize) -> walrus_core::encoding::EncodedBlob {
        let config = EncodingConfig::new(4).unwrap();
        let data: Vec<u8> = (0..=u8::MAX)
            .cycle()
            .map(|byte| byte.wrapping_mul(31) ^ seed)
            .take(len)
            .collect();
        encode_blob(&config, &data).unwrap()
    }

    fn segment_files(dir: &Path) -> Vec<u32> {
        let mut segments: Vec<u32> = std::fs::read_dir(dir.join(SEGMENTS_DIR))
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                path.file_stem().unwrap().to_str().unwrap().parse().unwrap()
            })
            .collect();
        segments.sort_unstable();
        segments
    }

    fn assert_blob_stored(store: &NodeStore, blob: &walrus_core::encoding::EncodedBlob) {
        let blob_id = *blob.metadata.blob_id();
        for pair in &blob.sliver_pairs {
            let primary = store.sliver::<Primary>(&blob_id, pair.index()).unwrap();
            assert_eq!(primary.as_ref(), Some(&pair.primary));
            let secondary = store.sliver::<Secondary>(&blob_id, pair.index()).unwrap();
            assert_eq!(secondary.as_ref(), Some(&pair.secondary));
            let bytes = store
                .sliver_bytes(&blob_id, pair.index(), SliverType::Primary)
                .unwrap();
            assert_eq!(bytes, Some(bcs::to_bytes(&pair.primary).unwrap()));
        }
    }

    /// Where the index keeps the primary sliver of pair 0 of `blob`.
    fn primary_location(store: &NodeStore, blob: &walrus_core::encoding::EncodedBlob) -> Location {
        let key = sliver_key(
            blob.metadata.blob_id(),
            SliverPairIndex(0),
            SliverType::Primary,
        );
        let tx = store.db.begin_read().unwrap();
        let table = tx.open_table(SLIVERS).unwrap();
        let value = table.get(key.as_slice()).unwrap().unwrap();
        match StoredValue::parse(value.value()).unwrap() {
            StoredValue::InSegment(location) => location,
            StoredValue::Inline(_) => panic!("a large sliver was stored inline"),
        }
    }

    #[test]
    fn large_slivers_live_in_segments_that_are_deleted_or_compacted_when_they_empty() {
        let dir = tempfile::tempdir().unwrap();
        let big = encoded_large(1, 380_000);
        let small = encoded_large(2, 120_000);
        let tiny = encoded(4).2;
        let first_segment;
        {
            let store = NodeStore::open(dir.path()).unwrap();
            for blob in [&big, &small, &tiny] {
                put_whole_blob(&store, blob);
                assert_blob_stored(&store, blob);
            }
            first_segment = primary_location(&store, &big).segment;
            assert_eq!(primary_location(&store, &small).segment, first_segment);
            // Slivers below the threshold stay inline: only the two large blobs' bytes are
            // in the segment, and the usage counts every sliver's BCS bytes either way.
            let usage = store.usage().unwrap();
            let bcs_bytes: u64 = [&big, &small, &tiny]
                .iter()
                .flat_map(|blob| &blob.sliver_pairs)
                .map(|pair| {
                    (bcs::to_bytes(&pair.primary).unwrap().len()
                        + bcs::to_bytes(&pair.secondary).unwrap().len()) as u64
                })
                .sum();
            let metadata_bytes: u64 = [&big, &small, &tiny]
                .iter()
                .map(|blob| bcs::to_bytes(blob.metadata.metadata()).unwrap().len() as u64)
                .sum();
            assert_eq!(
                usage,
                Usage {
                    bytes: bcs_bytes + metadata_bytes,
                    slivers: 24
                }
            );
            // The segment holds the two large blobs' slivers, each at an aligned offset, and
            // nothing of the tiny one's.
            let segment_bytes: u64 = [&big, &small]
                .iter()
                .flat_map(|blob| &blob.sliver_pairs)
                .flat_map(|pair| {
                    [
                        bcs::to_bytes(&pair.primary).unwrap().len(),
                        bcs::to_bytes(&pair.secondary).unwrap().len(),
                    ]
                })
                .map(|len| len.next_multiple_of(crate::segments::ALIGN) as u64)
                .sum();
            let file_len = store.segments.file_len(first_segment).unwrap();
            assert_eq!(file_len, segment_bytes);
        }
        // A reopen starts a new segment; the old one, sealed, still serves its slivers.
        let store = NodeStore::open(dir.path()).unwrap();
        assert_ne!(store.segments.active(), first_segment);
        assert_blob_stored(&store, &big);
        assert_blob_stored(&store, &small);

        // Deleting the big blob leaves the sealed segment less than half live: its last
        // slivers move to the active segment and the file goes.
        store.delete_blob_data(big.metadata.blob_id()).unwrap();
        assert!(!segment_files(dir.path()).contains(&first_segment));
        assert_eq!(
            primary_location(&store, &small).segment,
            store.segments.active()
        );
        assert_blob_stored(&store, &small);
        assert_blob_stored(&store, &tiny);

        // Deleting the rest empties the (new) segment; once sealed, it is deleted too.
        let second_segment = store.segments.active();
        store.delete_blob_data(small.metadata.blob_id()).unwrap();
        drop(store);
        let store = NodeStore::open(dir.path()).unwrap();
        assert!(!segment_files(dir.path()).contains(&second_segment));
        assert_eq!(segment_files(dir.path()), vec![store.segments.active()]);
        assert_blob_stored(&store, &tiny);
        assert_eq!(store.reclaim_segments().unwrap(), 0);
    }

    #[test]
    fn bytes_appended_but_never_committed_are_dropped_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let blob = encoded_large(3, 300_000);
        let orphan_segment;
        {
            let store = NodeStore::open(dir.path()).unwrap();
            put_whole_blob(&store, &blob);
            // A crash between the append and the commit leaves bytes nothing points at.
            let orphan = store.segments.append([[7u8; 4096].as_slice()]).unwrap();
            orphan_segment = orphan[0].segment;
        }
        let store = NodeStore::open(dir.path()).unwrap();
        // The segment also holds the blob's committed slivers: it stays, sealed.
        assert!(segment_files(dir.path()).contains(&orphan_segment));
        assert_blob_stored(&store, &blob);
        let appended_alone = store.segments.append([[8u8; 4096].as_slice()]).unwrap();
        let alone = appended_alone[0].segment;
        drop(store);
        let store = NodeStore::open(dir.path()).unwrap();
        assert!(
            !segment_files(dir.path()).contains(&alone),
            "a segment of uncommitted bytes only is deleted at open"
        );
        assert_blob_stored(&store, &blob);
    }

    #[test]
    fn slivers_and_metadata_survive_reopen_and_delete_by_blob() {
        let dir = tempfile::tempdir().unwrap();
        let (blob_id, metadata, blob) = encoded(4);
        let (other_id, other_metadata, _) = {
            let config = EncodingConfig::new(4).unwrap();
            let blob = encode_blob(&config, b"other").unwrap();
            let m = blob.metadata.as_unverified().clone();
            (m.blob_id, m.metadata, blob)
        };
        {
            let store = NodeStore::open(dir.path()).unwrap();
            assert!(store.put_metadata(&blob_id, &metadata).unwrap());
            assert!(!store.put_metadata(&blob_id, &metadata).unwrap());
            store.put_metadata(&other_id, &other_metadata).unwrap();
            for pair in &blob.sliver_pairs {
                assert!(store
                    .put_sliver(&blob_id, pair.index(), pair.primary.clone(), &[])
                    .unwrap());
                assert!(store
                    .put_sliver(&blob_id, pair.index(), pair.secondary.clone(), &[])
                    .unwrap());
            }
            assert!(!store
                .put_sliver(
                    &blob_id,
                    blob.sliver_pairs[0].index(),
                    blob.sliver_pairs[0].primary.clone(),
                    &[]
                )
                .unwrap());
        }
        let store = NodeStore::open(dir.path()).unwrap();
        assert_eq!(store.metadata(&blob_id).unwrap(), Some(metadata));
        for pair in &blob.sliver_pairs {
            assert_eq!(
                store.sliver::<Primary>(&blob_id, pair.index()).unwrap(),
                Some(pair.primary.clone())
            );
            assert_eq!(
                store.sliver::<Secondary>(&blob_id, pair.index()).unwrap(),
                Some(pair.secondary.clone())
            );
        }
        let usage = store.usage().unwrap();
        assert_eq!(usage.slivers, 8);
        assert!(usage.bytes > 0);
        let freed = store.delete_blob_data(&blob_id).unwrap();
        assert_eq!(freed.slivers, 8);
        assert!(freed.bytes > 0);
        assert_eq!(store.metadata(&blob_id).unwrap(), None);
        assert!(!store
            .has_sliver(&blob_id, SliverPairIndex(0), SliverType::Primary)
            .unwrap());
        assert_eq!(store.usage().unwrap().slivers, 0);
        assert!(store.metadata(&other_id).unwrap().is_some());
    }

    #[test]
    fn a_batch_of_events_is_one_commit_with_the_last_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        let (blob_id, metadata, _) = encoded(4);
        let (other_id, other_metadata, _) = {
            let config = EncodingConfig::new(4).unwrap();
            let blob = encode_blob(&config, b"another blob").unwrap();
            (
                *blob.metadata.blob_id(),
                blob.metadata.metadata().clone(),
                blob,
            )
        };
        store.put_metadata(&blob_id, &metadata).unwrap();
        store.put_metadata(&other_id, &other_metadata).unwrap();
        let certify = |id: BlobId, at: u64| BlobEvent {
            cursor: cursor(at),
            blob_id: Some(id),
            update: Box::new(move |info: &mut BlobInfo| {
                certified_info(9)(info);
                EventEffect::Recover
            }),
        };
        let events = vec![
            certify(blob_id, 1),
            BlobEvent {
                cursor: cursor(2),
                blob_id: None,
                update: Box::new(|_: &mut BlobInfo| unreachable!()),
            },
            certify(other_id, 3),
            // The other blob is then deleted in the same batch: its data go, it is not
            // left to recover.
            BlobEvent {
                cursor: cursor(4),
                blob_id: Some(other_id),
                update: Box::new(|info: &mut BlobInfo| {
                    info.objects.clear();
                    EventEffect::DeleteData
                }),
            },
        ];
        let (freed, recover) = store.apply_events(events).unwrap();
        assert_eq!(recover, vec![blob_id, other_id]);
        assert!(freed.bytes > 0);
        assert_eq!(store.event_progress().unwrap(), (Some(cursor(4)), 4));
        assert_eq!(store.pending_recoveries().unwrap(), vec![blob_id]);
        assert_eq!(store.metadata(&other_id).unwrap(), None);
        assert!(store.blob_info(&blob_id).unwrap().is_registered(1));
        // An empty batch changes nothing.
        assert_eq!(
            store.apply_events(Vec::new()).unwrap().1,
            Vec::<BlobId>::new()
        );
        assert_eq!(store.event_progress().unwrap(), (Some(cursor(4)), 4));
    }

    #[test]
    fn events_update_info_cursor_and_recovery_list_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        let (blob_id, metadata, _) = encoded(4);
        store.put_metadata(&blob_id, &metadata).unwrap();
        let object = ObjectId([7; 32]);
        store
            .apply_event(cursor(1), Some(&blob_id), |info| {
                info.objects.insert(
                    object,
                    BlobObjectInfo {
                        deletable: false,
                        end_epoch: 5,
                        certified_epoch: None,
                        event: event(1),
                    },
                );
                EventEffect::None
            })
            .unwrap();
        assert!(store.blob_info(&blob_id).unwrap().is_registered(1));
        assert!(!store.blob_info(&blob_id).unwrap().is_registered(5));
        store
            .apply_event(cursor(2), Some(&blob_id), |info| {
                info.objects.get_mut(&object).unwrap().certified_epoch = Some(1);
                EventEffect::Recover
            })
            .unwrap();
        assert_eq!(store.pending_recoveries().unwrap(), vec![blob_id]);
        assert_eq!(store.event_progress().unwrap(), (Some(cursor(2)), 2));
        store
            .apply_event(cursor(3), None, |_| unreachable!())
            .unwrap();
        assert_eq!(store.event_progress().unwrap(), (Some(cursor(3)), 3));
        match store.blob_info(&blob_id).unwrap().status(1) {
            BlobStatus::Permanent {
                end_epoch,
                is_certified,
                initial_certified_epoch,
                ..
            } => assert_eq!(
                (end_epoch, is_certified, initial_certified_epoch),
                (5, true, Some(1))
            ),
            other => panic!("unexpected {other:?}"),
        }
        // Expiry at epoch 5 drops the object, the data and the recovery entry.
        let (expired, freed) = store.expire(5).unwrap();
        assert_eq!(expired, vec![blob_id]);
        assert!(freed.bytes > 0);
        assert_eq!(store.metadata(&blob_id).unwrap(), None);
        assert!(store.pending_recoveries().unwrap().is_empty());
        assert_eq!(store.blob_info(&blob_id).unwrap(), BlobInfo::default());
    }

    #[test]
    fn a_finished_recovery_leaves_the_list_and_stays_off_it_with_the_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (blob_id, metadata, _) = encoded(4);
        let (other_id, _, _) = {
            let config = EncodingConfig::new(4).unwrap();
            let blob = encode_blob(&config, b"another blob").unwrap();
            let metadata = blob.metadata.as_unverified().clone();
            (metadata.blob_id, metadata.metadata, blob)
        };
        {
            let store = NodeStore::open(dir.path()).unwrap();
            store.schedule_recovery(&blob_id).unwrap();
            store.schedule_recovery(&other_id).unwrap();
            store.finish_recovery(&blob_id).unwrap();
            assert_eq!(store.pending_recoveries().unwrap(), vec![other_id]);
            // Any durable commit after it makes it durable.
            store.put_metadata(&blob_id, &metadata).unwrap();
        }
        let store = NodeStore::open(dir.path()).unwrap();
        assert_eq!(store.pending_recoveries().unwrap(), vec![other_id]);
        assert!(store.has_metadata(&blob_id).unwrap());
        assert!(!store.has_metadata(&other_id).unwrap());
    }

    #[test]
    fn status_prefers_certified_permanent_and_counts_deletable() {
        let mut info = BlobInfo::default();
        assert_eq!(info.status(1), BlobStatus::Nonexistent);
        info.objects.insert(
            ObjectId([1; 32]),
            BlobObjectInfo {
                deletable: true,
                end_epoch: 9,
                certified_epoch: Some(2),
                event: event(1),
            },
        );
        assert!(matches!(
            info.status(1),
            BlobStatus::Deletable {
                initial_certified_epoch: Some(2),
                deletable_counts: DeletableCounts {
                    count_deletable_total: 1,
                    count_deletable_certified: 1
                }
            }
        ));
        assert!(info.can_confirm(1, Some(ObjectId([1; 32]))));
        assert!(!info.can_confirm(1, None));
        info.objects.insert(
            ObjectId([2; 32]),
            BlobObjectInfo {
                deletable: false,
                end_epoch: 20,
                certified_epoch: None,
                event: event(2),
            },
        );
        info.objects.insert(
            ObjectId([3; 32]),
            BlobObjectInfo {
                deletable: false,
                end_epoch: 10,
                certified_epoch: Some(3),
                event: event(3),
            },
        );
        match info.status(1) {
            BlobStatus::Permanent {
                end_epoch,
                is_certified,
                status_event,
                ..
            } => assert_eq!(
                (end_epoch, is_certified, status_event),
                (10, true, event(3))
            ),
            other => panic!("unexpected {other:?}"),
        }
        info.invalid = Some(event(4));
        assert_eq!(info.status(1), BlobStatus::Invalid { event: event(4) });
        assert!(!info.is_registered(1));
    }

    /// A blob info with one certified permanent object alive until `end_epoch`.
    fn certified_info(end_epoch: Epoch) -> impl FnOnce(&mut BlobInfo) -> EventEffect {
        move |info: &mut BlobInfo| {
            info.objects.insert(
                ObjectId([7; 32]),
                BlobObjectInfo {
                    deletable: false,
                    end_epoch,
                    certified_epoch: Some(1),
                    event: event(1),
                },
            );
            EventEffect::None
        }
    }

    #[test]
    fn certified_blobs_are_listed_in_order_from_a_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        let ids: Vec<BlobId> = [5u8, 1, 9, 3].iter().map(|b| BlobId([*b; 32])).collect();
        for (i, id) in ids.iter().enumerate() {
            // Blob 9 expires at epoch 2; the others live on.
            let end = if id.0[0] == 9 { 2 } else { 10 };
            store
                .apply_event(cursor(i as u64 + 1), Some(id), certified_info(end))
                .unwrap();
        }
        // Registered only: not listed.
        store
            .apply_event(cursor(9), Some(&BlobId([4; 32])), |info| {
                info.objects.insert(
                    ObjectId([8; 32]),
                    BlobObjectInfo {
                        deletable: false,
                        end_epoch: 10,
                        certified_epoch: None,
                        event: event(9),
                    },
                );
                EventEffect::None
            })
            .unwrap();
        let listed = store.certified_blobs_from(&BlobId([0; 32]), 10, 1).unwrap();
        assert_eq!(listed, [1u8, 3, 5, 9].map(|b| BlobId([b; 32])));
        let listed = store.certified_blobs_from(&BlobId([3; 32]), 2, 1).unwrap();
        assert_eq!(listed, [3u8, 5].map(|b| BlobId([b; 32])));
        // In epoch 2 blob 9 has expired.
        let listed = store.certified_blobs_from(&BlobId([4; 32]), 10, 2).unwrap();
        assert_eq!(listed, [BlobId([5; 32])]);
    }

    #[test]
    fn shard_sync_progress_is_durable_with_its_slivers() {
        let dir = tempfile::tempdir().unwrap();
        let (blob_id, metadata, blob) = encoded(4);
        let shard = ShardIndex(2);
        let pair = shard.to_pair_index(4, &blob_id);
        {
            let store = NodeStore::open(dir.path()).unwrap();
            store.put_metadata(&blob_id, &metadata).unwrap();
            store.start_shard_syncs(3, &[shard, ShardIndex(0)]).unwrap();
            let syncs = store.shard_syncs().unwrap();
            assert_eq!(syncs.len(), 2);
            assert_eq!(
                syncs[&shard],
                ShardSync {
                    epoch: 3,
                    phase: SyncPhase::Direct {
                        axis: SliverType::Primary,
                        from: BlobId([0; 32])
                    }
                }
            );
            let next = ShardSync {
                epoch: 3,
                phase: SyncPhase::Direct {
                    axis: SliverType::Primary,
                    from: BlobId([0xee; 32]),
                },
            };
            let sliver = Sliver::Primary(blob.sliver_pairs[usize::from(pair.0)].primary.clone());
            let added = store
                .put_synced_batch(shard, &[(blob_id, pair, sliver.clone())], &next)
                .unwrap();
            assert_eq!(added.slivers, 1);
            // Stored slivers are kept, not counted twice.
            let again = store
                .put_synced_batch(shard, &[(blob_id, pair, sliver)], &next)
                .unwrap();
            assert_eq!(again, Usage::default());
            // Starting the same epoch again keeps the progress.
            store.start_shard_syncs(3, &[shard]).unwrap();
        }
        let store = NodeStore::open(dir.path()).unwrap();
        let syncs = store.shard_syncs().unwrap();
        assert_eq!(
            syncs[&shard].phase,
            SyncPhase::Direct {
                axis: SliverType::Primary,
                from: BlobId([0xee; 32])
            }
        );
        assert_eq!(
            store.sliver::<Primary>(&blob_id, pair).unwrap().as_ref(),
            Some(&blob.sliver_pairs[usize::from(pair.0)].primary)
        );
        // A later epoch drops the records of the earlier one.
        store.start_shard_syncs(4, &[ShardIndex(1)]).unwrap();
        let syncs = store.shard_syncs().unwrap();
        assert_eq!(syncs.keys().copied().collect::<Vec<_>>(), [ShardIndex(1)]);
        assert_eq!(syncs[&ShardIndex(1)].epoch, 4);
    }

    #[test]
    fn synced_and_released_large_slivers_go_through_segments() {
        let dir = tempfile::tempdir().unwrap();
        let blob = encoded_large(4, 300_000);
        let blob_id = *blob.metadata.blob_id();
        let shard = ShardIndex(2);
        let pair = shard.to_pair_index(4, &blob_id);
        let primary = blob.sliver_pairs[usize::from(pair.0)].primary.clone();
        let store = NodeStore::open(dir.path()).unwrap();
        let segment = store.segments.active();
        let next = ShardSync {
            epoch: 3,
            phase: SyncPhase::Direct {
                axis: SliverType::Secondary,
                from: BlobId([0; 32]),
            },
        };
        let sliver = Sliver::Primary(primary.clone());
        let batch = [(blob_id, pair, sliver.clone()), (blob_id, pair, sliver)];
        let added = store.put_synced_batch(shard, &batch, &next).unwrap();
        assert_eq!(
            added.slivers, 1,
            "a sliver twice in one batch is stored once"
        );
        assert!(store.segments.file_len(segment).unwrap() >= added.bytes);
        assert_eq!(
            store.sliver::<Primary>(&blob_id, pair).unwrap(),
            Some(primary)
        );
        assert_eq!(store.shard_syncs().unwrap()[&shard], next);

        let freed = store
            .release_shards(&std::collections::BTreeSet::new(), 4, 4)
            .unwrap();
        assert_eq!(freed, added);
        drop(store);
        // Sealed by the reopen and with nothing live, the segment is gone.
        let _store = NodeStore::open(dir.path()).unwrap();
        assert!(!segment_files(dir.path()).contains(&segment));
    }

    #[test]
    fn released_shards_lose_exactly_their_slivers() {
        let dir = tempfile::tempdir().unwrap();
        let (blob_id, _, blob) = encoded(4);
        let store = NodeStore::open(dir.path()).unwrap();
        put_whole_blob(&store, &blob);
        assert_eq!(store.released_epoch().unwrap(), None);
        let keep: std::collections::BTreeSet<ShardIndex> = [ShardIndex(1), ShardIndex(3)].into();
        let freed = store.release_shards(&keep, 4, 5).unwrap();
        assert_eq!(freed.slivers, 4);
        assert_eq!(store.released_epoch().unwrap(), Some(5));
        for shard in 0..4 {
            let pair = ShardIndex(shard).to_pair_index(4, &blob_id);
            let kept = keep.contains(&ShardIndex(shard));
            for axis in [SliverType::Primary, SliverType::Secondary] {
                assert_eq!(store.has_sliver(&blob_id, pair, axis).unwrap(), kept);
            }
        }
        // The metadata stay.
        assert!(store.metadata(&blob_id).unwrap().is_some());
    }

    #[test]
    fn epoch_start_moves_the_cursor_with_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = NodeStore::open(dir.path()).unwrap();
            assert_eq!(store.epoch_started().unwrap(), None);
            store.apply_epoch_start(cursor(4), 2).unwrap();
            assert_eq!(store.sync_reported_epoch().unwrap(), None);
            store.set_sync_reported_epoch(2).unwrap();
        }
        let store = NodeStore::open(dir.path()).unwrap();
        assert_eq!(store.epoch_started().unwrap(), Some(2));
        assert_eq!(store.event_progress().unwrap(), (Some(cursor(4)), 1));
        assert_eq!(store.sync_reported_epoch().unwrap(), Some(2));
    }
}
