//! The storage protocol by hand, for the tests of the storage nodes themselves: a
//! [`ProtocolClient`] registers a blob on chain, uploads its metadata and slivers to chosen
//! nodes, collects and checks storage confirmations, aggregates them into a certificate and
//! certifies; [`StorageCluster`] is the network these tests run on; a [`StuckUpload`] is an
//! upload provably in flight (half of its body sent, no answer).

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::{ensure, Context};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use walrus_chain::{
    client::{committee::CommitteeView, BlobRegistration, WalrusClient},
    contract::{blob::Blob, redstuff, sui::U256},
};
use walrus_core::{
    crypto::Threshold,
    encoding::EncodedBlob,
    merkle::Node,
    messages::{ConfirmationCertificate, SignedStorageConfirmation},
    BlobId, Epoch, ObjectId, SliverPairIndex, SliverType,
};
use walrus_localnet::network::DEFAULT_STAKE;
use walrus_node_client::{
    api::{sliver_path, BlobStatus, StoredOnNodeStatus},
    NodeClient, BCS_CONTENT_TYPE,
};

use crate::{encode, poll, ShardMap, TestNetwork};

/// Deadline of each wait of the protocol client (registration seen, confirmation signed).
const PROTOCOL_TIMEOUT: Duration = Duration::from_secs(20);

/// The protocol by hand against the nodes of a [`TestNetwork`], with the network's client
/// wallet. Every operation panics on failure (with what failed).
pub struct ProtocolClient {
    /// The chain client (the network's client wallet).
    pub chain: WalrusClient,
    /// The committee when the client was made (members in on-chain order: signer indices).
    committee: CommitteeView,
    /// Which node holds which shards.
    shards: ShardMap,
    /// A client of each node, in network order.
    nodes: Vec<NodeClient>,
    /// The address of each node, in network order.
    addresses: Vec<SocketAddr>,
    /// The node of each committee member, in committee order.
    node_of_member: Vec<usize>,
}

impl ProtocolClient {
    /// A client of `net` with its client wallet; checks that the shards the nodes reported
    /// at start are those the chain assigns them.
    pub async fn new(net: &TestNetwork) -> anyhow::Result<Self> {
        let chain = net.chain_client()?;
        let committee = chain.committee_view(None).await?;
        let n_nodes = net.network.n_nodes();
        let mut node_of_member = Vec::new();
        for member in &committee.members {
            let node = (0..n_nodes)
                .find(|&i| {
                    net.network.node_url(i).is_ok_and(|url| {
                        url.trim_end_matches('/') == member.url.trim_end_matches('/')
                    })
                })
                .with_context(|| format!("no node of the network at {}", member.url))?;
            let mut assigned = member.shards.clone();
            assigned.sort_unstable();
            let mut reported = net.shards.shards(node).to_vec();
            reported.sort_unstable();
            ensure!(
                assigned == reported,
                "node {node} reports shards {reported:?}, the chain assigns {assigned:?}"
            );
            node_of_member.push(node);
        }
        Ok(Self {
            chain,
            committee,
            shards: net.shards.clone(),
            nodes: (0..n_nodes).map(|i| net.node_client(i)).collect(),
            addresses: (0..n_nodes).map(|i| net.node_address(i)).collect(),
            node_of_member,
        })
    }

    /// The epoch of the committee.
    pub fn epoch(&self) -> Epoch {
        self.committee.epoch
    }

    /// The REST client of node `node`.
    pub fn node(&self, node: usize) -> &NodeClient {
        &self.nodes[node]
    }

    /// Registers `blob` on chain, permanent for `epochs_ahead` epochs; returns the `Blob`
    /// object.
    pub async fn register(&self, blob: &EncodedBlob, epochs_ahead: u32) -> Blob {
        let Node::Digest(root) = blob.metadata.root_hash() else {
            panic!("a blob has a root");
        };
        let registration = BlobRegistration {
            blob_id: U256::from(*blob.metadata.blob_id()),
            root_hash: U256(root),
            size: blob.metadata.metadata().unencoded_length(),
            encoding_type: redstuff::RS2,
            deletable: false,
            epochs_ahead,
            attributes: Vec::new(),
        };
        self.chain
            .reserve_and_register_blob(&registration)
            .await
            .expect("register the blob")
    }

    /// Waits until node `node` has seen the registration of `blob_id`.
    pub async fn wait_registered(&self, node: usize, blob_id: &BlobId) {
        let client = &self.nodes[node];
        poll(
            &format!("node {node} to see the registration of {blob_id}"),
            PROTOCOL_TIMEOUT,
            || async {
                match client.get_blob_status(blob_id).await {
                    Ok(BlobStatus::Nonexistent) => Err("nonexistent".to_owned()),
                    Ok(_) => Ok(()),
                    Err(error) => Err(error.to_string()),
                }
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    }

    /// Uploads the metadata and the slivers of each node's pairs to each node of `nodes`
    /// (once it has seen the registration).
    pub async fn upload(&self, blob: &EncodedBlob, nodes: &[usize]) {
        let blob_id = blob.metadata.blob_id();
        for &node in nodes {
            self.wait_registered(node, blob_id).await;
            let client = &self.nodes[node];
            client
                .put_metadata(blob_id, blob.metadata.metadata())
                .await
                .unwrap_or_else(|e| panic!("PUT metadata to node {node}: {e}"));
            for pair in self.shards.pairs_of(node, blob_id) {
                let slivers = &blob.sliver_pairs[usize::from(pair.0)];
                client
                    .put_sliver(blob_id, pair, &slivers.primary)
                    .await
                    .unwrap_or_else(|e| panic!("PUT primary {} to node {node}: {e}", pair.0));
                client
                    .put_sliver(blob_id, pair, &slivers.secondary)
                    .await
                    .unwrap_or_else(|e| panic!("PUT secondary {} to node {node}: {e}", pair.0));
            }
        }
    }

    /// Committee member `member`'s storage confirmation of `blob_id` (permanent), polled
    /// until it signs; its signature is checked against the member's key.
    async fn member_confirmation(
        &self,
        member: usize,
        blob_id: &BlobId,
    ) -> SignedStorageConfirmation {
        let node = self.node_of_member[member];
        let client = &self.nodes[node];
        let signed = poll(
            &format!("node {node}'s storage confirmation"),
            PROTOCOL_TIMEOUT,
            || async {
                client
                    .get_confirmation(blob_id, None)
                    .await
                    .map_err(|error| error.to_string())
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        signed
            .verify_signature(&self.committee.members[member].public_key)
            .expect("a valid confirmation signature");
        signed
    }

    /// Node `node`'s storage confirmation of `blob_id` (permanent), polled until it signs;
    /// its signature is checked.
    pub async fn confirmation(&self, node: usize, blob_id: &BlobId) -> SignedStorageConfirmation {
        let member = self
            .node_of_member
            .iter()
            .position(|&of| of == node)
            .expect("every node is a committee member");
        self.member_confirmation(member, blob_id).await
    }

    /// Confirmations from the members among `nodes` (committee order) until they carry a
    /// quorum of shards; panics if they cannot.
    pub async fn certificate(&self, blob_id: &BlobId, nodes: &[usize]) -> ConfirmationCertificate {
        let n_shards = self.committee.n_shards;
        let (mut signed, mut signers, mut weight) = (Vec::new(), Vec::new(), 0u16);
        for (member, node) in self.node_of_member.iter().enumerate() {
            if Threshold::Quorum.is_met(weight, n_shards) {
                break;
            }
            if !nodes.contains(node) {
                continue;
            }
            signed.push(self.member_confirmation(member, blob_id).await);
            signers.push(u16::try_from(member).expect("a signer index"));
            weight += self.committee.committee.members()[member].weight;
        }
        assert!(
            Threshold::Quorum.is_met(weight, n_shards),
            "nodes {nodes:?} carry only {weight} shards"
        );
        ConfirmationCertificate::from_signed_messages_and_indices(&signed, &signers)
            .expect("a confirmation certificate")
    }

    /// Certifies the blob object `object` with `certificate`; returns the certified object.
    pub async fn certify(&self, object: ObjectId, certificate: &ConfirmationCertificate) -> Blob {
        let blob = self
            .chain
            .certify_blob(object, certificate)
            .await
            .expect("the chain accepts the certificate");
        assert!(
            blob.certified_epoch.is_some(),
            "the Blob object is certified"
        );
        blob
    }

    /// Leaves an upload of `blob` to node `node` (which has seen its registration) provably
    /// in flight: the node acknowledges the metadata and the primary sliver of its first
    /// pair, then only half of the body of that pair's secondary sliver is sent.
    pub async fn start_stuck_upload(&self, node: usize, blob: &EncodedBlob) -> StuckUpload {
        let client = &self.nodes[node];
        let blob_id = blob.metadata.blob_id();
        let pair = self.shards.pairs_of(node, blob_id)[0];
        let slivers = &blob.sliver_pairs[usize::from(pair.0)];
        client
            .put_metadata(blob_id, blob.metadata.metadata())
            .await
            .expect("the metadata accepted");
        client
            .put_sliver(blob_id, pair, &slivers.primary)
            .await
            .expect("the primary sliver accepted");
        let body = bcs::to_bytes(&slivers.secondary).expect("a BCS sliver");
        let path = sliver_path(blob_id, pair, SliverType::Secondary);
        let address = self.addresses[node];
        let mut stream = TcpStream::connect(address)
            .await
            .expect("a connection to the node");
        let head = format!(
            "PUT {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: {BCS_CONTENT_TYPE}\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("sent");
        stream
            .write_all(&body[..body.len() / 2])
            .await
            .expect("sent");
        stream.flush().await.expect("flushed");
        StuckUpload {
            pair,
            body_len: body.len(),
            stream,
        }
    }

    /// Encodes `data`, registers it (permanent, 5 epochs), uploads it to `upload_to` and
    /// certifies it with their confirmations; returns the blob and its object.
    pub async fn store(&self, data: &[u8], upload_to: &[usize]) -> (EncodedBlob, Blob) {
        let blob = encode(data, self.committee.n_shards);
        let object = self.register(&blob, 5).await;
        self.upload(&blob, upload_to).await;
        let certificate = self.certificate(blob.metadata.blob_id(), upload_to).await;
        let certified = self.certify(object.id, &certificate).await;
        (blob, certified)
    }
}

/// The network of the storage-node tests: [`Self::NODES`] nodes with stakes 1:2:3:4, so
/// holding 1, 2, 3 and 4 of [`Self::SHARDS`] shards (quorum 7, validity 4), no publisher or
/// aggregator, a short registration wait, no epoch change during a test; and a
/// [`ProtocolClient`] of it.
pub struct StorageCluster {
    /// The network.
    pub net: TestNetwork,
    /// The protocol client of its client wallet.
    pub client: ProtocolClient,
}

impl StorageCluster {
    /// Storage nodes of the network.
    pub const NODES: usize = 4;
    /// Shards of the network.
    pub const SHARDS: u16 = 10;
    /// How long a node waits for a registration event before answering NOT_REGISTERED.
    pub const REGISTRATION_WAIT_MS: u64 = 500;

    /// Runs one test ([`crate::run`]) on a fresh cluster.
    pub fn run<F: Future<Output = ()>>(test: impl FnOnce(Self) -> F) {
        crate::run(|| async { test(Self::start().await).await });
    }

    /// Starts the network and checks the shards by stake and that every node is in the
    /// chain's epoch.
    async fn start() -> Self {
        let stakes = (1..=4).map(|share| share * DEFAULT_STAKE).collect();
        let net = TestNetwork::start_with(Self::NODES, Self::SHARDS, |options| {
            options.stakes = Some(stakes);
            options.services = false;
            options.registration_wait_ms = Self::REGISTRATION_WAIT_MS;
            options.epoch_duration_ms = 3_600_000;
        })
        .await
        .expect("a network");
        let weights: Vec<usize> = (0..Self::NODES).map(|i| net.shards.weight(&[i])).collect();
        assert_eq!(weights, vec![1, 2, 3, 4], "shards by stake");
        let client = ProtocolClient::new(&net)
            .await
            .expect("a protocol client whose committee matches the nodes");
        for i in 0..Self::NODES {
            let health = net.network.node_health(i).await.expect("health");
            assert_eq!(health.epoch, client.epoch(), "node {i} is in another epoch");
        }
        Self { net, client }
    }
}

/// An upload to one node stuck in the middle of its body
/// ([`ProtocolClient::start_stuck_upload`]): the metadata and the primary sliver of
/// [`Self::pair`] acknowledged, half of the secondary sliver's body sent on an open
/// connection.
pub struct StuckUpload {
    /// The pair whose primary sliver was acknowledged and whose secondary sliver is half-sent.
    pub pair: SliverPairIndex,
    /// The length of the secondary sliver's body (half of it was sent).
    pub body_len: usize,
    stream: TcpStream,
}

impl StuckUpload {
    /// Asserts that the node has not answered the half-sent upload within `wait`.
    pub async fn assert_unanswered(&mut self, wait: Duration) {
        let mut answer = [0u8; 256];
        assert!(
            tokio::time::timeout(wait, self.stream.read(&mut answer))
                .await
                .is_err(),
            "the node answered a half-sent upload"
        );
    }

    /// Asserts that the connection breaks without an answer within 10 s (the node is gone).
    pub async fn assert_broken_unanswered(&mut self) {
        let mut answer = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut answer)).await {
            Ok(Ok(0) | Err(_)) => {}
            Ok(Ok(n)) => panic!(
                "the half-sent upload was answered: {}",
                String::from_utf8_lossy(&answer[..n])
            ),
            Err(_) => panic!("the half-sent upload's connection outlived the node"),
        }
    }

    /// Asserts that the node of `client` holds exactly what it acknowledged of `blob`: the
    /// metadata and the primary sliver of [`Self::pair`], byte-exact, and no other sliver of
    /// its `pairs` (an unacknowledged upload left no trace).
    pub async fn assert_only_acknowledged_kept(
        &self,
        client: &NodeClient,
        pairs: &[SliverPairIndex],
        blob: &EncodedBlob,
    ) {
        let blob_id = blob.metadata.blob_id();
        assert_eq!(
            client
                .get_metadata(blob_id)
                .await
                .expect("the metadata kept"),
            blob.metadata.clone().into_unverified()
        );
        assert_eq!(
            client
                .get_sliver::<walrus_core::encoding::Primary>(blob_id, self.pair)
                .await
                .expect("the acknowledged sliver kept"),
            blob.sliver_pairs[usize::from(self.pair.0)].primary
        );
        for &pair in pairs {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                if pair == self.pair && axis == SliverType::Primary {
                    continue;
                }
                let status = client
                    .get_sliver_status(blob_id, pair, axis)
                    .await
                    .expect("a sliver status");
                assert_eq!(
                    status,
                    StoredOnNodeStatus::Nonexistent,
                    "pair {} {axis:?} was never acknowledged",
                    pair.0
                );
            }
        }
    }
}
