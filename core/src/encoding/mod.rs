//! Red Stuff RS2: configuration, slivers, blob encoding and decoding.

mod axis;
mod config;
mod decoder;
mod encoder;
pub(crate) mod rs;
mod slivers;

pub use axis::{EncodingAxis, Primary, Secondary, SliverType};
pub use config::{BlobLayout, EncodingConfig, DIGEST_LEN, MAX_SYMBOL_SIZE, SYMBOL_ALIGNMENT};
pub use decoder::{decode_and_verify, decode_blob, DecodeError};
pub use encoder::{compute_metadata, encode_blob, EncodedBlob};
pub use slivers::{
    PrimarySliver, SecondarySliver, Sliver, SliverData, SliverPair, SliverVerificationError,
    Symbols, SymbolsError,
};
pub(crate) use slivers::expand_symbols;
