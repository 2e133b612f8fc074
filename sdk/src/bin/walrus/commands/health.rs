//! `walrus health`: each selected storage node's own report of its health (`GET /v1/health`).

use std::{cmp::Ordering, time::Duration};

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use futures::{stream, StreamExt};
use serde::Serialize;
use serde_json::Value;
use walrus_chain::{client::committee::node_url, contract::staking::Staking};
use walrus_node_client::NodeConnector;

use crate::common::{parse_object_id, Context};

/// Deadline of one node's health request.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// Print the health of storage nodes, as each reports it
///
/// Asks each selected node for its health (`GET /v1/health`): its status (active in the
/// committee or standby), the epoch it is in, how far it has processed the chain's events
/// and its shards. Exactly one of `--node-ids`, `--node-urls`, `--committee` and
/// `--active-set` selects the nodes. A node that does not answer is listed with the error;
/// the command still succeeds.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct HealthArgs {
    #[command(flatten)]
    selection: NodeSelection,
    /// Also ask for and show every shard's state, the node's public key and its uptime.
    #[arg(long)]
    detail: bool,
    /// The field to sort the nodes by (default: status, then name).
    #[arg(long, value_enum)]
    sort_by: Option<HealthSortBy>,
    /// Sort in descending order.
    #[arg(long)]
    desc: bool,
    /// How many nodes to ask at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    concurrent_requests: u16,
}

/// Which storage nodes (exactly one of the four).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct NodeSelection {
    /// The storage nodes with these IDs (0x… Sui object IDs of their staking pools).
    #[arg(long, alias = "node-id", num_args = 1..)]
    node_ids: Vec<String>,
    /// The registered storage nodes at these network addresses (`host:port` or URLs).
    #[arg(long, alias = "node-url", num_args = 1..)]
    node_urls: Vec<String>,
    /// Every storage node of the current committee.
    #[arg(long)]
    committee: bool,
    /// Every registered storage node (the committee and the candidates).
    #[arg(long)]
    active_set: bool,
}

/// How `walrus health` sorts the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HealthSortBy {
    /// Node status (answering nodes first), then name.
    Status,
    /// Node ID.
    Id,
    /// Node name.
    Name,
    /// Node URL.
    Url,
}

/// One selected node, as the chain registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SelectedNode {
    node_id: String,
    name: String,
    url: String,
    /// The network public key the chain has for it (an `https://` node's certificate must
    /// carry it).
    network_public_key: Vec<u8>,
}

/// One node's health (Walrus's `NodeHealthOutput`; `healthInfo` is `{"Ok": the node's
/// answer}` or `{"Err": why not}`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeHealth {
    node_id: String,
    node_url: String,
    node_name: String,
    health_info: Result<Value, String>,
}

/// What `walrus health --json` prints (Walrus's `ServiceHealthInfoOutput`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthOutput {
    health_info: Vec<NodeHealth>,
}

impl NodeSelection {
    /// The selected nodes of `staking`.
    fn nodes(&self, staking: &Staking) -> Result<Vec<SelectedNode>> {
        let all = staking.pools.iter().map(|pool| SelectedNode {
            node_id: pool.node_id.to_string(),
            name: pool.info.name.clone(),
            url: node_url(&pool.info.network_address),
            network_public_key: pool.info.network_public_key.clone(),
        });
        if self.active_set {
            return Ok(all.collect());
        }
        if self.committee {
            return Ok(all
                .filter(|node| {
                    staking
                        .shard_assignment
                        .iter()
                        .any(|owner| owner.to_string() == node.node_id)
                })
                .collect());
        }
        let all: Vec<SelectedNode> = all.collect();
        if !self.node_ids.is_empty() {
            return self
                .node_ids
                .iter()
                .map(|text| {
                    let id = parse_object_id(text)?.to_string();
                    all.iter()
                        .find(|node| node.node_id == id)
                        .cloned()
                        .with_context(|| format!("no storage node with ID {id} is registered"))
                })
                .collect();
        }
        if !self.node_urls.is_empty() {
            return self
                .node_urls
                .iter()
                .map(|text| {
                    let url = node_url(text.trim());
                    all.iter()
                        .find(|node| node.url == url)
                        .cloned()
                        .with_context(|| {
                            format!(
                                "node URL {text} not found in the active set; try to query it by node ID"
                            )
                        })
                })
                .collect();
        }
        bail!("select the nodes: --node-ids, --node-urls, --committee or --active-set")
    }
}

impl HealthArgs {
    /// Asks the nodes and prints their health.
    pub fn run(self, context: &Context) -> Result<()> {
        let http = NodeConnector::new(HEALTH_TIMEOUT, HEALTH_TIMEOUT);
        let detail = self.detail;
        let (staking, mut health) = context.with_sdk(async |sdk| {
            let staking = sdk
                .chain()
                .staking()
                .await
                .context("reading the Staking object")?;
            let nodes = self.selection.nodes(&staking)?;
            let health: Vec<NodeHealth> = stream::iter(nodes)
                .map(|node| {
                    let http = http.clone();
                    async move {
                        let health_info = fetch_health(&http, &node, detail).await;
                        NodeHealth {
                            node_id: node.node_id,
                            node_url: node.url,
                            node_name: node.name,
                            health_info,
                        }
                    }
                })
                .buffer_unordered(usize::from(self.concurrent_requests))
                .collect()
                .await;
            Ok((staking, health))
        })?;
        let sort_by = self.sort_by.unwrap_or(HealthSortBy::Status);
        health.sort_by(|a, b| compare(a, b, sort_by));
        if self.desc {
            health.reverse();
        }
        if context.json {
            let output = HealthOutput {
                health_info: health,
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
        } else {
            for node in &health {
                print!("{}", render(node, staking.epoch, detail));
            }
        }
        Ok(())
    }
}

/// `GET {url}/v1/health` (with `?detailed=true` if `detail`), over HTTPS pinned to the node's
/// network key for an `https://` node: the node's answer (the `data` of its success
/// envelope), or why there is none.
async fn fetch_health(
    http: &NodeConnector,
    node: &SelectedNode,
    detail: bool,
) -> Result<Value, String> {
    let client = http
        .client(&node.url, &node.network_public_key)
        .map_err(|error| error.to_string())?;
    let data = client
        .health_json(detail)
        .await
        .map_err(|error| format!("failed to get health info: {error}"))?;
    if data.is_object() {
        Ok(data)
    } else {
        Err("the health answer has no success.data object".to_owned())
    }
}

/// The node's status text, lowercase, if it answered.
fn status_of(node: &NodeHealth) -> Option<String> {
    let info = node.health_info.as_ref().ok()?;
    Some(info.get("nodeStatus")?.as_str()?.to_lowercase())
}

/// The order of `--sort-by`: answering nodes before the others by status, ties by name.
fn compare(a: &NodeHealth, b: &NodeHealth, sort_by: HealthSortBy) -> Ordering {
    let by_name = || a.node_name.to_lowercase().cmp(&b.node_name.to_lowercase());
    match sort_by {
        HealthSortBy::Id => a.node_id.cmp(&b.node_id),
        HealthSortBy::Name => by_name(),
        HealthSortBy::Url => a.node_url.to_lowercase().cmp(&b.node_url.to_lowercase()),
        HealthSortBy::Status => match (status_of(a), status_of(b)) {
            (Some(x), Some(y)) => x.cmp(&y).then_with(by_name),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => by_name(),
        },
    }
}

/// The node's shards: `shards` (this network's list) or `shardSummary.owned` (a count).
fn shards_of(info: &Value) -> String {
    if let Some(shards) = info.get("shards").and_then(Value::as_array) {
        let list: Vec<String> = shards.iter().map(ToString::to_string).collect();
        return format!("{} shards ({})", list.len(), list.join(", "));
    }
    match info.pointer("/shardSummary/owned").and_then(Value::as_u64) {
        Some(owned) => format!("{owned} shards"),
        None => "shards unknown".to_owned(),
    }
}

/// One node for people; `chain_epoch` to flag a node behind the chain.
fn render(node: &NodeHealth, chain_epoch: u32, detail: bool) -> String {
    let mut text = format!(
        "{} ({})\n  URL: {}\n",
        node.node_name, node.node_id, node.node_url
    );
    let info = match &node.health_info {
        Ok(info) => info,
        Err(error) => {
            text.push_str(&format!("  Unreachable or unhealthy: {error}\n"));
            return text;
        }
    };
    let status = info
        .get("nodeStatus")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let epoch = info.get("epoch").and_then(Value::as_u64);
    let behind = match epoch {
        Some(epoch) if epoch < u64::from(chain_epoch) => {
            format!(" (behind the chain's epoch {chain_epoch})")
        }
        _ => String::new(),
    };
    let progress = info.get("eventProgress");
    let processed = progress
        .and_then(|p| p.get("eventsProcessed").or_else(|| p.get("persisted")))
        .and_then(Value::as_u64);
    let cursor = progress
        .and_then(|p| p.get("lastCursor"))
        .filter(|cursor| !cursor.is_null())
        .map(|cursor| {
            format!(
                ", last at checkpoint {} event {}",
                cursor.get("checkpoint").unwrap_or(&Value::Null),
                cursor.get("eventIndex").unwrap_or(&Value::Null)
            )
        })
        .unwrap_or_default();
    text.push_str(&format!(
        "  Status: {status}\n  Epoch: {}{behind}\n  Events processed: {}{cursor}\n  Shards: {}\n",
        epoch.map_or_else(|| "unknown".to_owned(), |epoch| epoch.to_string()),
        processed.map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
        shards_of(info),
    ));
    if detail {
        if let Some(uptime) = info.get("uptimeSecs").and_then(Value::as_u64) {
            text.push_str(&format!("  Uptime: {uptime} s\n"));
        }
        if let Some(key) = info.get("publicKey").and_then(Value::as_str) {
            text.push_str(&format!("  Public key: {key}\n"));
        }
        if let Some(detail) = info.get("shardDetail") {
            text.push_str(&format!("  Shard states: {detail}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(name: &str, health: Result<Value, String>) -> NodeHealth {
        NodeHealth {
            node_id: format!("0x{name}"),
            node_url: format!("http://{name}"),
            node_name: name.to_owned(),
            health_info: health,
        }
    }

    fn answer(status: &str, epoch: u64) -> Value {
        json!({
            "epoch": epoch,
            "nodeStatus": status,
            "eventProgress": {"eventsProcessed": 12, "lastCursor": {"checkpoint": 7, "eventIndex": 1}},
            "shards": [0, 3],
            "uptimeSecs": 9,
        })
    }

    #[test]
    fn sorted_by_status_then_name_unreachable_last() {
        let mut nodes = [
            node("c", Err("refused".into())),
            node("b", Ok(answer("Standby", 2))),
            node("a", Ok(answer("Active", 2))),
            node("d", Ok(answer("Active", 2))),
        ];
        nodes.sort_by(|a, b| compare(a, b, HealthSortBy::Status));
        let names: Vec<&str> = nodes.iter().map(|n| n.node_name.as_str()).collect();
        assert_eq!(names, ["a", "d", "b", "c"]);
        nodes.sort_by(|a, b| compare(a, b, HealthSortBy::Name));
        let names: Vec<&str> = nodes.iter().map(|n| n.node_name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[test]
    fn renders_what_the_node_says() {
        let text = render(&node("a", Ok(answer("Active", 2))), 3, true);
        assert!(text.contains("Status: Active"), "{text}");
        assert!(
            text.contains("Epoch: 2 (behind the chain's epoch 3)"),
            "{text}"
        );
        assert!(
            text.contains("Events processed: 12, last at checkpoint 7 event 1"),
            "{text}"
        );
        assert!(text.contains("Shards: 2 shards (0, 3)"), "{text}");
        assert!(text.contains("Uptime: 9 s"), "{text}");
        let summary = json!({"epoch": 3, "nodeStatus": "Active", "shardSummary": {"owned": 5}});
        let text = render(&node("b", Ok(summary)), 3, false);
        assert!(
            text.contains("Shards: 5 shards") && !text.contains("behind"),
            "{text}"
        );
        let text = render(&node("c", Err("refused".into())), 3, false);
        assert!(text.contains("Unreachable or unhealthy: refused"), "{text}");
        let json = serde_json::to_value(node("c", Err("refused".into()))).unwrap();
        assert_eq!(json["healthInfo"], json!({"Err": "refused"}));
        assert_eq!(json["nodeUrl"], "http://c");
    }
}
