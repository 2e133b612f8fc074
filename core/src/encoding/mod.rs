//! Red Stuff RS2: configuration, slivers, blob encoding and decoding.

mod axis;
mod config;
mod decoder;
mod encoder;
mod erasure;
pub(crate) mod rs;
mod slivers;
mod striped;
mod symbols;

pub use axis::{EncodingAxis, Primary, Secondary, SliverType};
pub use config::{BlobLayout, EncodingConfig, DIGEST_LEN, MAX_SYMBOL_SIZE, SYMBOL_ALIGNMENT};
pub use decoder::{
    decode_and_check, decode_and_verify, decode_blob, verify_source_row, ConsistencyCheck,
    DecodeError,
};
pub use encoder::{compute_metadata, encode_blob, EncodedBlob};
pub(crate) use slivers::expand_symbols;
pub use slivers::{
    PrimarySliver, SecondarySliver, Sliver, SliverBytes, SliverData, SliverPair,
    SliverVerificationError, Symbols, SymbolsError,
};
pub use striped::{
    compute_metadata_striped, encode_striped, restore_source_rows_striped, RowStorage, SpillLayout,
    StripeStorage, StripedError, DEFAULT_STRIPE_BYTES,
};
pub use symbols::{
    expand_sliver_data, recover_sliver, recover_sliver_from_verified,
    recover_slivers_from_verified, verify_recovery_symbols, DecodingSymbol, EitherDecodingSymbol,
    ExpandedSliver, GeneralRecoverySymbol, InconsistencyProof, InconsistencyProofEither,
    InconsistencyVerificationError, RebuiltSliver, RecoveryError, RecoverySymbol,
    RecoverySymbolsBcs, SymbolVerificationError, VerifiedRecoverySymbol,
};
