//! [`WalrusSdk::store_many`]: many blobs in one call, with the chain work batched (up to
//! [`MAX_BLOBS_PER_TRANSACTION`] blobs registered, and certified, per transaction) and the
//! uploads of several blobs in parallel. Each blob gets its own result: a failure of one blob
//! (too large, its upload or certificate failed) does not fail the others.

use std::{collections::HashMap, sync::Arc};

use futures::{channel::oneshot, future::Either, FutureExt as _, StreamExt as _};
use walrus_chain::client::{committee::CommitteeView, MAX_BLOBS_PER_TRANSACTION};
use walrus_core::{
    encoding::encode_blob,
    messages::{BlobPersistenceType, ConfirmationCertificate},
    BlobId, ObjectId,
};
use walrus_node_client::api::UploadIntent;

use super::{encoding_config, spawn_blocking, StorePlan, MAX_OVERLAPPED_UPLOAD_BYTES};
use crate::client::{NoProgress, Progress, SdkError, StoreOptions, StoreOutcome, WalrusSdk};
use crate::nodes::Slivers;

/// Blobs whose uploads run at once in [`WalrusSdk::store_many`] (each upload itself sends
/// up to `max_concurrent_requests` requests at once).
pub const PARALLEL_BLOB_UPLOADS: usize = 8;

/// A storage node's default buffer of uploads pending registration (`[limits]` of the node's
/// configuration): blobs, slivers and bytes. A batch uploaded alongside its registration
/// stays within half of each.
const PENDING_BUFFER_BLOBS: usize = 1024;
/// See [`PENDING_BUFFER_BLOBS`].
const PENDING_BUFFER_SLIVERS: usize = 8192;
/// See [`PENDING_BUFFER_BLOBS`].
const PENDING_BUFFER_BYTES: u64 = 256 << 20;

/// What [`WalrusSdk::store_many`] did.
#[derive(Debug)]
pub struct BatchOutcome {
    /// One result per blob, in the order the blobs were given. Blobs with the same bytes are
    /// stored once and share the outcome.
    pub results: Vec<Result<StoreOutcome, SdkError>>,
    /// Batched registration transactions sent (each registers up to
    /// [`MAX_BLOBS_PER_TRANSACTION`] blobs).
    pub register_transactions: usize,
    /// Batched certification transactions sent.
    pub certify_transactions: usize,
    /// Blobs that fell back to being registered or certified on their own (their batch's
    /// transaction failed, or their upload failed and was retried with a newer committee).
    pub one_by_one: usize,
}

/// A blob of the batch on its way: where it is in the input, its encoding and chain plan.
struct Pending {
    /// Index of the first input blob with these bytes.
    index: usize,
    encoded: Slivers,
    plan: StorePlan,
}

/// A registered blob with the certificate of its upload, if the upload reached a quorum.
struct Uploaded {
    pending: Pending,
    object_id: ObjectId,
    certificate: Result<ConfirmationCertificate, SdkError>,
}

impl WalrusSdk {
    /// Stores every blob of `blobs` as `options` say, with the chain work batched: see the
    /// module docs. `progress` counts blobs done (stage `store`). Fails as a whole only if
    /// the committee or the chain's prices cannot be read; anything else is per blob.
    pub async fn store_many(
        &self,
        blobs: Vec<Vec<u8>>,
        options: StoreOptions,
        progress: &dyn Progress,
    ) -> Result<BatchOutcome, SdkError> {
        let total = blobs.len();
        let started = std::time::Instant::now();
        let mut results: Vec<Option<Result<StoreOutcome, SdkError>>> =
            (0..total).map(|_| None).collect();
        let view = self.committee().await?;
        let config = encoding_config(&view)?;
        let encodings = spawn_blocking(move || {
            blobs
                .iter()
                .map(|blob| encode_blob(&config, blob))
                .collect::<Vec<_>>()
        })
        .await?;

        // One store per distinct blob ID; duplicates copy the first one's outcome at the end.
        let mut first_of: HashMap<BlobId, usize> = HashMap::new();
        let mut duplicates: Vec<(usize, usize)> = Vec::new();
        let mut encoded_blobs = Vec::new();
        for (index, encoding) in encodings.into_iter().enumerate() {
            match encoding {
                Ok(encoded) => match first_of.get(encoded.metadata.blob_id()) {
                    Some(&first) => duplicates.push((index, first)),
                    None => {
                        first_of.insert(*encoded.metadata.blob_id(), index);
                        encoded_blobs.push((index, encoded));
                    }
                },
                Err(error) => results[index] = Some(Err(error.into())),
            }
        }

        // Permanent blobs the nodes already hold long enough are not stored again.
        let checks = futures::future::join_all(
            encoded_blobs
                .iter()
                .map(|(_, encoded)| self.already_stored(&view, &encoded.metadata, options)),
        )
        .await;
        let system = self.chain.system().await?;
        let mut pending = Vec::new();
        for ((index, encoded), existing) in encoded_blobs.into_iter().zip(checks) {
            match existing {
                Ok(Some(outcome)) => {
                    results[index] = Some(Ok(outcome));
                    continue;
                }
                Err(error) => {
                    results[index] = Some(Err(error));
                    continue;
                }
                Ok(None) => {}
            }
            match StorePlan::new(&system, &encoded.metadata, options, &[]) {
                Ok(plan) => pending.push(Pending {
                    index,
                    encoded: Slivers::Memory(Arc::new(encoded)),
                    plan,
                }),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        let done = |results: &[Option<_>]| results.iter().filter(|r| r.is_some()).count() as u64;
        progress.update("store", done(&results), total as u64);

        tracing::debug!(
            blobs = pending.len(),
            elapsed = ?started.elapsed(),
            "encoded and checked"
        );
        let mut register_transactions = 0;
        let mut one_by_one = 0;
        // Registered blobs, with the certificate of an upload made alongside the registration
        // (`None`: to upload now).
        let mut registered: Vec<(Pending, ObjectId, Option<ConfirmationCertificate>)> = Vec::new();
        for chunk in chunks(pending) {
            register_transactions += 1;
            let chunk = if self.overlaps_registration(&view, &chunk) {
                match self.register_overlapped(&view, chunk, options).await {
                    Ok(done) => {
                        registered.extend(done);
                        continue;
                    }
                    Err((chunk, error)) => {
                        tracing::info!(%error, blobs = chunk.len(), "batched registration failed; registering blob by blob");
                        chunk
                    }
                }
            } else {
                let registrations: Vec<_> =
                    chunk.iter().map(|p| p.plan.registration.clone()).collect();
                match self.chain.reserve_and_register_blobs(&registrations).await {
                    Ok(blobs) => {
                        registered.extend(
                            chunk
                                .into_iter()
                                .zip(blobs.iter().map(|b| b.id))
                                .map(|(pending, id)| (pending, id, None)),
                        );
                        continue;
                    }
                    Err(error) => {
                        tracing::info!(%error, blobs = chunk.len(), "batched registration failed; registering blob by blob");
                        chunk
                    }
                }
            };
            for pending in chunk {
                one_by_one += 1;
                match self
                    .chain
                    .reserve_and_register_blob(&pending.plan.registration)
                    .await
                {
                    Ok(blob) => registered.push((pending, blob.id, None)),
                    Err(error) => results[pending.index] = Some(Err(error.into())),
                }
            }
        }

        tracing::debug!(
            blobs = registered.len(),
            elapsed = ?started.elapsed(),
            "registered"
        );
        let view_ref = &view;
        let mut uploads = futures::stream::iter(registered)
            .map(|(pending, object_id, certificate)| async move {
                let certificate = match certificate {
                    Some(certificate) => Ok(certificate),
                    None => {
                        self.nodes
                            .upload(
                                view_ref,
                                pending.encoded.clone(),
                                pending.plan.blob_type(object_id),
                                &NoProgress,
                            )
                            .await
                    }
                };
                Uploaded {
                    pending,
                    object_id,
                    certificate,
                }
            })
            .buffer_unordered(PARALLEL_BLOB_UPLOADS);
        let mut uploaded = Vec::new();
        while let Some(upload) = uploads.next().await {
            uploaded.push(upload);
        }
        drop(uploads);
        tracing::debug!(
            blobs = uploaded.len(),
            elapsed = ?started.elapsed(),
            "uploaded"
        );

        let mut certify_transactions = 0;
        let mut leftovers = Vec::new();
        let (ready, failed): (Vec<_>, Vec<_>) = uploaded
            .into_iter()
            .partition(|upload| upload.certificate.is_ok());
        leftovers.extend(failed);
        for chunk in chunks(ready) {
            let certificates: Vec<(ObjectId, &ConfirmationCertificate)> = chunk
                .iter()
                .filter_map(|upload| Some((upload.object_id, upload.certificate.as_ref().ok()?)))
                .collect();
            certify_transactions += 1;
            match self.chain.certify_blobs(&certificates).await {
                Ok(blobs) => {
                    for (upload, blob) in chunk.iter().zip(&blobs) {
                        results[upload.pending.index] = Some(Ok(upload.pending.plan.outcome(blob)));
                    }
                    progress.update("store", done(&results), total as u64);
                }
                Err(error) => {
                    tracing::info!(%error, blobs = chunk.len(), "batched certification failed; certifying blob by blob");
                    leftovers.extend(chunk);
                }
            }
        }

        // Blob by blob: a certificate that could not be used in the batch is tried alone;
        // a failed upload or certificate is retried with a newer committee if the epoch moved.
        for upload in leftovers {
            let Uploaded {
                pending,
                object_id,
                certificate,
            } = upload;
            let (view, certificate) = match certificate {
                Ok(certificate) => (view.clone(), Some(certificate)),
                Err(error) => match self.newer_committee(&view).await {
                    Some(newer) => (newer, None),
                    None => {
                        results[pending.index] = Some(Err(error));
                        continue;
                    }
                },
            };
            one_by_one += 1;
            let result = self
                .upload_and_certify(
                    view,
                    pending.encoded.clone(),
                    &pending.plan,
                    object_id,
                    certificate,
                    &NoProgress,
                )
                .await;
            results[pending.index] = Some(result.map(|blob| pending.plan.outcome(&blob)));
            progress.update("store", done(&results), total as u64);
        }

        for (index, first) in duplicates {
            results[index] = Some(match &results[first] {
                Some(Ok(outcome)) => Ok(outcome.clone()),
                Some(Err(error)) => Err(SdkError::Internal(format!(
                    "the same bytes as blob {first} of the batch, which failed: {error}"
                ))),
                None => Err(SdkError::Internal("not stored".into())),
            });
        }
        progress.update("store", total as u64, total as u64);
        Ok(BatchOutcome {
            results: results
                .into_iter()
                .map(|result| {
                    result.unwrap_or_else(|| Err(SdkError::Internal("not stored".into())))
                })
                .collect(),
            register_transactions,
            certify_transactions,
            one_by_one,
        })
    }

    /// Whether the blobs of `chunk` are uploaded while their registration is on its way: as
    /// for one blob (`SdkConfig::overlap_registration`, small blobs), and only if the chunk's
    /// uploads fit in half of a node's default buffer of pending uploads (the other half for
    /// other clients), so that the nodes buffer them rather than refuse them.
    fn overlaps_registration(&self, view: &CommitteeView, chunk: &[Pending]) -> bool {
        if !self.nodes.config().overlap_registration
            || chunk.iter().any(|pending| {
                pending.encoded.metadata().metadata().unencoded_length()
                    > MAX_OVERLAPPED_UPLOAD_BYTES
            })
            || chunk.len() > PENDING_BUFFER_BLOBS / 2
        {
            return false;
        }
        let most_shards = view
            .members
            .iter()
            .map(|member| member.shards.len())
            .max()
            .unwrap_or(0);
        let n_shards = usize::from(view.n_shards.max(1));
        let slivers = chunk.len() * 2 * most_shards;
        // The encoded length spreads evenly over the shards.
        let bytes: u64 = chunk
            .iter()
            .map(|pending| pending.plan.encoded_length * most_shards as u64 / n_shards as u64)
            .sum();
        slivers <= PENDING_BUFFER_SLIVERS / 2 && bytes <= PENDING_BUFFER_BYTES / 2
    }

    /// Registers `chunk` in one transaction while uploading its blobs (`?pending=true`: the
    /// nodes buffer them until they see the registration); confirmations are asked for once
    /// the registration landed (a deletable blob's name its object). Each registered blob
    /// comes back with its certificate, or `None` if its upload fell short (to be uploaded
    /// again now that it is registered). If the transaction fails, the uploads are dropped
    /// and the chunk comes back with the error.
    async fn register_overlapped(
        &self,
        view: &CommitteeView,
        chunk: Vec<Pending>,
        options: StoreOptions,
    ) -> Result<Vec<(Pending, ObjectId, Option<ConfirmationCertificate>)>, (Vec<Pending>, SdkError)>
    {
        let registrations: Vec<_> = chunk.iter().map(|p| p.plan.registration.clone()).collect();
        let (registered_ids, ids) = oneshot::channel::<Vec<ObjectId>>();
        let ids = ids.map(Result::ok).boxed().shared();
        let registration = async {
            let result = self.chain.reserve_and_register_blobs(&registrations).await;
            if let Ok(blobs) = &result {
                let _ = registered_ids.send(blobs.iter().map(|blob| blob.id).collect());
            }
            result
        };
        let deletable = options.deletable;
        let encodings: Vec<Slivers> = chunk.iter().map(|p| p.encoded.clone()).collect();
        let uploads = futures::stream::iter(encodings.into_iter().enumerate())
            .map(|(position, encoded)| {
                let blob_type = ids
                    .clone()
                    .map(move |ids| {
                        let object_id = *ids?.get(position)?;
                        Some(if deletable {
                            BlobPersistenceType::Deletable { object_id }
                        } else {
                            BlobPersistenceType::Permanent
                        })
                    })
                    .boxed()
                    .shared();
                self.nodes.upload_deferred(
                    view,
                    encoded,
                    blob_type,
                    UploadIntent::Pending,
                    &NoProgress,
                )
            })
            .buffered(PARALLEL_BLOB_UPLOADS)
            .collect::<Vec<_>>();
        // A failed registration ends the uploads at once.
        let (registered, certificates) =
            match futures::future::select(std::pin::pin!(registration), std::pin::pin!(uploads))
                .await
            {
                Either::Left((Ok(blobs), uploads)) => (blobs, uploads.await),
                Either::Left((Err(error), _)) => return Err((chunk, error.into())),
                Either::Right((certificates, registration)) => match registration.await {
                    Ok(blobs) => (blobs, certificates),
                    Err(error) => return Err((chunk, error.into())),
                },
            };
        Ok(chunk
            .into_iter()
            .zip(registered)
            .zip(certificates)
            .map(|((pending, blob), certificate)| {
                if let Err(error) = &certificate {
                    tracing::info!(%error, "the upload alongside the registration fell short; uploading again");
                }
                (pending, blob.id, certificate.ok())
            })
            .collect())
    }
}

/// `items` in chunks of at most [`MAX_BLOBS_PER_TRANSACTION`].
fn chunks<T>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(MAX_BLOBS_PER_TRANSACTION).collect());
    }
    chunks
}
