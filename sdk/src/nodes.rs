//! [`StorageNodes`]: the storage-node side of the client, over a committee the caller has
//! (from the chain, as [`WalrusSdk`](crate::client::WalrusSdk) does, or built by a test).
//!
//! **Read:** metadata from any node (verified against the blob ID), then primary slivers from
//! the nodes holding them, each verified against the metadata, until `n - 2f` decode the blob;
//! then one of Walrus's consistency checks ([`ConsistencyCheck`]; by default the source rows
//! restored by decoding must match their hashes, strict re-encodes the whole blob): an
//! inconsistent blob is [`SdkError::BlobInvalid`], never bytes.
//!
//! **Upload** (the middle of a store): metadata and the sliver pairs of each node's shards to
//! every node in parallel (bounded concurrency, retries, timeouts), storage confirmations
//! collected until they carry a quorum (`n - f`) of shards, aggregated into a certificate.
//!
//! Every answer is hostile until checked: response bodies are capped at what the answer can
//! legitimately be (metadata from the shard count, a sliver from the blob's layout), metadata
//! must be those of the blob asked for and a sliver that of the pair asked for (a genuine
//! sliver of another pair is a lie like any other), and a node that fails a check is just a
//! failed request: another node is asked.

mod quilt;

pub use self::quilt::{PatchSelection, ReadPatch};

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet},
    fs::File,
    ops::Range,
    os::unix::fs::FileExt,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::{stream::BoxStream, FutureExt as _, StreamExt};
use rayon::prelude::*;
use tokio::{
    sync::{mpsc, watch, Semaphore, SemaphorePermit},
    task::JoinSet,
};
use walrus_chain::client::committee::{CommitteeView, MemberInfo};
use walrus_core::{
    crypto::Threshold,
    encoding::{
        compute_metadata_striped, decode_and_check, restore_source_rows_striped, verify_source_row,
        ConsistencyCheck, DecodeError, EncodedBlob, EncodingAxis, EncodingConfig, Primary,
        PrimarySliver, SecondarySliver, SliverData, SliverPair, SliverType, DEFAULT_STRIPE_BYTES,
    },
    messages::{
        BlobPersistenceType, ConfirmationCertificate, SignedStorageConfirmation,
        StorageConfirmationBody,
    },
    metadata::{BlobMetadataWithId, VerifiedBlobMetadataWithId},
    BlobId, Epoch, SliverPairIndex,
};
use walrus_node_client::{
    api::{BlobStatus, ErrorReason, EventId, UploadIntent},
    client::{metadata_response_limit, sliver_response_limit},
    NodeClient, NodeClientError, NodeConnector,
};

use crate::{
    client::{encoding_config, spawn_blocking, NoProgress, Progress, SdkConfig, SdkError},
    spill::{io_error, spill_file, striped_error, FileStripes, ReadFiles, SpilledBlob},
};

/// HTTP access to storage nodes, tuned by an [`SdkConfig`]: plain HTTP, or HTTPS pinned to
/// each node's on-chain network key for the nodes that announce `https://` addresses. Cheap
/// to clone.
#[derive(Debug, Clone)]
pub struct StorageNodes {
    http: NodeConnector,
    config: SdkConfig,
}

/// The client of `member` (`None` if its URL or, for an HTTPS node, its network key is
/// invalid).
fn member_client(member: &MemberInfo, http: &NodeConnector) -> Option<NodeClient> {
    http.client(&member.url, &member.network_public_key).ok()
}

/// A client per member of `view` (`None` for a member whose URL or network key is invalid).
pub(crate) fn node_clients(view: &CommitteeView, http: &NodeConnector) -> Vec<Option<NodeClient>> {
    view.members
        .iter()
        .map(|member| member_client(member, http))
        .collect()
}

impl StorageNodes {
    /// Storage-node access with `config` (its timeouts, concurrency, retries and hedging).
    pub fn new(config: SdkConfig) -> Self {
        let http = NodeConnector::new(config.connect_timeout, config.request_timeout);
        Self { http, config }
    }

    /// The tuning this was made with.
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// What the nodes say of `blob_id` that makes a permanent store unnecessary or futile:
    /// proven invalid, or certified permanent until some end epoch (the largest that nodes of
    /// at least one correct shard's weight, validity, report at least). `None` otherwise.
    pub(crate) async fn existing_status(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
    ) -> Option<ExistingStatus> {
        let statuses = self.statuses(view, blob_id).await;
        let invalid: Vec<(u16, EventId)> = statuses
            .iter()
            .filter_map(|(weight, status)| match status {
                BlobStatus::Invalid { event } => Some((*weight, *event)),
                _ => None,
            })
            .collect();
        if let Some(event) = first_with_validity(invalid, view.n_shards) {
            return Some(ExistingStatus::Invalid(event));
        }
        let mut ends: Vec<(u16, (Epoch, EventId))> = statuses
            .into_iter()
            .filter_map(|(weight, status)| match status {
                BlobStatus::Permanent {
                    end_epoch,
                    is_certified: true,
                    status_event,
                    ..
                } => Some((weight, (end_epoch, status_event))),
                _ => None,
            })
            .collect();
        // The largest end epoch that validity-weight nodes report at least.
        ends.sort_unstable_by_key(|(_, (end, _))| std::cmp::Reverse(*end));
        first_with_validity(ends, view.n_shards)
            .map(|(end_epoch, event)| ExistingStatus::CertifiedUntil(end_epoch, event))
    }

    /// Every member's answer to the status route, with its shard weight.
    async fn statuses(&self, view: &CommitteeView, blob_id: &BlobId) -> Vec<(u16, BlobStatus)> {
        let mut requests = JoinSet::new();
        for (index, client) in node_clients(view, &self.http).into_iter().enumerate() {
            let Some(client) = client else { continue };
            let weight = view.committee.members()[index].weight;
            let blob_id = *blob_id;
            requests.spawn(async move { (weight, client.get_blob_status(&blob_id).await) });
        }
        // Nodes of `n - f` shards answering is all that can be waited for: the others may
        // never answer.
        let mut answers = Vec::new();
        let mut weight_answered = 0u16;
        while let Some(joined) = requests.join_next().await {
            if let Ok((weight, Ok(status))) = joined {
                weight_answered = weight_answered.saturating_add(weight);
                answers.push((weight, status));
                if Threshold::Quorum.is_met(weight_answered, view.n_shards) {
                    break;
                }
            }
        }
        requests.abort_all();
        answers
    }

    /// The blob's status as the members of `view` report it: the highest-ranked status that
    /// nodes of validity weight report at least ([`BlobStatus::Nonexistent`] if none is).
    /// Answers are awaited until nodes of a quorum of shards answered.
    pub async fn status(&self, view: &CommitteeView, blob_id: &BlobId) -> BlobStatus {
        let mut statuses = self.statuses(view, blob_id).await;
        statuses.sort_by(|a, b| b.1.cmp_rank(&a.1));
        first_with_validity(statuses, view.n_shards).unwrap_or(BlobStatus::Nonexistent)
    }

    /// Uploads to every member and aggregates their confirmations into a certificate.
    pub(crate) async fn upload(
        &self,
        view: &CommitteeView,
        encoded: Slivers,
        blob_type: BlobPersistenceType,
        progress: &dyn Progress,
    ) -> Result<ConfirmationCertificate, SdkError> {
        self.upload_with_intent(view, encoded, blob_type, UploadIntent::Immediate, progress)
            .await
    }

    /// Like [`Self::upload`]; with `UploadIntent::Pending`, the blob's registration may still
    /// be on its way: the metadata and slivers go with `?pending=true` (a node buffers them
    /// until it sees the registration; one whose buffer is full gets them plainly, waiting
    /// for the registration) and each confirmation is asked with `wait_for_registration`.
    pub(crate) async fn upload_with_intent(
        &self,
        view: &CommitteeView,
        encoded: Slivers,
        blob_type: BlobPersistenceType,
        intent: UploadIntent,
        progress: &dyn Progress,
    ) -> Result<ConfirmationCertificate, SdkError> {
        let blob_type = futures::future::ready(Some(blob_type)).boxed().shared();
        self.upload_deferred(view, encoded, blob_type, intent, progress)
            .await
    }

    /// Like [`Self::upload_with_intent`], with the blob type known later: the metadata and
    /// slivers go at once, the confirmations are asked for once `blob_type` resolves (a
    /// deletable blob's object is known only once its registration lands). `None` (the blob
    /// was not registered) ends the upload with an error.
    pub(crate) async fn upload_deferred(
        &self,
        view: &CommitteeView,
        encoded: Slivers,
        blob_type: DeferredBlobType,
        intent: UploadIntent,
        progress: &dyn Progress,
    ) -> Result<ConfirmationCertificate, SdkError> {
        let blob_id = *encoded.metadata().blob_id();
        let limiter = Arc::new(Semaphore::new(self.config.max_concurrent_requests.max(1)));
        // Slivers read from a spill file and not yet sent: at most
        // `max_sliver_bytes_in_flight`, counted in KiB.
        let loaded = Arc::new(Semaphore::new(kib_permits(
            self.config.max_sliver_bytes_in_flight,
        )));
        let mut tasks = JoinSet::new();
        for (index, client) in node_clients(view, &self.http).into_iter().enumerate() {
            let Some(client) = client else { continue };
            let pairs: Vec<SliverPairIndex> = view.members[index]
                .shards
                .iter()
                .map(|shard| shard.to_pair_index(view.n_shards, &blob_id))
                .collect();
            let upload = NodeUpload {
                client,
                encoded: encoded.clone(),
                pairs,
                limiter: limiter.clone(),
                loaded: loaded.clone(),
                config: self.config,
                blob_type: blob_type.clone(),
                intent,
            };
            tasks.spawn(async move { (index, upload.run().await) });
        }
        let n_members = view.members.len();
        // Signatures are checked in batches, one aggregate check each: the confirmations of
        // `unchecked` (right message, signature not checked yet) join `checked` when their
        // weight would make a quorum, and at the end.
        let mut checked = Confirmations::default();
        let mut unchecked = Confirmations::default();
        let mut failures: Vec<String> = Vec::new();
        let mut quorum_at: Option<Instant> = None;
        loop {
            let next = match quorum_at {
                Some(at) => {
                    let remaining = self.config.straggler_grace.saturating_sub(at.elapsed());
                    match tokio::time::timeout(remaining, tasks.join_next()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                }
                None => tasks.join_next().await,
            };
            let Some(joined) = next else { break };
            let (index, result) = joined.map_err(|error| SdkError::Internal(error.to_string()))?;
            let member = &view.members[index];
            // A confirmation comes only once the blob type is known.
            let expected = match &result {
                Ok(_) => blob_type.clone().await,
                Err(_) => None,
            };
            let message_checked = result.and_then(|confirmation| {
                let expected = StorageConfirmationBody {
                    blob_id,
                    blob_type: expected.ok_or("the blob was not registered")?,
                };
                confirmation
                    .check_message(view.epoch, &expected)
                    .map(|_| confirmation)
                    .map_err(|error| format!("invalid confirmation: {error}"))
            });
            match message_checked {
                Ok(confirmation) => {
                    unchecked.push(
                        confirmation,
                        u16::try_from(index).unwrap_or(u16::MAX),
                        view.committee.members()[index].weight,
                    );
                    progress.update(
                        "confirm",
                        (checked.len() + unchecked.len()) as u64,
                        n_members as u64,
                    );
                    if quorum_at.is_none()
                        && Threshold::Quorum
                            .is_met(checked.weight + unchecked.weight, view.n_shards)
                    {
                        checked.check_and_add(&mut unchecked, view, &mut failures);
                        if Threshold::Quorum.is_met(checked.weight, view.n_shards) {
                            quorum_at = Some(Instant::now());
                        }
                    }
                }
                Err(error) => failures.push(format!("{}: {error}", member.url)),
            }
        }
        tasks.abort_all();
        checked.check_and_add(&mut unchecked, view, &mut failures);
        if !Threshold::Quorum.is_met(checked.weight, view.n_shards) {
            return Err(SdkError::NotEnoughConfirmations {
                weight: checked.weight,
                required: Threshold::Quorum.min_weight(view.n_shards),
                failures: failures.join("; "),
            });
        }
        ConfirmationCertificate::from_signed_messages_and_indices(&checked.signed, &checked.signers)
            .map_err(|error| SdkError::Internal(error.to_string()))
    }

    /// Reads `blob_id` from the members of `view` with Walrus's default consistency check;
    /// see the module docs and [`Self::read_checked`].
    pub async fn read(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        self.read_checked(view, blob_id, ConsistencyCheck::Default, progress)
            .await
    }

    /// Reads `blob_id` from the members of `view`, decoding it in memory and running `check`
    /// on the result (a failed check is [`SdkError::BlobInvalid`], never bytes).
    pub async fn read_checked(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
        check: ConsistencyCheck,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        let source = self.read_source(view, blob_id).await?;
        self.read_whole(&source, check, progress).await
    }

    /// Reads `blob_id` into `out` (a file open for reading and writing, left at the blob's
    /// size) in memory bounded by a constant, whatever the blob's size: each verified primary
    /// sliver goes to disk as it arrives (source rows at their place in `out`, the others to a
    /// spill file), the missing source rows are restored a window of columns at a time, then
    /// `check` runs (restored rows hashed, or the whole file re-encoded a stripe at a time);
    /// a failed check is [`SdkError::BlobInvalid`], and `out` then holds no valid blob.
    /// Returns the blob's size.
    pub async fn read_to_file(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
        out: &File,
        check: ConsistencyCheck,
        progress: &dyn Progress,
    ) -> Result<u64, SdkError> {
        let source = self.read_source(view, blob_id).await?;
        let (ready, _) = watch::channel(Vec::new());
        self.read_rows_into(&source, out, check, progress, ready)
            .await?;
        Ok(source.size())
    }

    /// Streams `blob_id`: its size (from verified metadata) at once, then its bytes in order
    /// while the rest is still being read. A source row is sent as soon as it and every row
    /// before it have passed `check`: rows received from their holders at once under
    /// [`ConsistencyCheck::Default`] and [`ConsistencyCheck::Skip`], restored rows once
    /// decoded (and hashed); under [`ConsistencyCheck::Strict`] nothing before the whole blob
    /// re-encoded to its ID. Memory is bounded by a constant (rows wait in a temporary file).
    /// A failure after the first bytes ends the stream with an error item; dropping the
    /// stream cancels the read.
    pub async fn read_stream(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
        check: ConsistencyCheck,
    ) -> Result<BlobStream, SdkError> {
        let source = self.read_source(view, blob_id).await?;
        let size = source.size();
        let layout = source.config.blob_layout(size)?;
        let k_primary = source.config.n_source_symbols(SliverType::Primary);
        let out = Arc::new(spill_file()?);
        // One flag per source row, and a last one: the whole read succeeded.
        let (ready_sender, ready) = watch::channel(vec![false; k_primary + 1]);
        let (sender, mut receiver) = mpsc::channel(STREAM_CHUNKS_BUFFERED);
        let nodes = self.clone();
        tokio::spawn(async move {
            let fetch = nodes.read_rows_into(&source, &out, check, &NoProgress, ready_sender);
            let emit = emit_rows(out.clone(), ready, size, layout.row_length(), &sender);
            tokio::pin!(fetch, emit);
            let mut fetched = false;
            loop {
                tokio::select! {
                    result = &mut fetch, if !fetched => match result {
                        Ok(()) => fetched = true,
                        Err(error) => {
                            let _ = sender.send(Err(error)).await;
                            return;
                        }
                    },
                    end = &mut emit => {
                        // Rows stopped coming before the end: the read failed.
                        if end == EmitEnd::RowsAbandoned && !fetched {
                            if let Err(error) = fetch.await {
                                let _ = sender.send(Err(error)).await;
                            }
                        }
                        return;
                    }
                }
            }
        });
        let chunks = futures::stream::poll_fn(move |context| receiver.poll_recv(context)).boxed();
        Ok(BlobStream { size, chunks })
    }

    /// Fetches, restores and checks the source rows of `source`'s blob into `out` (row `r` at
    /// byte `r * row_length`; `out` ends at the blob's size), announcing on `ready` each
    /// source row that passed `check` (under strict, all of them at the end), then the flag
    /// after the rows' once the whole read succeeded.
    async fn read_rows_into(
        &self,
        source: &ReadSource,
        out: &File,
        check: ConsistencyCheck,
        progress: &dyn Progress,
        ready: watch::Sender<Vec<bool>>,
    ) -> Result<(), SdkError> {
        let length = source.size();
        let config = source.config;
        let layout = config.blob_layout(length)?;
        let required = config.n_source_symbols(SliverType::Primary);
        let writing = |error| io_error("writing the blob being read".into(), error);
        let mut files = ReadFiles::new(
            out.try_clone().map_err(writing)?,
            spill_file()?,
            layout.row_length(),
        );
        self.fetch_slivers_into::<Primary>(
            source,
            source.holders(),
            required,
            Stalled::Wait,
            progress,
            |sliver| {
                files
                    .keep(sliver.index.0, sliver.symbols.data(), required)
                    .map_err(writing)?;
                // A source row verified against the metadata on arrival passes the default
                // check.
                let row = sliver.index.as_usize();
                if check != ConsistencyCheck::Strict && row < required {
                    announce(&ready, &[row]);
                }
                Ok(())
            },
        )
        .await?;
        progress.update("verify", 0, length);
        let metadata = source.metadata.clone();
        spawn_blocking(move || {
            let blob_id = *metadata.blob_id();
            let available = files.available();
            let restored =
                restore_source_rows_striped(&layout, &available, &files, DEFAULT_STRIPE_BYTES)
                    .map_err(|error| striped_error(error, "restoring the blob's rows"))?;
            let blob = files.finish(length).map_err(writing)?;
            let row_length = layout.row_length() as u64;
            match check {
                ConsistencyCheck::Skip => announce(&ready, &restored),
                ConsistencyCheck::Default => {
                    restored.par_iter().try_for_each(|row| {
                        let start = (*row as u64 * row_length).min(length);
                        let end = (start + row_length).min(length);
                        let mut data = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
                        blob.read_exact_at(&mut data, start).map_err(|error| {
                            io_error("reading a restored row back".into(), error)
                        })?;
                        verify_source_row(&metadata, *row, &data)
                            .map_err(|_| SdkError::BlobInvalid(blob_id))?;
                        announce(&ready, &[*row]);
                        Ok::<(), SdkError>(())
                    })?;
                }
                ConsistencyCheck::Strict => {
                    let check = FileStripes {
                        blob,
                        spill: spill_file()?,
                    };
                    let computed =
                        compute_metadata_striped(&config, length, &check, DEFAULT_STRIPE_BYTES)
                            .map_err(|error| striped_error(error, "re-encoding the blob read"))?;
                    if *computed.blob_id() != blob_id {
                        return Err(SdkError::BlobInvalid(blob_id));
                    }
                    let all: Vec<usize> = (0..required).collect();
                    announce(&ready, &all);
                }
            }
            // The read as a whole succeeded: `n - 2f` verified slivers, checked.
            announce(&ready, &[required]);
            Ok(())
        })
        .await??;
        progress.update("verify", length, length);
        Ok(())
    }

    /// The size in bytes of `blob_id`, from metadata verified against the blob ID.
    pub async fn blob_size(&self, view: &CommitteeView, blob_id: &BlobId) -> Result<u64, SdkError> {
        Ok(self.read_source(view, blob_id).await?.size())
    }

    /// Reads the bytes `range` of `blob_id` (`range.end` at most the blob's size).
    ///
    /// The blob is laid out row by row in the source primary slivers, so only the slivers of
    /// the rows covering the range are fetched (each verified against the metadata). If one of
    /// them cannot be had, the whole blob is read and decoded instead. Unlike [`Self::read`],
    /// the fast path does not re-encode the whole blob: the bytes are exactly what the writer
    /// committed to in the metadata, but an inconsistent encoding is only detected when nodes
    /// report the blob invalid.
    pub async fn read_range(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
        range: Range<u64>,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        let source = self.read_source(view, blob_id).await?;
        let size = source.size();
        if range.start > range.end || range.end > size {
            return Err(SdkError::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let layout = source.config.blob_layout(size)?;
        let row = u64::try_from(layout.row_length())
            .unwrap_or(u64::MAX)
            .max(1);
        let first = range.start / row;
        let last = (range.end - 1) / row;
        let wanted: Vec<(SliverPairIndex, usize)> = source
            .holders()
            .into_iter()
            .filter(|(pair, _)| (first..=last).contains(&u64::from(pair.0)))
            .collect();
        let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        // Each row has one holder: if one stalls (no answer for `hedge_after`), the whole
        // read, which can ask other nodes, is faster than waiting for it.
        let rows = match self
            .fetch_primary(&source, wanted, count, Stalled::Fail, progress)
            .await
        {
            Ok(rows) => rows,
            Err(SdkError::NotEnoughSlivers { .. }) => {
                let blob = self
                    .read_whole(&source, ConsistencyCheck::Default, progress)
                    .await?;
                return slice_range(&blob, &range);
            }
            Err(error) => return Err(error),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(range.end - range.start).unwrap_or(0));
        for (index, sliver) in &rows {
            let piece = row_slice(sliver.symbols.data(), u64::from(*index), row, &range)
                .ok_or_else(|| {
                    SdkError::Internal(format!("row {index} does not cover its part of the range"))
                })?;
            bytes.extend_from_slice(piece);
        }
        if bytes.len() as u64 != range.end - range.start {
            return Err(SdkError::Internal(format!(
                "rows {first}..={last} gave {} of the {} bytes of the range",
                bytes.len(),
                range.end - range.start
            )));
        }
        Ok(bytes)
    }

    /// The committee, encoding and verified metadata to read `blob_id` with.
    async fn read_source(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
    ) -> Result<ReadSource, SdkError> {
        let config = encoding_config(view)?;
        let mut clients = node_clients(view, &self.http);
        // While shards move, their previous owners still serve them: asked after the members.
        let previous_holders = view.transition_holders();
        clients.extend(
            previous_holders
                .iter()
                .map(|member| member_client(member, &self.http)),
        );
        let metadata = self.read_metadata(view, &clients, blob_id, &config).await?;
        Ok(ReadSource {
            blob_id: *blob_id,
            view: view.clone(),
            config,
            clients,
            previous_holders,
            metadata: Arc::new(metadata),
        })
    }

    /// Reads and decodes the whole blob: `n - 2f` primary slivers, the source ones first
    /// (they decode by copy), then the others as answers fail.
    async fn read_whole(
        &self,
        source: &ReadSource,
        check: ConsistencyCheck,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        let required = source
            .config
            .n_source_symbols(walrus_core::SliverType::Primary);
        let slivers = self
            .fetch_primary(source, source.holders(), required, Stalled::Wait, progress)
            .await?;
        let (metadata, id) = (source.metadata.clone(), source.blob_id);
        let decoded =
            spawn_blocking(move || decode_and_check(&metadata, slivers.into_values(), check))
                .await?;
        match decoded {
            Ok(bytes) => Ok(bytes),
            Err(
                DecodeError::InconsistentBlob { .. } | DecodeError::InconsistentSourceRow { .. },
            ) => Err(SdkError::BlobInvalid(id)),
            Err(error) => Err(SdkError::NotEnoughSlivers {
                blob_id: id,
                detail: error.to_string(),
            }),
        }
    }

    /// Fetches `required` verified primary slivers, asking the `(pair, member)` candidates in
    /// order (at most `required` requests in flight, another candidate for each failure, and
    /// the shortfall again from further candidates each `hedge_after` without an answer;
    /// `stalled` says what happens when no candidate is left to ask).
    async fn fetch_primary(
        &self,
        source: &ReadSource,
        candidates: Vec<(SliverPairIndex, usize)>,
        required: usize,
        stalled: Stalled,
        progress: &dyn Progress,
    ) -> Result<BTreeMap<u16, SliverData<Primary>>, SdkError> {
        let mut slivers = BTreeMap::new();
        self.fetch_slivers_into::<Primary>(
            source,
            candidates,
            required,
            stalled,
            progress,
            |sliver: SliverData<Primary>| {
                slivers.insert(sliver.index.0, sliver);
                Ok(())
            },
        )
        .await?;
        Ok(slivers)
    }

    /// As [`Self::fetch_primary`], for slivers of axis `T`, and each verified sliver goes to
    /// `keep` as it arrives (each pair once) instead of being held.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_slivers_into<T: EncodingAxis>(
        &self,
        source: &ReadSource,
        candidates: Vec<(SliverPairIndex, usize)>,
        required: usize,
        stalled: Stalled,
        progress: &dyn Progress,
        mut keep: impl FnMut(SliverData<T>) -> Result<(), SdkError>,
    ) -> Result<(), SdkError> {
        let (view, blob_id) = (&source.view, &source.blob_id);
        let total = u64::try_from(required).unwrap_or(u64::MAX);
        // Answers in flight hold a sliver each: at most `max_sliver_bytes_in_flight` of them.
        let sliver_bytes = source
            .config
            .blob_layout(source.size())
            .map_or(1, |layout| layout.sliver_length(T::TYPE).max(1) as u64);
        let by_bytes = usize::try_from(self.config.max_sliver_bytes_in_flight / sliver_bytes)
            .unwrap_or(usize::MAX);
        let limiter = Arc::new(Semaphore::new(
            self.config.max_concurrent_requests.min(by_bytes).max(1),
        ));
        let mut queue = candidates.into_iter();
        let mut in_flight = JoinSet::new();
        let mut slivers: BTreeSet<u16> = BTreeSet::new();
        let mut failures = 0usize;
        let mut invalid_reports = 0u16;
        let mut last_failure = String::new();
        // Requests beyond `required` allowed in flight: grows each time a whole `hedge_after`
        // passes without an answer, so slow or silent nodes cannot stall the read.
        let mut hedged = 0usize;
        while slivers.len() < required {
            while slivers.len() + in_flight.len() < required + hedged {
                let Some((pair, member)) = queue.next() else {
                    break;
                };
                let Some(client) = source.clients[member].clone() else {
                    continue;
                };
                let metadata = source.metadata.clone();
                let limiter = limiter.clone();
                // A previous owner is not a member: its reports do not count as a shard's.
                let weight = view
                    .committee
                    .members()
                    .get(member)
                    .map_or(0, |member| member.weight);
                in_flight.spawn(async move {
                    let _permit = limiter.acquire_owned().await;
                    let sliver = fetch_verified_sliver::<T>(&client, metadata, pair, weight).await;
                    (pair, sliver)
                });
            }
            let can_hedge = !queue.as_slice().is_empty();
            let next = tokio::select! {
                next = in_flight.join_next() => next,
                () = tokio::time::sleep(self.config.hedge_after), if can_hedge || stalled == Stalled::Fail => {
                    if !can_hedge {
                        return Err(SdkError::NotEnoughSlivers {
                            blob_id: *blob_id,
                            detail: format!(
                                "no answer for {:?} from the only holders of the slivers still missing",
                                self.config.hedge_after
                            ),
                        });
                    }
                    hedged += required - slivers.len();
                    continue;
                }
            };
            let Some(joined) = next else {
                return Err(SdkError::NotEnoughSlivers {
                    blob_id: *blob_id,
                    detail: format!(
                        "{} of {required} {} slivers ({failures} requests failed; last: {last_failure})",
                        slivers.len(),
                        T::TYPE
                    ),
                });
            };
            let (pair, sliver) = joined.map_err(|error| SdkError::Internal(error.to_string()))?;
            match sliver {
                Ok(sliver) => {
                    if slivers.insert(pair.0) {
                        keep(sliver)?;
                    }
                    progress.update("read", slivers.len() as u64, total);
                }
                Err(SliverFailure::ReportedInvalid(weight)) => {
                    failures += 1;
                    invalid_reports = invalid_reports.saturating_add(weight);
                    if Threshold::Validity.is_met(invalid_reports, view.n_shards) {
                        return Err(SdkError::BlobInvalid(*blob_id));
                    }
                }
                Err(SliverFailure::Node(error)) => {
                    failures += 1;
                    last_failure = error.to_string();
                }
                Err(SliverFailure::Invalid(error)) => {
                    failures += 1;
                    last_failure = format!("invalid sliver of pair {}: {error}", pair.0);
                }
            }
        }
        in_flight.abort_all();
        Ok(())
    }

    /// Metadata from the first member whose answer verifies against the blob ID.
    pub(crate) async fn read_metadata(
        &self,
        view: &CommitteeView,
        clients: &[Option<NodeClient>],
        blob_id: &BlobId,
        config: &EncodingConfig,
    ) -> Result<VerifiedBlobMetadataWithId, SdkError> {
        let mut requests = JoinSet::new();
        for (index, client) in clients.iter().enumerate() {
            let Some(client) = client.clone() else {
                continue;
            };
            // Previous owners (after the members) answer with no shard weight.
            let weight = view
                .committee
                .members()
                .get(index)
                .map_or(0, |member| member.weight);
            let blob_id = *blob_id;
            let limit = metadata_response_limit(view.n_shards);
            requests.spawn(async move {
                let answer = client.get_metadata_with_limit(&blob_id, limit).await;
                (weight, answer)
            });
        }
        let (mut not_found, mut invalid, mut answered) = (0u16, 0u16, 0u16);
        while let Some(joined) = requests.join_next().await {
            let Ok((weight, answer)) = joined else {
                continue;
            };
            if !matches!(&answer, Err(NodeClientError::Transport(_))) {
                answered = answered.saturating_add(weight);
            }
            match answer {
                Ok(metadata) => {
                    if let Ok(verified) = verify_metadata(metadata, blob_id, config) {
                        requests.abort_all();
                        return Ok(verified);
                    }
                }
                Err(error) if error.reason() == Some(ErrorReason::BlobInvalid) => {
                    invalid = invalid.saturating_add(weight);
                    if Threshold::Validity.is_met(invalid, view.n_shards) {
                        requests.abort_all();
                        return Err(SdkError::BlobInvalid(*blob_id));
                    }
                }
                Err(error) if error.is_not_found() => not_found = not_found.saturating_add(weight),
                Err(_) => {}
            }
        }
        // Every node that answered, at least one correct shard's weight, does not have it.
        if Threshold::Validity.is_met(not_found, view.n_shards) && not_found == answered {
            return Err(SdkError::BlobNotFound(*blob_id));
        }
        Err(SdkError::NotEnoughSlivers {
            blob_id: *blob_id,
            detail: "no node returned valid metadata".into(),
        })
    }
}

/// Given `(weight, value)` answers sorted best first, the best value that nodes of at least one
/// correct shard's weight (validity) report or exceed.
/// Storage confirmations of one blob (all with the same message) and their signers' weight.
#[derive(Debug, Default)]
struct Confirmations {
    signed: Vec<SignedStorageConfirmation>,
    signers: Vec<u16>,
    weight: u16,
}

impl Confirmations {
    fn push(&mut self, confirmation: SignedStorageConfirmation, signer: u16, weight: u16) {
        self.signed.push(confirmation);
        self.signers.push(signer);
        self.weight = self.weight.saturating_add(weight);
    }

    fn len(&self) -> usize {
        self.signed.len()
    }

    /// Moves the confirmations of `batch` whose signatures verify into `self`: all of them
    /// after one aggregate check when it passes (the usual case: one pairing check instead of
    /// one per node), else each checked alone; the others are failures.
    fn check_and_add(
        &mut self,
        batch: &mut Confirmations,
        view: &CommitteeView,
        failures: &mut Vec<String>,
    ) {
        let batch = std::mem::take(batch);
        let aggregate_verifies = batch.len() > 1
            && ConfirmationCertificate::from_signed_messages_and_indices(
                &batch.signed,
                &batch.signers,
            )
            .is_ok_and(|certificate| certificate.verify_signature(&view.committee).is_ok());
        for (confirmation, signer) in batch.signed.into_iter().zip(batch.signers) {
            let member = &view.members[usize::from(signer)];
            if !aggregate_verifies {
                if let Err(error) = confirmation.verify_signature(&member.public_key) {
                    failures.push(format!("{}: invalid confirmation: {error}", member.url));
                    continue;
                }
            }
            let weight = view.committee.members()[usize::from(signer)].weight;
            self.push(confirmation, signer, weight);
        }
    }
}

/// Chunks of a streamed blob waiting for the consumer.
const STREAM_CHUNKS_BUFFERED: usize = 4;

/// The largest chunk a blob stream yields.
const STREAM_CHUNK_BYTES: u64 = 1 << 20;

/// A blob being read: its size, then its bytes in order ([`StorageNodes::read_stream`]).
pub struct BlobStream {
    /// The blob's size in bytes: the chunks add up to it unless one is an error.
    pub size: u64,
    /// The blob's bytes, in order, in chunks of at most 1 MiB; an error item ends it early.
    pub chunks: BoxStream<'static, Result<Bytes, SdkError>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// How [`emit_rows`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EmitEnd {
    /// Every byte was sent.
    Sent,
    /// The consumer went away.
    ConsumerGone,
    /// No more rows will be announced (the read ended, having failed) or one could not be
    /// read back (the error was sent).
    RowsAbandoned,
}

/// Marks `rows` as ready to be sent.
fn announce(ready: &watch::Sender<Vec<bool>>, rows: &[usize]) {
    ready.send_modify(|ready| {
        for row in rows {
            if let Some(flag) = ready.get_mut(*row) {
                *flag = true;
            }
        }
    });
}

/// Sends the first `size` bytes of `out` in order, each row once `ready` announces it, in
/// chunks of at most [`STREAM_CHUNK_BYTES`]; the last chunk only once the last flag of `ready`
/// says the whole read succeeded, so that a stream ends complete only if a whole read would
/// have succeeded (a small blob's rows may all come from fewer than `n - 2f` nodes).
async fn emit_rows(
    out: Arc<File>,
    mut ready: watch::Receiver<Vec<bool>>,
    size: u64,
    row_length: usize,
    sender: &mpsc::Sender<Result<Bytes, SdkError>>,
) -> EmitEnd {
    let row_length = (row_length as u64).max(1);
    let succeeded = |ready: &Vec<bool>| ready.last().copied().unwrap_or(false);
    if size == 0 && ready.wait_for(succeeded).await.is_err() {
        return EmitEnd::RowsAbandoned;
    }
    for row in 0..size.div_ceil(row_length) {
        let index = usize::try_from(row).unwrap_or(usize::MAX);
        let announced = ready
            .wait_for(|ready| ready.get(index).copied().unwrap_or(false))
            .await
            .is_ok();
        if !announced {
            return EmitEnd::RowsAbandoned;
        }
        let (start, end) = (row * row_length, ((row + 1) * row_length).min(size));
        let mut at = start;
        while at < end {
            let piece = (end - at).min(STREAM_CHUNK_BYTES);
            if at + piece == size && ready.wait_for(succeeded).await.is_err() {
                return EmitEnd::RowsAbandoned;
            }
            let file = out.clone();
            let read = spawn_blocking(move || {
                let mut buf = vec![0u8; usize::try_from(piece).unwrap_or(0)];
                file.read_exact_at(&mut buf, at)
                    .map(|()| Bytes::from(buf))
                    .map_err(|error| io_error("reading back a row being streamed".into(), error))
            })
            .await
            .and_then(|read| read);
            let failed = read.is_err();
            if sender.send(read).await.is_err() {
                return EmitEnd::ConsumerGone;
            }
            if failed {
                return EmitEnd::RowsAbandoned;
            }
            at += piece;
        }
    }
    EmitEnd::Sent
}

fn first_with_validity<T>(sorted: Vec<(u16, T)>, n_shards: u16) -> Option<T> {
    let mut weight = 0u16;
    for (w, value) in sorted {
        weight = weight.saturating_add(w);
        if Threshold::Validity.is_met(weight, n_shards) {
            return Some(value);
        }
    }
    None
}

/// What [`StorageNodes::existing_status`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExistingStatus {
    /// Proven invalid on chain, by this event.
    Invalid(EventId),
    /// Certified permanent until this end epoch (exclusive), by this event.
    CertifiedUntil(Epoch, EventId),
}

/// What a read works from: the committee, its encoding, a client per member and the
/// blob's verified metadata.
struct ReadSource {
    blob_id: BlobId,
    view: CommitteeView,
    config: EncodingConfig,
    /// A client per member, then per [`Self::previous_holders`] entry.
    clients: Vec<Option<NodeClient>>,
    /// While shards move: the previous owners of the moved shards, with those shards.
    previous_holders: Vec<MemberInfo>,
    metadata: Arc<VerifiedBlobMetadataWithId>,
}

impl ReadSource {
    /// The blob's size in bytes.
    fn size(&self) -> u64 {
        self.metadata.metadata().unencoded_length()
    }

    /// Every `(pair, index in clients)` of a member holding it, by pair index; then, while
    /// shards move, the same for their previous owners.
    fn holders(&self) -> Vec<(SliverPairIndex, usize)> {
        let by_pair = |members: &[MemberInfo], offset: usize| {
            let mut by_pair: Vec<(SliverPairIndex, usize)> = Vec::new();
            for (index, member) in members.iter().enumerate() {
                for shard in &member.shards {
                    by_pair.push((
                        shard.to_pair_index(self.view.n_shards, &self.blob_id),
                        offset + index,
                    ));
                }
            }
            by_pair.sort_unstable();
            by_pair
        };
        let mut holders = by_pair(&self.view.members, 0);
        holders.extend(by_pair(&self.previous_holders, self.view.members.len()));
        holders
    }
}

/// `bytes[range]`; an error if the range is not within `bytes`.
fn slice_range(bytes: &[u8], range: &Range<u64>) -> Result<Vec<u8>, SdkError> {
    usize::try_from(range.start)
        .ok()
        .zip(usize::try_from(range.end).ok())
        .and_then(|(start, end)| bytes.get(start..end))
        .map(<[u8]>::to_vec)
        .ok_or(SdkError::InvalidRange {
            start: range.start,
            end: range.end,
            size: bytes.len() as u64,
        })
}

/// The part of `range` (blob bytes) that row `index` holds, from the row's `data` (rows are
/// `row` bytes long); `None` if the row does not overlap the range or `data` is too short.
/// Never panics, whatever the inputs.
fn row_slice<'a>(data: &'a [u8], index: u64, row: u64, range: &Range<u64>) -> Option<&'a [u8]> {
    let row_start = index.checked_mul(row)?;
    let row_end = row_start.checked_add(row)?;
    let from = range.start.max(row_start).checked_sub(row_start)?;
    let to = range.end.min(row_end).checked_sub(row_start)?;
    if from >= to {
        return None;
    }
    data.get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
}

/// Checks metadata a node answered for `blob_id`: they must claim `blob_id` and hash to it
/// under `config` (a node answering another blob's metadata, even genuine ones, is refused).
pub(crate) fn verify_metadata(
    metadata: BlobMetadataWithId,
    blob_id: &BlobId,
    config: &EncodingConfig,
) -> Result<VerifiedBlobMetadataWithId, String> {
    if metadata.blob_id != *blob_id {
        return Err(format!(
            "asked for the metadata of {blob_id}, got those of {}",
            metadata.blob_id
        ));
    }
    let verified = metadata.verify(config).map_err(|error| error.to_string())?;
    if verified.blob_id() != blob_id {
        return Err(format!("the metadata are those of {}", verified.blob_id()));
    }
    Ok(verified)
}

/// Fetches the sliver of axis `T` of `pair` from `client` (answer capped at what the sliver
/// can be) and checks it: it must be the sliver of that pair (a genuine sliver of another row
/// or column is a lie too) and verify against `metadata`. `weight` is the node's, for a report
/// that the blob is invalid.
async fn fetch_verified_sliver<T: EncodingAxis>(
    client: &NodeClient,
    metadata: Arc<VerifiedBlobMetadataWithId>,
    pair: SliverPairIndex,
    weight: u16,
) -> Result<SliverData<T>, SliverFailure> {
    let blob_id = *metadata.blob_id();
    let limit = sliver_response_limit(metadata.layout(), T::TYPE);
    let sliver = match client
        .get_sliver_with_limit::<T>(&blob_id, pair, limit)
        .await
    {
        Ok(sliver) => sliver,
        Err(error) if error.reason() == Some(ErrorReason::BlobInvalid) => {
            return Err(SliverFailure::ReportedInvalid(weight))
        }
        Err(error) => return Err(SliverFailure::Node(error)),
    };
    let n_shards = metadata.config().n_shards();
    let expected = pair.sliver_index(T::TYPE, n_shards);
    if Some(sliver.index) != expected {
        return Err(SliverFailure::Invalid(format!(
            "asked for the {} sliver of pair {}, got sliver {}",
            T::TYPE,
            pair.get(),
            sliver.index.get()
        )));
    }
    spawn_blocking(move || {
        sliver
            .verify(&metadata)
            .map(|()| sliver)
            .map_err(|error| format!("does not match the metadata: {error}"))
    })
    .await
    .unwrap_or_else(|error| Err(error.to_string()))
    .map_err(SliverFailure::Invalid)
}

/// What a sliver fetch does when nothing answers for `hedge_after` and no other node can be
/// asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stalled {
    /// Keep waiting (up to the request timeout).
    Wait,
    /// Give up with `NotEnoughSlivers` (the caller has a fallback).
    Fail,
}

/// Why a sliver could not be used.
#[derive(Debug)]
enum SliverFailure {
    /// The node answered an error.
    Node(NodeClientError),
    /// The sliver does not verify against the metadata.
    Invalid(String),
    /// The node says the blob is invalid (with its weight).
    ReportedInvalid(u16),
}

/// The slivers a store uploads: an encoding in memory, or one spilled to disk (read back one
/// sliver at a time, off the async runtime). Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) enum Slivers {
    /// Every sliver in memory.
    Memory(Arc<EncodedBlob>),
    /// Every sliver in a spill file.
    Spilled(Arc<SpilledBlob>),
}

impl Slivers {
    /// The blob's verified metadata.
    pub(crate) fn metadata(&self) -> &VerifiedBlobMetadataWithId {
        match self {
            Slivers::Memory(encoded) => &encoded.metadata,
            Slivers::Spilled(spilled) => spilled.metadata(),
        }
    }

    async fn primary(&self, pair: SliverPairIndex) -> Result<Cow<'_, PrimarySliver>, String> {
        self.sliver(pair, |pair| &pair.primary, SpilledBlob::primary)
            .await
    }

    async fn secondary(&self, pair: SliverPairIndex) -> Result<Cow<'_, SecondarySliver>, String> {
        self.sliver(pair, |pair| &pair.secondary, SpilledBlob::secondary)
            .await
    }

    /// The sliver of `pair` on one axis: `in_memory` picks it from a pair in memory, `load`
    /// reads it from the spill file (off the async runtime).
    async fn sliver<T: EncodingAxis>(
        &self,
        pair: SliverPairIndex,
        in_memory: impl FnOnce(&SliverPair) -> &SliverData<T>,
        load: fn(&SpilledBlob, SliverPairIndex) -> Result<SliverData<T>, SdkError>,
    ) -> Result<Cow<'_, SliverData<T>>, String> {
        match self {
            Slivers::Memory(encoded) => encoded
                .sliver_pairs
                .get(usize::from(pair.0))
                .map(|pair| Cow::Borrowed(in_memory(pair)))
                .ok_or_else(|| format!("no sliver pair {}", pair.0)),
            Slivers::Spilled(spilled) => {
                let spilled = spilled.clone();
                spawn_blocking(move || load(&spilled, pair))
                    .await
                    .and_then(|sliver| sliver)
                    .map(Cow::Owned)
                    .map_err(|error| error.to_string())
            }
        }
    }
}

/// `bytes` as semaphore permits of 1 KiB (at least one, at most what a semaphore holds).
fn kib_permits(bytes: u64) -> usize {
    usize::try_from((bytes / 1024).clamp(1, u64::from(u32::MAX >> 4))).unwrap_or(1)
}

/// The upload to one node: metadata, then its slivers, then its confirmation.
struct NodeUpload {
    client: NodeClient,
    encoded: Slivers,
    pairs: Vec<SliverPairIndex>,
    limiter: Arc<Semaphore>,
    /// Bounds the spilled slivers held in memory.
    loaded: Arc<Semaphore>,
    config: SdkConfig,
    blob_type: DeferredBlobType,
    intent: UploadIntent,
}

/// The type a blob's confirmations are asked for, once known (`None`: the blob was not
/// registered, so there is nothing to confirm).
pub(crate) type DeferredBlobType =
    futures::future::Shared<futures::future::BoxFuture<'static, Option<BlobPersistenceType>>>;

impl NodeUpload {
    /// Runs `request` with retries on transient errors, holding a concurrency permit.
    async fn retry<T, F, Fut>(&self, what: &str, request: F) -> Result<T, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, NodeClientError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = {
                let _permit = self.limiter.acquire().await;
                request().await
            };
            match result {
                Ok(value) => return Ok(value),
                Err(error) if error.is_transient() && attempt < self.config.upload_attempts => {
                    tokio::time::sleep(self.config.retry_delay).await;
                }
                Err(error) => return Err(format!("{what}: {error}")),
            }
        }
    }

    /// Room for one more sliver of `axis` in memory, if the slivers come from a spill file.
    async fn acquire_loaded(&self, axis: SliverType) -> Option<SemaphorePermit<'_>> {
        let Slivers::Spilled(spilled) = &self.encoded else {
            return None;
        };
        let bytes = spilled.sliver_length(axis) as u64;
        let permits = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).min(
            u32::try_from(kib_permits(self.config.max_sliver_bytes_in_flight)).unwrap_or(u32::MAX),
        );
        self.loaded.acquire_many(permits).await.ok()
    }

    async fn run(self) -> Result<SignedStorageConfirmation, String> {
        let blob_id = *self.encoded.metadata().blob_id();
        let metadata = self.encoded.metadata().metadata();
        let pending = self.intent == UploadIntent::Pending;
        let client = &self.client;
        self.retry("metadata", || async move {
            if pending {
                match client.put_metadata_pending(&blob_id, metadata).await {
                    Err(error) if error.reason() == Some(ErrorReason::CacheSaturated) => {}
                    result => return result,
                }
            }
            client.put_metadata(&blob_id, metadata).await
        })
        .await?;
        let this = &self;
        let id = &blob_id;
        let primaries = self.pairs.iter().map(|pair| async move {
            let _loaded = this.acquire_loaded(SliverType::Primary).await;
            let sliver = this.encoded.primary(*pair).await?;
            let sliver = &*sliver;
            this.retry("primary sliver", move || this.put_sliver(id, *pair, sliver))
                .await
        });
        let secondaries = self.pairs.iter().map(|pair| async move {
            let _loaded = this.acquire_loaded(SliverType::Secondary).await;
            let sliver = this.encoded.secondary(*pair).await?;
            let sliver = &*sliver;
            this.retry("secondary sliver", move || {
                this.put_sliver(id, *pair, sliver)
            })
            .await
        });
        futures::future::try_join(
            futures::future::try_join_all(primaries),
            futures::future::try_join_all(secondaries),
        )
        .await?;
        let object = match self.blob_type.clone().await {
            Some(BlobPersistenceType::Deletable { object_id }) => Some(object_id),
            Some(_) => None,
            None => return Err("the blob was not registered".into()),
        };
        self.retry("confirmation", || async move {
            if pending {
                client
                    .get_confirmation_waiting(&blob_id, object, PENDING_CONFIRMATION_WAIT)
                    .await
            } else {
                client.get_confirmation(&blob_id, object).await
            }
        })
        .await
    }

    /// PUTs one sliver, with `?pending=true` for a pending upload (plainly if the node's
    /// buffer is full).
    async fn put_sliver<T: EncodingAxis>(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: &SliverData<T>,
    ) -> Result<(), NodeClientError> {
        if self.intent == UploadIntent::Pending {
            match self.client.put_sliver_pending(blob_id, pair, sliver).await {
                Err(error) if error.reason() == Some(ErrorReason::CacheSaturated) => {}
                result => return result,
            }
        }
        self.client.put_sliver(blob_id, pair, sliver).await
    }
}

/// How long a node is asked to wait for the registration of a blob uploaded pending it before
/// it answers a confirmation request (nodes cap it; Walrus's default cap is 5 s).
const PENDING_CONFIRMATION_WAIT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use walrus_node_client::testing::{encoded_blob, Behavior, MockNode};

    use super::*;

    const N_SHARDS: u16 = 10;

    /// A committee of `n` members of weight 1 (keys from seeds `0..n`) and their keys.
    fn signing_committee(n: u16) -> (CommitteeView, Vec<walrus_core::crypto::ProtocolKeyPair>) {
        use walrus_core::crypto::{Committee, CommitteeMember, ProtocolKeyPair};
        let keys: Vec<ProtocolKeyPair> = (0..n)
            .map(|seed| ProtocolKeyPair::from_seed([u8::try_from(seed).unwrap(); 32]))
            .collect();
        let weights = keys
            .iter()
            .map(|key| CommitteeMember {
                public_key: key.public().clone(),
                weight: 1,
            })
            .collect();
        let members = keys
            .iter()
            .enumerate()
            .map(|(index, key)| MemberInfo {
                node_id: walrus_core::ObjectId([u8::try_from(index).unwrap(); 32]),
                public_key: key.public().clone(),
                url: format!("http://node-{index}"),
                network_public_key: Vec::new(),
                shards: vec![walrus_core::ShardIndex(u16::try_from(index).unwrap())],
            })
            .collect();
        let view = CommitteeView {
            epoch: 3,
            n_shards: n,
            committee: Committee::new(3, n, weights).unwrap(),
            members,
            own_index: None,
            own_shards: std::collections::BTreeSet::new(),
            previous: None,
            in_transition: false,
        };
        (view, keys)
    }

    #[test]
    fn confirmations_are_checked_in_one_aggregate_or_alone_when_one_is_forged() {
        use walrus_core::messages::Confirmation;
        let (view, keys) = signing_committee(7);
        let blob_id = BlobId([5; 32]);
        let message = Confirmation::for_blob(3, blob_id, BlobPersistenceType::Permanent);
        let signed: Vec<SignedStorageConfirmation> =
            keys.iter().map(|key| key.sign_message(&message)).collect();

        // All genuine: every one is kept (one aggregate check).
        let mut batch = Confirmations::default();
        for (index, confirmation) in signed.iter().enumerate() {
            batch.push(confirmation.clone(), u16::try_from(index).unwrap(), 1);
        }
        let mut checked = Confirmations::default();
        let mut failures = Vec::new();
        checked.check_and_add(&mut batch, &view, &mut failures);
        assert_eq!((checked.len(), checked.weight, batch.len()), (7, 7, 0));
        assert!(failures.is_empty());
        let certificate = ConfirmationCertificate::from_signed_messages_and_indices(
            &checked.signed,
            &checked.signers,
        )
        .unwrap();
        certificate
            .verify(&view.committee, Threshold::Quorum)
            .unwrap();

        // Member 2 answers with member 4's signature, member 5 with a signature over another
        // blob: the aggregate fails and each is checked alone; only those two are refused.
        let other = keys[5].sign_message(&Confirmation::for_blob(
            3,
            BlobId([6; 32]),
            BlobPersistenceType::Permanent,
        ));
        let mut forged = signed.clone();
        forged[2].signature = signed[4].signature.clone();
        forged[5].signature = other.signature;
        let mut batch = Confirmations::default();
        for (index, confirmation) in forged.into_iter().enumerate() {
            batch.push(confirmation, u16::try_from(index).unwrap(), 1);
        }
        let mut checked = Confirmations::default();
        let mut failures = Vec::new();
        checked.check_and_add(&mut batch, &view, &mut failures);
        assert_eq!(checked.signers, [0, 1, 3, 4, 6]);
        assert_eq!(checked.weight, 5);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].starts_with("http://node-2") && failures[1].starts_with("http://node-5")
        );
    }

    fn client(node: &MockNode) -> NodeClient {
        NodeClient::new(node.url()).unwrap()
    }

    fn pairs(range: Range<u16>) -> Vec<SliverPairIndex> {
        range.map(SliverPairIndex).collect()
    }

    /// An answer larger than any legitimate one of a 1500-byte blob.
    fn oversize() -> Behavior {
        Behavior::Body(vec![0; 8 << 20])
    }

    #[tokio::test]
    async fn a_sliver_is_the_one_asked_for() {
        let blob = Arc::new(encoded_blob(N_SHARDS, 1500, 0x5a));
        let metadata = Arc::new(blob.metadata.clone());
        let start = |behavior| MockNode::start(blob.clone(), pairs(0..N_SHARDS), behavior);
        let honest = start(Behavior::Honest).await;
        for pair in pairs(0..N_SHARDS) {
            let sliver =
                fetch_verified_sliver::<Primary>(&client(&honest), metadata.clone(), pair, 1)
                    .await
                    .unwrap();
            assert_eq!(sliver, blob.sliver_pairs[usize::from(pair.0)].primary);
        }

        // A genuine sliver (it verifies against the metadata) of another row is a lie.
        let liar = start(Behavior::OtherSliver).await;
        let other = &blob.sliver_pairs[4].primary;
        other.verify(&metadata).unwrap();
        match fetch_verified_sliver::<Primary>(
            &client(&liar),
            metadata.clone(),
            SliverPairIndex(3),
            1,
        )
        .await
        {
            Err(SliverFailure::Invalid(error)) => {
                assert!(
                    error.contains("asked for the primary sliver of pair 3, got sliver 4"),
                    "{error}"
                )
            }
            other => panic!("expected an invalid sliver, got {other:?}"),
        }

        // A body larger than the sliver can be is refused while streaming.
        let big = start(oversize()).await;
        let limit = sliver_response_limit(metadata.layout(), walrus_core::SliverType::Primary);
        assert!(limit < 8 << 20);
        match fetch_verified_sliver::<Primary>(
            &client(&big),
            metadata.clone(),
            SliverPairIndex(0),
            1,
        )
        .await
        {
            Err(SliverFailure::Node(NodeClientError::ResponseTooLarge { limit: refused })) => {
                assert_eq!(refused, limit)
            }
            other => panic!("expected a refused body, got {other:?}"),
        }
        // A node without the sliver fails with its error.
        let empty = start(Behavior::Refuse(ErrorReason::MetadataNotFound)).await;
        assert!(matches!(
            fetch_verified_sliver::<Primary>(&client(&empty), metadata, SliverPairIndex(0), 1).await,
            Err(SliverFailure::Node(error)) if error.is_not_found()
        ));
    }

    #[tokio::test]
    async fn metadata_are_those_of_the_blob_asked_for() {
        let blob = Arc::new(encoded_blob(N_SHARDS, 1500, 0x5a));
        let config = *blob.metadata.config();
        let blob_id = *blob.metadata.blob_id();
        let limit = metadata_response_limit(N_SHARDS);
        let start = |behavior| MockNode::start(blob.clone(), [], behavior);
        let honest = start(Behavior::Honest).await;
        let metadata = client(&honest)
            .get_metadata_with_limit(&blob_id, limit)
            .await
            .unwrap();
        assert_eq!(
            verify_metadata(metadata, &blob_id, &config).unwrap(),
            blob.metadata
        );

        // Genuine metadata of another blob: refused by the client, and by the SDK's check.
        let other = encoded_blob(N_SHARDS, 1500, 0x33)
            .metadata
            .into_unverified();
        let liar = start(Behavior::Metadata(other.clone())).await;
        let error = client(&liar)
            .get_metadata_with_limit(&blob_id, limit)
            .await
            .unwrap_err();
        assert!(matches!(error, NodeClientError::Decode(_)), "{error:?}");
        let error = verify_metadata(other.clone(), &blob_id, &config).unwrap_err();
        assert!(error.contains("got those of"), "{error}");
        // Metadata claiming the blob ID but hashing to another one.
        let forged = BlobMetadataWithId {
            blob_id,
            metadata: other.metadata,
        };
        assert!(verify_metadata(forged, &blob_id, &config).is_err());

        // More bytes than metadata of N_SHARDS shards can be.
        let big = start(oversize()).await;
        let error = client(&big)
            .get_metadata_with_limit(&blob_id, limit)
            .await
            .unwrap_err();
        assert!(
            matches!(error, NodeClientError::ResponseTooLarge { limit: refused } if refused == limit),
            "{error:?}"
        );
    }

    #[test]
    fn row_slices_never_panic() {
        let data: Vec<u8> = (0..100).collect();
        // Rows of 100 bytes: row 2 holds bytes 200..300.
        assert_eq!(row_slice(&data, 2, 100, &(250..260)), Some(&data[50..60]));
        assert_eq!(row_slice(&data, 2, 100, &(150..260)), Some(&data[..60]));
        assert_eq!(row_slice(&data, 2, 100, &(250..1000)), Some(&data[50..]));
        assert_eq!(row_slice(&data, 2, 100, &(0..1000)), Some(&data[..]));
        // Rows that do not overlap the range, short data, overflowing positions: `None`.
        assert_eq!(row_slice(&data, 0, 100, &(250..260)), None);
        assert_eq!(row_slice(&data, 5, 100, &(250..260)), None);
        assert_eq!(row_slice(&data[..10], 2, 100, &(250..260)), None);
        assert_eq!(row_slice(&data, u64::MAX, 100, &(0..u64::MAX)), None);
        assert_eq!(row_slice(&data, 1, u64::MAX, &(0..u64::MAX)), None);
        let reversed = |start, end| Range { start, end };
        assert_eq!(row_slice(&data, 2, 100, &reversed(260, 250)), None);
        for index in [0, 1, 2, 3, 1 << 40, u64::MAX] {
            for row in [0, 1, 100, u64::MAX] {
                for range in [0..0, 0..1, 199..301, reversed(5, 3), u64::MAX - 1..u64::MAX] {
                    let _ = row_slice(&data, index, row, &range);
                }
            }
        }
        assert_eq!(
            slice_range(&data, &(10..20)).unwrap(),
            data[10..20].to_vec()
        );
        assert!(matches!(
            slice_range(&data, &(90..101)),
            Err(SdkError::InvalidRange { size: 100, .. })
        ));
        assert!(slice_range(&data, &reversed(20, 10)).is_err());
    }
}
