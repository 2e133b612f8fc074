//! Reading quilts ([`walrus_core::quilt`]) from the storage nodes: the index and each patch
//! come from the secondary slivers of their own columns (each verified against the quilt's
//! metadata), so reading one patch fetches only its columns, not the whole quilt. If a column
//! cannot be had (its holders down or lying), the whole quilt is read and decoded instead, with
//! the default consistency check.

use std::collections::{BTreeMap, BTreeSet};

use walrus_chain::client::committee::CommitteeView;
use walrus_core::{
    encoding::{ConsistencyCheck, Secondary, SecondarySliver},
    quilt::{
        index_column_count, read_index, read_patch, QuiltColumns, QuiltError, QuiltFile,
        QuiltIndex, QuiltLayout, QuiltPatchId,
    },
    BlobId,
};

use super::{ReadSource, Stalled, StorageNodes};
use crate::client::{Progress, SdkError};

/// Which patches of a quilt to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchSelection {
    /// Every patch.
    All,
    /// The patches with these identifiers (all must exist).
    Identifiers(Vec<String>),
    /// The patches with tag `key` set to `value` (possibly none).
    Tag {
        /// The tag's key.
        key: String,
        /// Its value.
        value: String,
    },
}

/// A patch read from a quilt, with its ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPatch {
    /// The patch's ID.
    pub patch_id: QuiltPatchId,
    /// Its identifier, tags and contents.
    pub file: QuiltFile,
}

/// A quilt being read: its metadata and the columns fetched so far (or the whole quilt, once
/// columns could not be had).
struct QuiltReader<'a> {
    nodes: &'a StorageNodes,
    source: ReadSource,
    layout: QuiltLayout,
    columns: BTreeMap<u16, SecondarySliver>,
    whole: Option<Vec<u8>>,
    progress: &'a dyn Progress,
}

impl<'a> QuiltReader<'a> {
    async fn open(
        nodes: &'a StorageNodes,
        view: &CommitteeView,
        quilt_id: &BlobId,
        progress: &'a dyn Progress,
    ) -> Result<Self, SdkError> {
        let source = nodes.read_source(view, quilt_id).await?;
        let layout = QuiltLayout::of(&source.config, source.size())?;
        Ok(Self {
            nodes,
            source,
            layout,
            columns: BTreeMap::new(),
            whole: None,
            progress,
        })
    }

    /// What has been fetched, as quilt columns.
    fn at_hand(&self) -> &dyn QuiltColumns {
        match &self.whole {
            Some(bytes) => bytes,
            None => &self.columns,
        }
    }

    /// Fetches the secondary slivers of `wanted` columns not yet at hand; if some cannot be
    /// had, reads the whole quilt instead.
    async fn fetch(&mut self, wanted: impl IntoIterator<Item = u16>) -> Result<(), SdkError> {
        if self.whole.is_some() {
            return Ok(());
        }
        let missing: BTreeSet<u16> = wanted
            .into_iter()
            .filter(|column| !self.columns.contains_key(column))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let n_shards = self.source.view.n_shards;
        let candidates = self
            .source
            .holders()
            .into_iter()
            .filter(|(pair, _)| {
                pair.secondary_sliver_index(n_shards)
                    .is_some_and(|index| missing.contains(&index.get()))
            })
            .collect();
        let mut fetched = BTreeMap::new();
        let result = self
            .nodes
            .fetch_slivers_into::<Secondary>(
                &self.source,
                candidates,
                missing.len(),
                Stalled::Fail,
                self.progress,
                |sliver| {
                    fetched.insert(sliver.index.get(), sliver);
                    Ok(())
                },
            )
            .await;
        match result {
            Ok(()) => {
                self.columns.extend(fetched);
                Ok(())
            }
            Err(SdkError::NotEnoughSlivers { detail, .. }) => {
                tracing::info!(
                    quilt_id = %self.source.blob_id, %detail,
                    "quilt columns unavailable; reading the whole quilt"
                );
                let bytes = self
                    .nodes
                    .read_whole(&self.source, ConsistencyCheck::Default, self.progress)
                    .await?;
                self.whole = Some(bytes);
                self.columns.clear();
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    async fn index(&mut self) -> Result<QuiltIndex, SdkError> {
        self.fetch([0]).await?;
        let count = index_column_count(self.at_hand(), &self.layout)?;
        self.fetch(0..column(count)?).await?;
        Ok(read_index(self.at_hand(), &self.layout)?)
    }

    /// Reads the patches in `spans` (start and end column each), fetching all their columns
    /// in one round.
    async fn patches(&mut self, spans: &[(u16, u16)]) -> Result<Vec<ReadPatch>, SdkError> {
        // A span beyond the quilt's columns (a made-up patch ID) is refused before any fetch:
        // secondary slivers past the columns exist (repair slivers) but hold no patch.
        if let Some((start, end)) = spans
            .iter()
            .find(|(start, end)| start >= end || usize::from(*end) > self.layout.columns)
        {
            return Err(QuiltError::Malformed(format!(
                "no patch can take columns {start}..{end} of {}",
                self.layout.columns
            ))
            .into());
        }
        self.fetch(spans.iter().flat_map(|(start, end)| *start..*end))
            .await?;
        spans
            .iter()
            .map(|&(start, end)| {
                let file = read_patch(self.at_hand(), &self.layout, start, end)?;
                Ok(ReadPatch {
                    patch_id: QuiltPatchId {
                        quilt_id: self.source.blob_id,
                        start_index: start,
                        end_index: end,
                    },
                    file,
                })
            })
            .collect()
    }
}

fn column(count: usize) -> Result<u16, SdkError> {
    u16::try_from(count)
        .map_err(|_| SdkError::Quilt(QuiltError::Malformed(format!("{count} columns"))))
}

impl StorageNodes {
    /// The index of the quilt `quilt_id` (its patches, identifiers, tags and columns), from
    /// the slivers of the index's columns.
    pub async fn read_quilt_index(
        &self,
        view: &CommitteeView,
        quilt_id: &BlobId,
        progress: &dyn Progress,
    ) -> Result<QuiltIndex, SdkError> {
        QuiltReader::open(self, view, quilt_id, progress)
            .await?
            .index()
            .await
    }

    /// The patches of `quilt_id` that `selection` names, in quilt order (for
    /// [`PatchSelection::Identifiers`], in the order asked): the index's columns, then the
    /// patches' columns.
    pub async fn read_quilt(
        &self,
        view: &CommitteeView,
        quilt_id: &BlobId,
        selection: &PatchSelection,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadPatch>, SdkError> {
        let mut reader = QuiltReader::open(self, view, quilt_id, progress).await?;
        let index = reader.index().await?;
        let patches = match selection {
            PatchSelection::All => index.patches.iter().collect(),
            PatchSelection::Identifiers(identifiers) => index.by_identifiers(identifiers)?,
            PatchSelection::Tag { key, value } => index.by_tag(key, value),
        };
        let spans: Vec<(u16, u16)> = patches
            .iter()
            .map(|patch| (patch.start_index, patch.end_index))
            .collect();
        reader.patches(&spans).await
    }

    /// The patch `patch_id`, from its columns alone (the index is not read).
    pub async fn read_quilt_patch(
        &self,
        view: &CommitteeView,
        patch_id: &QuiltPatchId,
        progress: &dyn Progress,
    ) -> Result<ReadPatch, SdkError> {
        let mut reader = QuiltReader::open(self, view, &patch_id.quilt_id, progress).await?;
        let mut patches = reader
            .patches(&[(patch_id.start_index, patch_id.end_index)])
            .await?;
        patches
            .pop()
            .ok_or_else(|| SdkError::Internal("one patch asked, none read".into()))
    }
}
