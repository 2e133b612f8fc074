//! **Test-only** fault injection at the serving edge: a node configured with a `[faults]`
//! section ([`crate::config::FaultsSection`]) answers `GET sliver`, `GET metadata` and/or
//! `GET recoverySymbols` with corrupted bodies, playing a byzantine storage node in end-to-end tests. The stored data are
//! untouched (uploads, confirmations, recovery and the node's own checks are honest); only
//! the bytes leaving the REST API change. Never set in production.

use axum::{
    body::Body,
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use walrus_core::{
    encoding::{EitherDecodingSymbol, GeneralRecoverySymbol, Primary, SliverData},
    merkle::Node,
    metadata::{BlobMetadata, BlobMetadataWithId},
};
use walrus_node_client::api::{METADATA_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT};

use crate::config::FaultsSection;

/// Rewrites a response body; `None` leaves it unchanged.
type Corruption = fn(&[u8]) -> Option<Vec<u8>>;

/// Largest response body the fault layer rewrites (larger bodies pass unchanged).
const MAX_REWRITTEN_BODY: usize = 512 << 20;

/// The BCS of a sliver (either axis: the bytes are the same shape) with the first byte of its
/// symbol data flipped; `None` if `bytes` are not a sliver or it has no data.
pub fn corrupt_sliver_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let sliver: SliverData<Primary> = bcs::from_bytes(bytes).ok()?;
    let mut data = sliver.symbols.data().to_vec();
    *data.first_mut()? ^= 0x01;
    let corrupted =
        SliverData::<Primary>::from_data(data, sliver.symbols.symbol_size(), sliver.index).ok()?;
    bcs::to_bytes(&corrupted).ok()
}

/// The BCS of blob metadata with the primary hash of pair 0 changed (the blob ID is kept, so
/// the metadata no longer verify against it); `None` if `bytes` are not metadata.
pub fn corrupt_metadata_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut metadata: BlobMetadataWithId = bcs::from_bytes(bytes).ok()?;
    let BlobMetadata::V1(v1) = &mut metadata.metadata;
    let first = v1.hashes.first_mut()?;
    let mut digest = match first.primary_hash {
        Node::Digest(digest) => digest,
        Node::Empty => [0; 32],
    };
    digest[0] ^= 0x01;
    first.primary_hash = Node::Digest(digest);
    bcs::to_bytes(&metadata).ok()
}

/// The BCS of recovery symbols with the first byte of every symbol flipped (their proofs no
/// longer verify); `None` if `bytes` are not recovery symbols.
pub fn corrupt_recovery_symbols_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut symbols: Vec<GeneralRecoverySymbol> = bcs::from_bytes(bytes).ok()?;
    for symbol in &mut symbols {
        let data = match &mut symbol.symbol {
            EitherDecodingSymbol::Primary(symbol) => &mut symbol.data,
            EitherDecodingSymbol::Secondary(symbol) => &mut symbol.data,
        };
        if let Some(first) = data.first_mut() {
            *first ^= 0x01;
        }
    }
    bcs::to_bytes(&symbols).ok()
}

/// Middleware: rewrites successful `GET sliver` / `GET metadata` / `GET recoverySymbols`
/// answers as `faults` says.
pub async fn inject(State(faults): State<FaultsSection>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let is_get = request.method() == Method::GET;
    let corrupt: Option<Corruption> = match route.as_deref() {
        Some(SLIVER_ENDPOINT) if is_get && faults.corrupt_slivers => Some(corrupt_sliver_bytes),
        Some(METADATA_ENDPOINT) if is_get && faults.corrupt_metadata => {
            Some(corrupt_metadata_bytes)
        }
        Some(RECOVERY_SYMBOLS_ENDPOINT) if is_get && faults.corrupt_recovery_symbols => {
            Some(corrupt_recovery_symbols_bytes)
        }
        _ => None,
    };
    let response = next.run(request).await;
    let Some(corrupt) = corrupt else {
        return response;
    };
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REWRITTEN_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let rewritten = corrupt(&bytes).unwrap_or_else(|| bytes.to_vec());
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(rewritten))
}

#[cfg(test)]
mod tests {
    use walrus_core::encoding::{encode_blob, EncodingConfig};

    use super::*;

    #[test]
    fn corrupted_slivers_and_metadata_fail_verification() {
        let config = EncodingConfig::new(10).unwrap();
        let encoded = encode_blob(&config, &[7u8; 5_000]).unwrap();
        let primary = &encoded.sliver_pairs[3].primary;
        let secondary = &encoded.sliver_pairs[3].secondary;

        let bytes = corrupt_sliver_bytes(&bcs::to_bytes(primary).unwrap()).unwrap();
        let bad: SliverData<Primary> = bcs::from_bytes(&bytes).unwrap();
        assert_eq!(bad.index, primary.index);
        assert!(bad.verify(&encoded.metadata).is_err());
        assert!(primary.verify(&encoded.metadata).is_ok());
        let bytes = corrupt_sliver_bytes(&bcs::to_bytes(secondary).unwrap()).unwrap();
        let bad: SliverData<walrus_core::encoding::Secondary> = bcs::from_bytes(&bytes).unwrap();
        assert!(bad.verify(&encoded.metadata).is_err());

        let honest = encoded.metadata.clone().into_unverified();
        let bytes = corrupt_metadata_bytes(&bcs::to_bytes(&honest).unwrap()).unwrap();
        let bad: BlobMetadataWithId = bcs::from_bytes(&bytes).unwrap();
        assert_eq!(bad.blob_id, honest.blob_id);
        assert!(bad.verify(&config).is_err());
        let symbol = GeneralRecoverySymbol::from_recovery_symbol(
            walrus_core::encoding::ExpandedSliver::new(primary, encoded.metadata.layout())
                .unwrap()
                .recovery_symbol(walrus_core::SliverIndex(2))
                .unwrap(),
            walrus_core::SliverIndex(2),
        );
        let bytes =
            corrupt_recovery_symbols_bytes(&bcs::to_bytes(&vec![symbol.clone()]).unwrap()).unwrap();
        let bad: Vec<GeneralRecoverySymbol> = bcs::from_bytes(&bytes).unwrap();
        assert_eq!(bad.len(), 1);
        assert_ne!(bad[0], symbol);
        assert!(corrupt_sliver_bytes(b"junk").is_none());
        assert!(corrupt_metadata_bytes(b"junk").is_none());
    }
}
