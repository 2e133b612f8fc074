//! `walrus info`: the network as the chain describes it, by section as on Walrus (`info
//! epoch`, `storage`, `size`, `price`, `bft`, `committee`, `all`); plain `walrus info` shows
//! the epoch, storage, size and price sections and the current storage nodes.

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use walrus_chain::{
    client::committee::CommitteeView,
    contract::{
        redstuff,
        staking::{
            Staking, StakingPool, EPOCH_CHANGE_DONE, EPOCH_CHANGE_SYNC, NEXT_PARAMS_SELECTED,
        },
        system::{storage_units, System, BYTES_PER_UNIT_SIZE},
    },
};
use walrus_core::{bft, encoding::EncodingConfig, ObjectId};

use walrus_sdk::time::{format_span_ms, format_utc_ms, now_ms, relative_time};

use crate::{
    common::{human_bytes, Context},
    wal::{describe_wal, format_wal},
};

/// Print information about the network: epoch, storage, sizes, prices, BFT, committee
///
/// Without a subcommand: the epoch, storage, size and price sections and the storage nodes
/// of the current committee. `walrus info all` adds the fault-tolerance and committee
/// sections; each subcommand prints one section. Amounts are in FROST (1 WAL = 10^9 FROST)
/// and times in milliseconds since the Unix epoch in the JSON output.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct InfoArgs {
    #[command(subcommand)]
    command: Option<InfoCommand>,
}

/// The subcommands of `walrus info`.
#[derive(Debug, Subcommand)]
enum InfoCommand {
    /// Print every section: epoch, storage, size, price, fault tolerance and committee.
    All,
    /// Print the current epoch, when it started and ends, its length and how many epochs
    /// ahead storage can be bought.
    Epoch,
    /// Print the number of shards and storage nodes and the network's storage capacity.
    Storage,
    /// Print the storage unit and the largest blob the network can store.
    Size,
    /// Print the storage and write prices, with the cost of example blobs.
    Price,
    /// Print the byzantine fault tolerance: how many shards may fail, quorum sizes.
    Bft,
    Committee(CommitteeArgs),
}

impl InfoArgs {
    /// Runs the subcommand, or prints the default sections and the storage nodes.
    pub fn run(self, context: &Context) -> Result<()> {
        let (view, system, staking) = context.with_sdk(async |sdk| {
            let view = sdk.committee().await?;
            let system = sdk.chain().system().await?;
            let staking = sdk
                .chain()
                .staking()
                .await
                .context("reading the Staking object")?;
            Ok((view, system, staking))
        })?;
        let facts = ChainFacts::new(&view, &system, &staking);
        let now = now_ms();
        let sections = match self.command {
            None => return print_info(context, &view, &facts, now),
            Some(InfoCommand::All) => {
                let committee = CommitteeInfo::new(&staking);
                if context.json {
                    return print_json(&AllInfo {
                        epoch_info: facts.epoch_info(),
                        storage_info: facts.storage_info(),
                        size_info: facts.size_info(),
                        price_info: facts.price_info()?,
                        bft_info: facts.bft_info(),
                        committee_info: committee,
                    });
                }
                let mut text = facts.epoch_info().render(now);
                text.push_str(&facts.storage_info().render());
                text.push_str(&facts.size_info().render());
                text.push_str(&facts.price_info()?.render());
                text.push_str(&facts.bft_info().render());
                text.push_str(&committee.render(now));
                text
            }
            Some(InfoCommand::Epoch) => {
                section(context, &facts.epoch_info(), |info| info.render(now))?
            }
            Some(InfoCommand::Storage) => {
                section(context, &facts.storage_info(), StorageInfo::render)?
            }
            Some(InfoCommand::Size) => section(context, &facts.size_info(), SizeInfo::render)?,
            Some(InfoCommand::Price) => section(context, &facts.price_info()?, PriceInfo::render)?,
            Some(InfoCommand::Bft) => section(context, &facts.bft_info(), BftInfo::render)?,
            Some(InfoCommand::Committee(CommitteeArgs {})) => {
                section(context, &CommitteeInfo::new(&staking), |info| {
                    info.render(now)
                })?
            }
        };
        print!("{sections}");
        Ok(())
    }
}

/// Prints `value` as JSON.
fn print_json(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// One section: printed as JSON here (the empty text returned), or its text returned.
fn section<T: Serialize>(
    context: &Context,
    info: &T,
    render: impl Fn(&T) -> String,
) -> Result<String> {
    if context.json {
        print_json(info)?;
        Ok(String::new())
    } else {
        Ok(render(info))
    }
}

/// Plain `walrus info`: the epoch, storage, size and price sections and the storage nodes.
fn print_info(context: &Context, view: &CommitteeView, facts: &ChainFacts, now: u64) -> Result<()> {
    let members: Vec<serde_json::Value> = view
        .members
        .iter()
        .map(|member| {
            serde_json::json!({
                "nodeId": member.node_id.to_string(),
                "url": member.url,
                "shards": member.shards.iter().map(|s| s.0).collect::<Vec<_>>(),
            })
        })
        .collect();
    let price_info = facts.price_info()?;
    if context.json {
        return print_json(&serde_json::json!({
            "epoch": facts.epoch,
            "nShards": facts.n_shards,
            "storagePricePerUnitSize": facts.storage_price,
            "writePricePerUnitSize": facts.write_price,
            "maxEpochsAhead": facts.max_epochs_ahead,
            "members": members,
            "epochInfo": facts.epoch_info(),
            "storageInfo": facts.storage_info(),
            "sizeInfo": facts.size_info(),
            "priceInfo": price_info,
        }));
    }
    let mut text = facts.epoch_info().render(now);
    text.push_str(&facts.storage_info().render());
    text.push_str(&facts.size_info().render());
    text.push_str(&price_info.render());
    text.push_str("Storage nodes of the current committee:\n");
    for member in &view.members {
        text.push_str(&format!(
            "  {} at {}: {} shards\n",
            member.node_id,
            member.url,
            member.shards.len()
        ));
    }
    print!("{text}");
    Ok(())
}

/// What the sections are computed from: the chain's `System` and `Staking` and the current
/// committee, reduced to numbers (so the sections are pure and testable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFacts {
    /// The current epoch.
    pub epoch: u32,
    /// The epoch state (`EPOCH_CHANGE_DONE`, ...).
    pub epoch_state: u8,
    /// When the current epoch started.
    pub epoch_start_ms: u64,
    /// The epochs' length.
    pub epoch_duration_ms: u64,
    /// How many epochs ahead storage can be bought.
    pub max_epochs_ahead: u32,
    /// The number of shards.
    pub n_shards: u16,
    /// The shards of each current committee member.
    pub member_shards: Vec<usize>,
    /// FROST per storage unit per epoch.
    pub storage_price: u64,
    /// FROST per storage unit, once.
    pub write_price: u64,
    /// Encoded bytes the network can store per epoch.
    pub total_capacity_size: u64,
    /// Encoded bytes stored in the current epoch.
    pub used_capacity_size: u64,
}

impl ChainFacts {
    /// The facts of the chain state `system` / `staking` and the committee `view`.
    pub fn new(view: &CommitteeView, system: &System, staking: &Staking) -> Self {
        Self {
            epoch: staking.epoch,
            epoch_state: staking.epoch_state,
            epoch_start_ms: staking.epoch_start_ms,
            epoch_duration_ms: staking.epoch_duration_ms,
            max_epochs_ahead: system.max_epochs_ahead,
            n_shards: view.n_shards,
            member_shards: view.members.iter().map(|m| m.shards.len()).collect(),
            storage_price: system.storage_price_per_unit_size,
            write_price: system.write_price_per_unit_size,
            total_capacity_size: system.total_capacity_size,
            used_capacity_size: system
                .future_accounting
                .first()
                .map_or(0, |accounting| accounting.used_capacity),
        }
    }

    /// `info epoch`.
    pub fn epoch_info(&self) -> EpochInfo {
        let state = epoch_state_name(self.epoch_state);
        EpochInfo {
            current_epoch: self.epoch,
            start_of_current_epoch: format_utc_ms(self.epoch_start_ms),
            start_of_current_epoch_ms: self.epoch_start_ms,
            end_of_current_epoch_ms: self.epoch_start_ms.saturating_add(self.epoch_duration_ms),
            epoch_duration_ms: self.epoch_duration_ms,
            max_epochs_ahead: self.max_epochs_ahead,
            epoch_state: state,
        }
    }

    /// `info storage`.
    pub fn storage_info(&self) -> StorageInfo {
        StorageInfo {
            n_shards: self.n_shards,
            n_nodes: self.member_shards.len(),
            total_capacity_size: self.total_capacity_size,
            used_capacity_size: self.used_capacity_size,
        }
    }

    /// `info size`.
    pub fn size_info(&self) -> SizeInfo {
        SizeInfo {
            storage_unit_size: BYTES_PER_UNIT_SIZE,
            max_blob_size: EncodingConfig::new(self.n_shards)
                .map_or(0, |config| config.max_blob_size()),
        }
    }

    /// `info price`: the prices, and what blobs of a few sizes cost per epoch (as `store`
    /// charges: the encoded length, metadata included, in whole storage units).
    pub fn price_info(&self) -> Result<PriceInfo> {
        let config = EncodingConfig::new(self.n_shards)
            .map_err(|error| anyhow::anyhow!("the network's {} shards: {error}", self.n_shards))?;
        let max_blob_size = config.max_blob_size();
        let mut marginal_size: u64 = 1 << 20;
        while marginal_size > max_blob_size {
            marginal_size /= 4;
        }
        let metadata_size = u64::from(self.n_shards).saturating_mul(config.metadata_length());
        let marginal_slivers = config
            .blob_layout(marginal_size)
            .map_or(0, |layout| layout.encoded_slivers_length());
        let first = max_blob_size
            .checked_next_power_of_two()
            .unwrap_or(max_blob_size)
            / 1024;
        let example_blobs = [first, first.saturating_mul(32), max_blob_size]
            .into_iter()
            .filter_map(|unencoded_size| {
                let encoded_size =
                    redstuff::encoded_blob_length(unencoded_size, redstuff::RS2, self.n_shards)
                        .ok()?;
                Some(ExampleBlob {
                    unencoded_size,
                    encoded_size,
                    price: storage_units(encoded_size).saturating_mul(self.storage_price),
                })
            })
            .collect();
        Ok(PriceInfo {
            storage_price_per_unit_size: self.storage_price,
            write_price_per_unit_size: self.write_price,
            encoding_dependent_price_info: vec![EncodingPriceInfo {
                encoding_type: "RS2",
                marginal_size,
                metadata_price: storage_units(metadata_size).saturating_mul(self.storage_price),
                marginal_price: storage_units(marginal_slivers).saturating_mul(self.storage_price),
                example_blobs,
            }],
        })
    }

    /// `info bft`: `f`, `n - f`, and the fewest nodes (largest first) holding more than `f`
    /// shards together.
    pub fn bft_info(&self) -> BftInfo {
        let f = bft::max_n_faulty(self.n_shards);
        let mut shards = self.member_shards.clone();
        shards.sort_unstable_by(|a, b| b.cmp(a));
        let (mut min_nodes_above, mut shards_above) = (0, 0);
        for held in shards {
            if shards_above > usize::from(f) {
                break;
            }
            min_nodes_above += 1;
            shards_above += held;
        }
        BftInfo {
            max_faulty_shards: f,
            min_correct_shards: bft::min_n_correct(self.n_shards),
            quorum_threshold: bft::min_n_correct(self.n_shards),
            min_nodes_above,
            shards_above,
        }
    }
}

/// `walrus info epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochInfo {
    /// The current epoch.
    pub current_epoch: u32,
    /// When it started (RFC 3339, UTC).
    pub start_of_current_epoch: String,
    /// When it started.
    pub start_of_current_epoch_ms: u64,
    /// When it ends (the next epoch change may start from then on).
    pub end_of_current_epoch_ms: u64,
    /// The epochs' length.
    pub epoch_duration_ms: u64,
    /// How many epochs ahead storage can be bought.
    pub max_epochs_ahead: u32,
    /// `done`, `syncing` or `nextCommitteeSelected`.
    pub epoch_state: String,
}

impl EpochInfo {
    /// The section for people, with times relative to `now_ms`.
    pub fn render(&self, now_ms: u64) -> String {
        format!(
            "Epoch information\n  Current epoch: {} ({})\n  Started: {}\n  Ends: {} ({})\n  Epoch duration: {}\n  Storage can be bought for up to {} epochs ahead\n",
            self.current_epoch,
            epoch_state_text(&self.epoch_state),
            format_utc_ms(self.start_of_current_epoch_ms),
            format_utc_ms(self.end_of_current_epoch_ms),
            relative_time(self.end_of_current_epoch_ms, now_ms),
            format_span_ms(self.epoch_duration_ms),
            self.max_epochs_ahead,
        )
    }
}

/// `walrus info storage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageInfo {
    /// The number of shards.
    pub n_shards: u16,
    /// The number of storage nodes in the current committee.
    pub n_nodes: usize,
    /// Encoded bytes the network can store per epoch.
    pub total_capacity_size: u64,
    /// Encoded bytes stored in the current epoch.
    pub used_capacity_size: u64,
}

impl StorageInfo {
    /// The section for people.
    pub fn render(&self) -> String {
        format!(
            "Storage nodes\n  {} storage nodes hold {} shards\n  Capacity: {} used of {} per epoch\n",
            self.n_nodes,
            self.n_shards,
            human_bytes(self.used_capacity_size),
            human_bytes(self.total_capacity_size),
        )
    }
}

/// `walrus info size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeInfo {
    /// Bytes of one storage unit (storage is bought and priced in whole units).
    pub storage_unit_size: u64,
    /// The largest blob the network's shard count can encode.
    pub max_blob_size: u64,
}

impl SizeInfo {
    /// The section for people.
    pub fn render(&self) -> String {
        format!(
            "Sizes\n  Storage unit: {}\n  Maximum blob size: {} ({} B)\n",
            human_bytes(self.storage_unit_size),
            human_bytes(self.max_blob_size),
            self.max_blob_size
        )
    }
}

/// `walrus info price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceInfo {
    /// FROST per storage unit per epoch.
    pub storage_price_per_unit_size: u64,
    /// FROST per storage unit, paid once when a blob is registered.
    pub write_price_per_unit_size: u64,
    /// Costs of the encoding (RS2, the only one).
    pub encoding_dependent_price_info: Vec<EncodingPriceInfo>,
}

/// The costs of blobs under one encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncodingPriceInfo {
    /// The encoding type.
    pub encoding_type: &'static str,
    /// The size the marginal price is given for (1 MiB, or less for few shards).
    pub marginal_size: u64,
    /// What the metadata of any blob costs per epoch.
    pub metadata_price: u64,
    /// What `marginal_size` more bytes cost per epoch (slivers only).
    pub marginal_price: u64,
    /// Example blobs and their cost per epoch.
    pub example_blobs: Vec<ExampleBlob>,
}

/// One example blob of `info price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExampleBlob {
    /// Its size.
    pub unencoded_size: u64,
    /// The encoded size storage is charged for.
    pub encoded_size: u64,
    /// Its storage cost per epoch, in FROST (the write price comes on top, once).
    pub price: u64,
}

impl PriceInfo {
    /// The section for people.
    pub fn render(&self) -> String {
        let mut text = format!(
            "Prices\n  Storage: {} per MiB per epoch\n  Write: {} per MiB, once\n",
            describe_wal(self.storage_price_per_unit_size),
            describe_wal(self.write_price_per_unit_size),
        );
        for info in &self.encoding_dependent_price_info {
            text.push_str(&format!(
                "  {}: metadata {} WAL per epoch; {} more data {} WAL per epoch\n",
                info.encoding_type,
                format_wal(info.metadata_price),
                human_bytes(info.marginal_size),
                format_wal(info.marginal_price),
            ));
            for blob in &info.example_blobs {
                text.push_str(&format!(
                    "    {} ({} encoded): {} WAL per epoch\n",
                    human_bytes(blob.unencoded_size),
                    human_bytes(blob.encoded_size),
                    format_wal(blob.price),
                ));
            }
        }
        text
    }
}

/// `walrus info bft`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BftInfo {
    /// `f`: shards that may be faulty.
    pub max_faulty_shards: u16,
    /// `n - f`.
    pub min_correct_shards: u16,
    /// Shards whose signatures certify a blob (`n - f`, `2f + 1` when `n = 3f + 1`).
    pub quorum_threshold: u16,
    /// The fewest storage nodes holding more than `f` shards together.
    pub min_nodes_above: usize,
    /// The shards those nodes hold.
    pub shards_above: usize,
}

impl BftInfo {
    /// The section for people.
    pub fn render(&self) -> String {
        format!(
            "Byzantine fault tolerance\n  Up to {} faulty shards tolerated; {} correct shards needed\n  Quorum: {} shards\n  The {} largest nodes hold {} shards, more than the faulty maximum\n",
            self.max_faulty_shards,
            self.min_correct_shards,
            self.quorum_threshold,
            self.min_nodes_above,
            self.shards_above,
        )
    }
}

/// `walrus info all`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct AllInfo {
    epoch_info: EpochInfo,
    storage_info: StorageInfo,
    size_info: SizeInfo,
    price_info: PriceInfo,
    bft_info: BftInfo,
    committee_info: CommitteeInfo,
}

/// Print every storage node with its stake, commission and shards, this epoch and the next
///
/// For the current epoch and, once it is selected (from half-way through the epoch), the
/// next one: each storage node's ID, name, network address, stake (the current epoch's
/// active stake; for the next epoch the stake expected then), commission, shards, and
/// whether it is in that epoch's committee. Also the number of shards, the epoch's state
/// (epoch change done / new committee syncing its shards / next committee selected) and
/// when the epoch ends. Amounts are in FROST and the commission in basis points in the JSON
/// output; times are milliseconds since the Unix epoch.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CommitteeArgs {}

/// What `walrus info committee` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitteeInfo {
    /// The current epoch.
    pub epoch: u32,
    /// The number of shards.
    pub n_shards: u16,
    /// `done`, `syncing` or `nextCommitteeSelected` (`unknown(N)` for a state this client
    /// does not know).
    pub epoch_state: String,
    /// When the current epoch started.
    pub epoch_start_ms: u64,
    /// The epochs' length.
    pub epoch_duration_ms: u64,
    /// When the current epoch ends (the next epoch change may start from then on).
    pub epoch_end_ms: u64,
    /// The current epoch's nodes.
    pub current: EpochCommittee,
    /// The next epoch's nodes, once its committee is selected.
    pub next: Option<EpochCommittee>,
}

/// The storage nodes in one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochCommittee {
    /// The epoch.
    pub epoch: u32,
    /// Every registered node, committee members first (in registration order each).
    pub nodes: Vec<NodeEntry>,
}

/// One storage node in one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEntry {
    /// The node (pool) ID.
    pub node_id: String,
    /// Its name.
    pub name: String,
    /// Its REST API's address.
    pub network_address: String,
    /// Its stake in that epoch, in FROST.
    pub stake: u64,
    /// Its commission in that epoch, in basis points.
    pub commission_rate: u16,
    /// How many shards it holds.
    pub n_shards: usize,
    /// The shards it holds.
    pub shards: Vec<u16>,
    /// Whether it is in that epoch's committee (holds shards).
    pub in_committee: bool,
}

/// The name of an epoch state.
fn epoch_state_name(state: u8) -> String {
    match state {
        EPOCH_CHANGE_DONE => "done".to_owned(),
        EPOCH_CHANGE_SYNC => "syncing".to_owned(),
        NEXT_PARAMS_SELECTED => "nextCommitteeSelected".to_owned(),
        other => format!("unknown({other})"),
    }
}

/// An epoch state for people.
fn epoch_state_text(state: &str) -> &str {
    match state {
        "done" => "epoch change done",
        "syncing" => "new committee syncing its shards",
        "nextCommitteeSelected" => "next committee selected",
        other => other,
    }
}

/// The shards `node_id` holds in `assignment` (owner of shard `i` at position `i`).
fn shards_in(assignment: &[ObjectId], node_id: &ObjectId) -> Vec<u16> {
    assignment
        .iter()
        .enumerate()
        .filter(|(_, owner)| *owner == node_id)
        .filter_map(|(shard, _)| u16::try_from(shard).ok())
        .collect()
}

impl EpochCommittee {
    /// The nodes of `staking` in `epoch` with `assignment`, each with the stake and commission
    /// `terms` gives it.
    fn new(
        staking: &Staking,
        epoch: u32,
        assignment: &[ObjectId],
        terms: impl Fn(&StakingPool) -> (u64, u16),
    ) -> Self {
        let mut nodes: Vec<NodeEntry> = staking
            .pools
            .iter()
            .map(|pool| {
                let shards = shards_in(assignment, &pool.node_id);
                let (stake, commission_rate) = terms(pool);
                NodeEntry {
                    node_id: pool.node_id.to_string(),
                    name: pool.info.name.clone(),
                    network_address: pool.info.network_address.clone(),
                    stake,
                    commission_rate,
                    n_shards: shards.len(),
                    in_committee: !shards.is_empty(),
                    shards,
                }
            })
            .collect();
        // Stable: registration order within members and within the others.
        nodes.sort_by_key(|node| !node.in_committee);
        Self { epoch, nodes }
    }
}

impl CommitteeInfo {
    /// The committees of `staking`.
    pub fn new(staking: &Staking) -> Self {
        let current =
            EpochCommittee::new(staking, staking.epoch, &staking.shard_assignment, |pool| {
                (pool.active_stake, pool.commission_rate)
            });
        let next_epoch = staking.epoch.saturating_add(1);
        let next = (staking.epoch_state == NEXT_PARAMS_SELECTED
            && !staking.next_shard_assignment.is_empty())
        .then(|| {
            EpochCommittee::new(
                staking,
                next_epoch,
                &staking.next_shard_assignment,
                |pool| (pool.stake_at_epoch(next_epoch), pool.next_commission_rate),
            )
        });
        Self {
            epoch: staking.epoch,
            n_shards: staking.n_shards,
            epoch_state: epoch_state_name(staking.epoch_state),
            epoch_start_ms: staking.epoch_start_ms,
            epoch_duration_ms: staking.epoch_duration_ms,
            epoch_end_ms: staking
                .epoch_start_ms
                .saturating_add(staking.epoch_duration_ms),
            current,
            next,
        }
    }

    /// The committees for people, with times relative to `now_ms`.
    pub fn render(&self, now_ms: u64) -> String {
        let mut text = format!(
            "Epoch {} ({}), {} shards\nStarted {}; ends {} ({})\n",
            self.epoch,
            epoch_state_text(&self.epoch_state),
            self.n_shards,
            format_utc_ms(self.epoch_start_ms),
            format_utc_ms(self.epoch_end_ms),
            relative_time(self.epoch_end_ms, now_ms),
        );
        text.push_str(&render_epoch("Current epoch", &self.current));
        match &self.next {
            Some(next) => text.push_str(&render_epoch("Next epoch", next)),
            None => text.push_str(&format!(
                "Next epoch ({}): committee not selected yet\n",
                self.epoch.saturating_add(1)
            )),
        }
        text
    }
}

/// One epoch's nodes for people.
fn render_epoch(title: &str, committee: &EpochCommittee) -> String {
    let members = committee
        .nodes
        .iter()
        .filter(|node| node.in_committee)
        .count();
    let mut text = format!(
        "{title} ({}): {members} of {} nodes in the committee\n",
        committee.epoch,
        committee.nodes.len()
    );
    for node in &committee.nodes {
        text.push_str(&format!(
            "  {} {}\n    address {}, stake {} WAL, commission {}\n    {}\n",
            node.name,
            node.node_id,
            node.network_address,
            format_wal(node.stake),
            format_commission(node.commission_rate),
            if node.in_committee {
                format!("{} shards: {}", node.n_shards, shard_ranges(&node.shards))
            } else {
                "not in the committee".to_owned()
            }
        ));
    }
    text
}

/// Basis points as a percentage (`1250` -> `12.50%`).
fn format_commission(basis_points: u16) -> String {
    format!("{}.{:02}%", basis_points / 100, basis_points % 100)
}

/// Sorted shard indices as ranges (`0-3, 7, 9-10`).
fn shard_ranges(shards: &[u16]) -> String {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for &shard in shards {
        match ranges.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(shard) => *end = shard,
            _ => ranges.push((shard, shard)),
        }
    }
    ranges
        .iter()
        .map(|(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use walrus_chain::contract::{
        staking::{StorageNodeInfo, EPOCH_CHANGE_DONE},
        sui::{Entry, VecMap},
    };

    use super::*;

    fn pool(byte: u8, active_stake: u64, pending_next: u64) -> StakingPool {
        let node_id = ObjectId([byte; 32]);
        StakingPool {
            node_id,
            info: StorageNodeInfo {
                name: format!("node-{byte}"),
                node_id,
                network_address: format!("127.0.0.1:{byte}"),
                public_key: vec![0; 48],
                network_public_key: vec![],
                next_epoch_public_key: None,
            },
            commission_rate: 1_250,
            next_commission_rate: 500,
            active_stake,
            num_shares: active_stake,
            pending_stake: VecMap {
                contents: vec![Entry {
                    key: 6,
                    value: pending_next,
                }],
            },
            pending_shares_withdraw: VecMap::default(),
            exchange_rates: Vec::new(),
            wal_balance: active_stake + pending_next,
            commission: 0,
            storage_price: 1,
            write_price: 1,
            node_capacity: 1,
        }
    }

    fn staking() -> Staking {
        let (a, b) = (ObjectId([1; 32]), ObjectId([2; 32]));
        Staking {
            id: ObjectId([9; 32]),
            n_shards: 4,
            epoch_duration_ms: 600_000,
            epoch: 5,
            epoch_start_ms: 1_700_000_000_000,
            // Node 3 registered first but holds no shard this epoch.
            pools: vec![
                pool(3, 0, 2_000_000_000),
                pool(1, 3_000_000_000, 0),
                pool(2, 1_000_000_000, 0),
            ],
            shard_assignment: vec![a, a, a, b],
            previous_shard_assignment: Vec::new(),
            next_shard_assignment: Vec::new(),
            sync_done_weight: 0,
            epoch_state: EPOCH_CHANGE_DONE,
            next_epoch_params: None,
        }
    }

    #[test]
    fn the_current_committee_lists_every_node() {
        let info = CommitteeInfo::new(&staking());
        assert_eq!(info.epoch, 5);
        assert_eq!(info.n_shards, 4);
        assert_eq!(info.epoch_state, "done");
        assert_eq!(info.epoch_end_ms, 1_700_000_600_000);
        assert_eq!(info.next, None);
        let nodes = &info.current.nodes;
        let names: Vec<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
        assert_eq!(names, ["node-1", "node-2", "node-3"]);
        assert_eq!(nodes[0].shards, [0, 1, 2]);
        assert_eq!((nodes[0].n_shards, nodes[0].stake), (3, 3_000_000_000));
        assert_eq!(nodes[0].commission_rate, 1_250);
        assert!(nodes[1].in_committee && !nodes[2].in_committee);
        assert_eq!(nodes[2].shards, Vec::<u16>::new());
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["current"]["nodes"][0]["networkAddress"], "127.0.0.1:1");
        assert_eq!(json["current"]["nodes"][0]["inCommittee"], true);
        assert_eq!(json["next"], serde_json::Value::Null);

        let text = info.render(1_700_000_048_000);
        assert!(
            text.starts_with("Epoch 5 (epoch change done), 4 shards\n"),
            "{text}"
        );
        assert!(
            text.contains("Started 2023-11-14T22:13:20Z; ends 2023-11-14T22:23:20Z (in 9m 12s)"),
            "{text}"
        );
        assert!(
            text.contains("Current epoch (5): 2 of 3 nodes in the committee"),
            "{text}"
        );
        assert!(
            text.contains("stake 3 WAL, commission 12.50%\n    3 shards: 0-2\n"),
            "{text}"
        );
        assert!(text.contains("not in the committee"), "{text}");
        assert!(
            text.contains("Next epoch (6): committee not selected yet"),
            "{text}"
        );
    }

    #[test]
    fn the_next_committee_once_selected() {
        let mut staking = staking();
        let (a, c) = (ObjectId([1; 32]), ObjectId([3; 32]));
        staking.epoch_state = NEXT_PARAMS_SELECTED;
        staking.next_shard_assignment = vec![a, a, c, c];
        let info = CommitteeInfo::new(&staking);
        assert_eq!(info.epoch_state, "nextCommitteeSelected");
        let next = info.next.as_ref().expect("a next committee");
        assert_eq!(next.epoch, 6);
        let names: Vec<&str> = next.nodes.iter().map(|node| node.name.as_str()).collect();
        // Members first, in registration order.
        assert_eq!(names, ["node-3", "node-1", "node-2"]);
        // Node 3's pending stake activates in epoch 6; commissions change then.
        assert_eq!(
            (next.nodes[0].stake, next.nodes[0].shards.clone()),
            (2_000_000_000, vec![2, 3])
        );
        assert_eq!(next.nodes[0].commission_rate, 500);
        assert!(!next.nodes[2].in_committee);
        let text = info.render(1_700_000_700_000);
        assert!(text.contains("(next committee selected)"), "{text}");
        assert!(text.contains("(1m 40s ago)"), "{text}");
        assert!(
            text.contains("Next epoch (6): 2 of 3 nodes in the committee"),
            "{text}"
        );
        // Selected but empty (inconsistent chain data): not shown as a committee.
        staking.next_shard_assignment.clear();
        assert_eq!(CommitteeInfo::new(&staking).next, None);
        staking.epoch_state = 7;
        assert_eq!(CommitteeInfo::new(&staking).epoch_state, "unknown(7)");
        staking.epoch_state = EPOCH_CHANGE_SYNC;
        assert_eq!(CommitteeInfo::new(&staking).epoch_state, "syncing");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(format_commission(0), "0.00%");
        assert_eq!(format_commission(5), "0.05%");
        assert_eq!(format_commission(10_000), "100.00%");
        assert_eq!(shard_ranges(&[]), "");
        assert_eq!(shard_ranges(&[0, 1, 2, 3, 7, 9, 10]), "0-3, 7, 9-10");
        assert_eq!(shard_ranges(&[u16::MAX]), "65535");
    }

    fn facts() -> ChainFacts {
        ChainFacts {
            epoch: 5,
            epoch_state: EPOCH_CHANGE_DONE,
            epoch_start_ms: 1_700_000_000_000,
            epoch_duration_ms: 600_000,
            max_epochs_ahead: 53,
            n_shards: 10,
            member_shards: vec![1, 2, 3, 4],
            storage_price: 1_000,
            write_price: 2_000,
            total_capacity_size: 1 << 40,
            used_capacity_size: 3 << 20,
        }
    }

    #[test]
    fn sections_from_the_chain_facts() {
        let facts = facts();
        let epoch = facts.epoch_info();
        assert_eq!(epoch.current_epoch, 5);
        assert_eq!(epoch.start_of_current_epoch, "2023-11-14T22:13:20Z");
        assert_eq!(epoch.end_of_current_epoch_ms, 1_700_000_600_000);
        assert_eq!(
            (epoch.max_epochs_ahead, epoch.epoch_state.as_str()),
            (53, "done")
        );
        let text = epoch.render(1_700_000_048_000);
        assert!(
            text.contains("Current epoch: 5 (epoch change done)"),
            "{text}"
        );
        assert!(text.contains("(in 9m 12s)"), "{text}");
        assert!(text.contains("Epoch duration: 10m 0s"), "{text}");
        assert!(text.contains("up to 53 epochs ahead"), "{text}");

        let storage = facts.storage_info();
        assert_eq!((storage.n_shards, storage.n_nodes), (10, 4));
        assert!(storage.render().contains("4 storage nodes hold 10 shards"));
        assert!(storage.render().contains("3.00 MiB used of 1.00 TiB"));

        // 10 shards: f = 3, 4 x 7 source symbols of at most 65534 bytes.
        let size = facts.size_info();
        assert_eq!(size.storage_unit_size, 1 << 20);
        assert_eq!(size.max_blob_size, 4 * 7 * 65_534);

        // Prices as `store` charges them: whole MiB units of the encoded length.
        let price = facts.price_info().unwrap();
        assert_eq!(
            (
                price.storage_price_per_unit_size,
                price.write_price_per_unit_size
            ),
            (1_000, 2_000)
        );
        let rs2 = &price.encoding_dependent_price_info[0];
        assert_eq!((rs2.encoding_type, rs2.marginal_size), ("RS2", 1 << 20));
        // Metadata: 10 shards x (10 x 64 + 32) bytes, one unit.
        assert_eq!(rs2.metadata_price, 1_000);
        let encoded_1mib = redstuff::encoded_blob_length(1 << 20, redstuff::RS2, 10).unwrap();
        assert!(
            rs2.marginal_price > 0 && rs2.marginal_price <= storage_units(encoded_1mib) * 1_000
        );
        assert_eq!(rs2.example_blobs.len(), 3);
        let largest = &rs2.example_blobs[2];
        assert_eq!(largest.unencoded_size, size.max_blob_size);
        assert_eq!(
            largest.price,
            storage_units(largest.encoded_size) * 1_000,
            "{largest:?}"
        );
        assert!(price
            .render()
            .contains("Storage: 0.000001 WAL (1000 FROST) per MiB per epoch"));

        // f = 3: the node of 4 shards alone holds more than f; with 3 and 3 it takes two.
        let bft = facts.bft_info();
        assert_eq!(
            (
                bft.max_faulty_shards,
                bft.min_correct_shards,
                bft.quorum_threshold
            ),
            (3, 7, 7)
        );
        assert_eq!((bft.min_nodes_above, bft.shards_above), (1, 4));
        let even = ChainFacts {
            member_shards: vec![1, 3, 1, 3, 2],
            ..facts
        };
        assert_eq!(
            (
                even.bft_info().min_nodes_above,
                even.bft_info().shards_above
            ),
            (2, 6)
        );
        let json = serde_json::to_value(even.epoch_info()).unwrap();
        assert_eq!(json["currentEpoch"], 5);
        assert_eq!(json["maxEpochsAhead"], 53);
    }
}
