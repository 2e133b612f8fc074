//! `walrus json`: a command given as JSON, as Walrus's `json` command takes it:
//! `{"config": "client.toml", "command": {"store": {"files": ["a.txt"], "epochs": 2}}}`.
//! Field names are the flags' names in camelCase; the JSON is turned into the command line
//! it stands for (using the commands' own definitions), so every command and check is the
//! same as on the command line. The output is always JSON.

use std::io::{IsTerminal, Read};

use anyhow::{bail, Context as _, Result};
use clap::{Arg, ArgAction, Args, Command};
use serde_json::{Map, Value};

/// Run a command given as JSON (as an argument or on stdin); output JSON
///
/// The JSON object holds the global options (`config`) and a `command` object with the
/// command's name and its options, named as the flags in camelCase, e.g.:
///
/// {
///   "config": "path/to/client.toml",
///   "command": {
///     "store": { "files": ["a.txt", "b.txt"], "epochs": "max", "dryRun": true }
///   }
/// }
///
/// Flags without value are `true`/`false`; flags taking several values take arrays;
/// subcommands are a nested `command`: {"info": {"command": "epoch"}}.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct JsonArgs {
    /// The command as JSON (default: read from stdin).
    command_string: Option<String>,
}

impl JsonArgs {
    /// The command line the JSON stands for (program name first, `--json` set), checked
    /// against `cli`, the CLI's definition.
    pub fn command_line(self, cli: Command) -> Result<Vec<String>> {
        let text = match self.command_string {
            Some(text) => text,
            None => {
                if std::io::stdin().is_terminal() {
                    bail!("give the JSON command as an argument or on stdin (stdin is a terminal)");
                }
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the JSON command from stdin")?;
                text
            }
        };
        let value: Value = serde_json::from_str(&text).context("the JSON command is not JSON")?;
        json_to_command_line(&value, cli)
    }
}

/// `camelCase` (or `snake_case`, `kebab-case`) to `separator`-separated lowercase.
fn split_case(name: &str, separator: char) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push(separator);
            out.push(ch.to_ascii_lowercase());
        } else if ch == '_' || ch == '-' {
            out.push(separator);
        } else {
            out.push(ch);
        }
    }
    out
}

/// The command line of the JSON `value` for the CLI `cli`.
pub fn json_to_command_line(value: &Value, mut cli: Command) -> Result<Vec<String>> {
    cli.build();
    let root = value
        .as_object()
        .context("the JSON command is an object: {\"command\": {...}}")?;
    let mut line = vec![cli.get_name().to_owned(), "--json".to_owned()];
    let mut command = None;
    for (key, field) in root {
        match key.as_str() {
            "config" => {
                line.push("--config".to_owned());
                line.push(scalar(field).with_context(|| format!("\"{key}\""))?);
            }
            "json" => {}
            "command" => command = Some(field),
            other => bail!("unknown field \"{other}\" (expected \"config\" and \"command\")"),
        }
    }
    let command = command.context("no \"command\" in the JSON")?;
    subcommand(command, &cli, &mut line)?;
    Ok(line)
}

/// Appends the subcommand `value` (`"name"` or `{"name": {options}}`) of `parent`.
fn subcommand(value: &Value, parent: &Command, line: &mut Vec<String>) -> Result<()> {
    let (name, options) = match value {
        Value::String(name) => (name.as_str(), None),
        Value::Object(map) if map.len() == 1 => {
            let (name, options) = map.iter().next().context("one command")?;
            (name.as_str(), Some(options))
        }
        _ => bail!("a command is \"name\" or {{\"name\": {{options}}}}, not {value}"),
    };
    let kebab = split_case(name, '-');
    if kebab == "json" {
        bail!("a JSON command cannot be `json` again");
    }
    let command = parent
        .find_subcommand(&kebab)
        .with_context(|| format!("unknown command \"{name}\""))?;
    line.push(command.get_name().to_owned());
    match options {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(options)) => command_options(options, command, line),
        Some(other) => bail!("the options of \"{name}\" are an object, not {other}"),
    }
}

/// Appends `options` of `command` (in the JSON object's key order, alphabetical): flags
/// first, then `--` and the positional values.
fn command_options(
    options: &Map<String, Value>,
    command: &Command,
    line: &mut Vec<String>,
) -> Result<()> {
    let mut positionals = Vec::new();
    let mut nested = None;
    for (key, value) in options {
        if key == "command" && command.has_subcommands() {
            nested = Some(value);
            continue;
        }
        let id = split_case(key, '_');
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id().as_str() == id)
            .with_context(|| format!("\"{}\" has no option \"{key}\"", command.get_name()))?;
        if arg.is_positional() {
            positionals.extend(values(value).with_context(|| format!("\"{key}\""))?);
        } else {
            flag(arg, key, value, line)?;
        }
    }
    if let Some(nested) = nested {
        return subcommand(nested, command, line);
    }
    if !positionals.is_empty() {
        line.push("--".to_owned());
        line.extend(positionals);
    }
    Ok(())
}

/// Appends the flag `arg` with `value`: a boolean switch, one value, or an array (in groups
/// of the flag's values per occurrence: `--attr K V --attr K V`).
fn flag(arg: &Arg, key: &str, value: &Value, line: &mut Vec<String>) -> Result<()> {
    let long = format!("--{}", arg.get_long().context("a flag has a long name")?);
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        match value {
            Value::Bool(true) => line.push(long),
            Value::Bool(false) | Value::Null => {}
            other => bail!("\"{key}\" is true or false, not {other}"),
        }
        return Ok(());
    }
    let values = values(value).with_context(|| format!("\"{key}\""))?;
    if values.is_empty() {
        return Ok(());
    }
    let per_flag = arg
        .get_num_args()
        .map(|range| range.max_values())
        .filter(|max| *max != usize::MAX && *max > 0)
        .unwrap_or(values.len());
    for group in values.chunks(per_flag) {
        line.push(long.clone());
        line.extend(group.iter().cloned());
    }
    Ok(())
}

/// The values of a field: a scalar, or an array of scalars; nothing for `null`.
fn values(value: &Value) -> Result<Vec<String>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

/// A string, number or boolean as command-line text.
fn scalar(value: &Value) -> Result<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => bail!("expected a string, number or boolean, not {other}"),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use serde_json::json;

    use super::*;
    use crate::Cli;

    fn line(value: Value) -> Result<Vec<String>> {
        json_to_command_line(&value, Cli::command())
    }

    #[test]
    fn json_commands_become_their_command_lines() {
        let store = line(json!({
            "config": "client.toml",
            "command": {"store": {"files": ["a.txt", "-b.txt"], "epochs": "max", "dryRun": true, "force": false}}
        }))
        .unwrap();
        assert_eq!(
            store,
            [
                "walrus",
                "--json",
                "--config",
                "client.toml",
                "store",
                "--dry-run",
                "--epochs",
                "max",
                "--",
                "a.txt",
                "-b.txt"
            ]
        );
        let set = line(json!({"command": {"setBlobAttribute": {
            "blobObjId": "0x1", "attributes": ["k1", "v1", "k2", "v2"]
        }}}))
        .unwrap();
        assert_eq!(
            set,
            [
                "walrus",
                "--json",
                "set-blob-attribute",
                "--attr",
                "k1",
                "v1",
                "--attr",
                "k2",
                "v2",
                "--",
                "0x1"
            ]
        );
        let delete =
            line(json!({"command": {"delete": {"blobIds": ["-x", "y"], "yes": true}}})).unwrap();
        assert_eq!(
            delete,
            [
                "walrus",
                "--json",
                "delete",
                "--blob-ids",
                "-x",
                "--blob-ids",
                "y",
                "--yes"
            ]
        );
        assert_eq!(
            line(json!({"command": {"info": {"command": "epoch"}}})).unwrap(),
            ["walrus", "--json", "info", "epoch"]
        );
        assert_eq!(
            line(json!({"command": "info"})).unwrap(),
            ["walrus", "--json", "info"]
        );
        // Every produced line parses.
        for parsed in [store, set, delete] {
            Cli::try_parse_from(&parsed).unwrap();
        }
    }

    #[test]
    fn bad_json_commands_are_refused_with_the_reason() {
        let error = |value: Value| format!("{:#}", line(value).unwrap_err());
        assert!(error(json!([])).contains("is an object"));
        assert!(error(json!({"config": "c"})).contains("no \"command\""));
        assert!(error(json!({"command": {"nope": {}}})).contains("unknown command \"nope\""));
        assert!(error(json!({"command": {"store": {"colour": 1}}}))
            .contains("has no option \"colour\""));
        assert!(error(json!({"command": {"json": {}}})).contains("cannot be `json` again"));
        assert!(error(json!({"command": {"store": {"dryRun": "yes"}}})).contains("true or false"));
        assert!(
            error(json!({"command": {"read": {"blobId": {"x": 1}}}})).contains("expected a string")
        );
        assert!(error(json!({"other": 1, "command": "info"})).contains("unknown field \"other\""));
    }
}
