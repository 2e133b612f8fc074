//! [`WalrusSdk::store_many`]: many blobs in one call, with the chain work batched (up to
//! [`MAX_BLOBS_PER_TRANSACTION`] blobs registered, and certified, per transaction) and the
//! uploads of several blobs in parallel. Each blob gets its own result: a failure of one blob
//! (too large, its upload or certificate failed) does not fail the others.

use std::{collections::HashMap, sync::Arc};

use futures::StreamExt as _;
use walrus_chain::client::MAX_BLOBS_PER_TRANSACTION;
use walrus_core::{encoding::encode_blob, messages::ConfirmationCertificate, BlobId, ObjectId};

use super::{encoding_config, spawn_blocking, StorePlan};
use crate::client::{NoProgress, Progress, SdkError, StoreOptions, StoreOutcome, WalrusSdk};
use crate::nodes::Slivers;

/// Blobs whose uploads run at once in [`WalrusSdk::store_many`] (each upload itself sends
/// up to `max_concurrent_requests` requests at once).
pub const PARALLEL_BLOB_UPLOADS: usize = 8;

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
            if let Some(outcome) = existing {
                results[index] = Some(Ok(outcome));
                continue;
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
        let mut registered = Vec::new();
        for chunk in chunks(pending) {
            let registrations: Vec<_> = chunk.iter().map(|p| p.plan.registration.clone()).collect();
            register_transactions += 1;
            match self.chain.reserve_and_register_blobs(&registrations).await {
                Ok(blobs) => registered.extend(chunk.into_iter().zip(blobs.iter().map(|b| b.id))),
                Err(error) => {
                    tracing::info!(%error, blobs = chunk.len(), "batched registration failed; registering blob by blob");
                    for pending in chunk {
                        one_by_one += 1;
                        match self
                            .chain
                            .reserve_and_register_blob(&pending.plan.registration)
                            .await
                        {
                            Ok(blob) => registered.push((pending, blob.id)),
                            Err(error) => results[pending.index] = Some(Err(error.into())),
                        }
                    }
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
            .map(|(pending, object_id)| async move {
                let certificate = self
                    .nodes
                    .upload(
                        view_ref,
                        pending.encoded.clone(),
                        pending.plan.blob_type(object_id),
                        &NoProgress,
                    )
                    .await;
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
