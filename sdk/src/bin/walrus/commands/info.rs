//! `walrus info`: the network as the chain describes it; `walrus info committee`: the storage
//! nodes, their stake and shards in the current and the next epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use walrus_chain::contract::staking::{
    Staking, StakingPool, EPOCH_CHANGE_DONE, EPOCH_CHANGE_SYNC, NEXT_PARAMS_SELECTED,
};
use walrus_core::ObjectId;

use crate::{common::Context, wal::format_wal};

/// The current epoch, committee, shards and prices
///
/// Without a subcommand: the epoch, the number of shards, the prices and the storage nodes
/// of the current committee. `walrus info committee` shows every storage node with its
/// stake, commission and shards, for the current and the next epoch.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct InfoArgs {
    #[command(subcommand)]
    command: Option<InfoCommand>,
}

/// The subcommands of `walrus info`.
#[derive(Debug, Subcommand)]
enum InfoCommand {
    Committee(CommitteeArgs),
}

impl InfoArgs {
    /// Runs the subcommand, or prints the epoch, shards, prices and storage nodes.
    pub fn run(self, context: &Context) -> Result<()> {
        match self.command {
            Some(InfoCommand::Committee(args)) => args.run(context),
            None => print_info(context),
        }
    }
}

/// Prints the epoch, shards, prices and storage nodes.
fn print_info(context: &Context) -> Result<()> {
    let (view, system) =
        context.with_sdk(async |sdk| Ok((sdk.committee().await?, sdk.chain().system().await?)))?;
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
    if context.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "epoch": view.epoch,
                "nShards": view.n_shards,
                "storagePricePerUnitSize": system.storage_price_per_unit_size,
                "writePricePerUnitSize": system.write_price_per_unit_size,
                "maxEpochsAhead": system.max_epochs_ahead,
                "members": members,
            }))?
        );
    } else {
        println!(
            "Epoch: {}\nShards: {}\nStorage price: {} FROST per MiB per epoch\nWrite price: {} FROST per MiB\nStorage nodes:",
            view.epoch,
            view.n_shards,
            system.storage_price_per_unit_size,
            system.write_price_per_unit_size
        );
        for member in &view.members {
            println!(
                "  {} at {}: {} shards",
                member.node_id,
                member.url,
                member.shards.len()
            );
        }
    }
    Ok(())
}

/// Every storage node with its stake, commission and shards, this epoch and the next
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

impl CommitteeArgs {
    /// Prints the committees.
    pub fn run(self, context: &Context) -> Result<()> {
        let staking = context.with_sdk(async |sdk| {
            sdk.chain()
                .staking()
                .await
                .context("reading the Staking object")
        })?;
        let info = CommitteeInfo::new(&staking);
        if context.json {
            println!("{}", serde_json::to_string_pretty(&info)?);
        } else {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
                });
            print!("{}", info.render(now_ms));
        }
        Ok(())
    }
}

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

/// Milliseconds since the Unix epoch as a UTC time (`2024-03-01T12:00:00Z`).
fn format_utc_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    let of_day = seconds % 86_400;
    // Days to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// `at_ms` relative to `now_ms`: `in 9m 12s` or `3s ago`.
fn relative_time(at_ms: u64, now_ms: u64) -> String {
    let (seconds, future) = if at_ms >= now_ms {
        ((at_ms - now_ms) / 1000, true)
    } else {
        ((now_ms - at_ms) / 1000, false)
    };
    let span = match (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    ) {
        (0, 0, 0, s) => format!("{s}s"),
        (0, 0, m, s) => format!("{m}m {s}s"),
        (0, h, m, _) => format!("{h}h {m}m"),
        (d, h, _, _) => format!("{d}d {h}h"),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
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
        assert_eq!(format_utc_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc_ms(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc_ms(1_709_294_399_999), "2024-03-01T11:59:59Z");
        // No panic at the extremes.
        assert!(format_utc_ms(u64::MAX).ends_with('Z'));
        assert_eq!(relative_time(5_000, 0), "in 5s");
        assert_eq!(relative_time(0, 3_600_000), "1h 0m ago");
        assert_eq!(relative_time(90_061_000, 0), "in 1d 1h");
    }
}
