//! Follows the chain: applies `walrus` events to the store from the durable cursor (the events
//! of a checkpoint that arrived together and the cursor of the last in one transaction, so
//! every event is applied exactly once across crashes),
//! keeps the committee view current, and garbage-collects expired blobs.
//!
//! - `BlobRegistered`: the blob object becomes live (uploads are accepted).
//! - `BlobCertified`: the object is certified; the blob goes on the durable recovery list (the
//!   recovery worker fetches whatever slivers of our shards are missing).
//! - `BlobDeleted`: the object is dropped; with no live object left, the data are deleted.
//! - `InvalidBlobID`: the blob is marked invalid and its data are deleted; reads answer
//!   BLOB_INVALID.
//! - `EpochChangeStart` / `EpochChangeDone` (and a periodic check, so a missed or absent epoch
//!   event cannot leave the view stale): the committee view is re-read and expired blobs are
//!   collected.

use std::{sync::Arc, time::Duration};

use tokio::sync::{mpsc, watch};
use walrus_chain::{
    client::{ChainEvent, EventCursor as ChainCursor, WalrusClient},
    contract::events::Event,
};
use walrus_core::BlobId;
use walrus_node_client::api::{EventCursor, EventId, TransactionDigest};

use crate::{
    committee::CommitteeView,
    node::{NodeError, StorageNode},
    store::{BlobEvent, BlobInfo, BlobObjectInfo, EventEffect, InfoUpdate},
};

/// How often the committee and epoch are re-read even without epoch events.
const EPOCH_POLL: Duration = Duration::from_secs(2);
/// Pause before re-subscribing after a chain error.
const RETRY_DELAY: Duration = Duration::from_millis(500);

fn to_chain_cursor(cursor: EventCursor) -> ChainCursor {
    ChainCursor {
        checkpoint: cursor.checkpoint,
        event_index: cursor.event_index,
    }
}

/// A streamed event as the store takes it: its position, its Sui identity, the event.
fn to_stored(event: ChainEvent) -> (EventCursor, EventId, Event) {
    let cursor = EventCursor {
        checkpoint: event.cursor.checkpoint,
        event_index: event.cursor.event_index,
    };
    let id = EventId {
        tx_digest: TransactionDigest(event.tx_digest.into_inner()),
        event_seq: event.event_seq,
    };
    (cursor, id, event.event)
}

/// Reads the committee view from the chain.
pub async fn read_committee(
    chain: &WalrusClient,
    node: &StorageNode,
) -> anyhow::Result<CommitteeView> {
    Ok(chain.committee_view(Some(node.keys().public())).await?)
}

/// Re-reads the committee; on a new epoch installs it and collects expired blobs.
async fn refresh_epoch(chain: &WalrusClient, node: &StorageNode) -> anyhow::Result<()> {
    let view = read_committee(chain, node).await?;
    let old = node.committee();
    if view.epoch == old.epoch && view.members == old.members {
        if view.in_transition != old.in_transition {
            tracing::info!(epoch = view.epoch, "epoch change done");
            node.set_committee(view);
        }
        return Ok(());
    }
    let epoch = view.epoch;
    tracing::info!(
        epoch,
        shards = ?view.own_shards,
        in_transition = view.in_transition,
        "committee changed"
    );
    node.set_committee(view);
    collect_expired(node, epoch).await?;
    Ok(())
}

/// Deletes the data of blobs whose every object expired by `epoch`.
pub async fn collect_expired(node: &StorageNode, epoch: u32) -> Result<(), NodeError> {
    let store = node.store().clone();
    let (expired, freed) = crate::node::blocking(move || Ok(store.expire(epoch)?)).await?;
    if !expired.is_empty() {
        tracing::info!(
            epoch,
            blobs = expired.len(),
            freed_bytes = freed.bytes,
            "collected expired blobs"
        );
        node.metrics().remove_stored(freed);
    }
    Ok(())
}

/// Most events applied in one store transaction (a checkpoint's events come together).
const MAX_EVENTS_PER_COMMIT: usize = 512;

/// The store change of one blob event at `cursor`, emitted as `id`: the blob it concerns and
/// the change to its info.
fn blob_event(cursor: EventCursor, id: EventId, event: Event) -> BlobEvent {
    let (blob_id, update): (Option<BlobId>, InfoUpdate) = match event {
        Event::BlobRegistered(event) => (
            Some(event.blob_id.into()),
            Box::new(move |info: &mut BlobInfo| {
                info.objects
                    .entry(event.object_id)
                    .or_insert(BlobObjectInfo {
                        deletable: event.deletable,
                        end_epoch: event.end_epoch,
                        certified_epoch: None,
                        event: id,
                    });
                EventEffect::None
            }),
        ),
        Event::BlobCertified(event) => (
            Some(event.blob_id.into()),
            Box::new(move |info: &mut BlobInfo| {
                let object = info
                    .objects
                    .entry(event.object_id)
                    .or_insert(BlobObjectInfo {
                        deletable: event.deletable,
                        end_epoch: event.end_epoch,
                        certified_epoch: None,
                        event: id,
                    });
                object.certified_epoch.get_or_insert(event.epoch);
                object.end_epoch = object.end_epoch.max(event.end_epoch);
                object.event = id;
                if info.invalid.is_some() {
                    EventEffect::None
                } else {
                    EventEffect::Recover
                }
            }),
        ),
        Event::BlobDeleted(event) => (
            Some(event.blob_id.into()),
            Box::new(move |info: &mut BlobInfo| {
                info.objects.remove(&event.object_id);
                if info.objects.is_empty() {
                    EventEffect::DeleteData
                } else {
                    EventEffect::None
                }
            }),
        ),
        Event::InvalidBlobId(event) => (
            Some(event.blob_id.into()),
            Box::new(move |info: &mut BlobInfo| {
                info.invalid.get_or_insert(id);
                EventEffect::DeleteData
            }),
        ),
        _ => (None, Box::new(|_: &mut BlobInfo| EventEffect::None)),
    };
    BlobEvent {
        cursor,
        blob_id,
        update,
    }
}

/// Applies `events` (in chain order) in one store transaction with the cursor of the last;
/// returns the blobs to recover. An `EpochChangeStart` must come alone.
async fn apply(
    node: &StorageNode,
    events: Vec<(EventCursor, EventId, Event)>,
) -> Result<Vec<BlobId>, NodeError> {
    let count = events.len();
    if let [(cursor, _, Event::EpochChangeStart(start))] = events.as_slice() {
        let (store, cursor, epoch) = (node.store().clone(), *cursor, start.epoch);
        crate::node::blocking(move || Ok(store.apply_epoch_start(cursor, epoch)?)).await?;
        node.event_applied();
        return Ok(Vec::new());
    }
    let changes: Vec<BlobEvent> = events
        .into_iter()
        .map(|(cursor, id, event)| blob_event(cursor, id, event))
        .collect();
    let store = node.store().clone();
    let (freed, recover) = crate::node::blocking(move || Ok(store.apply_events(changes)?)).await?;
    node.metrics().remove_stored(freed);
    for _ in 0..count {
        node.event_applied();
    }
    Ok(recover)
}

/// Whether `event` changes the epoch (applied on its own, and the committee re-read after).
fn is_epoch_event(event: &Event) -> bool {
    matches!(
        event,
        Event::EpochChangeStart(_) | Event::EpochChangeDone(_)
    )
}

/// Re-reads the committee every few seconds until `shutdown` flips (a separate task, so the
/// event stream is never interrupted mid-checkpoint).
pub async fn run_epoch_watcher(
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut poll = tokio::time::interval(EPOCH_POLL);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = poll.tick() => {
                if let Err(error) = refresh_epoch(&chain, &node).await {
                    tracing::warn!(%error, "cannot refresh the committee");
                }
            }
        }
    }
}

/// Follows the chain until `shutdown` flips to `true`: events from the stored cursor, epoch
/// refreshes, and recovery requests sent to `recover`.
pub async fn run_follower(
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    recover: mpsc::UnboundedSender<BlobId>,
    mut shutdown: watch::Receiver<bool>,
) {
    'resubscribe: loop {
        let cursor = match node.store().event_progress() {
            Ok((cursor, _)) => cursor.map(to_chain_cursor),
            Err(error) => {
                tracing::error!(%error, "cannot read the event cursor; the follower stops");
                return;
            }
        };
        let mut stream = chain.event_stream(cursor);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                next = stream.next() => match next {
                    Ok(first) => {
                        // The rest of the checkpoint, already fetched, goes in the same
                        // commit; an epoch event is applied on its own.
                        let epoch_event = is_epoch_event(&first.event);
                        let cursor = first.cursor;
                        let mut batch = vec![to_stored(first)];
                        while !epoch_event && batch.len() < MAX_EVENTS_PER_COMMIT {
                            match stream.next_buffered_if(|event| !is_epoch_event(event)) {
                                Some(event) => batch.push(to_stored(event)),
                                None => break,
                            }
                        }
                        tracing::debug!(?cursor, events = batch.len(), "chain events");
                        match apply(&node, batch).await {
                            Ok(recover_blobs) => {
                                for blob_id in recover_blobs {
                                    let _ = recover.send(blob_id);
                                }
                            }
                            Err(error) => {
                                tracing::error!(%error, "cannot apply chain events; retrying");
                                tokio::time::sleep(RETRY_DELAY).await;
                                continue 'resubscribe;
                            }
                        }
                        if epoch_event {
                            if let Err(error) = refresh_epoch(&chain, &node).await {
                                tracing::warn!(%error, "cannot refresh the committee");
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "event stream failed; resubscribing");
                        tokio::time::sleep(RETRY_DELAY).await;
                        continue 'resubscribe;
                    }
                },
            }
        }
    }
}
