//! Append-only segment files holding the node's large sliver values, beside the redb index.
//!
//! redb copies every value into its own page buffers before writing them, and looking a key up
//! reads the whole leaf holding its value: for slivers of hundreds of kilobytes to megabytes,
//! a node spent a third of its CPU in redb during a large store (most of it the kernel's copy
//! of redb's fresh page buffers into the page cache). Large values are instead appended to a
//! segment file and read back with one `pread`; the index ([`crate::store`]) keeps their
//! [`Location`]. Appends bypass the page cache where the file system allows it (`O_DIRECT`):
//! the values of a batch are staged, each at a multiple of [`ALIGN`] (zero padded), in one
//! reused aligned buffer and written with one `pwrite`, then one `fdatasync`. Through the page
//! cache, the kernel's copy of every appended byte into freshly allocated cache pages was the
//! largest item of a node's CPU during a large store. A value is read rarely: by a reader of
//! the blob ([`Segments::read`], through the page cache, which keeps a blob read again and
//! again), or to compute recovery symbols and shard transfers ([`Segments::read_into`], direct
//! where the file system allows it: the kernel's copy out of freshly filled cache pages was a
//! quarter of a serving node's CPU during a peer's recovery).
//!
//! Crash safety is the caller's order: append (durable when [`Segments::append`] returns), then
//! commit the index entries pointing at the bytes. Bytes appended but never committed (a crash
//! in between, a failed commit) are garbage in their segment; a store never appends to a
//! segment of an earlier run, so garbage is never overwritten while something might read it.
//! Space is the index's job: it counts each segment's live bytes, and sealed segments are
//! deleted when none are left or compacted when less than half are
//! (`NodeStore::reclaim_segments`).

use std::{
    collections::HashMap,
    fs::File,
    io,
    ops::Range,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
};

/// A segment is sealed (no more appends) once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// Values start at multiples of this (what direct I/O needs of offsets, lengths and buffers).
pub const ALIGN: usize = 4096;

/// Most bytes staged for one write (a larger value is staged and written alone).
const STAGING_BYTES: usize = 8 << 20;

const EXTENSION: &str = "seg";

/// Where a value is: its segment, its offset in it and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The segment's number (its file is `{segment:08}.seg`).
    pub segment: u32,
    /// The value's first byte in the file.
    pub offset: u64,
    /// The value's length.
    pub len: u32,
}

impl Location {
    /// Encoded length: segment (u32), offset (u64), length (u32), little endian.
    pub const ENCODED_LEN: usize = 16;

    /// The location as stored in the index.
    pub fn to_bytes(self) -> [u8; Self::ENCODED_LEN] {
        let mut bytes = [0; Self::ENCODED_LEN];
        bytes[..4].copy_from_slice(&self.segment.to_le_bytes());
        bytes[4..12].copy_from_slice(&self.offset.to_le_bytes());
        bytes[12..].copy_from_slice(&self.len.to_le_bytes());
        bytes
    }

    /// Parses [`Self::to_bytes`]; `None` if `bytes` is not exactly that long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::ENCODED_LEN] = bytes.try_into().ok()?;
        let (segment, rest) = bytes.split_first_chunk::<4>()?;
        let (offset, len) = rest.split_first_chunk::<8>()?;
        Some(Self {
            segment: u32::from_le_bytes(*segment),
            offset: u64::from_le_bytes(*offset),
            len: u32::from_le_bytes(len.first_chunk::<4>().copied()?),
        })
    }
}

/// The segment files of one store: the active one (appended to) and the sealed ones.
#[derive(Debug)]
pub struct Segments {
    dir: PathBuf,
    active: Mutex<Active>,
    /// Open files by segment number (the active one included).
    files: Mutex<HashMap<u32, Arc<SegmentFile>>>,
    /// Cleared when a direct read is refused: then every read goes through the page cache.
    direct_reads: AtomicBool,
}

/// A segment file open for reads: through the page cache, and directly where the file system
/// allows it (opened at the first direct read).
#[derive(Debug)]
struct SegmentFile {
    path: PathBuf,
    cached: Arc<File>,
    direct: OnceLock<Option<File>>,
    /// The longest length the file was seen with: segments only grow (appended to, never
    /// truncated), so a value ending within it needs no `fstat` to be known to be there.
    seen_len: AtomicU64,
}

impl SegmentFile {
    fn new(cached: Arc<File>, path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            cached,
            direct: OnceLock::new(),
            seen_len: AtomicU64::new(0),
        })
    }

    /// The file's length if it is at least `end` (known without asking the file system once
    /// seen), else its current length.
    fn len_reaching(&self, end: u64) -> io::Result<u64> {
        let seen = self.seen_len.load(Ordering::Relaxed);
        if end <= seen {
            return Ok(seen);
        }
        let len = self.cached.metadata()?.len();
        self.seen_len.fetch_max(len, Ordering::Relaxed);
        Ok(len)
    }

    /// The file opened for direct reads, or `None` where the file system refuses them.
    fn direct(&self) -> Option<&File> {
        self.direct
            .get_or_init(|| open_direct(&self.path, Access::Read))
            .as_ref()
    }
}

/// A value appended to a segment, written straight into the staging buffer: bytes, or a value
/// that writes its encoding there (a sliver's BCS without a copy of its own).
pub trait SegmentValue {
    /// Its length in bytes.
    fn byte_len(&self) -> usize;
    /// Writes it into `out`, [`Self::byte_len`] bytes long.
    fn write_into(&self, out: &mut [u8]) -> io::Result<()>;

    /// Its bytes, written into a buffer of their own.
    fn to_written(&self) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; self.byte_len()];
        self.write_into(&mut bytes)?;
        Ok(bytes)
    }
}

impl SegmentValue for [u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }

    fn write_into(&self, out: &mut [u8]) -> io::Result<()> {
        out.copy_from_slice(self);
        Ok(())
    }
}

#[derive(Debug)]
struct Active {
    segment: u32,
    /// The file as opened for reads (and for appends where direct I/O is refused).
    file: Arc<File>,
    /// The file opened for direct I/O, if the file system allows it.
    direct: Option<File>,
    len: u64,
    /// Reused for staging appends; an aligned window of it is written.
    staging: Vec<u8>,
}

impl Active {
    fn new(dir: &Path, segment: u32) -> io::Result<Self> {
        let file = Segments::create(dir, segment)?;
        Ok(Self {
            segment,
            file: Arc::new(file),
            direct: open_direct(&Segments::path(dir, segment), Access::Write),
            len: 0,
            staging: Vec::new(),
        })
    }

    /// Writes `values` from `self.len` (a multiple of [`ALIGN`]), each padded to a multiple
    /// of [`ALIGN`], staged into writes of about [`STAGING_BYTES`].
    fn write<V: SegmentValue + ?Sized>(&mut self, values: &[&V]) -> io::Result<()> {
        let mut rest = values;
        while !rest.is_empty() {
            let mut bytes = 0;
            let count = rest
                .iter()
                .take_while(|value| {
                    bytes += value.byte_len().next_multiple_of(ALIGN);
                    bytes <= STAGING_BYTES
                })
                .count()
                .max(1);
            let (batch, later) = rest.split_at(count);
            rest = later;
            let total: usize = batch
                .iter()
                .map(|value| value.byte_len().next_multiple_of(ALIGN))
                .sum();
            if self.staging.len() < total + ALIGN {
                self.staging = vec![0; total + ALIGN];
            }
            let start = self.staging.as_ptr().align_offset(ALIGN).min(ALIGN);
            let staged = &mut self.staging[start..start + total];
            let mut at = 0;
            for value in batch {
                let len = value.byte_len();
                let padded = len.next_multiple_of(ALIGN);
                value.write_into(&mut staged[at..at + len])?;
                staged[at + len..at + padded].fill(0);
                at += padded;
            }
            match &self.direct {
                Some(direct) => match direct.write_all_at(staged, self.len) {
                    // A file system may refuse direct I/O only when written to.
                    Err(error) if error.kind() == io::ErrorKind::InvalidInput => {
                        self.direct = None;
                        self.file.write_all_at(staged, self.len)?;
                    }
                    other => other?,
                },
                None => self.file.write_all_at(staged, self.len)?,
            }
            self.len += total as u64;
        }
        // A value larger than the usual staging size is not kept staged after it is written.
        if self.staging.len() > STAGING_BYTES + ALIGN {
            self.staging = Vec::new();
        }
        Ok(())
    }
}

/// What a file is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// `path` opened for direct I/O (Linux `O_DIRECT`), or `None` where that is refused.
fn open_direct(path: &Path, access: Access) -> Option<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = i32::try_from(rustix::fs::OFlags::DIRECT.bits()).ok()?;
        File::options()
            .read(access == Access::Read)
            .write(access == Access::Write)
            .custom_flags(flags)
            .open(path)
            .ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, access);
        None
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Segments {
    /// Opens the segments in `dir` (created if missing) and starts a new active segment
    /// numbered above every existing one and above `used` (numbers the index still knows).
    /// Returns the segments found, all sealed.
    pub fn open(dir: &Path, used: impl IntoIterator<Item = u32>) -> io::Result<(Self, Vec<u32>)> {
        std::fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
                continue;
            }
            if let Some(segment) = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .and_then(|stem| stem.parse::<u32>().ok())
            {
                found.push(segment);
            }
        }
        found.sort_unstable();
        let next = found
            .iter()
            .copied()
            .chain(used)
            .max()
            .map_or(Some(0), |last| last.checked_add(1))
            .ok_or_else(|| io::Error::other("segment numbers exhausted"))?;
        let active = Active::new(dir, next)?;
        let file = SegmentFile::new(active.file.clone(), Self::path(dir, next));
        let segments = Self {
            dir: dir.to_owned(),
            files: Mutex::new(HashMap::from([(next, file)])),
            active: Mutex::new(active),
            direct_reads: AtomicBool::new(true),
        };
        Ok((segments, found))
    }

    fn path(dir: &Path, segment: u32) -> PathBuf {
        dir.join(format!("{segment:08}.{EXTENSION}"))
    }

    /// Creates segment `segment`, its directory entry durable.
    fn create(dir: &Path, segment: u32) -> io::Result<File> {
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(Self::path(dir, segment))?;
        File::open(dir)?.sync_all()?;
        Ok(file)
    }

    /// The segment appended to now.
    pub fn active(&self) -> u32 {
        lock(&self.active).segment
    }

    /// Appends `values` and makes them durable; their locations, in order. Seals the active
    /// segment first if it is full.
    pub fn append<'a, V: SegmentValue + ?Sized + 'a>(
        &self,
        values: impl IntoIterator<Item = &'a V>,
    ) -> io::Result<Vec<Location>> {
        let mut active = lock(&self.active);
        if active.len >= SEGMENT_BYTES {
            let segment = active
                .segment
                .checked_add(1)
                .ok_or_else(|| io::Error::other("segment numbers exhausted"))?;
            let next = Active::new(&self.dir, segment)?;
            let file = SegmentFile::new(next.file.clone(), Self::path(&self.dir, segment));
            lock(&self.files).insert(segment, file);
            *active = next;
        }
        let values: Vec<&V> = values.into_iter().collect();
        let mut locations = Vec::with_capacity(values.len());
        let mut offset = active.len;
        for value in &values {
            let len = u32::try_from(value.byte_len())
                .map_err(|_| io::Error::other("a value of 4 GiB or more"))?;
            locations.push(Location {
                segment: active.segment,
                offset,
                len,
            });
            offset += u64::from(len).next_multiple_of(ALIGN as u64);
        }
        if !values.is_empty() {
            let written = active.write(&values);
            if written.is_err() {
                // Whatever part was written is garbage; the next append starts after it.
                active.len = offset;
            }
            written?;
            active.file.sync_data()?;
        }
        Ok(locations)
    }

    /// The open file of `segment`; `NotFound` if it was deleted.
    fn file(&self, segment: u32) -> io::Result<Arc<SegmentFile>> {
        if let Some(file) = lock(&self.files).get(&segment) {
            return Ok(file.clone());
        }
        let path = Self::path(&self.dir, segment);
        let file = SegmentFile::new(Arc::new(File::open(&path)?), path);
        Ok(lock(&self.files).entry(segment).or_insert(file).clone())
    }

    /// The open file of `location`'s segment and its length, checked to hold the value;
    /// `NotFound` if the segment was deleted, `UnexpectedEof` if it ends before the value.
    fn file_holding(&self, location: Location) -> io::Result<(Arc<SegmentFile>, u64)> {
        let file = self.file(location.segment)?;
        let end = location.offset.saturating_add(u64::from(location.len));
        // Direct reads take the value's padding too: known to be there, or asked for.
        let padded_end = location
            .offset
            .saturating_add(u64::from(location.len).next_multiple_of(ALIGN as u64));
        let file_len = file.len_reaching(padded_end)?;
        // The length comes from the index; the file bounds it before anything is allocated.
        if end > file_len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "segment {} ends before {end}, where a value should end",
                    location.segment
                ),
            ));
        }
        Ok((file, file_len))
    }

    /// The value at `location`, read through the page cache. `NotFound` if its segment was
    /// deleted (the index moved it: look it up again); `UnexpectedEof` if the segment is
    /// shorter than the location says.
    pub fn read(&self, location: Location) -> io::Result<Vec<u8>> {
        let (file, _) = self.file_holding(location)?;
        let mut value = vec![0; location.len as usize];
        file.cached.read_exact_at(&mut value, location.offset)?;
        Ok(value)
    }

    /// [`Self::read`] into `buffer`, bypassing the page cache where the file system allows
    /// it (the value and its padding are read straight into an aligned window of `buffer`,
    /// grown if too short, never shrunk nor zeroed again); the range of `buffer` holding the
    /// value. For a value read once: no copy out of the page cache, no cache pages filled.
    pub fn read_into(&self, location: Location, buffer: &mut Vec<u8>) -> io::Result<Range<usize>> {
        let (file, file_len) = self.file_holding(location)?;
        let len = location.len as usize;
        let padded = len.next_multiple_of(ALIGN);
        let direct = (self.direct_reads.load(Ordering::Relaxed)
            && location.offset.is_multiple_of(ALIGN as u64)
            && location.offset.saturating_add(padded as u64) <= file_len)
            .then(|| file.direct())
            .flatten();
        if let Some(direct) = direct {
            if buffer.len() < padded + ALIGN {
                buffer.resize(padded + ALIGN, 0);
            }
            let start = buffer.as_ptr().align_offset(ALIGN).min(ALIGN);
            match direct.read_exact_at(&mut buffer[start..start + padded], location.offset) {
                Ok(()) => return Ok(start..start + len),
                // A file system may refuse direct I/O only when read.
                Err(error) if error.kind() == io::ErrorKind::InvalidInput => {
                    self.direct_reads.store(false, Ordering::Relaxed);
                }
                Err(error) => return Err(error),
            }
        }
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        file.cached
            .read_exact_at(&mut buffer[..len], location.offset)?;
        Ok(0..len)
    }

    /// The length of `segment`'s file.
    pub fn file_len(&self, segment: u32) -> io::Result<u64> {
        self.file(segment)?.cached.metadata().map(|m| m.len())
    }

    /// Deletes sealed `segment` (nothing in the index may point into it any more); readers
    /// holding it open finish their reads. The active segment is never deleted.
    pub fn remove(&self, segment: u32) -> io::Result<()> {
        if self.active() == segment {
            return Ok(());
        }
        lock(&self.files).remove(&segment);
        match std::fs::remove_file(Self::path(&self.dir, segment)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_round_trip_and_refuse_other_lengths() {
        let location = Location {
            segment: 7,
            offset: 1 << 40,
            len: 123_456,
        };
        assert_eq!(Location::from_bytes(&location.to_bytes()), Some(location));
        assert_eq!(Location::from_bytes(&location.to_bytes()[..15]), None);
        assert_eq!(Location::from_bytes(&[0; 17]), None);
    }

    #[test]
    fn appended_values_read_back_across_a_reopen_which_starts_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (segments, found) = Segments::open(dir.path(), []).unwrap();
        assert!(found.is_empty());
        let first = segments
            .append([b"hello".as_slice(), b"segment".as_slice()])
            .unwrap();
        assert_eq!(
            first[1].offset, ALIGN as u64,
            "values start at aligned offsets"
        );
        assert_eq!(segments.read(first[1]).unwrap(), b"segment");
        let active = segments.active();
        drop(segments);

        // A reopen never appends to an old segment, and numbers past what the index knows.
        let (segments, found) = Segments::open(dir.path(), [active + 4]).unwrap();
        assert_eq!(found, vec![active]);
        assert_eq!(segments.active(), active + 5);
        assert_eq!(segments.read(first[0]).unwrap(), b"hello");
        // One buffer read into again, directly and through the page cache: each read gives
        // the range holding exactly its value, longer or shorter.
        for direct in [true, false] {
            segments.direct_reads.store(direct, Ordering::Relaxed);
            let mut buffer = b"left over from before".to_vec();
            for (location, value) in [
                (first[1], &b"segment"[..]),
                (first[0], b"hello"),
                (first[1], b"segment"),
            ] {
                let range = segments.read_into(location, &mut buffer).unwrap();
                assert_eq!(&buffer[range.clone()], value);
                // Where the file system allows direct reads, this one was one: the value sits
                // in an aligned window of the buffer.
                let direct_file = segments.file(location.segment).unwrap().direct().is_some();
                if direct && direct_file && segments.direct_reads.load(Ordering::Relaxed) {
                    assert_eq!(buffer[range].as_ptr().align_offset(ALIGN), 0);
                }
            }
        }
        let second = segments.append([b"again".as_slice()]).unwrap();
        assert_eq!((second[0].segment, second[0].offset), (active + 5, 0));

        // A location past the end of its file is an error before anything is allocated.
        let beyond = Location {
            len: u32::MAX,
            ..first[0]
        };
        let error = segments.read(beyond).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);

        // Deleting a sealed segment makes its values NotFound; the active one stays.
        segments.remove(active).unwrap();
        assert_eq!(
            segments.read(first[0]).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        segments.remove(segments.active()).unwrap();
        assert_eq!(segments.read(second[0]).unwrap(), b"again");
    }

    #[test]
    fn appends_larger_than_the_staging_buffer_read_back_with_zero_padding_between() {
        let dir = tempfile::tempdir().unwrap();
        let (segments, _) = Segments::open(dir.path(), []).unwrap();
        let values: Vec<Vec<u8>> = (0..3u8)
            .map(|i| vec![i + 1; STAGING_BYTES / 2 - 1000])
            .chain([vec![9; STAGING_BYTES + 5]])
            .collect();
        for direct in [true, false] {
            if !direct {
                // Where direct I/O is refused, the same layout goes through the page cache.
                lock(&segments.active).direct = None;
            }
            let locations = segments.append(values.iter().map(Vec::as_slice)).unwrap();
            for (value, location) in values.iter().zip(&locations) {
                assert_eq!(location.offset % ALIGN as u64, 0);
                assert_eq!(&segments.read(*location).unwrap(), value);
                let padding = Location {
                    offset: location.offset + u64::from(location.len),
                    len: u32::try_from(value.len().next_multiple_of(ALIGN) - value.len()).unwrap(),
                    ..*location
                };
                assert!(segments.read(padding).unwrap().iter().all(|b| *b == 0));
            }
        }
    }

    #[test]
    fn a_full_segment_is_sealed_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let (segments, _) = Segments::open(dir.path(), []).unwrap();
        let start = segments.active();
        lock(&segments.active).len = SEGMENT_BYTES;
        let location = segments.append([b"next".as_slice()]).unwrap()[0];
        assert_eq!((location.segment, location.offset), (start + 1, 0));
        assert_eq!(segments.read(location).unwrap(), b"next");
    }
}
