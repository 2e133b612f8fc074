//! The Sui framework types the contracts use, with their BCS layouts: object IDs (`UID`/`ID`),
//! `Coin<T>` (`{ id, balance: Balance { value } }`), `VecMap`, the transaction context (object
//! ID derivation as Sui does it) and the clock.

use serde::{Deserialize, Serialize};
use walrus_core::{merkle::blake2b256, ObjectId};

use super::{ensure, events::Event, Abort, MoveResult};

/// `sui::balance::ENotEnough`.
pub const E_NOT_ENOUGH: Abort = Abort::new("balance", 2, "ENotEnough");

/// A Sui address (32 bytes).
pub type Address = [u8; 32];

/// A Move `u256`: BCS is 32 bytes little-endian. Blob IDs are `u256`s whose little-endian bytes
/// are the blob ID's bytes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct U256(pub [u8; 32]);

impl From<walrus_core::BlobId> for U256 {
    fn from(blob_id: walrus_core::BlobId) -> Self {
        Self(blob_id.0)
    }
}

impl From<U256> for walrus_core::BlobId {
    fn from(value: U256) -> Self {
        walrus_core::BlobId(value.0)
    }
}

/// `sui::coin::Coin<T>`: an owned object holding a balance. BCS: `{ id: UID, balance: u64 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coin {
    /// The coin object's ID.
    pub id: ObjectId,
    /// The balance, in the coin's smallest unit (FROST for WAL).
    pub balance: u64,
}

impl Coin {
    /// `coin::value`.
    pub fn value(&self) -> u64 {
        self.balance
    }

    /// `coin::split`: a new coin of `amount` taken from this one.
    pub fn split(&mut self, amount: u64, ctx: &mut TxContext) -> MoveResult<Coin> {
        let balance = take_balance(&mut self.balance, amount)?;
        Ok(Coin {
            id: ctx.fresh_id(),
            balance,
        })
    }

    /// `coin::join`: merges `other` into this coin.
    pub fn join(&mut self, other: Coin) {
        self.balance += other.balance;
    }
}

/// `balance::split`: takes `amount` out of `balance`.
pub fn take_balance(balance: &mut u64, amount: u64) -> MoveResult<u64> {
    ensure(*balance >= amount, E_NOT_ENOUGH)?;
    *balance -= amount;
    Ok(amount)
}

/// `sui::vec_map::VecMap<K, V>`: BCS `{ contents: vector<Entry { key, value }> }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VecMap<K, V> {
    /// The entries, in insertion order.
    pub contents: Vec<Entry<K, V>>,
}

/// An entry of a [`VecMap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
}

impl<K: PartialEq, V> VecMap<K, V> {
    /// The value stored under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.contents
            .iter()
            .find(|entry| entry.key == *key)
            .map(|entry| &entry.value)
    }

    /// Inserts or replaces the value under `key`.
    pub fn insert_or_replace(&mut self, key: K, value: V) {
        match self.contents.iter_mut().find(|entry| entry.key == key) {
            Some(entry) => entry.value = value,
            None => self.contents.push(Entry { key, value }),
        }
    }

    /// Removes and returns the value under `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let position = self.contents.iter().position(|entry| entry.key == *key)?;
        Some(self.contents.remove(position).value)
    }
}

/// Sui's hashing intent scope for object IDs derived in a transaction.
const REGULAR_OBJECT_ID_SCOPE: u8 = 0xf1;

/// The context of the transaction a call runs in: its sender and digest, the counter of
/// objects it created (object IDs derive from both, as on Sui) and the events it emitted.
#[derive(Debug, Clone)]
pub struct TxContext {
    sender: Address,
    digest: [u8; 32],
    ids_created: u64,
    events: Vec<Event>,
}

impl TxContext {
    /// The context of a transaction from `sender` with digest `digest`.
    pub fn new(sender: Address, digest: [u8; 32]) -> Self {
        Self {
            sender,
            digest,
            ids_created: 0,
            events: Vec::new(),
        }
    }

    /// `tx_context::sender`.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// `object::new`: the next object ID, `Blake2b256(0xf1 || digest || count u64 LE)`.
    pub fn fresh_id(&mut self) -> ObjectId {
        let mut preimage = [0u8; 41];
        preimage[0] = REGULAR_OBJECT_ID_SCOPE;
        preimage[1..33].copy_from_slice(&self.digest);
        preimage[33..].copy_from_slice(&self.ids_created.to_le_bytes());
        self.ids_created += 1;
        ObjectId(blake2b256(&preimage))
    }

    /// `event::emit`.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The events emitted so far, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the emitted events out of the context.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// `sui::clock::Clock`: the consensus timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_bcs_layout_and_split() {
        let mut ctx = TxContext::new([1; 32], [2; 32]);
        let mut coin = Coin {
            id: ObjectId([3; 32]),
            balance: 10,
        };
        let mut expected = vec![3; 32];
        expected.extend(10u64.to_le_bytes());
        assert_eq!(bcs::to_bytes(&coin).unwrap(), expected);
        let part = coin.split(4, &mut ctx).unwrap();
        assert_eq!((coin.value(), part.value()), (6, 4));
        assert_eq!(coin.split(7, &mut ctx), Err(E_NOT_ENOUGH));
        assert_eq!(coin.value(), 6);
        coin.join(part);
        assert_eq!(coin.value(), 10);
    }

    #[test]
    fn object_ids_are_distinct_and_deterministic() {
        let mut a = TxContext::new([1; 32], [2; 32]);
        let mut b = TxContext::new([1; 32], [2; 32]);
        let first = a.fresh_id();
        assert_eq!(first, b.fresh_id());
        assert_ne!(first, a.fresh_id());
    }

    #[test]
    fn vec_map_layout() {
        let mut map = VecMap::default();
        map.insert_or_replace("k".to_string(), "v".to_string());
        map.insert_or_replace("k".to_string(), "w".to_string());
        assert_eq!(bcs::to_bytes(&map).unwrap(), vec![1, 1, b'k', 1, b'w']);
        assert_eq!(map.remove(&"k".to_string()), Some("w".to_string()));
    }
}
