//! [`EventStream`]: the `walrus` package's events, checkpoint by checkpoint, from a cursor.
//!
//! A cursor names one event: the checkpoint and the event's index among all events of that
//! checkpoint (transactions in checkpoint order, events in emission order; events of other
//! packages count too, so indices are stable). A stream created with `after = Some(c)`
//! yields exactly the `walrus` events after `c`; storing the cursor of each processed event
//! and restarting from it after a crash gives no gaps and no duplicates.
//!
//! Each event also carries its Sui identity (Walrus's `EventID`): the digest of the
//! transaction that emitted it and its index among that transaction's events.
//!
//! It subscribes to checkpoints first and then reads each checkpoint in order with
//! `get_checkpoint` until the chain has none newer, then takes them from the subscription
//! (a checkpoint the subscription skipped is read again); if the subscription ends, it
//! subscribes again.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2 as pb,
};
use sui_sdk_types::{Address, Digest, TransactionEvents};

use super::ClientError;
use crate::contract::events::{
    BlobCertified, BlobDeleted, BlobRegistered, EpochChangeDone, EpochChangeStart,
    EpochParametersSelected, Event, InvalidBlobId, ShardsReceived, StakingPoolCreated,
};

const CHECKPOINT_MASK: &str = "sequence_number,transactions.digest,transactions.events.bcs";

/// The position of an event: checkpoint and index among the checkpoint's events. BCS: two
/// `u64`s (what a follower stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventCursor {
    /// Checkpoint sequence number.
    pub checkpoint: u64,
    /// Index of the event among all events of the checkpoint.
    pub event_index: u64,
}

/// One `walrus` event from an [`EventStream`]: where it is, which transaction emitted it, and
/// what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    /// Its position in the chain's event sequence.
    pub cursor: EventCursor,
    /// The digest of the transaction that emitted it.
    pub tx_digest: Digest,
    /// Its index among that transaction's events (Sui's `eventSeq`).
    pub event_seq: u64,
    /// The decoded event.
    pub event: Event,
}

/// Decodes a `{walrus}::events::<Name>` event with the twin's types; `None` for events of
/// other packages or modules.
pub fn decode_event(
    walrus_package: Address,
    event: &sui_sdk_types::Event,
) -> Result<Option<Event>, ClientError> {
    let ty = &event.type_;
    if *ty.address() != walrus_package || ty.module().as_str() != "events" {
        return Ok(None);
    }
    fn de<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
        bcs::from_bytes(bytes).map_err(|error| ClientError::Decode(format!("event: {error}")))
    }
    let bytes = &event.contents;
    Ok(Some(match ty.name().as_str() {
        "BlobRegistered" => Event::BlobRegistered(de::<BlobRegistered>(bytes)?),
        "BlobCertified" => Event::BlobCertified(de::<BlobCertified>(bytes)?),
        "BlobDeleted" => Event::BlobDeleted(de::<BlobDeleted>(bytes)?),
        "InvalidBlobID" => Event::InvalidBlobId(de::<InvalidBlobId>(bytes)?),
        "EpochChangeStart" => Event::EpochChangeStart(de::<EpochChangeStart>(bytes)?),
        "EpochChangeDone" => Event::EpochChangeDone(de::<EpochChangeDone>(bytes)?),
        "ShardsReceived" => Event::ShardsReceived(de::<ShardsReceived>(bytes)?),
        "EpochParametersSelected" => {
            Event::EpochParametersSelected(de::<EpochParametersSelected>(bytes)?)
        }
        "StakingPoolCreated" => Event::StakingPoolCreated(de::<StakingPoolCreated>(bytes)?),
        other => {
            return Err(ClientError::Decode(format!(
                "unknown walrus event type {other}"
            )))
        }
    }))
}

/// The `walrus` events of the chain, in order, from a cursor. See the module documentation.
pub struct EventStream {
    rpc: sui_rpc::Client,
    walrus_package: Address,
    after: Option<EventCursor>,
    next_checkpoint: u64,
    subscription: Option<tonic::Streaming<pb::SubscribeCheckpointsResponse>>,
    /// A checkpoint from the subscription ahead of `next_checkpoint`.
    stashed: Option<pb::Checkpoint>,
    buffer: VecDeque<ChainEvent>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("after", &self.after)
            .field("next_checkpoint", &self.next_checkpoint)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// A stream of the events of `walrus_package` after `after` (from checkpoint 0 if `None`).
    pub fn new(rpc: sui_rpc::Client, walrus_package: Address, after: Option<EventCursor>) -> Self {
        Self {
            rpc,
            walrus_package,
            after,
            next_checkpoint: after.map_or(0, |cursor| cursor.checkpoint),
            subscription: None,
            stashed: None,
            buffer: VecDeque::new(),
        }
    }

    /// The cursor of the last event yielded (or the starting cursor).
    pub fn cursor(&self) -> Option<EventCursor> {
        self.after
    }

    /// The next event; waits for new checkpoints when caught up.
    pub async fn next(&mut self) -> Result<ChainEvent, ClientError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = Some(event.cursor);
                return Ok(event);
            }
            let checkpoint = self.next_checkpoint_data().await?;
            self.process(&checkpoint)?;
            self.next_checkpoint += 1;
        }
    }

    /// The next event if it is already fetched (the rest of a checkpoint) and `accept`s it,
    /// without waiting; the stream moves past it only then.
    pub fn next_buffered_if(&mut self, accept: impl FnOnce(&Event) -> bool) -> Option<ChainEvent> {
        if !accept(&self.buffer.front()?.event) {
            return None;
        }
        let event = self.buffer.pop_front()?;
        self.after = Some(event.cursor);
        Some(event)
    }

    async fn subscribe(&mut self) -> Result<(), ClientError> {
        if self.subscription.is_none() {
            let request = pb::SubscribeCheckpointsRequest::default()
                .with_read_mask(FieldMask::from_str(CHECKPOINT_MASK));
            let stream = self
                .rpc
                .subscription_client()
                .subscribe_checkpoints(request)
                .await?
                .into_inner();
            self.subscription = Some(stream);
        }
        Ok(())
    }

    /// Checkpoint `next_checkpoint`, from the ledger or the subscription.
    async fn next_checkpoint_data(&mut self) -> Result<pb::Checkpoint, ClientError> {
        let wanted = self.next_checkpoint;
        if let Some(stashed) = self.stashed.take() {
            match stashed.sequence_number().cmp(&wanted) {
                std::cmp::Ordering::Equal => return Ok(stashed),
                std::cmp::Ordering::Greater => self.stashed = Some(stashed),
                std::cmp::Ordering::Less => {}
            }
        }
        loop {
            // Subscribe before reading, so a checkpoint sealed in between is not missed.
            self.subscribe().await?;
            let request = pb::GetCheckpointRequest::by_sequence_number(wanted)
                .with_read_mask(FieldMask::from_str(CHECKPOINT_MASK));
            match self.rpc.ledger_client().get_checkpoint(request).await {
                Ok(response) => return Ok(response.into_inner().checkpoint().clone()),
                Err(status) if status.code() == tonic::Code::NotFound => {}
                Err(status) => return Err(status.into()),
            }
            // Not sealed yet: wait for it on the subscription.
            let Some(subscription) = self.subscription.as_mut() else {
                continue;
            };
            loop {
                match subscription.message().await {
                    Ok(Some(response)) => {
                        let checkpoint = response.checkpoint().clone();
                        match checkpoint.sequence_number().cmp(&wanted) {
                            std::cmp::Ordering::Less => continue,
                            std::cmp::Ordering::Equal => return Ok(checkpoint),
                            std::cmp::Ordering::Greater => {
                                // A gap: read the missing ones from the ledger first.
                                self.stashed = Some(checkpoint);
                                break;
                            }
                        }
                    }
                    // The subscription ended (or fell behind): subscribe again and re-read.
                    Ok(None) | Err(_) => {
                        self.subscription = None;
                        break;
                    }
                }
            }
            if let Some(stashed) = &self.stashed {
                if stashed.sequence_number() > wanted {
                    let request = pb::GetCheckpointRequest::by_sequence_number(wanted)
                        .with_read_mask(FieldMask::from_str(CHECKPOINT_MASK));
                    let response = self.rpc.ledger_client().get_checkpoint(request).await?;
                    return Ok(response.into_inner().checkpoint().clone());
                }
            }
        }
    }

    /// Buffers the `walrus` events of `checkpoint` after `self.after`.
    fn process(&mut self, checkpoint: &pb::Checkpoint) -> Result<(), ClientError> {
        let sequence_number = checkpoint.sequence_number();
        let mut index = 0u64;
        for transaction in &checkpoint.transactions {
            let events = match &transaction.events {
                Some(events) if events.bcs.is_some() => {
                    bcs::from_bytes::<TransactionEvents>(events.bcs().value())
                        .map_err(|error| ClientError::Decode(format!("events: {error}")))?
                        .0
                }
                _ => Vec::new(),
            };
            let mut tx_digest = None;
            for (event_seq, event) in (0u64..).zip(&events) {
                let cursor = EventCursor {
                    checkpoint: sequence_number,
                    event_index: index,
                };
                index += 1;
                if self.after.is_some_and(|after| cursor <= after) {
                    continue;
                }
                if let Some(decoded) = decode_event(self.walrus_package, event)? {
                    let tx_digest = match tx_digest {
                        Some(digest) => digest,
                        None => *tx_digest.insert(
                            transaction
                                .digest
                                .as_deref()
                                .ok_or_else(|| {
                                    ClientError::Decode(
                                        "a checkpoint transaction without its digest".into(),
                                    )
                                })?
                                .parse::<Digest>()
                                .map_err(|error| {
                                    ClientError::Decode(format!("transaction digest: {error}"))
                                })?,
                        ),
                    };
                    self.buffer.push_back(ChainEvent {
                        cursor,
                        tx_digest,
                        event_seq,
                        event: decoded,
                    });
                }
            }
        }
        Ok(())
    }
}
