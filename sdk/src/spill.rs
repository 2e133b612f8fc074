//! Blobs of any size in bounded memory: encoding a file into a spill file of slivers, and the
//! files a bounded read decodes through.
//!
//! The striped encoder and decoder of `walrus-core` do the work a stripe at a time; this module
//! gives them files (positioned reads and writes, so concurrent uploads can read slivers
//! without sharing a cursor). Spill files are unnamed temporary files: the operating system
//! removes them when they are closed, whatever happens to the process.

use std::{
    collections::BTreeMap,
    fs::File,
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use walrus_core::{
    encoding::{
        encode_striped, EncodingConfig, PrimarySliver, RowStorage, SecondarySliver, SpillLayout,
        StripeStorage, StripedError,
    },
    metadata::VerifiedBlobMetadataWithId,
    SliverPairIndex, SliverType,
};

use crate::client::SdkError;

/// Blobs at least this large are stored through a spill file by [`crate::client::WalrusSdk::store_file`]
/// and read into files a stripe at a time (smaller ones are simply held in memory).
pub const DEFAULT_SPILL_THRESHOLD: u64 = 64 << 20;

/// A spill file: an unnamed temporary file in the system's temporary directory (`TMPDIR`).
pub(crate) fn spill_file() -> Result<File, SdkError> {
    let dir = std::env::temp_dir();
    tempfile::tempfile_in(&dir).map_err(|error| {
        io_error(
            format!("creating a spill file in '{}'", dir.display()),
            error,
        )
    })
}

/// An I/O failure with what was being done.
pub(crate) fn io_error(context: String, error: io::Error) -> SdkError {
    SdkError::Io {
        context,
        source: error,
    }
}

/// A blob file (read) and a spill file (read and written), for the striped encoder.
#[derive(Debug)]
pub(crate) struct FileStripes {
    pub(crate) blob: File,
    pub(crate) spill: File,
}

impl StripeStorage for FileStripes {
    type Error = io::Error;

    fn read_blob(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.blob.read_exact_at(buf, offset)
    }

    fn write_spill(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.spill.write_all_at(data, offset)
    }

    fn read_spill(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.spill.read_exact_at(buf, offset)
    }
}

/// The SDK's error for a striped encoding's or decoding's failure.
pub(crate) fn striped_error(error: StripedError<io::Error>, what: &str) -> SdkError {
    match error {
        StripedError::Encode(error) => SdkError::Encode(error),
        StripedError::Storage(error) => io_error(what.to_string(), error),
        StripedError::NoSuchPair { .. } => SdkError::Internal(error.to_string()),
    }
}

/// A blob encoded into a spill file: every sliver on disk, read back one at a time for upload.
#[derive(Debug)]
pub struct SpilledBlob {
    layout: SpillLayout,
    files: FileStripes,
    metadata: VerifiedBlobMetadataWithId,
    path: PathBuf,
}

impl SpilledBlob {
    /// Encodes the file at `path` for `config` in stripes of about `stripe_bytes`, spilling its
    /// slivers into a temporary file ([`spill_file`]: `TMPDIR`, about 4.5x the blob). Blocking
    /// and CPU-heavy: run it off the async runtime. A blob too large for the shard count is an
    /// error before anything is written.
    pub fn encode_file(
        config: &EncodingConfig,
        path: &Path,
        stripe_bytes: usize,
    ) -> Result<Self, SdkError> {
        let blob = File::open(path)
            .map_err(|error| io_error(format!("opening '{}'", path.display()), error))?;
        let length = blob
            .metadata()
            .map_err(|error| io_error(format!("reading '{}'", path.display()), error))?
            .len();
        let layout = SpillLayout::new(config.blob_layout(length)?);
        let files = FileStripes {
            blob,
            spill: spill_file()?,
        };
        let metadata = encode_striped(config, length, &files, stripe_bytes).map_err(|error| {
            striped_error(
                error,
                &format!("encoding '{}' through a spill file", path.display()),
            )
        })?;
        Ok(Self {
            layout,
            files,
            metadata,
            path: path.to_path_buf(),
        })
    }

    /// The blob's verified metadata (and blob ID).
    pub fn metadata(&self) -> &VerifiedBlobMetadataWithId {
        &self.metadata
    }

    /// Bytes of one sliver of `axis`.
    pub fn sliver_length(&self, axis: SliverType) -> usize {
        self.layout.blob_layout().sliver_length(axis)
    }

    /// The primary sliver of `pair` (blocking read of the spill file).
    pub fn primary(&self, pair: SliverPairIndex) -> Result<PrimarySliver, SdkError> {
        self.layout
            .read_primary(&self.files, usize::from(pair.0))
            .map_err(|error| striped_error(error, &self.reading()))
    }

    /// The secondary sliver of `pair` (blocking read of the spill file).
    pub fn secondary(&self, pair: SliverPairIndex) -> Result<SecondarySliver, SdkError> {
        let n = self.layout.blob_layout().config.n();
        let column = n
            .checked_sub(1 + usize::from(pair.0))
            .ok_or_else(|| SdkError::Internal(format!("no sliver pair {}", pair.0)))?;
        self.layout
            .read_secondary(&self.files, column)
            .map_err(|error| striped_error(error, &self.reading()))
    }

    fn reading(&self) -> String {
        format!("reading the spilled slivers of '{}'", self.path.display())
    }
}

/// Where a bounded read keeps the primary slivers it fetched: source rows straight in the
/// output file at their place in the blob, the others in a spill file, one slot each.
#[derive(Debug)]
pub(crate) struct ReadFiles {
    out: File,
    spill: File,
    row_length: u64,
    spilled: u64,
    /// Where each fetched sliver is, by index.
    places: BTreeMap<u16, RowPlace>,
    /// Where the sliver of each slot of the decode is (set by [`Self::available`]).
    slots: Vec<RowPlace>,
}

/// Where one fetched primary sliver is.
#[derive(Debug, Clone, Copy)]
enum RowPlace {
    /// Source row `row`, in the output file.
    Out(u64),
    /// Slot `slot` of the spill file.
    Spill(u64),
}

impl ReadFiles {
    /// Files for a read into `out` of rows of `row_length` bytes, spilling into `spill`.
    pub(crate) fn new(out: File, spill: File, row_length: usize) -> Self {
        Self {
            out,
            spill,
            row_length: row_length as u64,
            spilled: 0,
            places: BTreeMap::new(),
            slots: Vec::new(),
        }
    }

    /// Keeps `data`, the primary sliver `index` (source rows, `index < source_rows`, go to
    /// their place in the output file).
    pub(crate) fn keep(&mut self, index: u16, data: &[u8], source_rows: usize) -> io::Result<()> {
        if self.places.contains_key(&index) {
            return Ok(());
        }
        let place = if usize::from(index) < source_rows {
            let row = u64::from(index);
            self.out.write_all_at(data, row * self.row_length)?;
            RowPlace::Out(row)
        } else {
            let slot = self.spilled;
            self.spill.write_all_at(data, slot * self.row_length)?;
            self.spilled += 1;
            RowPlace::Spill(slot)
        };
        self.places.insert(index, place);
        Ok(())
    }

    /// The indices of the slivers kept, ascending; slot `i` of the decode is the `i`-th.
    pub(crate) fn available(&mut self) -> Vec<usize> {
        self.slots = self.places.values().copied().collect();
        self.places
            .keys()
            .map(|index| usize::from(*index))
            .collect()
    }

    /// The output file, cut to `length` bytes (the rows' padding removed).
    pub(crate) fn finish(self, length: u64) -> io::Result<File> {
        self.out.set_len(length)?;
        Ok(self.out)
    }
}

impl RowStorage for ReadFiles {
    type Error = io::Error;

    fn read_row(&self, slot: usize, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match self.slots.get(slot) {
            Some(RowPlace::Out(row)) => self.out.read_exact_at(buf, row * self.row_length + offset),
            Some(RowPlace::Spill(at)) => {
                self.spill.read_exact_at(buf, at * self.row_length + offset)
            }
            None => Err(io::Error::other(format!(
                "no fetched sliver in slot {slot}"
            ))),
        }
    }

    fn write_row(&self, row: usize, offset: u64, data: &[u8]) -> io::Result<()> {
        self.out
            .write_all_at(data, row as u64 * self.row_length + offset)
    }
}
