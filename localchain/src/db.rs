//! The durable chain database: one [redb](https://docs.rs/redb) file (`chain.redb`) in a data
//! directory, holding
//!
//! - `objects`: object ID → BCS of the current version's `sui_sdk_types::Object`;
//! - `transactions`: transaction digest → BCS of a [`StoredTransaction`] (execution index,
//!   transaction, signatures, [`Effects`] with Sui's effects and the events);
//! - `checkpoints`: sequence number → BCS of a [`StoredCheckpoint`] (summary and contents, whose
//!   transaction digests order the transactions);
//! - `metadata`: the genesis digest (written with the genesis state: genesis is done), the chain
//!   ID, the next checkpoint sequence number and the format version. The clock is the `0x6`
//!   object.
//!
//! Every write (genesis, an executed transaction with all its object writes, a clock update, a
//! sealed checkpoint) is one redb write transaction, committed with redb's default durability
//! (`Durability::Immediate`: fsync before the commit returns), so what a caller was told
//! happened survives a crash, and a crash never leaves half a transaction.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sui_sdk_types::{
    Address, CheckpointContents, CheckpointSummary, Digest, Object, Transaction, UserSignature,
};

use crate::{Effects, ObjectStore};

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "chain.redb";
/// The version of the layout below; a database of another version is refused.
const FORMAT_VERSION: u32 = 1;

const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const TRANSACTIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("transactions");
const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");
const METADATA: TableDefinition<&str, &[u8]> = TableDefinition::new("metadata");

const META_FORMAT: &str = "format_version";
const META_GENESIS: &str = "genesis_digest";
const META_CHAIN_ID: &str = "chain_id";
const META_NEXT_CHECKPOINT: &str = "next_checkpoint";

/// Why the chain database could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum ChainDbError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another `ChainDb` (in this or another process) has the file open.
    #[error("the chain database {0} is already open (another localnet uses this data directory)")]
    AlreadyOpen(PathBuf),
    /// The file could not be opened as a redb database: it is something else, or torn.
    #[error(
        "cannot open the chain database {path}: not a redb database, or a torn file ({source})"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        source: redb::Error,
    },
    /// redb failed reading or writing (e.g. the disk failed).
    #[error("chain database {path}: {source}")]
    Redb {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        source: redb::Error,
    },
    /// The file is a redb database but its contents are not a localnet chain.
    #[error("chain database {path} is corrupt: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The data directory holds a chain with another genesis configuration.
    #[error(
        "chain database {path} was created from genesis {stored}, not from the given \
         configuration (genesis {given}); use another data directory"
    )]
    GenesisMismatch {
        /// The database file.
        path: PathBuf,
        /// The stored genesis digest.
        stored: Digest,
        /// The digest of the given configuration.
        given: Digest,
    },
    /// The genesis configuration is invalid.
    #[error("genesis failed: {0}")]
    Genesis(crate::ExecutionError),
}

/// An executed transaction as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTransaction {
    /// Position in execution order (0 for the first transaction after genesis).
    pub index: u64,
    /// The transaction.
    pub transaction: Transaction,
    /// Its signatures.
    pub signatures: Vec<UserSignature>,
    /// Its effects (with Sui's effects and the events).
    pub effects: Effects,
}

/// A sealed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// The summary (its digest is the checkpoint digest).
    pub summary: CheckpointSummary,
    /// The contents: the transactions, in order.
    pub contents: CheckpointContents,
}

/// Everything in a database, read at start.
#[derive(Debug)]
pub struct LoadedChain {
    /// The digest of the genesis configuration the chain was created from.
    pub genesis_digest: Digest,
    /// The chain ID (digest of checkpoint 0).
    pub chain_id: String,
    /// The current objects.
    pub objects: ObjectStore,
    /// Every executed transaction, in execution order.
    pub transactions: Vec<StoredTransaction>,
    /// Every sealed checkpoint, by sequence number from 0.
    pub checkpoints: Vec<StoredCheckpoint>,
}

/// The chain database (see the module documentation).
pub struct ChainDb {
    db: Database,
    path: PathBuf,
}

impl fmt::Debug for ChainDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainDb").field("path", &self.path).finish()
    }
}

impl ChainDb {
    /// Opens (or creates) `dir/chain.redb`, creating `dir` if needed.
    pub fn open(dir: &Path) -> Result<Self, ChainDbError> {
        std::fs::create_dir_all(dir).map_err(|source| ChainDbError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE_NAME);
        let db = match catch_panic(&path, || Database::create(&path))? {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(ChainDbError::AlreadyOpen(path))
            }
            Err(error) => {
                return Err(ChainDbError::Open {
                    path,
                    source: error.into(),
                })
            }
        };
        let chain_db = Self { db, path };
        // Create the tables, so that reads never miss one.
        chain_db.write(|tx| {
            tx.open_table(OBJECTS)?;
            tx.open_table(TRANSACTIONS)?;
            tx.open_table(CHECKPOINTS)?;
            tx.open_table(METADATA)?;
            Ok(())
        })?;
        Ok(chain_db)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn redb_error(&self, error: impl Into<redb::Error>) -> ChainDbError {
        ChainDbError::Redb {
            path: self.path.clone(),
            source: error.into(),
        }
    }

    fn corrupt(&self, reason: impl fmt::Display) -> ChainDbError {
        ChainDbError::Corrupt {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, ChainDbError> {
        bcs::to_bytes(value).map_err(|error| self.corrupt(format!("BCS encoding: {error}")))
    }

    /// Runs `f` in one write transaction and commits it (durably) if it succeeds.
    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), ChainDbError> {
        let tx = self.db.begin_write().map_err(|e| self.redb_error(e))?;
        // Dropping an uncommitted transaction aborts it.
        f(&tx).map_err(|e| self.redb_error(e))?;
        tx.commit().map_err(|e| self.redb_error(e))
    }

    /// Writes the genesis state: objects, checkpoint 0, the genesis digest and the chain ID,
    /// in one transaction.
    pub fn write_genesis(
        &self,
        genesis_digest: Digest,
        objects: &ObjectStore,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), ChainDbError> {
        let encoded: Vec<(Address, Vec<u8>)> = objects
            .iter()
            .map(|object| Ok((object.object_id(), self.encode(object)?)))
            .collect::<Result<_, ChainDbError>>()?;
        let checkpoint_bytes = self.encode(checkpoint)?;
        let chain_id = checkpoint.summary.digest().to_string();
        self.write(|tx| {
            let mut table = tx.open_table(OBJECTS)?;
            for (id, bytes) in &encoded {
                table.insert(id.as_bytes(), bytes.as_slice())?;
            }
            tx.open_table(CHECKPOINTS)?
                .insert(0, checkpoint_bytes.as_slice())?;
            let mut meta = tx.open_table(METADATA)?;
            meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
            meta.insert(META_CHAIN_ID, chain_id.as_bytes())?;
            meta.insert(META_NEXT_CHECKPOINT, 1u64.to_le_bytes().as_slice())?;
            // Last: its presence means genesis is done (all in the same commit anyway).
            meta.insert(META_GENESIS, genesis_digest.as_bytes())?;
            Ok(())
        })
    }

    /// Writes an executed transaction: its object writes (`None` deletes) and its record, in
    /// one transaction.
    pub fn write_transaction(
        &self,
        writes: &[(Address, Option<&Object>)],
        transaction: &StoredTransaction,
    ) -> Result<(), ChainDbError> {
        let encoded: Vec<(Address, Option<Vec<u8>>)> = writes
            .iter()
            .map(|(id, object)| Ok((*id, object.map(|o| self.encode(o)).transpose()?)))
            .collect::<Result<_, ChainDbError>>()?;
        let record = self.encode(transaction)?;
        let digest = transaction.transaction.digest();
        self.write(|tx| {
            let mut table = tx.open_table(OBJECTS)?;
            for (id, bytes) in &encoded {
                match bytes {
                    Some(bytes) => {
                        table.insert(id.as_bytes(), bytes.as_slice())?;
                    }
                    None => {
                        table.remove(id.as_bytes())?;
                    }
                }
            }
            tx.open_table(TRANSACTIONS)?
                .insert(digest.as_bytes(), record.as_slice())?;
            Ok(())
        })
    }

    /// Writes one object (a clock update).
    pub fn write_object(&self, object: &Object) -> Result<(), ChainDbError> {
        let bytes = self.encode(object)?;
        let id = object.object_id();
        self.write(|tx| {
            tx.open_table(OBJECTS)?
                .insert(id.as_bytes(), bytes.as_slice())?;
            Ok(())
        })
    }

    /// Writes objects in one database transaction (outside any Sui transaction: tools and
    /// tests).
    pub fn write_objects(&self, objects: &[Object]) -> Result<(), ChainDbError> {
        let encoded: Vec<(Address, Vec<u8>)> = objects
            .iter()
            .map(|object| Ok((object.object_id(), self.encode(object)?)))
            .collect::<Result<_, ChainDbError>>()?;
        self.write(|tx| {
            let mut table = tx.open_table(OBJECTS)?;
            for (id, bytes) in &encoded {
                table.insert(id.as_bytes(), bytes.as_slice())?;
            }
            Ok(())
        })
    }

    /// Writes a sealed checkpoint and the next sequence number, in one transaction.
    pub fn write_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), ChainDbError> {
        let bytes = self.encode(checkpoint)?;
        let sequence_number = checkpoint.summary.sequence_number;
        let next = sequence_number.saturating_add(1);
        self.write(|tx| {
            tx.open_table(CHECKPOINTS)?
                .insert(sequence_number, bytes.as_slice())?;
            tx.open_table(METADATA)?
                .insert(META_NEXT_CHECKPOINT, next.to_le_bytes().as_slice())?;
            Ok(())
        })
    }

    /// Reads the whole chain; `None` if genesis was never written (a new database).
    pub fn load(&self) -> Result<Option<LoadedChain>, ChainDbError> {
        catch_panic(&self.path, || self.load_inner())?
    }

    fn load_inner(&self) -> Result<Option<LoadedChain>, ChainDbError> {
        let tx = self.db.begin_read().map_err(|e| self.redb_error(e))?;
        let meta = tx.open_table(METADATA).map_err(|e| self.redb_error(e))?;
        let get = |key: &str| -> Result<Option<Vec<u8>>, ChainDbError> {
            Ok(meta
                .get(key)
                .map_err(|e| self.redb_error(e))?
                .map(|value| value.value().to_vec()))
        };
        let Some(genesis) = get(META_GENESIS)? else {
            return Ok(None);
        };
        let format = get(META_FORMAT)?
            .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok())
            .map(u32::from_le_bytes);
        if format != Some(FORMAT_VERSION) {
            return Err(self.corrupt(format!(
                "format version {format:?}, expected {FORMAT_VERSION}"
            )));
        }
        let genesis_digest = Digest::from_bytes(&genesis)
            .map_err(|error| self.corrupt(format!("genesis digest: {error}")))?;
        let chain_id = get(META_CHAIN_ID)?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| self.corrupt("no chain ID"))?;
        let next_checkpoint = get(META_NEXT_CHECKPOINT)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| self.corrupt("no next checkpoint number"))?;

        let mut objects = ObjectStore::new();
        let table = tx.open_table(OBJECTS).map_err(|e| self.redb_error(e))?;
        for entry in table.iter().map_err(|e| self.redb_error(e))? {
            let (key, value) = entry.map_err(|e| self.redb_error(e))?;
            let object: Object = bcs::from_bytes(value.value())
                .map_err(|error| self.corrupt(format!("object: {error}")))?;
            if object.object_id().as_bytes() != key.value() {
                return Err(self.corrupt("an object is stored under another ID"));
            }
            objects.insert(object);
        }

        let mut transactions = Vec::new();
        let table = tx
            .open_table(TRANSACTIONS)
            .map_err(|e| self.redb_error(e))?;
        for entry in table.iter().map_err(|e| self.redb_error(e))? {
            let (key, value) = entry.map_err(|e| self.redb_error(e))?;
            let stored: StoredTransaction = bcs::from_bytes(value.value())
                .map_err(|error| self.corrupt(format!("transaction: {error}")))?;
            if stored.transaction.digest().as_bytes() != key.value() {
                return Err(self.corrupt("a transaction is stored under another digest"));
            }
            transactions.push(stored);
        }
        transactions.sort_by_key(|stored| stored.index);
        if transactions
            .iter()
            .enumerate()
            .any(|(position, stored)| u64::try_from(position).ok() != Some(stored.index))
        {
            return Err(self.corrupt("transaction execution indices have gaps"));
        }

        let mut checkpoints = Vec::new();
        let table = tx.open_table(CHECKPOINTS).map_err(|e| self.redb_error(e))?;
        for entry in table.iter().map_err(|e| self.redb_error(e))? {
            let (key, value) = entry.map_err(|e| self.redb_error(e))?;
            let stored: StoredCheckpoint = bcs::from_bytes(value.value())
                .map_err(|error| self.corrupt(format!("checkpoint: {error}")))?;
            let expected = u64::try_from(checkpoints.len()).unwrap_or(u64::MAX);
            if key.value() != expected || stored.summary.sequence_number != expected {
                return Err(self.corrupt(format!("checkpoint {expected} is missing")));
            }
            if stored.contents.digest() != stored.summary.content_digest {
                return Err(self.corrupt(format!(
                    "checkpoint {expected}: contents do not match the summary"
                )));
            }
            checkpoints.push(stored);
        }
        if u64::try_from(checkpoints.len()).ok() != Some(next_checkpoint) {
            return Err(self.corrupt(format!(
                "{} checkpoints stored, next checkpoint {next_checkpoint}",
                checkpoints.len()
            )));
        }
        match checkpoints.first() {
            Some(first) if first.summary.digest().to_string() == chain_id => {}
            _ => return Err(self.corrupt("checkpoint 0 does not match the chain ID")),
        }
        Ok(Some(LoadedChain {
            genesis_digest,
            chain_id,
            objects,
            transactions,
            checkpoints,
        }))
    }
}

/// Runs `f`, turning a panic into [`ChainDbError::Corrupt`]: redb 3 asserts (panics) on some
/// torn files (e.g. one shorter than its header says) instead of returning an error.
fn catch_panic<T>(path: &Path, f: impl FnOnce() -> T) -> Result<T, ChainDbError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        ChainDbError::Corrupt {
            path: path.to_owned(),
            reason: format!("the database cannot be read (torn or truncated file?): {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoints::genesis_checkpoint;

    #[test]
    fn undecodable_values_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let db = ChainDb::open(dir.path()).unwrap();
        assert!(db.load().unwrap().is_none());
        let (store, genesis) = crate::GenesisConfig::new(10, 60_000, 10).build().unwrap();
        db.write_genesis(genesis.digest, &store, &genesis_checkpoint(1_000))
            .unwrap();
        let loaded = db.load().unwrap().unwrap();
        assert_eq!(loaded.objects, store);
        assert_eq!(loaded.checkpoints.len(), 1);
        assert!(loaded.transactions.is_empty());
        db.write(|tx| {
            tx.open_table(OBJECTS)?
                .insert([7u8; 32].as_slice(), [1u8, 2, 3].as_slice())?;
            Ok(())
        })
        .unwrap();
        let error = db.load().unwrap_err();
        assert!(matches!(error, ChainDbError::Corrupt { .. }), "{error}");
    }
}
