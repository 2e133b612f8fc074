//! [`WalrusSdk`]: store and read blobs on the network.
//!
//! **Store:** encode (Red Stuff), skip if the nodes already report the blob certified long
//! enough, reserve storage and register the blob on chain, upload metadata and the sliver pairs
//! of each node's shards to every node in parallel (bounded concurrency, retries, timeouts),
//! collect storage confirmations until they carry a quorum (`n - f`) of shards, aggregate them
//! and certify the blob on chain.
//!
//! **Read**, **status**, **audit:** the storage nodes of the current committee
//! ([`StorageNodes`]: nothing of it needs the chain but the committee).
//!
//! Chain failures are [`SdkError::Chain`]; a Move abort of the contracts is classified by
//! [`SdkError::rejection`] (e.g. [`ContractRejection::StorageExceeded`]).

mod batch;

use std::{fs::File, ops::Range, path::Path, sync::Arc, time::Duration};

pub use self::batch::{BatchOutcome, PARALLEL_BLOB_UPLOADS};
pub use crate::nodes::BlobStream;
pub use crate::nodes::{PatchSelection, ReadPatch};
pub use crate::outcome::{QuiltStoreOutcome, StoreOutcome, StoredQuiltPatch};
use crate::{
    audit::{AuditOptions, AuditReport},
    nodes::{ExistingStatus, Slivers, StorageNodes},
    outcome::{BlobObject, ResourceOperation, StorageResource},
    rejection::ContractRejection,
    spill::{io_error, SpilledBlob, DEFAULT_SPILL_THRESHOLD},
};
use walrus_chain::{
    client::{committee::CommitteeView, BlobRegistration, ClientError, WalrusClient},
    contract::{
        blob::Blob,
        redstuff,
        sui::U256,
        system::{storage_units, System},
    },
};
pub use walrus_core::encoding::ConsistencyCheck;
use walrus_core::{
    encoding::{compute_metadata, encode_blob, EncodedBlob, EncodingConfig, DEFAULT_STRIPE_BYTES},
    merkle::Node,
    messages::{BlobPersistenceType, ConfirmationCertificate},
    metadata::VerifiedBlobMetadataWithId,
    quilt::{
        encode_quilt, EncodedQuilt, QuiltError, QuiltFile, QuiltIndex, QuiltLayout, QuiltPatchId,
        QUILT_BLOB_TYPE_ATTRIBUTE,
    },
    BlobId, EncodeError, ObjectId,
};
use walrus_node_client::api::{BlobStatus, EventId, UploadIntent};

/// Why a store or read failed. Match on the variant; the text is for people.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The chain refused or failed (includes Move aborts: see [`SdkError::rejection`]).
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
    /// A store refused before any transaction: the nodes report the blob ID as proven invalid
    /// on chain (Walrus's `markedInvalid`; an honest encoder never produces such a blob, so
    /// this points at a broken encoder or a faulty network).
    #[error(
        "blob {blob_id} is marked invalid on chain (event {} of transaction {}); it is not \
         stored again",
        .event.event_seq,
        .event.tx_digest
    )]
    MarkedInvalid {
        /// The blob.
        blob_id: BlobId,
        /// The `InvalidBlobID` event that marked it.
        event: EventId,
    },
    /// The object is not a deletable blob.
    #[error("blob object {0} is not deletable")]
    NotDeletable(ObjectId),
    /// The requested byte range is not within the blob.
    #[error("byte range {start}..{end} is not within the blob's {size} bytes")]
    InvalidRange {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// The blob's size.
        size: u64,
    },
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A quilt could not be built, or the blob read is not a well-formed quilt, or has no
    /// patch of that identifier.
    #[error("quilt: {0}")]
    Quilt(#[from] QuiltError),
    /// Local work failed (a task panicked).
    #[error("internal error: {0}")]
    Internal(String),
}

impl SdkError {
    /// What the contracts refused, if this is a Move abort of theirs.
    pub fn rejection(&self) -> Option<ContractRejection> {
        match self {
            SdkError::Chain(error) => ContractRejection::of(error),
            _ => None,
        }
    }
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
    /// When a read has made no progress for this long (nodes that are slow or never answer),
    /// it asks further nodes for the slivers still missing (hedged requests), and a ranged
    /// read falls back to a whole read.
    pub hedge_after: Duration,
    /// Files at least this large are stored through a spill file, a stripe at a time
    /// ([`WalrusSdk::store_file`]).
    pub spill_threshold: u64,
    /// Bytes of slivers a read may have in flight, and an upload from a spill file may hold
    /// read back and not yet sent: with the stripe buffers, what bounds a large blob's memory.
    pub max_sliver_bytes_in_flight: u64,
    /// Whether small blobs are uploaded while their registration transaction is on its way
    /// (the nodes buffer them, `?pending=true`; see [`MAX_OVERLAPPED_UPLOAD_BYTES`]). `false`
    /// uploads only after the registration (for comparisons).
    pub overlap_registration: bool,
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
            hedge_after: Duration::from_secs(2),
            spill_threshold: DEFAULT_SPILL_THRESHOLD,
            max_sliver_bytes_in_flight: 128 << 20,
            overlap_registration: true,
        }
    }
}

/// What a store would do: [`WalrusSdk::dry_run_file`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunOutcome {
    /// The blob ID the file would be stored under.
    pub blob_id: BlobId,
    /// Bytes of the file.
    pub unencoded_size: u64,
    /// The encoded size the contract charges storage for.
    pub encoded_size: u64,
    /// What the storage would cost, in FROST.
    pub storage_cost: u64,
}

/// How to store a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Epochs of storage, from the current one (at least 1).
    pub epochs: u32,
    /// Whether the owner may delete the blob before it expires. A permanent blob that the
    /// nodes already hold certified long enough is not stored again.
    pub deletable: bool,
    /// Store even if the blob is already certified long enough.
    pub force: bool,
}

impl StoreOptions {
    /// A permanent blob for `epochs` epochs.
    pub fn permanent(epochs: u32) -> Self {
        Self {
            epochs,
            deletable: false,
            force: false,
        }
    }

    /// A deletable blob for `epochs` epochs.
    pub fn deletable(epochs: u32) -> Self {
        Self {
            epochs,
            deletable: true,
            force: false,
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

/// The client: a chain client (its wallet pays) and the storage nodes of the chain's current
/// committee.
#[derive(Debug, Clone)]
pub struct WalrusSdk {
    chain: Arc<WalrusClient>,
    nodes: StorageNodes,
}

pub(crate) fn encoding_config(view: &CommitteeView) -> Result<EncodingConfig, SdkError> {
    Ok(EncodingConfig::new(view.n_shards)?)
}

/// Largest blob uploaded while its registration is on its way: the nodes buffer such uploads
/// in memory (Walrus's `?pending=true`), which suits small blobs; larger ones are uploaded
/// after the registration.
pub const MAX_OVERLAPPED_UPLOAD_BYTES: u64 = 4 << 20;

/// Whether a store uploads while its registration is on its way: permanent blobs (a deletable
/// blob's confirmations name its object, known only once registered) of at most
/// [`MAX_OVERLAPPED_UPLOAD_BYTES`].
fn overlaps_registration(metadata: &VerifiedBlobMetadataWithId, options: StoreOptions) -> bool {
    !options.deletable && metadata.metadata().unencoded_length() <= MAX_OVERLAPPED_UPLOAD_BYTES
}

pub(crate) async fn spawn_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SdkError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SdkError::Internal(error.to_string()))
}

/// A store's chain side: its registration, size on chain and price.
pub(crate) struct StorePlan {
    registration: BlobRegistration,
    encoded_length: u64,
    cost: u64,
    epochs: u32,
}

impl StorePlan {
    /// The registration of the blob of `metadata` as `options` say, priced with `system`'s prices.
    fn new(
        system: &System,
        metadata: &VerifiedBlobMetadataWithId,
        options: StoreOptions,
        attributes: &[(String, String)],
    ) -> Result<Self, SdkError> {
        let size = metadata.metadata().unencoded_length();
        let encoded_length = redstuff::encoded_blob_length(size, redstuff::RS2, system.n_shards())
            .map_err(|abort| SdkError::Internal(abort.to_string()))?;
        let units = storage_units(encoded_length);
        let cost = units
            .saturating_mul(system.storage_price_per_unit_size)
            .saturating_mul(u64::from(options.epochs))
            .saturating_add(units.saturating_mul(system.write_price_per_unit_size));
        let Node::Digest(root) = metadata.root_hash() else {
            return Err(SdkError::Internal("a blob has a Merkle root".into()));
        };
        Ok(Self {
            registration: BlobRegistration {
                blob_id: U256::from(*metadata.blob_id()),
                root_hash: U256(root),
                size,
                encoding_type: redstuff::RS2,
                deletable: options.deletable,
                epochs_ahead: options.epochs,
                attributes: attributes.to_vec(),
            },
            encoded_length,
            cost,
            epochs: options.epochs,
        })
    }

    /// How the nodes confirm the blob registered as `object_id`.
    fn blob_type(&self, object_id: ObjectId) -> BlobPersistenceType {
        if self.registration.deletable {
            BlobPersistenceType::Deletable { object_id }
        } else {
            BlobPersistenceType::Permanent
        }
    }

    /// The outcome once `certified`.
    fn outcome(&self, certified: &Blob) -> StoreOutcome {
        StoreOutcome::NewlyCreated {
            blob_object: BlobObject::from(certified),
            resource_operation: ResourceOperation::RegisterFromScratch {
                encoded_length: self.encoded_length,
                epochs_ahead: self.epochs,
            },
            cost: self.cost,
        }
    }
}

impl WalrusSdk {
    /// A client over `chain` with `config`.
    pub fn new(chain: WalrusClient, config: SdkConfig) -> Self {
        Self {
            chain: Arc::new(chain),
            nodes: StorageNodes::new(config),
        }
    }

    /// The chain client.
    pub fn chain(&self) -> &WalrusClient {
        &self.chain
    }

    /// The storage-node side, for a committee the caller has.
    pub fn nodes(&self) -> &StorageNodes {
        &self.nodes
    }

    /// The current committee.
    pub async fn committee(&self) -> Result<CommitteeView, SdkError> {
        Ok(self.chain.committee_view(None).await?)
    }

    /// The current committee if its epoch is later than `view`'s (a node said the epoch
    /// moved, or an operation failed and the committee may have changed).
    async fn newer_committee(&self, view: &CommitteeView) -> Option<CommitteeView> {
        match self.committee().await {
            Ok(newer) if newer.epoch > view.epoch => Some(newer),
            _ => None,
        }
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

    /// Stores `blob` as `options` say; see the module docs.
    pub async fn store(
        &self,
        blob: Vec<u8>,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<StoreOutcome, SdkError> {
        let size = blob.len() as u64;
        progress.update("encode", 0, size);
        let (view, encoded) = self.encode(Arc::new(blob)).await?;
        progress.update("encode", size, size);
        self.store_for(
            view,
            Slivers::Memory(Arc::new(encoded)),
            options,
            &[],
            progress,
        )
        .await
    }

    /// Packs `files` into a quilt ([`walrus_core::quilt`]: identifiers unique, at most
    /// `n - f - 1` files) for the current committee's shard count, without storing it.
    pub async fn encode_quilt(&self, files: Vec<QuiltFile>) -> Result<EncodedQuilt, SdkError> {
        let config = encoding_config(&self.committee().await?)?;
        Ok(spawn_blocking(move || encode_quilt(&config, &files)).await??)
    }

    /// Packs `files` into a quilt and stores it: [`Self::encode_quilt`], then
    /// [`Self::store_encoded_quilt`].
    pub async fn store_quilt(
        &self,
        files: Vec<QuiltFile>,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<QuiltStoreOutcome, SdkError> {
        let quilt = self.encode_quilt(files).await?;
        self.store_encoded_quilt(quilt, options, progress).await
    }

    /// Stores `quilt` (packed for the current shard count) as one blob as `options` say,
    /// marked with the attribute `_walrusBlobType` = `quilt`; returns the store's outcome and
    /// every patch's ID.
    pub async fn store_encoded_quilt(
        &self,
        quilt: EncodedQuilt,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<QuiltStoreOutcome, SdkError> {
        let view = self.committee().await?;
        let config = encoding_config(&view)?;
        let layout = QuiltLayout::of(&config, quilt.bytes.len() as u64)?;
        if layout != quilt.layout {
            return Err(SdkError::Internal(format!(
                "the quilt is packed for {} x {} symbols, the committee's {} shards need {} x {}",
                quilt.layout.rows, quilt.layout.columns, view.n_shards, layout.rows, layout.columns
            )));
        }
        let size = quilt.bytes.len() as u64;
        progress.update("encode", 0, size);
        let EncodedQuilt { bytes, index, .. } = quilt;
        let encoded = spawn_blocking(move || encode_blob(&config, &bytes)).await??;
        progress.update("encode", size, size);
        let quilt_id = *encoded.metadata.blob_id();
        let (key, value) = QUILT_BLOB_TYPE_ATTRIBUTE;
        let blob_store_result = self
            .store_for(
                view,
                Slivers::Memory(Arc::new(encoded)),
                options,
                &[(key.to_owned(), value.to_owned())],
                progress,
            )
            .await?;
        Ok(QuiltStoreOutcome {
            blob_store_result,
            stored_quilt_blobs: stored_patches(quilt_id, &index),
        })
    }

    /// Stores the file at `path` as `options` say. A file of at least
    /// [`SdkConfig::spill_threshold`] bytes is encoded a stripe at a time into a spill file
    /// ([`SpilledBlob`]) and uploaded from it a sliver at a time, so memory stays bounded
    /// whatever its size; a smaller one is stored from memory as [`Self::store`] does. A file
    /// too large for the shard count is an error before any chain transaction.
    pub async fn store_file(
        &self,
        path: &Path,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<StoreOutcome, SdkError> {
        let (view, encoded) = self.encode_file(path, progress).await?;
        self.store_for(view, encoded, options, &[], progress).await
    }

    /// What [`Self::store_file`] would do, without any transaction or upload: the file is
    /// encoded as a store would encode it (through a spill file if large) and priced with
    /// the chain's current prices.
    pub async fn dry_run_file(
        &self,
        path: &Path,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<DryRunOutcome, SdkError> {
        let (_, encoded) = self.encode_file(path, progress).await?;
        let plan = StorePlan::new(
            &self.chain.system().await?,
            encoded.metadata(),
            options,
            &[],
        )?;
        Ok(DryRunOutcome {
            blob_id: *encoded.metadata().blob_id(),
            unencoded_size: encoded.metadata().metadata().unencoded_length(),
            encoded_size: plan.encoded_length,
            storage_cost: plan.cost,
        })
    }

    /// What [`Self::store_quilt`] would do, without any transaction or upload: `files` are
    /// packed into a quilt for the current shard count, its blob ID (the quilt ID) computed
    /// and the store priced with the chain's current prices; returns the outcome and every
    /// patch's ID.
    pub async fn dry_run_quilt(
        &self,
        files: Vec<QuiltFile>,
        options: StoreOptions,
    ) -> Result<(DryRunOutcome, Vec<StoredQuiltPatch>), SdkError> {
        let config = encoding_config(&self.committee().await?)?;
        let (quilt, metadata) = spawn_blocking(move || {
            let quilt = encode_quilt(&config, &files)?;
            let metadata = compute_metadata(&config, &quilt.bytes)?;
            Ok::<_, SdkError>((quilt, metadata))
        })
        .await??;
        let (key, value) = QUILT_BLOB_TYPE_ATTRIBUTE;
        let plan = StorePlan::new(
            &self.chain.system().await?,
            &metadata,
            options,
            &[(key.to_owned(), value.to_owned())],
        )?;
        let quilt_id = *metadata.blob_id();
        Ok((
            DryRunOutcome {
                blob_id: quilt_id,
                unencoded_size: metadata.metadata().unencoded_length(),
                encoded_size: plan.encoded_length,
                storage_cost: plan.cost,
            },
            stored_patches(quilt_id, &quilt.index),
        ))
    }

    /// Encodes the file at `path` for the current committee: in memory below
    /// [`SdkConfig::spill_threshold`], through a spill file otherwise. A file too large for
    /// the shard count is an error before anything else.
    async fn encode_file(
        &self,
        path: &Path,
        progress: &dyn Progress,
    ) -> Result<(CommitteeView, Slivers), SdkError> {
        let size = std::fs::metadata(path)
            .map_err(|error| io_error(format!("reading '{}'", path.display()), error))?
            .len();
        if size < self.nodes.config().spill_threshold {
            let blob = std::fs::read(path)
                .map_err(|error| io_error(format!("reading '{}'", path.display()), error))?;
            progress.update("encode", 0, size);
            let (view, encoded) = self.encode(Arc::new(blob)).await?;
            progress.update("encode", size, size);
            return Ok((view, Slivers::Memory(Arc::new(encoded))));
        }
        let view = self.committee().await?;
        let config = encoding_config(&view)?;
        config.blob_layout(size)?;
        progress.update("encode", 0, size);
        let path = path.to_path_buf();
        let spilled =
            spawn_blocking(move || SpilledBlob::encode_file(&config, &path, DEFAULT_STRIPE_BYTES))
                .await??;
        progress.update("encode", size, size);
        Ok((view, Slivers::Spilled(Arc::new(spilled))))
    }

    /// Stores a blob encoded by the caller (for the current committee's shard count). Nothing
    /// checks that the slivers are a consistent encoding: the nodes prove an inconsistent one
    /// invalid once certified. Tests use this to play a faulty writer.
    pub async fn store_encoded(
        &self,
        encoded: EncodedBlob,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<StoreOutcome, SdkError> {
        let view = self.committee().await?;
        if encoded.sliver_pairs.len() != usize::from(view.n_shards) {
            return Err(SdkError::Internal(format!(
                "the blob is encoded for {} shards, the committee has {}",
                encoded.sliver_pairs.len(),
                view.n_shards
            )));
        }
        self.store_for(
            view,
            Slivers::Memory(Arc::new(encoded)),
            options,
            &[],
            progress,
        )
        .await
    }

    /// Stores `encoded` with the committee `view`; a new `Blob` object gets `attributes`.
    async fn store_for(
        &self,
        view: CommitteeView,
        encoded: Slivers,
        options: StoreOptions,
        attributes: &[(String, String)],
        progress: &dyn Progress,
    ) -> Result<StoreOutcome, SdkError> {
        if let Some(outcome) = self
            .already_stored(&view, encoded.metadata(), options)
            .await?
        {
            return Ok(outcome);
        }
        let plan = StorePlan::new(
            &self.chain.system().await?,
            encoded.metadata(),
            options,
            attributes,
        )?;
        let registration = self.chain.reserve_and_register_blob(&plan.registration);
        let (registered, certificate) = if self.nodes.config().overlap_registration
            && overlaps_registration(encoded.metadata(), options)
        {
            // The upload goes while the registration transaction is on its way (the nodes
            // buffer it until they see the registration); if it falls short, the upload is
            // done again once the blob is registered.
            let upload = self.nodes.upload_with_intent(
                &view,
                encoded.clone(),
                BlobPersistenceType::Permanent,
                UploadIntent::Pending,
                progress,
            );
            // A failed registration ends the store at once (the upload is dropped).
            let (registered, certificate) =
                match futures::future::select(std::pin::pin!(registration), std::pin::pin!(upload))
                    .await
                {
                    futures::future::Either::Left((registered, upload)) => {
                        let registered = registered?;
                        (registered, upload.await)
                    }
                    futures::future::Either::Right((certificate, registration)) => {
                        (registration.await?, certificate)
                    }
                };
            if let Err(error) = &certificate {
                tracing::info!(%error, "the upload alongside the registration fell short; uploading again");
            }
            (registered, certificate.ok())
        } else {
            (registration.await?, None)
        };
        let certified = self
            .upload_and_certify(view, encoded, &plan, registered.id, certificate, progress)
            .await?;
        Ok(plan.outcome(&certified))
    }

    /// The outcome of a store that is not needed: a permanent store (not forced) of a blob
    /// the nodes hold certified at least until the store's end epoch; or its refusal, if the
    /// nodes report the blob proven invalid.
    async fn already_stored(
        &self,
        view: &CommitteeView,
        metadata: &VerifiedBlobMetadataWithId,
        options: StoreOptions,
    ) -> Result<Option<StoreOutcome>, SdkError> {
        if options.deletable || options.force {
            return Ok(None);
        }
        let blob_id = *metadata.blob_id();
        let end_epoch = view.epoch.saturating_add(options.epochs);
        match self.nodes.existing_status(view, &blob_id).await {
            Some(ExistingStatus::Invalid(event)) => Err(SdkError::MarkedInvalid { blob_id, event }),
            Some(ExistingStatus::CertifiedUntil(existing_end, event))
                if existing_end >= end_epoch =>
            {
                Ok(Some(StoreOutcome::AlreadyCertified {
                    blob_id,
                    event,
                    end_epoch: existing_end,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Uploads `encoded` (registered as `object_id`) to `view`'s nodes and certifies it
    /// (first with `certificate` if the caller already has one from `view`). Confirmations
    /// are for the committee's epoch; if the epoch moves during the upload or before the
    /// certificate lands, the new committee is asked again (the registration stays valid).
    async fn upload_and_certify(
        &self,
        mut view: CommitteeView,
        encoded: Slivers,
        plan: &StorePlan,
        object_id: ObjectId,
        mut certificate: Option<ConfirmationCertificate>,
        progress: &dyn Progress,
    ) -> Result<Blob, SdkError> {
        let blob_id = *encoded.metadata().blob_id();
        loop {
            let certificate = match certificate.take() {
                Some(certificate) => Ok(certificate),
                None => {
                    self.nodes
                        .upload(&view, encoded.clone(), plan.blob_type(object_id), progress)
                        .await
                }
            };
            let attempt = match certificate {
                Ok(certificate) => self
                    .chain
                    .certify_blob(object_id, &certificate)
                    .await
                    .map_err(SdkError::from),
                Err(error) => Err(error),
            };
            match attempt {
                Ok(certified) => return Ok(certified),
                Err(error) => match self.newer_committee(&view).await {
                    Some(newer) => {
                        tracing::info!(
                            %blob_id, from = view.epoch, to = newer.epoch, %error,
                            "the epoch changed during the store; uploading to the new committee"
                        );
                        view = newer;
                    }
                    None => return Err(error),
                },
            }
        }
    }

    /// Reads `blob_id` from the current committee with Walrus's default consistency check:
    /// see [`StorageNodes::read`].
    pub async fn read(
        &self,
        blob_id: &BlobId,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        self.read_checked(blob_id, ConsistencyCheck::Default, progress)
            .await
    }

    /// Reads `blob_id` from the current committee with the consistency check `check`: see
    /// [`StorageNodes::read_checked`].
    pub async fn read_checked(
        &self,
        blob_id: &BlobId,
        check: ConsistencyCheck,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        self.on_committee(|view| async move {
            self.nodes
                .read_checked(&view, blob_id, check, progress)
                .await
        })
        .await
    }

    /// Reads `blob_id` from the current committee into `out` in bounded memory: see
    /// [`StorageNodes::read_to_file`]. Returns the blob's size.
    pub async fn read_to_file(
        &self,
        blob_id: &BlobId,
        out: &File,
        check: ConsistencyCheck,
        progress: &dyn Progress,
    ) -> Result<u64, SdkError> {
        self.on_committee(|view| async move {
            self.nodes
                .read_to_file(&view, blob_id, out, check, progress)
                .await
        })
        .await
    }

    /// Streams `blob_id` from the current committee: see [`StorageNodes::read_stream`].
    pub async fn read_stream(
        &self,
        blob_id: &BlobId,
        check: ConsistencyCheck,
    ) -> Result<BlobStream, SdkError> {
        self.on_committee(|view| async move { self.nodes.read_stream(&view, blob_id, check).await })
            .await
    }

    /// Reads the bytes `range` of `blob_id` from the current committee: see
    /// [`StorageNodes::read_range`].
    pub async fn read_range(
        &self,
        blob_id: &BlobId,
        range: Range<u64>,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, SdkError> {
        let range = &range;
        self.on_committee(|view| async move {
            self.nodes
                .read_range(&view, blob_id, range.clone(), progress)
                .await
        })
        .await
    }

    /// The size in bytes of `blob_id`: see [`StorageNodes::blob_size`].
    pub async fn blob_size(&self, blob_id: &BlobId) -> Result<u64, SdkError> {
        self.on_committee(|view| async move { self.nodes.blob_size(&view, blob_id).await })
            .await
    }

    /// The index of the quilt `quilt_id`: see [`StorageNodes::read_quilt_index`].
    pub async fn read_quilt_index(
        &self,
        quilt_id: &BlobId,
        progress: &dyn Progress,
    ) -> Result<QuiltIndex, SdkError> {
        self.on_committee(|view| async move {
            self.nodes.read_quilt_index(&view, quilt_id, progress).await
        })
        .await
    }

    /// The patches of `quilt_id` that `selection` names: see [`StorageNodes::read_quilt`].
    pub async fn read_quilt(
        &self,
        quilt_id: &BlobId,
        selection: &PatchSelection,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadPatch>, SdkError> {
        self.on_committee(|view| async move {
            self.nodes
                .read_quilt(&view, quilt_id, selection, progress)
                .await
        })
        .await
    }

    /// The patch `patch_id`: see [`StorageNodes::read_quilt_patch`].
    pub async fn read_quilt_patch(
        &self,
        patch_id: &QuiltPatchId,
        progress: &dyn Progress,
    ) -> Result<ReadPatch, SdkError> {
        self.on_committee(|view| async move {
            self.nodes.read_quilt_patch(&view, patch_id, progress).await
        })
        .await
    }

    /// Runs a read `op` with the current committee and, if it fails for another reason than
    /// the blob being invalid, once more with a newer committee if there is one (the
    /// committee may have moved on and old holders released their shards).
    async fn on_committee<T, F, Fut>(&self, op: F) -> Result<T, SdkError>
    where
        F: Fn(CommitteeView) -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError>>,
    {
        let view = self.committee().await?;
        match op(view.clone()).await {
            Err(error) if !matches!(error, SdkError::BlobInvalid(_)) => {
                match self.newer_committee(&view).await {
                    Some(newer) => op(newer).await,
                    None => Err(error),
                }
            }
            result => result,
        }
    }

    /// The blob's status as the current committee reports it: see [`StorageNodes::status`].
    pub async fn status(&self, blob_id: &BlobId) -> Result<BlobStatus, SdkError> {
        let view = self.committee().await?;
        Ok(self.nodes.status(&view, blob_id).await)
    }

    /// Audits `blob_id` on the current committee: see [`StorageNodes::audit`].
    pub async fn audit(
        &self,
        blob_id: &BlobId,
        options: &AuditOptions,
    ) -> Result<AuditReport, SdkError> {
        let view = self.committee().await?;
        self.nodes.audit(&view, blob_id, options).await
    }

    /// Deletes the deletable `Blob` object `object_id` the wallet owns. Its storage goes back
    /// to the wallet (returned); the nodes drop the data once no other object keeps the blob.
    pub async fn delete(&self, object_id: ObjectId) -> Result<StorageResource, SdkError> {
        let blob = self.chain.get_blob(object_id).await?;
        if !blob.deletable {
            return Err(SdkError::NotDeletable(object_id));
        }
        Ok(StorageResource::from(
            &self.chain.delete_blob(object_id).await?,
        ))
    }

    /// Deletes every deletable `Blob` object of `blob_id` the wallet owns; returns their IDs
    /// (none if the wallet owns no deletable object of it).
    pub async fn delete_blob_id(&self, blob_id: &BlobId) -> Result<Vec<ObjectId>, SdkError> {
        let mut deleted = Vec::new();
        for blob in self.chain.owned_blobs().await? {
            if blob.deletable && BlobId::from(blob.blob_id) == *blob_id {
                self.chain.delete_blob(blob.id).await?;
                deleted.push(blob.id);
            }
        }
        Ok(deleted)
    }

    /// Extends the storage of the `Blob` object `object_id` (owned by the wallet, certified,
    /// not expired) by `epochs` epochs, paid from the wallet; returns the extended object.
    pub async fn extend(&self, object_id: ObjectId, epochs: u32) -> Result<BlobObject, SdkError> {
        Ok(BlobObject::from(
            &self.chain.extend_blob(object_id, epochs).await?,
        ))
    }

    /// Transfers the wallet's `Blob` object `object_id` to `recipient`.
    pub async fn send_blob_object(
        &self,
        object_id: ObjectId,
        recipient: sui_sdk_types::Address,
    ) -> Result<(), SdkError> {
        Ok(self.chain.transfer_blob(object_id, recipient).await?)
    }

    /// The wallet's `Blob` objects, by end epoch; expired ones only if `include_expired`.
    pub async fn list_blobs(&self, include_expired: bool) -> Result<Vec<BlobObject>, SdkError> {
        let epoch = self.chain.system().await?.epoch();
        let mut blobs: Vec<BlobObject> = self
            .chain
            .owned_blobs()
            .await?
            .iter()
            .filter(|blob| include_expired || blob.storage.end_epoch > epoch)
            .map(BlobObject::from)
            .collect();
        blobs.sort_by_key(|blob| (blob.storage.end_epoch, blob.id));
        Ok(blobs)
    }

    /// The `Blob` object `object_id` as the chain holds it (with its attributes, e.g.
    /// `content-type`).
    pub async fn blob_object(&self, object_id: ObjectId) -> Result<Blob, SdkError> {
        Ok(self.chain.get_blob(object_id).await?)
    }
}

/// Every patch of `index` with its ID in the quilt `quilt_id`.
fn stored_patches(quilt_id: BlobId, index: &QuiltIndex) -> Vec<StoredQuiltPatch> {
    index
        .patches
        .iter()
        .map(|patch| StoredQuiltPatch {
            identifier: patch.identifier.clone(),
            quilt_patch_id: patch.patch_id(quilt_id),
        })
        .collect()
}
