//! Auditing a blob without downloading it: [`StorageNodes::audit`] (the `walrus audit`
//! command, through [`WalrusSdk::audit`](crate::client::WalrusSdk::audit)).
//!
//! The audit reads the blob's metadata (verified against the blob ID), then asks every member
//! of the committee for its copy of the metadata and, a few times per axis, for the recovery
//! symbols that help rebuild a randomly chosen sliver (`GET recoverySymbols`): a node answers
//! one symbol, with its Merkle proof, from every sliver of the orthogonal axis it holds. A
//! symbol that verifies against the metadata, at the random position asked for, proves the
//! node holds (or can compute) that sliver. Each shard is then reported as
//! [`Verdict::Holds`] (proven for its primary and its secondary sliver), [`Verdict::Missing`],
//! [`Verdict::Lying`] or [`Verdict::Unreachable`].
//!
//! The cost per node is one metadata request and `2 * samples` symbol requests, each answer
//! one symbol (the blob's symbol size, at most 64 KiB) and its Merkle proof per shard: cheap
//! enough to run on a schedule. Every request has a timeout, and at most
//! [`AuditOptions::max_concurrent_requests`] are in flight.

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use rand::seq::index::sample;
use serde::Serialize;
use tokio::{sync::Semaphore, task::JoinSet};
use walrus_core::{
    encoding::{EitherDecodingSymbol, GeneralRecoverySymbol, Primary, Secondary},
    metadata::VerifiedBlobMetadataWithId,
    BlobId, Epoch, ShardIndex, SliverIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::{
    client::{metadata_response_limit, recovery_symbols_response_limit},
    NodeClient, NodeClientError, NodeConnector,
};

use walrus_chain::client::committee::CommitteeView;

use crate::{
    client::{encoding_config, SdkError},
    nodes::{node_clients, StorageNodes},
};

/// How thoroughly and how patiently to audit.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Random symbols asked per sliver axis and node (each proves every shard of the node for
    /// that axis at one random position).
    pub samples: usize,
    /// Timeout of each request (connect included): a node that does not answer in time is
    /// [`Verdict::Unreachable`].
    pub request_timeout: Duration,
    /// Requests in flight at once, over all nodes.
    pub max_concurrent_requests: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            samples: 2,
            request_timeout: Duration::from_secs(10),
            max_concurrent_requests: 32,
        }
    }
}

/// What the audit found about a shard (or one of its slivers, or a node's metadata). Ordered
/// from best to worst; a shard's verdict is the worst of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Proven: every symbol asked for verified against the metadata.
    Holds,
    /// No answer: transport error, timeout or an overloaded node (5xx, 429).
    Unreachable,
    /// The node says it does not have the data, or left the symbol out of its answer.
    Missing,
    /// The node answered something that does not verify, or is not what was asked for.
    Lying,
}

impl Verdict {
    /// The lowercase name (as in the JSON report).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Unreachable => "unreachable",
            Verdict::Missing => "missing",
            Verdict::Lying => "lying",
        }
    }
}

/// A verdict with what led to it (none when the data are proven).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    verdict: Verdict,
    detail: Option<String>,
}

impl Finding {
    fn holds() -> Self {
        Self {
            verdict: Verdict::Holds,
            detail: None,
        }
    }

    fn new(verdict: Verdict, detail: String) -> Self {
        Self {
            verdict,
            detail: Some(detail),
        }
    }

    /// Keeps the worse of the two (the first one on a tie).
    fn merge(&mut self, other: Finding) {
        if other.verdict > self.verdict {
            *self = other;
        }
    }
}

/// The audit of one shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardAudit {
    /// The shard.
    pub shard: u16,
    /// The sliver pair of the blob the shard holds.
    pub pair: u16,
    /// The worst of `metadata`, `primary` and `secondary`.
    pub verdict: Verdict,
    /// The node's copy of the metadata (the same for all its shards).
    pub metadata: Verdict,
    /// The primary sliver of the pair.
    pub primary: Verdict,
    /// The secondary sliver of the pair.
    pub secondary: Verdict,
    /// Why the verdict is not `holds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The audit of one storage node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAudit {
    /// The node's ID (its staking pool object).
    pub node_id: String,
    /// Its REST API's base URL.
    pub url: String,
    /// Its shards, in committee order.
    pub shards: Vec<ShardAudit>,
}

/// Counts over all shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    /// Shards of the committee.
    pub n_shards: u16,
    /// Shards proven to hold both slivers of their pair.
    pub holds: u16,
    /// Shards missing data.
    pub missing: u16,
    /// Shards whose node lied.
    pub lying: u16,
    /// Shards whose node did not answer.
    pub unreachable: u16,
    /// Shards a read needs (`n - 2f` primary slivers).
    pub required_for_read: u16,
    /// Whether the proven shards alone suffice to read the blob (`holds >= n - 2f`).
    pub recoverable: bool,
}

/// The result of [`StorageNodes::audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// The blob.
    pub blob_id: BlobId,
    /// The epoch of the committee audited.
    pub epoch: Epoch,
    /// The blob's size in bytes (from the verified metadata).
    pub unencoded_length: u64,
    /// Random symbols asked per node and axis.
    pub samples: usize,
    /// Per node, per shard.
    pub nodes: Vec<NodeAudit>,
    /// Totals.
    pub summary: AuditSummary,
}

impl AuditReport {
    /// Whether every shard holds the blob.
    pub fn all_hold(&self) -> bool {
        self.summary.holds == self.summary.n_shards
    }

    fn new(
        metadata: &VerifiedBlobMetadataWithId,
        epoch: Epoch,
        samples: usize,
        nodes: Vec<NodeAudit>,
    ) -> Self {
        let config = metadata.config();
        let mut summary = AuditSummary {
            n_shards: config.n_shards(),
            holds: 0,
            missing: 0,
            lying: 0,
            unreachable: 0,
            required_for_read: u16::try_from(config.n_primary_source_symbols()).unwrap_or(u16::MAX),
            recoverable: false,
        };
        for shard in nodes.iter().flat_map(|node| &node.shards) {
            let count = match shard.verdict {
                Verdict::Holds => &mut summary.holds,
                Verdict::Missing => &mut summary.missing,
                Verdict::Lying => &mut summary.lying,
                Verdict::Unreachable => &mut summary.unreachable,
            };
            *count = count.saturating_add(1);
        }
        summary.recoverable = summary.holds >= summary.required_for_read;
        Self {
            blob_id: *metadata.blob_id(),
            epoch,
            unencoded_length: metadata.metadata().unencoded_length(),
            samples,
            nodes,
            summary,
        }
    }
}

impl StorageNodes {
    /// Audits `blob_id` on the members of `view` without downloading it; see the module docs.
    /// Fails only if no verified metadata can be had (the blob is unknown, invalid or too few
    /// nodes answer); everything a node does wrong is in the report.
    pub async fn audit(
        &self,
        view: &CommitteeView,
        blob_id: &BlobId,
        options: &AuditOptions,
    ) -> Result<AuditReport, SdkError> {
        let config = encoding_config(view)?;
        let timeout = options.request_timeout;
        let http = NodeConnector::new(timeout, timeout);
        let clients = node_clients(view, &http);
        let metadata = Arc::new(self.read_metadata(view, &clients, blob_id, &config).await?);
        let limiter = Arc::new(Semaphore::new(options.max_concurrent_requests.max(1)));
        let samples = options.samples.clamp(1, config.n());
        let mut tasks = JoinSet::new();
        for (index, (member, client)) in view.members.iter().zip(clients).enumerate() {
            let shards: Vec<(ShardIndex, SliverPairIndex)> = member
                .shards
                .iter()
                .map(|shard| (*shard, shard.to_pair_index(view.n_shards, blob_id)))
                .collect();
            let probes = random_probes(config.n(), samples);
            let (metadata, limiter) = (metadata.clone(), limiter.clone());
            tasks.spawn(async move {
                let findings = match client {
                    Some(client) => {
                        let pairs: Vec<SliverPairIndex> =
                            shards.iter().map(|(_, pair)| *pair).collect();
                        let auditor = NodeAuditor {
                            client: &client,
                            metadata: &metadata,
                            timeout,
                            limiter: &limiter,
                        };
                        auditor.audit(&pairs, &probes).await
                    }
                    None => NodeFindings::all(
                        shards.len(),
                        Finding::new(Verdict::Unreachable, "invalid node URL".into()),
                    ),
                };
                (index, shards, findings)
            });
        }
        let mut nodes: Vec<Option<NodeAudit>> = vec![None; view.members.len()];
        while let Some(joined) = tasks.join_next().await {
            let (index, shards, findings) =
                joined.map_err(|error| SdkError::Internal(error.to_string()))?;
            let member = &view.members[index];
            nodes[index] = Some(NodeAudit {
                node_id: member.node_id.to_string(),
                url: member.url.clone(),
                shards: findings.into_shards(&shards),
            });
        }
        let nodes = nodes.into_iter().flatten().collect();
        Ok(AuditReport::new(&metadata, view.epoch, samples, nodes))
    }
}

/// `samples` symbol requests per axis at distinct random positions: `(axis of the slivers
/// proven, position)`.
fn random_probes(n: usize, samples: usize) -> Vec<(SliverType, SliverIndex)> {
    let mut rng = rand::thread_rng();
    let mut probes = Vec::new();
    for axis in [SliverType::Primary, SliverType::Secondary] {
        for position in sample(&mut rng, n, samples.min(n)) {
            let position = u16::try_from(position).unwrap_or(u16::MAX);
            probes.push((axis, SliverIndex(position)));
        }
    }
    probes
}

/// What the audit found about one node: its metadata and, per pair it holds, each axis.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeFindings {
    metadata: Finding,
    /// Per pair (in the order asked), `[primary, secondary]`.
    slivers: Vec<[Finding; 2]>,
}

impl NodeFindings {
    /// The same finding for everything of a node with `n_pairs` pairs.
    fn all(n_pairs: usize, finding: Finding) -> Self {
        Self {
            metadata: finding.clone(),
            slivers: vec![[finding.clone(), finding]; n_pairs],
        }
    }

    /// The per-shard report.
    fn into_shards(self, shards: &[(ShardIndex, SliverPairIndex)]) -> Vec<ShardAudit> {
        shards
            .iter()
            .zip(self.slivers)
            .map(|((shard, pair), [primary, secondary])| {
                let mut worst = self.metadata.clone();
                worst.merge(primary.clone());
                worst.merge(secondary.clone());
                ShardAudit {
                    shard: shard.0,
                    pair: pair.0,
                    verdict: worst.verdict,
                    metadata: self.metadata.verdict,
                    primary: primary.verdict,
                    secondary: secondary.verdict,
                    detail: worst.detail,
                }
            })
            .collect()
    }
}

/// Audits one node.
struct NodeAuditor<'a> {
    client: &'a NodeClient,
    metadata: &'a VerifiedBlobMetadataWithId,
    timeout: Duration,
    limiter: &'a Semaphore,
}

impl NodeAuditor<'_> {
    /// Checks the node's metadata and runs every probe against the `pairs` it holds.
    async fn audit(
        &self,
        pairs: &[SliverPairIndex],
        probes: &[(SliverType, SliverIndex)],
    ) -> NodeFindings {
        let symbol_requests = probes
            .iter()
            .map(|&(axis, position)| self.probe(pairs, axis, position));
        let (metadata, probed) = futures::join!(self.check_metadata(), join_all(symbol_requests));
        let mut findings = NodeFindings::all(pairs.len(), Finding::holds());
        findings.metadata = metadata;
        for ((axis, _), per_pair) in probes.iter().zip(probed) {
            let slot = match axis {
                SliverType::Primary => 0,
                SliverType::Secondary => 1,
            };
            for (finding, slivers) in per_pair.into_iter().zip(&mut findings.slivers) {
                slivers[slot].merge(finding);
            }
        }
        findings
    }

    /// Runs `request` holding a concurrency permit, within the timeout.
    async fn request<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, NodeClientError>>,
    ) -> Result<T, Finding> {
        let _permit = self.limiter.acquire().await;
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify_error(&error)),
            Err(_) => Err(Finding::new(
                Verdict::Unreachable,
                format!("no answer within {:?}", self.timeout),
            )),
        }
    }

    /// The node's metadata must be exactly the verified ones.
    async fn check_metadata(&self) -> Finding {
        let blob_id = self.metadata.blob_id();
        let limit = metadata_response_limit(self.metadata.config().n_shards());
        match self
            .request(self.client.get_metadata_with_limit(blob_id, limit))
            .await
        {
            Ok(metadata) if metadata == *self.metadata.as_unverified() => Finding::holds(),
            Ok(_) => Finding::new(
                Verdict::Lying,
                "the node's metadata differ from the verified ones".into(),
            ),
            Err(finding) => prefixed(finding, "metadata"),
        }
    }

    /// Asks for the symbols at `position` of the node's slivers of `axis` (the request for
    /// rebuilding sliver `position` of the orthogonal axis) and checks, per pair, that the
    /// symbol of the pair's sliver is there, is the one asked for and verifies.
    async fn probe(
        &self,
        pairs: &[SliverPairIndex],
        axis: SliverType,
        position: SliverIndex,
    ) -> Vec<Finding> {
        let blob_id = self.metadata.blob_id();
        let limit = recovery_symbols_response_limit(self.metadata.layout(), pairs.len());
        let answer = self
            .request(self.client.get_recovery_symbols_with_limit(
                blob_id,
                position,
                axis.orthogonal(),
                limit,
            ))
            .await;
        let symbols = match answer {
            Ok(symbols) => symbols,
            Err(finding) => {
                let finding = prefixed(finding, &format!("{axis} symbol {}", position.get()));
                return vec![finding; pairs.len()];
            }
        };
        let n_shards = self.metadata.config().n_shards();
        pairs
            .iter()
            .map(|pair| {
                let source = match axis {
                    SliverType::Primary => pair.primary_sliver_index(),
                    SliverType::Secondary => SliverIndex(n_shards - 1 - pair.0),
                };
                check_symbols(&symbols, self.metadata, axis, source, position)
            })
            .collect()
    }
}

/// The finding for sliver `source` of `axis`, from a node's answer to the request for the
/// symbols at `position`: every symbol of that sliver in the answer must be the one asked for
/// and verify; none at all is missing. Symbols of slivers the node is not known to hold are
/// ignored.
fn check_symbols(
    symbols: &[GeneralRecoverySymbol],
    metadata: &VerifiedBlobMetadataWithId,
    axis: SliverType,
    source: SliverIndex,
    position: SliverIndex,
) -> Finding {
    let what = format!(
        "{axis} sliver {} at symbol {}",
        source.get(),
        position.get()
    );
    let mut finding = Finding::new(
        Verdict::Missing,
        format!("{what}: the node sent no symbol of it"),
    );
    for symbol in symbols {
        if source_index(symbol) != source.get() {
            continue;
        }
        let checked =
            if symbol.target_type() != axis.orthogonal() || symbol.target_index != position {
                Err(format!(
                    "not the symbol asked for (rebuilds {} sliver {})",
                    symbol.target_type(),
                    symbol.target_index.get()
                ))
            } else {
                verify_symbol(symbol.clone(), metadata, position)
            };
        match checked {
            Ok(()) if finding.verdict == Verdict::Missing => finding = Finding::holds(),
            Ok(()) => {}
            Err(error) => return Finding::new(Verdict::Lying, format!("{what}: {error}")),
        }
    }
    finding
}

/// The index of the sliver a symbol was taken from.
fn source_index(symbol: &GeneralRecoverySymbol) -> u16 {
    match &symbol.symbol {
        EitherDecodingSymbol::Primary(symbol) => symbol.index,
        EitherDecodingSymbol::Secondary(symbol) => symbol.index,
    }
}

/// Verifies a symbol (for rebuilding sliver `position` of its own axis) against `metadata`.
fn verify_symbol(
    symbol: GeneralRecoverySymbol,
    metadata: &VerifiedBlobMetadataWithId,
    position: SliverIndex,
) -> Result<(), String> {
    let verified = match symbol.target_type() {
        SliverType::Primary => symbol
            .into_recovery_symbol::<Primary>(position)
            .and_then(|symbol| symbol.verify(metadata, position)),
        SliverType::Secondary => symbol
            .into_recovery_symbol::<Secondary>(position)
            .and_then(|symbol| symbol.verify(metadata, position)),
    };
    verified.map_err(|error| format!("does not verify: {error}"))
}

/// What a failed request says about the node: no answer, no data, or a lie (an answer that
/// is not what the route returns).
fn classify_error(error: &NodeClientError) -> Finding {
    let verdict = match error {
        NodeClientError::Transport(_) => Verdict::Unreachable,
        NodeClientError::Decode(_) | NodeClientError::ResponseTooLarge { .. } => Verdict::Lying,
        error if error.is_not_found() => Verdict::Missing,
        error if error.is_transient() => Verdict::Unreachable,
        _ => Verdict::Missing,
    };
    Finding::new(verdict, error.to_string())
}

/// `finding` with `what: ` before its detail.
fn prefixed(finding: Finding, what: &str) -> Finding {
    Finding {
        verdict: finding.verdict,
        detail: finding.detail.map(|detail| format!("{what}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use walrus_core::encoding::EncodedBlob;
    use walrus_node_client::{
        default_http_client,
        testing::{encoded_blob, forge, recovery_symbols, Behavior, MockNode},
        ErrorReason,
    };

    use super::*;

    const N_SHARDS: u16 = 10;

    fn blob() -> Arc<EncodedBlob> {
        Arc::new(encoded_blob(N_SHARDS, 1500, 0x5a))
    }

    /// Audits a mock node holding `pairs` that behaves as `behavior`.
    async fn audit_mock(
        blob: &Arc<EncodedBlob>,
        pairs: &[SliverPairIndex],
        behavior: Behavior,
    ) -> NodeFindings {
        let node = MockNode::start(blob.clone(), pairs.to_vec(), behavior).await;
        audit_url(blob, pairs, node.url()).await
    }

    async fn audit_url(blob: &EncodedBlob, pairs: &[SliverPairIndex], url: &str) -> NodeFindings {
        let timeout = Duration::from_millis(500);
        let client = NodeClient::with_http(url, default_http_client(timeout, timeout)).unwrap();
        let limiter = Semaphore::new(4);
        let auditor = NodeAuditor {
            client: &client,
            metadata: &blob.metadata,
            timeout,
            limiter: &limiter,
        };
        let probes = random_probes(usize::from(N_SHARDS), 3);
        assert_eq!(probes.len(), 6);
        tokio::time::timeout(Duration::from_secs(10), auditor.audit(pairs, &probes))
            .await
            .expect("the audit ends within its timeouts")
    }

    fn verdicts(findings: &NodeFindings) -> Vec<[Verdict; 3]> {
        findings
            .slivers
            .iter()
            .map(|[primary, secondary]| {
                [
                    findings.metadata.verdict,
                    primary.verdict,
                    secondary.verdict,
                ]
            })
            .collect()
    }

    #[tokio::test]
    async fn classifies_honest_missing_lying_and_unreachable_nodes() {
        let blob = blob();
        let pairs = [SliverPairIndex(0), SliverPairIndex(7), SliverPairIndex(9)];
        let all = |verdict| vec![[verdict; 3]; pairs.len()];

        let honest = audit_mock(&blob, &pairs, Behavior::Honest).await;
        assert_eq!(verdicts(&honest), all(Verdict::Holds), "{honest:?}");
        let empty = audit_mock(
            &blob,
            &pairs,
            Behavior::Refuse(ErrorReason::MetadataNotFound),
        )
        .await;
        assert_eq!(verdicts(&empty), all(Verdict::Missing), "{empty:?}");
        for lie in [
            Behavior::CorruptSymbols,
            Behavior::WrongPosition,
            Behavior::Body(vec![0; 8 << 20]),
        ] {
            let findings = audit_mock(&blob, &pairs, lie.clone()).await;
            for [_, primary, secondary] in verdicts(&findings) {
                assert_eq!(
                    [primary, secondary],
                    [Verdict::Lying; 2],
                    "{lie:?}: {findings:?}"
                );
            }
        }
        let other = encoded_blob(N_SHARDS, 1500, 0x33)
            .metadata
            .into_unverified();
        let wrong_metadata = audit_mock(&blob, &pairs, Behavior::Metadata(other)).await;
        assert_eq!(wrong_metadata.metadata.verdict, Verdict::Lying);
        let hung = audit_mock(&blob, &pairs, Behavior::Hang).await;
        assert_eq!(verdicts(&hung), all(Verdict::Unreachable), "{hung:?}");
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let refused = audit_url(&blob, &pairs, &format!("http://{closed}")).await;
        assert_eq!(verdicts(&refused), all(Verdict::Unreachable), "{refused:?}");

        // A node that serves only some of the pairs it should hold: the others are missing.
        let partial = MockNode::start(blob.clone(), pairs[..2].to_vec(), Behavior::Honest).await;
        let findings = audit_url(&blob, &pairs, partial.url()).await;
        let mut expected = all(Verdict::Holds);
        expected[2] = [Verdict::Holds, Verdict::Missing, Verdict::Missing];
        assert_eq!(verdicts(&findings), expected, "{findings:?}");
    }

    #[test]
    fn symbols_must_be_the_ones_asked_for() {
        let blob = blob();
        let metadata = &blob.metadata;
        let position = SliverIndex(6);
        // Symbol 6 of primary sliver 2 (it helps rebuild secondary sliver 6).
        let [symbol] = &recovery_symbols(
            &blob,
            &[SliverPairIndex(2)],
            position,
            SliverType::Secondary,
        )[..] else {
            panic!("one symbol per pair")
        };
        let symbol = symbol.clone();
        let primary = SliverType::Primary;
        let check = |symbols: &[GeneralRecoverySymbol], source: u16, at: u16| {
            check_symbols(
                symbols,
                metadata,
                primary,
                SliverIndex(source),
                SliverIndex(at),
            )
            .verdict
        };
        assert_eq!(check(std::slice::from_ref(&symbol), 2, 6), Verdict::Holds);
        assert_eq!(check(&[], 2, 6), Verdict::Missing);
        // A symbol of another sliver does not vouch for sliver 3.
        assert_eq!(check(std::slice::from_ref(&symbol), 3, 6), Verdict::Missing);
        // The genuine symbol, but not at the position asked for.
        assert_eq!(check(std::slice::from_ref(&symbol), 2, 5), Verdict::Lying);
        // A relabelled position: the proof fails.
        let mut moved = symbol.clone();
        moved.target_index = SliverIndex(5);
        assert_eq!(check(&[moved], 2, 5), Verdict::Lying);
        // One good and one bad copy: a lie.
        let corrupt = forge(vec![symbol.clone()]);
        assert_eq!(check(&[symbol, corrupt[0].clone()], 2, 6), Verdict::Lying);
    }

    #[test]
    fn report_summarizes_shards() {
        let blob = blob();
        let shard = |index: u16, verdict| ShardAudit {
            shard: index,
            pair: index,
            verdict,
            metadata: Verdict::Holds,
            primary: verdict,
            secondary: Verdict::Holds,
            detail: None,
        };
        let node = |shards| NodeAudit {
            node_id: "0x01".into(),
            url: "http://127.0.0.1:1".into(),
            shards,
        };
        // 10 shards: f = 3, reads need 4.
        let report = |holding: u16| {
            let shards = (0..N_SHARDS)
                .map(|i| {
                    let verdict = match i {
                        i if i < holding => Verdict::Holds,
                        i if i % 3 == 0 => Verdict::Missing,
                        i if i % 3 == 1 => Verdict::Lying,
                        _ => Verdict::Unreachable,
                    };
                    shard(i, verdict)
                })
                .collect();
            AuditReport::new(&blob.metadata, 1, 2, vec![node(shards)])
        };
        let full = report(N_SHARDS);
        assert!(full.all_hold() && full.summary.recoverable);
        assert_eq!(full.summary.required_for_read, 4);
        let partial = report(4);
        assert!(!partial.all_hold() && partial.summary.recoverable);
        assert_eq!(
            (
                partial.summary.holds,
                partial.summary.missing,
                partial.summary.lying,
                partial.summary.unreachable
            ),
            (4, 2, 2, 2)
        );
        assert!(!report(3).summary.recoverable);
        let json = serde_json::to_value(&partial).unwrap();
        assert_eq!(json["blobId"], blob.metadata.blob_id().to_string());
        assert_eq!(json["nodes"][0]["shards"][8]["verdict"], "unreachable");
        assert_eq!(json["summary"]["requiredForRead"], 4);
    }

    #[test]
    fn merged_findings_keep_the_worst() {
        let mut finding = Finding::holds();
        finding.merge(Finding::new(Verdict::Unreachable, "a".into()));
        finding.merge(Finding::new(Verdict::Missing, "b".into()));
        finding.merge(Finding::new(Verdict::Unreachable, "c".into()));
        assert_eq!(finding, Finding::new(Verdict::Missing, "b".into()));
        finding.merge(Finding::new(Verdict::Lying, "d".into()));
        assert_eq!(finding.verdict, Verdict::Lying);
    }
}
