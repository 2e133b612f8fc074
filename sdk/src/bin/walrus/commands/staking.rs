//! Staking WAL with storage nodes: `walrus stake`, `walrus request-withdraw-stake`,
//! `walrus withdraw-stake`, `walrus list-staked-wal`.
//!
//! Every check the contract would make (the node exists, the wallet holds the WAL, the object
//! is the wallet's StakedWal, its withdrawal was requested and its epoch has come) is made
//! before anything is sent, so a refusal says why in the wallet's terms; a Move abort that
//! still happens (the chain moved on in between) is explained by its
//! [`ContractRejection`].

use std::fmt;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use serde::Serialize;
use walrus_chain::{
    client::{ClientError, WalrusClient},
    contract::staking::{StakedWal, Staking},
};
use walrus_core::ObjectId;
use walrus_sdk::rejection::ContractRejection;

use crate::{
    common::{parse_object_id, Context},
    wal::{describe_wal, format_wal, parse_wal},
};

/// Stake WAL from the wallet with a storage node
///
/// The stake counts for the node's committee weight from the next epoch (or from the one
/// after, once the next committee is selected) and earns a share of the node's storage
/// rewards, minus its commission, from then on. Prints the new StakedWal object, which the
/// wallet owns: `walrus request-withdraw-stake` and `walrus withdraw-stake` take it back.
///
/// The amount is checked before anything is sent: more than zero, at most 9 decimals
/// (1 FROST = 0.000000001 WAL), and no more than the wallet holds. Gas is paid in SUI.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StakeArgs {
    /// The storage node to stake with: its node ID (0x…), as `walrus info committee` lists it.
    #[arg(long, value_name = "NODE_ID")]
    node_id: String,
    /// How much to stake, in WAL (decimals allowed, e.g. 1.5; 1 WAL = 10^9 FROST).
    #[arg(long, value_name = "WAL", allow_hyphen_values = true)]
    amount: String,
}

impl StakeArgs {
    /// Stakes the amount and prints the new StakedWal.
    pub fn run(self, context: &Context) -> Result<()> {
        let node_id = parse_object_id(&self.node_id)?;
        let amount = parse_wal(&self.amount)
            .with_context(|| format!("invalid --amount '{}'", self.amount))?;
        let (staked, staking) = context.with_sdk(async |sdk| {
            let chain = sdk.chain();
            let staking = read_staking(chain).await?;
            if !staking.pools.iter().any(|pool| pool.node_id == node_id) {
                bail!(
                    "no storage node has the ID {node_id} (`walrus info committee` lists the \
                     nodes)"
                );
            }
            let balance = chain
                .wal_balance()
                .await
                .context("reading the wallet's WAL balance")?;
            if amount > balance {
                bail!(
                    "the wallet holds {}, less than the {} to stake",
                    describe_wal(balance),
                    describe_wal(amount)
                );
            }
            let staked = chain
                .stake_with_pool(node_id, amount)
                .await
                .map_err(|error| chain_error(error, format!("staking with node {node_id}")))?;
            Ok((staked, read_staking(chain).await?))
        })?;
        let entry = StakedWalEntry::new(&staked, &staking);
        if context.json {
            println!("{}", serde_json::to_string_pretty(&entry)?);
        } else {
            println!(
                "Staked {} with node {}.\n{}",
                describe_wal(staked.principal),
                entry.node_label(),
                entry.render()
            );
        }
        Ok(())
    }
}

/// Ask to take back a StakedWal the wallet owns
///
/// Stake that is not active yet can be withdrawn right away. Active stake keeps counting
/// and earning until the next epoch change (or the one after, once the next committee is
/// selected) and can be withdrawn from then on; the output says from which epoch. Then run
/// `walrus withdraw-stake` with the same ID.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RequestWithdrawStakeArgs {
    /// The StakedWal object (0x…), as `walrus list-staked-wal` lists it.
    #[arg(long, value_name = "OBJECT_ID")]
    staked_wal_id: String,
}

impl RequestWithdrawStakeArgs {
    /// Requests the withdrawal and prints when the stake can be withdrawn.
    pub fn run(self, context: &Context) -> Result<()> {
        let id = parse_object_id(&self.staked_wal_id)?;
        let (staked, staking) = context.with_sdk(async |sdk| {
            let chain = sdk.chain();
            let staked = wallets_staked_wal(chain, id).await?;
            let staking = read_staking(chain).await?;
            if let Some(refusal) = request_refusal(&staked, staking.epoch) {
                bail!("{refusal}");
            }
            let staked = chain.request_withdraw_stake(id).await.map_err(|error| {
                chain_error(
                    error,
                    format!("requesting the withdrawal of StakedWal {id}"),
                )
            })?;
            Ok((staked, read_staking(chain).await?))
        })?;
        let entry = StakedWalEntry::new(&staked, &staking);
        if context.json {
            println!("{}", serde_json::to_string_pretty(&entry)?);
        } else {
            match entry.state {
                StakeState::Withdrawing { withdraw_epoch } => println!(
                    "Requested the withdrawal of StakedWal {id}: it can be withdrawn from epoch \
                     {withdraw_epoch} (the current epoch is {}) with `walrus withdraw-stake \
                     --staked-wal-id {id}`.",
                    staking.epoch
                ),
                _ => println!(
                    "Requested the withdrawal of StakedWal {id}: {}. Run `walrus withdraw-stake \
                     --staked-wal-id {id}` to take it back.",
                    entry.state_text
                ),
            }
        }
        Ok(())
    }
}

/// Take back a StakedWal the wallet owns, as WAL
///
/// Pays out stake that never became active (its principal), or stake whose withdrawal was
/// requested (`walrus request-withdraw-stake`) once its withdrawal epoch has come (its
/// principal plus the rewards it earned, minus the node's commission). The WAL goes to the
/// wallet as a new coin; the StakedWal object is consumed.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct WithdrawStakeArgs {
    /// The StakedWal object (0x…), as `walrus list-staked-wal` lists it.
    #[arg(long, value_name = "OBJECT_ID")]
    staked_wal_id: String,
}

/// What `walrus withdraw-stake --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Withdrawn {
    /// The StakedWal object consumed.
    staked_wal_id: String,
    /// Its node.
    node_id: String,
    /// FROST paid to the wallet.
    amount: u64,
    /// The WAL coin that holds them.
    coin_id: String,
}

impl WithdrawStakeArgs {
    /// Withdraws the stake and prints the amount paid to the wallet.
    pub fn run(self, context: &Context) -> Result<()> {
        let id = parse_object_id(&self.staked_wal_id)?;
        let (staked, coin) = context.with_sdk(async |sdk| {
            let chain = sdk.chain();
            let staked = wallets_staked_wal(chain, id).await?;
            let staking = read_staking(chain).await?;
            if let Some(refusal) = withdraw_refusal(&staked, staking.epoch) {
                bail!("{refusal}");
            }
            let coin = chain
                .withdraw_stake(id)
                .await
                .map_err(|error| chain_error(error, format!("withdrawing StakedWal {id}")))?;
            Ok((staked, coin))
        })?;
        if context.json {
            let withdrawn = Withdrawn {
                staked_wal_id: id.to_string(),
                node_id: staked.node_id.to_string(),
                amount: coin.balance,
                coin_id: coin.id.to_string(),
            };
            println!("{}", serde_json::to_string_pretty(&withdrawn)?);
        } else {
            println!(
                "Withdrew {} from StakedWal {id} (node {}) into WAL coin {}.",
                describe_wal(coin.balance),
                staked.node_id,
                coin.id
            );
        }
        Ok(())
    }
}

/// List the StakedWal objects the wallet owns
///
/// For each: its ID, the node (ID and name), the principal staked, its current value (what
/// withdrawing it would pay: the principal while not active, else the principal's pool
/// shares at the pool's current exchange rate, i.e. with the rewards earned so far minus
/// commission), and its state: pending activation at epoch X, active, withdrawing (can be
/// withdrawn from epoch X), or withdrawable now. Amounts are in FROST in the JSON output.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ListStakedWalArgs {}

impl ListStakedWalArgs {
    /// Prints the wallet's staked WAL.
    pub fn run(self, context: &Context) -> Result<()> {
        let (owned, staking) = context.with_sdk(async |sdk| {
            let chain = sdk.chain();
            let owned = chain
                .owned_staked_wal()
                .await
                .context("listing the wallet's StakedWal objects")?;
            Ok((owned, read_staking(chain).await?))
        })?;
        let mut entries: Vec<StakedWalEntry> = owned
            .iter()
            .map(|staked| StakedWalEntry::new(staked, &staking))
            .collect();
        entries.sort_by(|a, b| (a.activation_epoch, &a.id).cmp(&(b.activation_epoch, &b.id)));
        if context.json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
        } else if entries.is_empty() {
            println!("The wallet owns no staked WAL (epoch {}).", staking.epoch);
        } else {
            println!("Staked WAL of the wallet (epoch {}):", staking.epoch);
            for entry in &entries {
                println!("{}", entry.render());
            }
            let total = entries
                .iter()
                .fold(0u64, |total, entry| total.saturating_add(entry.value));
            println!("Total value: {}", describe_wal(total));
        }
        Ok(())
    }
}

/// The shared `Staking` object.
async fn read_staking(chain: &WalrusClient) -> Result<Staking> {
    chain.staking().await.context("reading the Staking object")
}

/// The wallet's StakedWal `id`; otherwise why not: no such StakedWal, or someone else's.
async fn wallets_staked_wal(chain: &WalrusClient, id: ObjectId) -> Result<StakedWal> {
    let owned = chain
        .owned_staked_wal()
        .await
        .context("listing the wallet's StakedWal objects")?;
    if let Some(staked) = owned.into_iter().find(|staked| staked.id == id) {
        return Ok(staked);
    }
    match chain.get_staked_wal(id).await {
        Ok(_) => bail!(
            "StakedWal {id} is not owned by this wallet ({})",
            chain.address()
        ),
        Err(ClientError::NotFound(_)) => bail!(
            "no StakedWal {id} exists (already withdrawn, never created, or the ID of another \
             kind of object)"
        ),
        Err(error) => Err(error).with_context(|| format!("reading StakedWal {id}")),
    }
}

/// A failed chain call doing `what`: a contract refusal said in words, anything else with
/// `what` as context.
fn chain_error(error: ClientError, what: String) -> anyhow::Error {
    match ContractRejection::of(&error) {
        Some(rejection) => anyhow!("{what}: the contract refused: {rejection}"),
        None => anyhow::Error::new(error).context(what),
    }
}

/// Where a StakedWal is in its life, in epoch `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StakeState {
    /// Staked, counting from `activation_epoch` on (it can be withdrawn at once).
    PendingActivation {
        /// The first epoch it counts in.
        activation_epoch: u32,
    },
    /// Counting for its node's committee weight and earning rewards.
    Active,
    /// Withdrawal requested; it can be withdrawn from `withdraw_epoch`.
    Withdrawing {
        /// The first epoch it can be withdrawn in.
        withdraw_epoch: u32,
    },
    /// Withdrawal requested and due: `walrus withdraw-stake` pays it out.
    Withdrawable,
}

impl StakeState {
    /// The state of `staked` in epoch `epoch`.
    pub fn of(staked: &StakedWal, epoch: u32) -> Self {
        match staked.withdraw_epoch {
            Some(withdraw_epoch) if withdraw_epoch <= epoch => Self::Withdrawable,
            Some(withdraw_epoch) => Self::Withdrawing { withdraw_epoch },
            None if staked.activation_epoch > epoch => Self::PendingActivation {
                activation_epoch: staked.activation_epoch,
            },
            None => Self::Active,
        }
    }

    /// The state's name in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Self::PendingActivation { .. } => "pendingActivation",
            Self::Active => "active",
            Self::Withdrawing { .. } => "withdrawing",
            Self::Withdrawable => "withdrawable",
        }
    }
}

impl fmt::Display for StakeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PendingActivation { activation_epoch } => {
                write!(f, "pending activation at epoch {activation_epoch}")
            }
            Self::Active => f.write_str("active"),
            Self::Withdrawing { withdraw_epoch } => {
                write!(f, "withdrawing at epoch {withdraw_epoch}")
            }
            Self::Withdrawable => f.write_str("withdrawable now"),
        }
    }
}

impl Serialize for StakeState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Why the withdrawal of `staked` cannot be requested in epoch `epoch`, if it cannot.
pub fn request_refusal(staked: &StakedWal, epoch: u32) -> Option<String> {
    let id = staked.id;
    match StakeState::of(staked, epoch) {
        StakeState::PendingActivation { .. } | StakeState::Active => None,
        StakeState::Withdrawing { withdraw_epoch } => Some(format!(
            "the withdrawal of StakedWal {id} was already requested: it can be withdrawn from \
             epoch {withdraw_epoch} (the current epoch is {epoch})"
        )),
        StakeState::Withdrawable => Some(format!(
            "the withdrawal of StakedWal {id} was already requested and it can be withdrawn \
             now: run `walrus withdraw-stake --staked-wal-id {id}`"
        )),
    }
}

/// Why `staked` cannot be withdrawn in epoch `epoch`, if it cannot.
pub fn withdraw_refusal(staked: &StakedWal, epoch: u32) -> Option<String> {
    let id = staked.id;
    match StakeState::of(staked, epoch) {
        StakeState::PendingActivation { .. } | StakeState::Withdrawable => None,
        StakeState::Active => Some(format!(
            "StakedWal {id} is active and its withdrawal was not requested: run `walrus \
             request-withdraw-stake --staked-wal-id {id}` first"
        )),
        StakeState::Withdrawing { withdraw_epoch } => Some(format!(
            "StakedWal {id} cannot be withdrawn before epoch {withdraw_epoch} (the current \
             epoch is {epoch})"
        )),
    }
}

/// One StakedWal as the commands print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StakedWalEntry {
    /// The object ID.
    pub id: String,
    /// Its node.
    pub node_id: String,
    /// The node's name (`None` if no pool has the node ID).
    pub node_name: Option<String>,
    /// FROST staked.
    pub principal: u64,
    /// FROST withdrawing it would pay now ([`Staking::staked_wal_value`]).
    pub value: u64,
    /// The first epoch the stake counts in.
    pub activation_epoch: u32,
    /// Once requested, the first epoch it can be withdrawn in.
    pub withdraw_epoch: Option<u32>,
    /// Its state now.
    pub state: StakeState,
    /// The state in words.
    #[serde(skip)]
    pub state_text: String,
}

impl StakedWalEntry {
    /// The entry of `staked`, valued and placed in `staking`'s current epoch.
    pub fn new(staked: &StakedWal, staking: &Staking) -> Self {
        let state = StakeState::of(staked, staking.epoch);
        Self {
            id: staked.id.to_string(),
            node_id: staked.node_id.to_string(),
            node_name: staking
                .pools
                .iter()
                .find(|pool| pool.node_id == staked.node_id)
                .map(|pool| pool.info.name.clone()),
            principal: staked.principal,
            value: staking.staked_wal_value(staked),
            activation_epoch: staked.activation_epoch,
            withdraw_epoch: staked.withdraw_epoch,
            state,
            state_text: state.to_string(),
        }
    }

    /// `0x… (name)`, or the ID alone for an unknown node.
    fn node_label(&self) -> String {
        match &self.node_name {
            Some(name) => format!("{} ({name})", self.node_id),
            None => format!("{} (unknown node)", self.node_id),
        }
    }

    /// The entry for people, one field a line.
    pub fn render(&self) -> String {
        let mut text = format!(
            "StakedWal {}\n  node:       {}\n  principal:  {}\n  value:      {}\n  \
             activation: epoch {}\n  state:      {}",
            self.id,
            self.node_label(),
            describe_wal(self.principal),
            describe_wal(self.value),
            self.activation_epoch,
            self.state_text,
        );
        if self.value > self.principal {
            text.push_str(&format!(
                "\n  rewards:    {} WAL",
                format_wal(self.value - self.principal)
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use walrus_chain::contract::{
        staking::{ExchangeRate, StakingPool, StorageNodeInfo, EPOCH_CHANGE_DONE},
        sui::VecMap,
    };

    use super::*;

    const NODE: ObjectId = ObjectId([7; 32]);

    fn staked(activation_epoch: u32, withdraw_epoch: Option<u32>) -> StakedWal {
        StakedWal {
            id: ObjectId([1; 32]),
            node_id: NODE,
            principal: 1_500_000_000,
            activation_epoch,
            withdraw_epoch,
        }
    }

    /// A staking object in `epoch` with one pool whose stake doubled since epoch 2 (rewards).
    fn staking(epoch: u32) -> Staking {
        Staking {
            id: ObjectId([9; 32]),
            n_shards: 4,
            epoch_duration_ms: 1_000,
            epoch,
            epoch_start_ms: 0,
            pools: vec![StakingPool {
                node_id: NODE,
                info: StorageNodeInfo {
                    name: "node-0".into(),
                    node_id: NODE,
                    network_address: "127.0.0.1:1".into(),
                    public_key: vec![0; 48],
                    network_public_key: vec![],
                    next_epoch_public_key: None,
                },
                commission_rate: 0,
                next_commission_rate: 0,
                active_stake: 6_000_000_000,
                num_shares: 3_000_000_000,
                pending_stake: VecMap::default(),
                pending_shares_withdraw: VecMap::default(),
                exchange_rates: vec![ExchangeRate {
                    epoch: 2,
                    wal_amount: 3_000_000_000,
                    share_amount: 3_000_000_000,
                }],
                wal_balance: 6_000_000_000,
                commission: 0,
                storage_price: 1,
                write_price: 1,
                node_capacity: 1,
            }],
            shard_assignment: vec![NODE; 4],
            previous_shard_assignment: Vec::new(),
            next_shard_assignment: Vec::new(),
            sync_done_weight: 0,
            epoch_state: EPOCH_CHANGE_DONE,
            next_epoch_params: None,
        }
    }

    #[test]
    fn states_follow_the_epochs() {
        use StakeState::*;
        let cases = [
            (
                staked(3, None),
                2,
                PendingActivation {
                    activation_epoch: 3,
                },
            ),
            (staked(3, None), 3, Active),
            (staked(3, None), 9, Active),
            (staked(3, Some(5)), 4, Withdrawing { withdraw_epoch: 5 }),
            (staked(3, Some(5)), 5, Withdrawable),
            (staked(3, Some(5)), 6, Withdrawable),
            // Pending stake whose withdrawal was requested: withdrawable at once.
            (staked(3, Some(2)), 2, Withdrawable),
        ];
        for (staked, epoch, state) in cases {
            assert_eq!(
                StakeState::of(&staked, epoch),
                state,
                "{staked:?} in {epoch}"
            );
        }
        assert_eq!(
            PendingActivation {
                activation_epoch: 3
            }
            .to_string(),
            "pending activation at epoch 3"
        );
        assert_eq!(
            Withdrawing { withdraw_epoch: 5 }.to_string(),
            "withdrawing at epoch 5"
        );
        assert_eq!(Withdrawable.to_string(), "withdrawable now");
        assert_eq!(
            serde_json::to_value(Withdrawing { withdraw_epoch: 5 }).unwrap(),
            "withdrawing"
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        // Requesting: only stake not yet requested.
        assert_eq!(request_refusal(&staked(3, None), 2), None);
        assert_eq!(request_refusal(&staked(3, None), 4), None);
        let twice = request_refusal(&staked(3, Some(5)), 4).unwrap();
        assert!(
            twice.contains("already requested") && twice.contains("epoch 5"),
            "{twice}"
        );
        let due = request_refusal(&staked(3, Some(5)), 5).unwrap();
        assert!(due.contains("walrus withdraw-stake"), "{due}");
        // Withdrawing: pending stake at once, requested stake from its epoch.
        assert_eq!(withdraw_refusal(&staked(3, None), 2), None);
        assert_eq!(withdraw_refusal(&staked(3, Some(5)), 5), None);
        let active = withdraw_refusal(&staked(3, None), 3).unwrap();
        assert!(
            active.contains("not requested") && active.contains("request-withdraw-stake"),
            "{active}"
        );
        let early = withdraw_refusal(&staked(3, Some(5)), 4).unwrap();
        assert!(
            early.contains("before epoch 5") && early.contains("current epoch is 4"),
            "{early}"
        );
    }

    #[test]
    fn entries_show_value_state_and_node() {
        // Pending: worth its principal.
        let pending = StakedWalEntry::new(&staked(5, None), &staking(4));
        assert_eq!(pending.value, 1_500_000_000);
        assert_eq!(pending.node_name.as_deref(), Some("node-0"));
        assert_eq!(
            pending.state,
            StakeState::PendingActivation {
                activation_epoch: 5
            }
        );
        let text = pending.render();
        assert!(
            text.contains("principal:  1.5 WAL (1500000000 FROST)"),
            "{text}"
        );
        assert!(text.contains("pending activation at epoch 5"), "{text}");
        assert!(!text.contains("rewards"), "{text}");
        // Active since epoch 2, the pool's rate doubled since: worth twice its principal.
        let active = StakedWalEntry::new(&staked(2, None), &staking(4));
        assert_eq!(active.value, 3_000_000_000);
        assert_eq!(active.state, StakeState::Active);
        assert!(active.render().contains("rewards:    1.5 WAL"));
        let json = serde_json::to_value(&active).unwrap();
        assert_eq!(json["principal"], 1_500_000_000u64);
        assert_eq!(json["value"], 3_000_000_000u64);
        assert_eq!(json["state"], "active");
        assert_eq!(json["nodeName"], "node-0");
        assert_eq!(json["withdrawEpoch"], serde_json::Value::Null);
        assert!(json.get("stateText").is_none());
        // A node no pool knows.
        let mut orphan = staked(2, None);
        orphan.node_id = ObjectId([8; 32]);
        let orphan = StakedWalEntry::new(&orphan, &staking(4));
        assert_eq!(orphan.node_name, None);
        assert!(orphan.render().contains("(unknown node)"));
    }
}
