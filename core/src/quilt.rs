//! Quilts (Walrus `QuiltV1`): many small files ("patches") packed into one blob, each in whole
//! columns of the message matrix, so that a patch can be read from the secondary slivers of its
//! columns alone. Byte-compatible with the public Walrus encoders (same files, identifiers and
//! tags give the same quilt bytes, blob ID and patch IDs).
//!
//! Layout of a quilt for `n` shards: a matrix of `rows = n - 2f` by `columns = n - f` symbols of
//! `S` bytes, stored row by row (the quilt blob is `rows * columns * S` bytes, an ordinary RS2
//! blob whose symbol size is exactly `S`). Every item fills one column top to bottom, then the
//! next; a column is the source part of the secondary sliver of the same index.
//! - Columns `0..k` hold the index: `0x01`, its length as `u32` LE, then the BCS list of
//!   `{end_index: u16, identifier, tags}` (at most [`MAX_INDEX_COLUMNS`] columns).
//! - Each patch starts on a fresh column, right after the previous one: a 6-byte header
//!   (`0x01`, `u32` LE length of everything after the header, a mask whose bit 0 says tags
//!   follow), the `u16` LE size and BCS bytes of the identifier, if tagged the `u16` LE size
//!   and BCS bytes of the tags, then the contents. Unused bytes are zero.
//! - Patches are ordered by identifier (UTF-8 bytes); `S` is the smallest even symbol size with
//!   which every item fits, found exactly as Walrus's encoder finds it.

use std::{collections::BTreeMap, fmt, str::FromStr};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::{
    encoding::{EncodingConfig, SecondarySliver, MAX_SYMBOL_SIZE, SYMBOL_ALIGNMENT},
    BlobId,
};

/// The version byte of `QuiltV1` (first byte of the quilt and of every patch header).
pub const QUILT_VERSION_V1: u8 = 0x01;

/// The most columns the quilt index may take.
pub const MAX_INDEX_COLUMNS: usize = 10;

/// Bytes before the index's BCS: the version byte and the index length (`u32` LE).
const INDEX_PREFIX_LEN: usize = 5;

/// Bytes of a patch header: version, `u32` LE length, mask.
const PATCH_HEADER_LEN: usize = 6;

/// Mask bit of a patch header: tags follow the identifier.
const TAGS_PRESENT: u8 = 1;

/// The longest identifier in UTF-8 bytes (its BCS form, length prefix included, must stay
/// below `u16::MAX`).
pub const MAX_IDENTIFIER_BYTES: usize = 65_531;

/// The largest BCS-serialized tag map of one patch.
pub const MAX_TAGS_BYTES: usize = u16::MAX as usize;

/// The blob attribute (key, value) that marks a stored blob as a quilt, as `walrus store-quilt`
/// sets it.
pub const QUILT_BLOB_TYPE_ATTRIBUTE: (&str, &str) = ("_walrusBlobType", "quilt");

/// Why a quilt could not be built or read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum QuiltError {
    /// An identifier breaks the rules (empty, too long, trailing whitespace, control chars).
    #[error("invalid quilt identifier {identifier:?}: {reason}")]
    InvalidIdentifier {
        /// The identifier (cut to 100 characters).
        identifier: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Two files have the same identifier.
    #[error("duplicate quilt identifier {0:?}: identifiers must be unique")]
    DuplicateIdentifier(String),
    /// A quilt needs at least one file.
    #[error("a quilt needs at least one file")]
    NoFiles,
    /// More files than the shard count allows (`n - f - 1`).
    #[error("too many files for one quilt: {given}, at most {max} with this shard count")]
    TooManyPatches {
        /// Files given.
        given: usize,
        /// The limit.
        max: usize,
    },
    /// A patch's tags serialize to more than [`MAX_TAGS_BYTES`].
    #[error("the tags of {identifier:?} take {size} bytes, at most {MAX_TAGS_BYTES}")]
    TagsTooLarge {
        /// The patch.
        identifier: String,
        /// Serialized size of its tags.
        size: usize,
    },
    /// The files do not fit in a quilt of this shard count (symbol size above the maximum).
    #[error("the files do not fit in one quilt: they need symbols of {symbol_size} bytes, at most {MAX_SYMBOL_SIZE}; store fewer or smaller files")]
    TooLarge {
        /// The symbol size the files would need.
        symbol_size: usize,
    },
    /// The bytes are not a well-formed `QuiltV1` (or not of this shard count).
    #[error("not a valid quilt: {0}")]
    Malformed(String),
    /// A column needed to read the item is not at hand.
    #[error("quilt column {0} is missing")]
    MissingColumn(usize),
    /// No patch has these identifiers.
    #[error("no patch with identifier(s) {0:?} in the quilt")]
    PatchesNotFound(Vec<String>),
    /// A quilt patch ID that does not parse.
    #[error("invalid quilt patch ID: {0}")]
    InvalidPatchId(String),
}

/// One file of a quilt: what the encoder takes and what a read returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuiltFile {
    /// Its identifier, unique in the quilt (see [`validate_identifier`]).
    pub identifier: String,
    /// Optional tags (key to value); empty means untagged.
    pub tags: BTreeMap<String, String>,
    /// The file's contents.
    pub contents: Vec<u8>,
}

impl QuiltFile {
    /// An untagged file.
    pub fn new(identifier: impl Into<String>, contents: Vec<u8>) -> Self {
        Self {
            identifier: identifier.into(),
            tags: BTreeMap::new(),
            contents,
        }
    }

    /// The same file with `tags`.
    pub fn with_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags = tags;
        self
    }

    /// The patch bytes: header, identifier, tags if any, contents.
    fn serialize(&self) -> Result<Vec<u8>, QuiltError> {
        validate_identifier(&self.identifier)?;
        let identifier = bcs::to_bytes(&self.identifier).map_err(malformed)?;
        let mut extension = Vec::with_capacity(identifier.len() + 2);
        extension.extend_from_slice(&len_u16(identifier.len())?.to_le_bytes());
        extension.extend_from_slice(&identifier);
        let mut mask = 0;
        if !self.tags.is_empty() {
            let tags = bcs::to_bytes(&self.tags).map_err(malformed)?;
            let size = u16::try_from(tags.len()).map_err(|_| QuiltError::TagsTooLarge {
                identifier: self.identifier.clone(),
                size: tags.len(),
            })?;
            extension.extend_from_slice(&size.to_le_bytes());
            extension.extend_from_slice(&tags);
            mask |= TAGS_PRESENT;
        }
        let length = u32::try_from(extension.len() + self.contents.len())
            .map_err(|_| QuiltError::Malformed("a file of 4 GiB or more".into()))?;
        let mut bytes =
            Vec::with_capacity(PATCH_HEADER_LEN + extension.len() + self.contents.len());
        bytes.push(QUILT_VERSION_V1);
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.push(mask);
        bytes.extend_from_slice(&extension);
        bytes.extend_from_slice(&self.contents);
        Ok(bytes)
    }
}

/// Checks an identifier: not empty, at most [`MAX_IDENTIFIER_BYTES`] UTF-8 bytes, no trailing
/// whitespace and no control characters (Walrus's rules).
pub fn validate_identifier(identifier: &str) -> Result<(), QuiltError> {
    let reason = if identifier.is_empty() {
        "it is empty"
    } else if identifier.len() > MAX_IDENTIFIER_BYTES {
        "it is longer than 65531 bytes"
    } else if identifier.trim_end() != identifier {
        "it ends with whitespace"
    } else if identifier.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(QuiltError::InvalidIdentifier {
        identifier: identifier.chars().take(100).collect(),
        reason,
    })
}

/// One patch as the quilt index describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuiltPatch {
    /// The patch's identifier.
    pub identifier: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// First column (secondary sliver index) of the patch.
    pub start_index: u16,
    /// One past its last column.
    pub end_index: u16,
}

impl QuiltPatch {
    /// The patch's ID in the quilt `quilt_id`.
    pub fn patch_id(&self, quilt_id: BlobId) -> QuiltPatchId {
        QuiltPatchId {
            quilt_id,
            start_index: self.start_index,
            end_index: self.end_index,
        }
    }

    /// Whether the patch has tag `key` with `value`.
    pub fn has_tag(&self, key: &str, value: &str) -> bool {
        self.tags.get(key).is_some_and(|tag| tag == value)
    }
}

/// An index entry as serialized (start indices are implied).
#[derive(Serialize, Deserialize)]
struct IndexEntry {
    end_index: u16,
    identifier: String,
    tags: BTreeMap<String, String>,
}

/// The quilt index: its patches in quilt order (by identifier).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuiltIndex {
    /// The patches, in quilt order.
    pub patches: Vec<QuiltPatch>,
}

impl QuiltIndex {
    /// The patches with these identifiers, in the order asked; an error naming those missing.
    pub fn by_identifiers<S: AsRef<str>>(
        &self,
        identifiers: &[S],
    ) -> Result<Vec<&QuiltPatch>, QuiltError> {
        let mut missing = Vec::new();
        let mut found = Vec::with_capacity(identifiers.len());
        for identifier in identifiers {
            match self
                .patches
                .iter()
                .find(|patch| patch.identifier == identifier.as_ref())
            {
                Some(patch) => found.push(patch),
                None => missing.push(identifier.as_ref().to_owned()),
            }
        }
        if missing.is_empty() {
            Ok(found)
        } else {
            Err(QuiltError::PatchesNotFound(missing))
        }
    }

    /// The patches with tag `key` = `value`.
    pub fn by_tag(&self, key: &str, value: &str) -> Vec<&QuiltPatch> {
        self.patches
            .iter()
            .filter(|patch| patch.has_tag(key, value))
            .collect()
    }

    /// The serialized index: prefix and BCS entries.
    fn serialize(&self) -> Result<Vec<u8>, QuiltError> {
        let entries: Vec<IndexEntry> = self
            .patches
            .iter()
            .map(|patch| IndexEntry {
                end_index: patch.end_index,
                identifier: patch.identifier.clone(),
                tags: patch.tags.clone(),
            })
            .collect();
        let body = bcs::to_bytes(&entries).map_err(malformed)?;
        let length = u32::try_from(body.len())
            .map_err(|_| QuiltError::Malformed("index of 4 GiB or more".into()))?;
        let mut bytes = Vec::with_capacity(INDEX_PREFIX_LEN + body.len());
        bytes.push(QUILT_VERSION_V1);
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }
}

/// The matrix shape of one quilt: rows, columns and symbol size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuiltLayout {
    /// Rows of the matrix (`n - 2f`), symbols per column.
    pub rows: usize,
    /// Columns of the matrix (`n - f`).
    pub columns: usize,
    /// Symbol size in bytes.
    pub symbol_size: usize,
}

impl QuiltLayout {
    /// The layout of a quilt blob of `length` bytes for `config`; an error if no quilt has
    /// that length (not a whole matrix of even, non-zero symbols of at most 65534 bytes).
    pub fn of(config: &EncodingConfig, length: u64) -> Result<Self, QuiltError> {
        let rows = config.n_primary_source_symbols();
        let columns = config.n_secondary_source_symbols();
        let cells = (rows * columns) as u64;
        let symbol_size = usize::try_from(length / cells.max(1)).unwrap_or(usize::MAX);
        if length == 0
            || !length.is_multiple_of(cells.max(1))
            || !symbol_size.is_multiple_of(SYMBOL_ALIGNMENT)
            || symbol_size > MAX_SYMBOL_SIZE
        {
            return Err(QuiltError::Malformed(format!(
                "a quilt of {rows} x {columns} symbols cannot be {length} bytes long"
            )));
        }
        Ok(Self {
            rows,
            columns,
            symbol_size,
        })
    }

    /// Bytes of one column.
    pub fn column_len(&self) -> usize {
        self.rows * self.symbol_size
    }

    /// Bytes of the whole quilt.
    pub fn quilt_len(&self) -> usize {
        self.rows * self.columns * self.symbol_size
    }
}

/// A quilt built by [`encode_quilt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedQuilt {
    /// The quilt blob (store it as an ordinary blob).
    pub bytes: Vec<u8>,
    /// Its matrix shape.
    pub layout: QuiltLayout,
    /// Its index: every patch with its columns.
    pub index: QuiltIndex,
}

/// Packs `files` into a quilt for `config` (any order: patches are sorted by identifier).
pub fn encode_quilt(
    config: &EncodingConfig,
    files: &[QuiltFile],
) -> Result<EncodedQuilt, QuiltError> {
    let rows = config.n_primary_source_symbols();
    let columns = config.n_secondary_source_symbols();
    if files.is_empty() {
        return Err(QuiltError::NoFiles);
    }
    if files.len() + 1 > columns {
        return Err(QuiltError::TooManyPatches {
            given: files.len(),
            max: columns.saturating_sub(1),
        });
    }
    let mut sorted: Vec<&QuiltFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    if let Some(pair) = sorted
        .windows(2)
        .find(|pair| pair[0].identifier == pair[1].identifier)
    {
        return Err(QuiltError::DuplicateIdentifier(pair[0].identifier.clone()));
    }
    let patches: Vec<Vec<u8>> = sorted
        .iter()
        .map(|file| file.serialize())
        .collect::<Result<_, _>>()?;
    let mut index = QuiltIndex {
        patches: sorted
            .iter()
            .map(|file| QuiltPatch {
                identifier: file.identifier.clone(),
                tags: file.tags.clone(),
                start_index: 0,
                end_index: 0,
            })
            .collect(),
    };
    // Column indices do not change the index's size: every `u16` serializes to two bytes.
    let index_len = index.serialize()?.len();
    let sizes: Vec<usize> = std::iter::once(index_len)
        .chain(patches.iter().map(Vec::len))
        .collect();
    let symbol_size = quilt_symbol_size(&sizes, columns, rows, MAX_INDEX_COLUMNS)?;
    let layout = QuiltLayout {
        rows,
        columns,
        symbol_size,
    };
    let column_len = layout.column_len();
    let mut bytes = vec![0u8; layout.quilt_len()];
    let mut column = index_len.div_ceil(column_len);
    for (patch, serialized) in index.patches.iter_mut().zip(&patches) {
        write_columns(&mut bytes, &layout, column, serialized);
        let used = serialized.len().div_ceil(column_len);
        patch.start_index = column_u16(column)?;
        patch.end_index = column_u16(column + used)?;
        column += used;
    }
    write_columns(&mut bytes, &layout, 0, &index.serialize()?);
    Ok(EncodedQuilt {
        bytes,
        layout,
        index,
    })
}

/// Walrus's quilt symbol size: the smallest size with which every item (the index first) fits
/// in whole columns, found by binary search between the same bounds, then made even.
fn quilt_symbol_size(
    sizes: &[usize],
    columns: usize,
    rows: usize,
    max_index_columns: usize,
) -> Result<usize, QuiltError> {
    let fits = |symbol_size: usize| {
        let column_len = symbol_size * rows;
        sizes
            .iter()
            .map(|size| size.div_ceil(column_len))
            .sum::<usize>()
            <= columns
    };
    let total: usize = sizes.iter().sum();
    let mut low = total
        .div_ceil(columns * rows)
        .max(sizes[0].div_ceil(rows * max_index_columns))
        .max(INDEX_PREFIX_LEN.div_ceil(rows));
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut high = largest.div_ceil(columns / sizes.len() * rows);
    while low < high {
        let middle = (low + high) / 2;
        if fits(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    let symbol_size = low.next_multiple_of(SYMBOL_ALIGNMENT);
    if symbol_size > MAX_SYMBOL_SIZE {
        return Err(QuiltError::TooLarge { symbol_size });
    }
    Ok(symbol_size)
}

/// Writes `item` into the columns from `start_column` on, each top to bottom.
fn write_columns(quilt: &mut [u8], layout: &QuiltLayout, start_column: usize, item: &[u8]) {
    let row_len = layout.columns * layout.symbol_size;
    for (n, symbol) in item.chunks(layout.symbol_size).enumerate() {
        let column = start_column + n / layout.rows;
        let row = n % layout.rows;
        let at = row * row_len + column * layout.symbol_size;
        quilt[at..at + symbol.len()].copy_from_slice(symbol);
    }
}

/// The columns of a quilt that a reader has at hand: the whole quilt, or some verified
/// secondary slivers.
pub trait QuiltColumns {
    /// Symbol `row` of column `column`, if that column is at hand.
    fn symbol(&self, layout: &QuiltLayout, column: usize, row: usize) -> Option<&[u8]>;
}

/// A whole quilt blob, row by row.
impl QuiltColumns for [u8] {
    fn symbol(&self, layout: &QuiltLayout, column: usize, row: usize) -> Option<&[u8]> {
        if column >= layout.columns || row >= layout.rows {
            return None;
        }
        let at = (row * layout.columns + column) * layout.symbol_size;
        self.get(at..at + layout.symbol_size)
    }
}

/// A whole quilt blob, row by row.
impl QuiltColumns for Vec<u8> {
    fn symbol(&self, layout: &QuiltLayout, column: usize, row: usize) -> Option<&[u8]> {
        self.as_slice().symbol(layout, column, row)
    }
}

/// Secondary slivers by index (a secondary sliver's first `rows` symbols are its column).
impl QuiltColumns for BTreeMap<u16, SecondarySliver> {
    fn symbol(&self, layout: &QuiltLayout, column: usize, row: usize) -> Option<&[u8]> {
        let sliver = self.get(&u16::try_from(column).ok()?)?;
        if usize::from(sliver.symbols.symbol_size()) != layout.symbol_size || row >= layout.rows {
            return None;
        }
        sliver.symbols.get(row)
    }
}

/// Reads `len` bytes at `offset` of the item that starts at column `start`, which may use the
/// columns up to `end` (exclusive); checked against that span before anything is allocated.
fn read_span<C: QuiltColumns + ?Sized>(
    columns: &C,
    layout: &QuiltLayout,
    (start, end): (usize, usize),
    offset: usize,
    len: usize,
) -> Result<Vec<u8>, QuiltError> {
    let span = end.saturating_sub(start) * layout.column_len();
    if offset.checked_add(len).is_none_or(|stop| stop > span) {
        return Err(QuiltError::Malformed(format!(
            "an item of columns {start}..{end} claims {len} bytes at offset {offset}, beyond its {span} bytes"
        )));
    }
    let mut bytes = Vec::with_capacity(len);
    let mut position = offset;
    while bytes.len() < len {
        let symbol_number = position / layout.symbol_size;
        let column = start + symbol_number / layout.rows;
        let row = symbol_number % layout.rows;
        let symbol = columns
            .symbol(layout, column, row)
            .ok_or(QuiltError::MissingColumn(column))?;
        let within = position % layout.symbol_size;
        let take = (layout.symbol_size - within).min(len - bytes.len());
        bytes.extend_from_slice(&symbol[within..within + take]);
        position += take;
    }
    Ok(bytes)
}

/// How many columns the index takes, from column 0 alone (to know which other columns to
/// fetch before [`read_index`]).
pub fn index_column_count<C: QuiltColumns + ?Sized>(
    columns: &C,
    layout: &QuiltLayout,
) -> Result<usize, QuiltError> {
    let max_columns = MAX_INDEX_COLUMNS.min(layout.columns);
    let prefix = read_span(columns, layout, (0, 1), 0, INDEX_PREFIX_LEN)?;
    if prefix[0] != QUILT_VERSION_V1 {
        return Err(QuiltError::Malformed(format!(
            "quilt version {} (only {QUILT_VERSION_V1} is known)",
            prefix[0]
        )));
    }
    let body = u32::from_le_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    let total = body.saturating_add(INDEX_PREFIX_LEN);
    let count = total.div_ceil(layout.column_len());
    if count > max_columns {
        return Err(QuiltError::Malformed(format!(
            "an index of {body} bytes would take {count} columns, at most {max_columns}"
        )));
    }
    Ok(count)
}

/// Reads and checks the quilt index from its columns: entries end after one another, after the
/// index and within the matrix, and their identifiers are valid and in order.
pub fn read_index<C: QuiltColumns + ?Sized>(
    columns: &C,
    layout: &QuiltLayout,
) -> Result<QuiltIndex, QuiltError> {
    let count = index_column_count(columns, layout)?;
    let prefix = read_span(columns, layout, (0, count), 0, INDEX_PREFIX_LEN)?;
    let body_len = u32::from_le_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    let body = read_span(columns, layout, (0, count), INDEX_PREFIX_LEN, body_len)?;
    let entries: Vec<IndexEntry> =
        bcs::from_bytes(&body).map_err(|error| QuiltError::Malformed(format!("index: {error}")))?;
    if entries.is_empty() || entries.len() >= layout.columns {
        return Err(QuiltError::Malformed(format!(
            "an index of {} patches in {} columns",
            entries.len(),
            layout.columns
        )));
    }
    let mut start = count;
    let mut patches = Vec::with_capacity(entries.len());
    for entry in entries {
        let end = usize::from(entry.end_index);
        if end <= start || end > layout.columns {
            return Err(QuiltError::Malformed(format!(
                "patch {:?} would take columns {start}..{end} of {}",
                entry.identifier, layout.columns
            )));
        }
        validate_identifier(&entry.identifier)?;
        if patches
            .last()
            .is_some_and(|last: &QuiltPatch| last.identifier >= entry.identifier)
        {
            return Err(QuiltError::Malformed(
                "identifiers are not in strictly increasing order".into(),
            ));
        }
        patches.push(QuiltPatch {
            identifier: entry.identifier,
            tags: entry.tags,
            start_index: column_u16(start)?,
            end_index: entry.end_index,
        });
        start = end;
    }
    Ok(QuiltIndex { patches })
}

/// Reads the patch stored in columns `start..end`: its identifier, tags and contents.
pub fn read_patch<C: QuiltColumns + ?Sized>(
    columns: &C,
    layout: &QuiltLayout,
    start: u16,
    end: u16,
) -> Result<QuiltFile, QuiltError> {
    let span = (usize::from(start), usize::from(end));
    if span.0 >= span.1 || span.1 > layout.columns {
        return Err(QuiltError::Malformed(format!(
            "no patch can take columns {start}..{end} of {}",
            layout.columns
        )));
    }
    let header = read_span(columns, layout, span, 0, PATCH_HEADER_LEN)?;
    if header[0] != QUILT_VERSION_V1 {
        return Err(QuiltError::Malformed(format!(
            "patch version {} at column {start}",
            header[0]
        )));
    }
    let length = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mask = header[5];
    let body = read_span(columns, layout, span, PATCH_HEADER_LEN, length)?;
    let mut rest = body.as_slice();
    let identifier: String = take_sized(&mut rest, "identifier")?;
    validate_identifier(&identifier)?;
    let tags: BTreeMap<String, String> = if mask & TAGS_PRESENT != 0 {
        take_sized(&mut rest, "tags")?
    } else {
        BTreeMap::new()
    };
    Ok(QuiltFile {
        identifier,
        tags,
        contents: rest.to_vec(),
    })
}

/// Takes a `u16` LE size and that many bytes of BCS off the front of `bytes`.
fn take_sized<T: de::DeserializeOwned>(bytes: &mut &[u8], what: &str) -> Result<T, QuiltError> {
    let malformed = || QuiltError::Malformed(format!("patch {what} cut short"));
    let (size, rest) = bytes.split_first_chunk::<2>().ok_or_else(malformed)?;
    let size = usize::from(u16::from_le_bytes(*size));
    let (value, rest) = rest.split_at_checked(size).ok_or_else(malformed)?;
    *bytes = rest;
    bcs::from_bytes(value).map_err(|error| QuiltError::Malformed(format!("patch {what}: {error}")))
}

/// The ID of one patch of a stored quilt: the quilt's blob ID and the patch's columns.
///
/// Text form (as Walrus prints it): URL-safe base64 without padding of 37 bytes: the blob ID,
/// `0x01`, start and end column as `u16` LE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuiltPatchId {
    /// The quilt's blob ID.
    pub quilt_id: BlobId,
    /// The patch's first column.
    pub start_index: u16,
    /// One past its last column.
    pub end_index: u16,
}

impl QuiltPatchId {
    /// Bytes of the binary form.
    pub const LENGTH: usize = 37;

    /// The 37 bytes of the binary form.
    pub fn to_bytes(&self) -> [u8; Self::LENGTH] {
        let mut bytes = [0u8; Self::LENGTH];
        bytes[..32].copy_from_slice(&self.quilt_id.0);
        bytes[32] = QUILT_VERSION_V1;
        bytes[33..35].copy_from_slice(&self.start_index.to_le_bytes());
        bytes[35..37].copy_from_slice(&self.end_index.to_le_bytes());
        bytes
    }
}

impl fmt::Display for QuiltPatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }
}

impl FromStr for QuiltPatchId {
    type Err = QuiltError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| QuiltError::InvalidPatchId(reason);
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|error| invalid(format!("not base64url: {error}")))?;
        let bytes: [u8; Self::LENGTH] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            invalid(format!("{} bytes, expected {}", bytes.len(), Self::LENGTH))
        })?;
        if bytes[32] != QUILT_VERSION_V1 {
            return Err(invalid(format!("quilt version {}", bytes[32])));
        }
        let mut quilt_id = [0u8; 32];
        quilt_id.copy_from_slice(&bytes[..32]);
        let id = Self {
            quilt_id: BlobId(quilt_id),
            start_index: u16::from_le_bytes([bytes[33], bytes[34]]),
            end_index: u16::from_le_bytes([bytes[35], bytes[36]]),
        };
        if id.start_index >= id.end_index {
            return Err(invalid(format!(
                "columns {}..{} are empty",
                id.start_index, id.end_index
            )));
        }
        Ok(id)
    }
}

impl Serialize for QuiltPatchId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuiltPatchId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(de::Error::custom)
    }
}

fn malformed(error: bcs::Error) -> QuiltError {
    QuiltError::Malformed(error.to_string())
}

fn len_u16(len: usize) -> Result<u16, QuiltError> {
    u16::try_from(len).map_err(|_| QuiltError::Malformed(format!("{len} bytes do not fit a u16")))
}

fn column_u16(column: usize) -> Result<u16, QuiltError> {
    u16::try_from(column).map_err(|_| QuiltError::Malformed(format!("column {column}")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn config(n: u16) -> EncodingConfig {
        EncodingConfig::new(n).unwrap()
    }

    #[test]
    fn symbol_size_matches_walruss_search() {
        // (sizes, columns, rows, index columns, expected): the cases of Walrus's own tests.
        for (sizes, columns, rows, index_columns, expected) in [
            (&[1000usize, 1, 1][..], 4, 7, 2, 72),
            (&[1], 3, 2, 1, 4),
            (&[115, 80, 4], 17, 9, 3, 6),
            (&[20, 20, 20], 3, 5, 2, 4),
            (&[5, 5, 5], 5, 1, 1, 6),
            (&[10, 0, 0, 0], 17, 9, 2, 2),
            (&[25, 35, 45], 200, 1, 3, 10),
        ] {
            assert_eq!(
                quilt_symbol_size(sizes, columns, rows, index_columns),
                Ok(expected),
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn identifiers_follow_walruss_rules() {
        for good in ["a", "test blob", ".hidden", "dir/file.txt", "héllo", "😀"] {
            assert_eq!(validate_identifier(good), Ok(()), "{good:?}");
        }
        let long = "x".repeat(MAX_IDENTIFIER_BYTES + 1);
        for bad in [
            "",
            "trailing ",
            "tab\t",
            "nul\0",
            "del\x7f",
            "c1\u{0085}",
            &long,
        ] {
            assert!(
                matches!(
                    validate_identifier(bad),
                    Err(QuiltError::InvalidIdentifier { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_identifier(&"x".repeat(MAX_IDENTIFIER_BYTES)),
            Ok(())
        );
    }

    #[test]
    fn limits_are_clear_errors() {
        let config = config(10);
        assert_eq!(encode_quilt(&config, &[]), Err(QuiltError::NoFiles));
        let files: Vec<QuiltFile> = (0..7)
            .map(|i| QuiltFile::new(format!("f{i}"), vec![1]))
            .collect();
        assert_eq!(
            encode_quilt(&config, &files),
            Err(QuiltError::TooManyPatches { given: 7, max: 6 })
        );
        assert!(encode_quilt(&config, &files[..6]).is_ok());
        let twins = [QuiltFile::new("a", vec![1]), QuiltFile::new("a", vec![2])];
        assert_eq!(
            encode_quilt(&config, &twins),
            Err(QuiltError::DuplicateIdentifier("a".into()))
        );
        let tags = BTreeMap::from([("k".to_string(), "v".repeat(70_000))]);
        assert!(matches!(
            encode_quilt(&config, &[QuiltFile::new("a", vec![]).with_tags(tags)]),
            Err(QuiltError::TagsTooLarge { .. })
        ));
        // 7 x 4 symbols of at most 65534 bytes: one file of 2 MB cannot fit.
        assert!(matches!(
            encode_quilt(&config, &[QuiltFile::new("big", vec![0; 2_000_000])]),
            Err(QuiltError::TooLarge { .. })
        ));
    }

    #[test]
    fn patch_ids_round_trip_and_reject_garbage() {
        let id = QuiltPatchId {
            quilt_id: BlobId([7; 32]),
            start_index: 3,
            end_index: 9,
        };
        assert_eq!(id.to_string().parse::<QuiltPatchId>(), Ok(id));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        for bad in ["", "!!", "AAAA", &BlobId([7; 32]).to_string()] {
            assert!(bad.parse::<QuiltPatchId>().is_err(), "{bad:?}");
        }
        let mut bytes = id.to_bytes();
        bytes[32] = 2;
        assert!(URL_SAFE_NO_PAD
            .encode(bytes)
            .parse::<QuiltPatchId>()
            .is_err());
        let empty = QuiltPatchId { end_index: 3, ..id };
        assert!(empty.to_string().parse::<QuiltPatchId>().is_err());
    }

    #[test]
    fn a_patch_reads_from_its_own_columns_alone() {
        let config = config(10);
        let files = [
            QuiltFile::new("b", vec![2; 300]),
            QuiltFile::new("a", vec![1; 10]).with_tags(BTreeMap::from([("k".into(), "v".into())])),
        ];
        let quilt = encode_quilt(&config, &files).unwrap();
        let layout = quilt.layout;
        let column = |index: u16| -> SecondarySliver {
            let data: Vec<u8> = (0..layout.rows)
                .flat_map(|row| {
                    quilt
                        .bytes
                        .symbol(&layout, usize::from(index), row)
                        .unwrap()
                        .to_vec()
                })
                .collect();
            SecondarySliver::new(
                crate::encoding::Symbols::new(data, u16::try_from(layout.symbol_size).unwrap())
                    .unwrap(),
                crate::SliverIndex(index),
            )
        };
        for patch in &quilt.index.patches {
            let slivers: BTreeMap<u16, SecondarySliver> = (patch.start_index..patch.end_index)
                .map(|index| (index, column(index)))
                .collect();
            let file = read_patch(&slivers, &layout, patch.start_index, patch.end_index).unwrap();
            let original = files
                .iter()
                .find(|f| f.identifier == patch.identifier)
                .unwrap();
            assert_eq!(&file, original);
            // Without its first column, the patch cannot be read.
            let mut partial = slivers.clone();
            partial.remove(&patch.start_index);
            assert_eq!(
                read_patch(&partial, &layout, patch.start_index, patch.end_index),
                Err(QuiltError::MissingColumn(usize::from(patch.start_index)))
            );
        }
        let index_columns: BTreeMap<u16, SecondarySliver> =
            (0..1).map(|i| (i, column(i))).collect();
        assert_eq!(index_column_count(&index_columns, &layout), Ok(1));
        assert_eq!(read_index(&index_columns, &layout), Ok(quilt.index));
    }

    #[test]
    fn malformed_quilts_are_errors() {
        let config = config(10);
        let quilt = encode_quilt(&config, &[QuiltFile::new("a", vec![5; 100])]).unwrap();
        let layout = quilt.layout;
        // Wrong version, an index claiming more than ten columns, a patch length beyond its
        // columns.
        let mut bytes = quilt.bytes.clone();
        bytes[0] = 2;
        assert!(matches!(
            read_index(bytes.as_slice(), &layout),
            Err(QuiltError::Malformed(_))
        ));
        let mut bytes = quilt.bytes.clone();
        bytes[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_index(bytes.as_slice(), &layout),
            Err(QuiltError::Malformed(_))
        ));
        let patch = &quilt.index.patches[0];
        let at = usize::from(patch.start_index) * layout.symbol_size;
        let mut bytes = quilt.bytes.clone();
        bytes[at + 1..at + 5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_patch(
                bytes.as_slice(),
                &layout,
                patch.start_index,
                patch.end_index
            ),
            Err(QuiltError::Malformed(_))
        ));
        assert!(QuiltLayout::of(&config, 1513).is_err());
        assert!(QuiltLayout::of(&config, 0).is_err());
    }

    fn file_strategy() -> impl Strategy<Value = QuiltFile> {
        (
            "[a-zA-Z0-9_.-]{1,12}",
            proptest::collection::btree_map("[a-z]{1,4}", "[a-z]{0,6}", 0..3),
            proptest::collection::vec(any::<u8>(), 0..2_000),
        )
            .prop_map(|(identifier, tags, contents)| QuiltFile {
                identifier,
                tags,
                contents,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_files_within_the_limits_round_trip(
            n in prop::sample::select(vec![4u16, 7, 10, 31]),
            files in proptest::collection::vec(file_strategy(), 1..20),
        ) {
            let config = config(n);
            let mut files = files;
            files.sort_by(|a, b| a.identifier.cmp(&b.identifier));
            files.dedup_by(|a, b| a.identifier == b.identifier);
            files.truncate(config.n_secondary_source_symbols() - 1);
            let quilt = encode_quilt(&config, &files).unwrap();
            let layout = QuiltLayout::of(&config, quilt.bytes.len() as u64).unwrap();
            prop_assert_eq!(layout, quilt.layout);
            let index = read_index(quilt.bytes.as_slice(), &layout).unwrap();
            prop_assert_eq!(&index, &quilt.index);
            for (patch, file) in index.patches.iter().zip(&files) {
                prop_assert_eq!(&patch.identifier, &file.identifier);
                let read = read_patch(quilt.bytes.as_slice(), &layout, patch.start_index, patch.end_index).unwrap();
                prop_assert_eq!(&read, file);
            }
        }

        #[test]
        fn reading_untrusted_quilt_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 28..600),
            start in 0u16..8,
            end in 0u16..8,
        ) {
            let config = config(10);
            let length = bytes.len() / 28 * 28;
            if let Ok(layout) = QuiltLayout::of(&config, length as u64) {
                let bytes = &bytes[..length];
                let _ = read_index(bytes, &layout);
                let _ = read_patch(bytes, &layout, start, end);
            }
        }
    }
}
