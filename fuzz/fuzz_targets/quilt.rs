//! Untrusted quilts: a quilt blob written by anyone (its index, patch headers, identifiers and
//! tags), read whole or column by column, and quilt patch IDs from text.
//!
//! Input: `n_byte || start (u16 LE) || end (u16 LE) || quilt bytes`; the quilt is cut to a
//! whole matrix of `n = n_byte % 16 + 4` shards. The whole input is also tried as patch ID text.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use walrus_core::{
    encoding::{EncodingConfig, SecondarySliver, Symbols},
    quilt::{read_index, read_patch, QuiltColumns, QuiltLayout, QuiltPatchId},
    SliverIndex,
};

/// The quilt's columns as secondary slivers (what a reader fetches from the nodes).
fn columns(bytes: &[u8], layout: &QuiltLayout) -> BTreeMap<u16, SecondarySliver> {
    (0..layout.columns)
        .filter_map(|column| {
            let data: Vec<u8> = (0..layout.rows)
                .flat_map(|row| bytes.symbol(layout, column, row).unwrap_or_default().to_vec())
                .collect();
            let symbols = Symbols::new(data, u16::try_from(layout.symbol_size).ok()?).ok()?;
            let index = u16::try_from(column).ok()?;
            Some((index, SecondarySliver::new(symbols, SliverIndex(index))))
        })
        .collect()
}

fuzz_target!(init: walrus_fuzz::seeds::init("quilt"), |data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<QuiltPatchId>() {
            assert_eq!(id.to_string().parse::<QuiltPatchId>(), Ok(id));
            assert!(id.start_index < id.end_index);
        }
    }
    let Some((&[n_byte], rest)) = data.split_first_chunk::<1>() else {
        return;
    };
    let Some((start, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let Some((end, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let config = EncodingConfig::new(u16::from(n_byte % 16) + 4).expect("small shard counts");
    let cells = config.n_primary_source_symbols() * config.n_secondary_source_symbols();
    let bytes = &rest[..rest.len() / (2 * cells) * (2 * cells)];
    let Ok(layout) = QuiltLayout::of(&config, bytes.len() as u64) else {
        return;
    };
    let by_columns = columns(bytes, &layout);
    let whole = read_index(bytes, &layout);
    // Column by column, a reader sees exactly what a whole-quilt reader sees.
    assert_eq!(read_index(&by_columns, &layout), whole);
    let (start, end) = (u16::from_le_bytes(*start), u16::from_le_bytes(*end));
    let patch = read_patch(bytes, &layout, start, end);
    assert_eq!(read_patch(&by_columns, &layout, start, end), patch);
    // Every patch the index names reads the same both ways too.
    if let Ok(index) = whole {
        for patch in &index.patches {
            assert_eq!(
                read_patch(&by_columns, &layout, patch.start_index, patch.end_index),
                read_patch(bytes, &layout, patch.start_index, patch.end_index)
            );
        }
    }
});
