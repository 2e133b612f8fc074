//! [`WalrusSdk`]: store and read blobs on the network.
//!
//! **Store:** encode (Red Stuff), skip if the nodes already report the blob certified long
//! enough, reserve storage and register the blob on chain, upload metadata and the sliver pairs
//! of each node's shards to every node in parallel (bounded concurrency, retries, timeouts),
//! collect storage confirmations until they carry a quorum (`n - f`) of shards, aggregate them
//! and certify the blob on chain.
//!
//! **Read:** metadata from any node (verified against the blob ID), then primary slivers from
//! the nodes holding them, each verified against the metadata, until `n - 2f` decode the blob;
//! the decoded blob is re-encoded and must give the blob ID (an inconsistent blob is
//! [`SdkError::BlobInvalid`], never bytes).

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{sync::Semaphore, task::JoinSet};
use walrus_chain::{
    client::{committee::CommitteeView, BlobRegistration, ClientError, WalrusClient},
    contract::{redstuff, sui::U256, system::storage_units},
};
use walrus_core::{
    crypto::Threshold,
    encoding::{
        decode_and_verify, encode_blob, DecodeError, EncodedBlob, EncodingConfig, Primary,
        SliverData,
    },
    merkle::Node,
    messages::{
        BlobPersistenceType, ConfirmationCertificate, SignedStorageConfirmation,
        StorageConfirmationBody,
    },
    metadata::{BlobMetadataWithId, VerifiedBlobMetadataWithId},
    BlobId, EncodeError, Epoch, ObjectId, SliverPairIndex,
};
use walrus_node_client::{
    api::{BlobStatus, ErrorReason},
    NodeClient, NodeClientError,
};

/// Why a store or read failed. Match on the variant; the text is for people.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The chain refused or failed (includes Move aborts: see [`ClientError::move_abort`]).
    #[error("chain: {0}")]
    Chain(#[from] ClientError),
    /// The blob cannot be encoded (e.g. too large for the shard count).
    #[error("cannot encode the blob: {0}")]
    Encode(#[from] EncodeError),
    /// Too few nodes confirmed storage to reach a quorum.
    #[error("not enough confirmations: {weight} of {required} shards confirmed ({failures})")]
    NotEnoughConfirmations {
        /// Shards that confirmed.
        weight: u16,
        /// Shards needed.
        required: u16,
        /// What went wrong with the others.
        failures: String,
    },
    /// Too few nodes answered with valid metadata or slivers to read the blob.
    #[error("not enough nodes answered to read {blob_id}: {detail}")]
    NotEnoughSlivers {
        /// The blob.
        blob_id: BlobId,
        /// What was missing.
        detail: String,
    },
    /// No node knows the blob (never stored, deleted or expired).
    #[error("blob {0} was not found on the network")]
    BlobNotFound(BlobId),
    /// The blob was proven invalid (inconsistent encoding), or decodes to other bytes.
    #[error("blob {0} is invalid: its encoding is inconsistent")]
    BlobInvalid(BlobId),
    /// Local work failed (a task panicked).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Tuning of network work.
#[derive(Debug, Clone, Copy)]
pub struct SdkConfig {
    /// Requests to storage nodes in flight at once.
    pub max_concurrent_requests: usize,
    /// Attempts per upload request (first try included).
    pub upload_attempts: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
    /// After the quorum of confirmations, how long the remaining uploads may still finish.
    pub straggler_grace: Duration,
    /// Connect timeout of node requests.
    pub connect_timeout: Duration,
    /// Whole-request timeout of node requests.
    pub request_timeout: Duration,
}

impl Default for SdkConfig {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 64,
            upload_attempts: 3,
            retry_delay: Duration::from_millis(300),
            straggler_grace: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// What a store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The blob was registered, uploaded and certified by this call.
    NewlyCreated {
        /// The blob ID.
        blob_id: BlobId,
        /// The `Blob` object on chain.
        object_id: ObjectId,
        /// Unencoded size.
        size: u64,
        /// Encoded size (what storage was bought for).
        encoded_length: u64,
        /// The epoch it was certified in.
        certified_epoch: Epoch,
        /// The first epoch it is no longer stored.
        end_epoch: Epoch,
        /// WAL (FROST) paid for storage and the write.
        cost: u64,
        /// Whether the owner may delete it.
        deletable: bool,
    },
    /// The nodes already store the blob certified until at least the requested end epoch.
    AlreadyCertified {
        /// The blob ID.
        blob_id: BlobId,
        /// Its end epoch.
        end_epoch: Epoch,
    },
}

impl StoreOutcome {
    /// The blob ID.
    pub fn blob_id(&self) -> BlobId {
        match self {
            StoreOutcome::NewlyCreated { blob_id, .. }
            | StoreOutcome::AlreadyCertified { blob_id, .. } => *blob_id,
        }
    }
}

/// Progress reports of long operations (for progress bars).
pub trait Progress: Send + Sync {
    /// `done` of `total` units (bytes or slivers) of `stage` are complete.
    fn update(&self, stage: &str, done: u64, total: u64);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &str, _: u64, _: u64) {}
}

/// The client: a chain client (its wallet pays) and HTTP access to the storage nodes.
#[derive(Debug, Clone)]
pub struct WalrusSdk {
    chain: Arc<WalrusClient>,
    http: reqwest::Client,
    config: SdkConfig,
}

fn encoding_config(view: &CommitteeView) -> Result<EncodingConfig, SdkError> {
    Ok(EncodingConfig::new(view.n_shards)?)
}

fn node_clients(view: &CommitteeView, http: &reqwest::Client) -> Vec<Option<NodeClient>> {
    view.members
        .iter()
        .map(|member| NodeClient::with_http(&member.url, http.clone()).ok())
        .collect()
}

async fn spawn_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SdkError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SdkError::Internal(error.to_string()))
}

impl WalrusSdk {
    /// A client over `chain` with `config`.
    pub fn new(chain: WalrusClient, config: SdkConfig) -> Self {
        let http =
            walrus_node_client::default_http_client(config.connect_timeout, config.request_timeout);
        Self {
            chain: Arc::new(chain),
            http,
            config,
        }
    }

    /// The chain client.
    pub fn chain(&self) -> &WalrusClient {
        &self.chain
    }

    /// The current committee.
    pub async fn committee(&self) -> Result<CommitteeView, SdkError> {
        Ok(self.chain.committee_view(None).await?)
    }

    /// Encodes `blob` for the current committee (CPU-heavy; runs off the async runtime).
    pub async fn encode(
        &self,
        blob: Arc<Vec<u8>>,
    ) -> Result<(CommitteeView, EncodedBlob), SdkError> {
        let view = self.committee().await?;
        let config = encoding_config(&view)?;
        let encoded = spawn_blocking(move || encode_blob(&config, &blob)).await??;
        Ok((view, encoded))
    }

    /// Stores `blob` for `epochs` epochs (from the current one); see the module docs.
    pub async fn store(
        &self,
        blob: Vec<u8>,
        epochs: u32,
        deletable: bool,
        progress: &dyn Progress,
    ) -> Result<StoreOutcome, SdkError> {
        let size = blob.len() as u64;
        progress.update("encode", 0, size);
        let (view, encoded) = self.encode(Arc::new(blob)).await?;
        progress.update("encode", size, size);
        let blob_id = *encoded.metadata.blob_id();
        let end_epoch = view.epoch.saturating_add(epochs);
        if !deletable {
            if let Some(existing_end) = self.certified_until(&view, &blob_id).await {
                if existing_end >= end_epoch {
                    return Ok(StoreOutcome::AlreadyCertified {
                        blob_id,
                        end_epoch: existing_end,
                    });
                }
            }
        }
        let system = self.chain.system().await?;
        let encoded_length = redstuff::encoded_blob_length(size, redstuff::RS2, system.n_shards())
            .map_err(|abort| SdkError::Internal(abort.to_string()))?;
        let units = storage_units(encoded_length);
        let cost = units
            .saturating_mul(system.storage_price_per_unit_size)
            .saturating_mul(u64::from(epochs))
            .saturating_add(units.saturating_mul(system.write_price_per_unit_size));
        let Node::Digest(root) = encoded.metadata.root_hash() else {
            return Err(SdkError::Internal("a blob has a Merkle root".into()));
        };
        let registered = self
            .chain
            .reserve_and_register_blob(&BlobRegistration {
                blob_id: U256::from(blob_id),
                root_hash: U256(root),
                size,
                encoding_type: redstuff::RS2,
                deletable,
                epochs_ahead: epochs,
            })
            .await?;
        let object_id = registered.id;
        let blob_type = if deletable {
            BlobPersistenceType::Deletable { object_id }
        } else {
            BlobPersistenceType::Permanent
        };
        let certificate = self
            .upload(&view, Arc::new(encoded), blob_type, progress)
            .await?;
        let certified = self.chain.certify_blob(object_id, &certificate).await?;
        Ok(StoreOutcome::NewlyCreated {
            blob_id,
            object_id,
            size,
            encoded_length,
            certified_epoch: certified.certified_epoch.unwrap_or(view.epoch),
            end_epoch: certified.storage.end_epoch,
            cost,
            deletable,
        })
    }

    /// The end epoch of a certified permanent registration of `blob_id`, if nodes of at least
    /// one correct shard's weight (validity) report one.
    async fn certified_until(&self, view: &CommitteeView, blob_id: &BlobId) -> Option<Epoch> {
        let statuses = self.statuses(view, blob_id).await;
        let mut ends: Vec<(u16, Epoch)> = statuses
            .into_iter()
            .filter_map(|(weight, status)| match status {
                BlobStatus::Permanent {
                    end_epoch,
                    is_certified: true,
                    ..
                } => Some((weight, end_epoch)),
                _ => None,
            })
            .collect();
        // The largest end epoch that validity-weight nodes report at least.
        ends.sort_unstable_by_key(|(_, end)| std::cmp::Reverse(*end));
        first_with_validity(ends, view.n_shards)
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
        let mut answers = Vec::new();
        while let Some(joined) = requests.join_next().await {
            if let Ok((weight, Ok(status))) = joined {
                answers.push((weight, status));
            }
        }
        answers
    }

    /// The blob's status as the nodes report it: the highest-ranked status that nodes of
    /// validity weight report at least.
    pub async fn status(&self, blob_id: &BlobId) -> Result<BlobStatus, SdkError> {
        let view = self.committee().await?;
        let mut statuses = self.statuses(&view, blob_id).await;
        statuses.sort_by(|a, b| b.1.cmp_rank(&a.1));
        Ok(first_with_validity(statuses, view.n_shards).unwrap_or(BlobStatus::Nonexistent))
    }

    /// Uploads to every member and aggregates their confirmations into a certificate.
    async fn upload(
        &self,
        view: &CommitteeView,
        encoded: Arc<EncodedBlob>,
        blob_type: BlobPersistenceType,
        progress: &dyn Progress,
    ) -> Result<ConfirmationCertificate, SdkError> {
        let blob_id = *encoded.metadata.blob_id();
        let limiter = Arc::new(Semaphore::new(self.config.max_concurrent_requests.max(1)));
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
                config: self.config,
                blob_type,
            };
            tasks.spawn(async move { (index, upload.run().await) });
        }
        let n_members = view.members.len();
        let mut signed: Vec<SignedStorageConfirmation> = Vec::new();
        let mut signers: Vec<u16> = Vec::new();
        let mut weight = 0u16;
        let mut failures: Vec<String> = Vec::new();
        let mut quorum_at: Option<Instant> = None;
        let expected = StorageConfirmationBody { blob_id, blob_type };
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
            let verified = result.and_then(|confirmation| {
                confirmation
                    .verify_signature_and_get_message(&member.public_key, view.epoch, &expected)
                    .map(|_| confirmation)
                    .map_err(|error| format!("invalid confirmation: {error}"))
            });
            match verified {
                Ok(confirmation) => {
                    signed.push(confirmation);
                    signers.push(u16::try_from(index).unwrap_or(u16::MAX));
                    weight = weight.saturating_add(view.committee.members()[index].weight);
                    progress.update("confirm", signers.len() as u64, n_members as u64);
                    if quorum_at.is_none() && Threshold::Quorum.is_met(weight, view.n_shards) {
                        quorum_at = Some(Instant::now());
                    }
                }
                Err(error) => failures.push(format!("{}: {error}", member.url)),
            }
        }
        tasks.abort_all();
        if !Threshold::Quorum.is_met(weight, view.n_shards) {
            return Err(SdkError::NotEnoughConfirmations {
                weight,
                required: Threshold::Quorum.min_weight(view.n_shards),
                failures: failures.join("; "),
            });
        }
        ConfirmationCertificate::from_signed_messages_and_indices(&signed, &signers)
            .map_err(|error| SdkError::Internal(error.to_string()))
    }

    /// Reads `blob_id`; see the module docs.
    pub async fn read(
        &self,
        blob_id: &BlobId,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        let view = self.committee().await?;
        let config = encoding_config(&view)?;
        let clients = node_clients(&view, &self.http);
        let metadata = self
            .read_metadata(&view, &clients, blob_id, &config)
            .await?;
        let required = config.n_source_symbols(walrus_core::SliverType::Primary);
        let total = u64::try_from(required).unwrap_or(u64::MAX);
        // Ask the holders of the first `required` pairs first (source slivers decode by copy),
        // then the others as answers fail.
        let mut by_pair: Vec<(SliverPairIndex, usize)> = Vec::new();
        for (index, member) in view.members.iter().enumerate() {
            for shard in &member.shards {
                by_pair.push((shard.to_pair_index(view.n_shards, blob_id), index));
            }
        }
        by_pair.sort_unstable();
        let metadata = Arc::new(metadata);
        let limiter = Arc::new(Semaphore::new(self.config.max_concurrent_requests.max(1)));
        let mut queue = by_pair.into_iter();
        let mut in_flight = JoinSet::new();
        let mut slivers: BTreeMap<u16, SliverData<Primary>> = BTreeMap::new();
        let mut failures = 0usize;
        let mut invalid_reports = 0u16;
        let mut last_failure = String::new();
        while slivers.len() < required {
            while slivers.len() + in_flight.len() < required {
                let Some((pair, member)) = queue.next() else {
                    break;
                };
                let Some(client) = clients[member].clone() else {
                    continue;
                };
                let metadata = metadata.clone();
                let limiter = limiter.clone();
                let weight = view.committee.members()[member].weight;
                let blob_id = *blob_id;
                in_flight.spawn(async move {
                    let _permit = limiter.acquire_owned().await;
                    let result = client.get_sliver::<Primary>(&blob_id, pair).await;
                    let verified = match result {
                        Ok(sliver) => spawn_blocking(move || {
                            sliver
                                .verify(&metadata)
                                .map(|()| sliver)
                                .map_err(|e| e.to_string())
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()))
                        .map_err(SliverFailure::Invalid),
                        Err(error) if error.reason() == Some(ErrorReason::BlobInvalid) => {
                            Err(SliverFailure::ReportedInvalid(weight))
                        }
                        Err(error) => Err(SliverFailure::Node(error)),
                    };
                    (pair, verified)
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                return Err(SdkError::NotEnoughSlivers {
                    blob_id: *blob_id,
                    detail: format!(
                        "{} of {required} primary slivers ({failures} requests failed; last: {last_failure})",
                        slivers.len()
                    ),
                });
            };
            let (_, result) = joined.map_err(|error| SdkError::Internal(error.to_string()))?;
            match result {
                Ok(sliver) => {
                    slivers.insert(sliver.index.get(), sliver);
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
                    last_failure = format!("sliver does not match the metadata: {error}");
                }
            }
        }
        in_flight.abort_all();
        let length = metadata.metadata().unencoded_length();
        let id = *blob_id;
        let decoded =
            spawn_blocking(move || decode_and_verify(&config, &id, length, slivers.into_values()))
                .await?;
        match decoded {
            Ok(bytes) => Ok(bytes),
            Err(DecodeError::InconsistentBlob { .. }) => Err(SdkError::BlobInvalid(*blob_id)),
            Err(error) => Err(SdkError::NotEnoughSlivers {
                blob_id: *blob_id,
                detail: error.to_string(),
            }),
        }
    }

    /// Metadata from the first member whose answer verifies against the blob ID.
    async fn read_metadata(
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
            let weight = view.committee.members()[index].weight;
            let blob_id = *blob_id;
            requests.spawn(async move { (weight, client.get_metadata(&blob_id).await) });
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
                    if let Ok(verified) = BlobMetadataWithId::verify(metadata, config) {
                        if verified.blob_id() == blob_id {
                            requests.abort_all();
                            return Ok(verified);
                        }
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

/// The upload to one node: metadata, then its slivers, then its confirmation.
struct NodeUpload {
    client: NodeClient,
    encoded: Arc<EncodedBlob>,
    pairs: Vec<SliverPairIndex>,
    limiter: Arc<Semaphore>,
    config: SdkConfig,
    blob_type: BlobPersistenceType,
}

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

    async fn run(self) -> Result<SignedStorageConfirmation, String> {
        let blob_id = *self.encoded.metadata.blob_id();
        let metadata = self.encoded.metadata.metadata();
        self.retry("metadata", || self.client.put_metadata(&blob_id, metadata))
            .await?;
        let this = &self;
        let id = &blob_id;
        let primaries = self.pairs.iter().map(|pair| {
            let sliver = &this.encoded.sliver_pairs[usize::from(pair.0)].primary;
            this.retry("primary sliver", move || {
                this.client.put_sliver(id, *pair, sliver)
            })
        });
        let secondaries = self.pairs.iter().map(|pair| {
            let sliver = &this.encoded.sliver_pairs[usize::from(pair.0)].secondary;
            this.retry("secondary sliver", move || {
                this.client.put_sliver(id, *pair, sliver)
            })
        });
        futures::future::try_join(
            futures::future::try_join_all(primaries),
            futures::future::try_join_all(secondaries),
        )
        .await?;
        let object = match self.blob_type {
            BlobPersistenceType::Deletable { object_id } => Some(object_id),
            _ => None,
        };
        self.retry("confirmation", || {
            self.client.get_confirmation(&blob_id, object)
        })
        .await
    }
}
