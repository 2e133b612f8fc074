//! The Move packages (`contracts/wal`, `contracts/walrus`) and their Rust twin
//! (`chain/src/contract/<module>.rs`) must describe the same contracts. This test reads the
//! Move sources and the twin's sources (std only, no Move toolchain) and checks, per module:
//!
//! - every `public fun` / `public(package) fun` of the Move module has a twin: a `pub fn` (or
//!   `pub(crate) fn`) of the same name in the twin module (a `public` Move function needs a
//!   `pub` Rust one), or an accessor of a `pub` field of a twin struct (`NAME`, and, for
//!   `public(package)` functions only, `set_NAME` and `NAME_mut`), or an event emitter
//!   `emit_<snake case of a twin event struct>` (`public(package)`), or an entry of
//!   [`MOVE_ONLY`] with the twin text it stands for and why;
//! - every `public struct` / `public enum` has a `pub struct` / `pub enum` of the same name (or
//!   the one [`RENAMED`] gives) with the same field names in the same order and corresponding
//!   types (`ObjectId` = `UID` for a field `id`, `ID` otherwise; `U256` = `u256`; `Vec<T>` =
//!   `vector<T>`; `u64` = `Balance<WAL>` only for the fields of [`BALANCE_FIELDS`]), and an
//!   enum has the same variants;
//! - every abort of the twin module (`Abort::new("<module>", code, "EName")`) is a Move
//!   constant `const EName: u64 = code;` of that module, and every Move error constant is one;
//! - in the other direction, every `pub fn`, `pub struct` and `pub enum` of a twin module has
//!   a Move counterpart (or an entry of [`RUST_ONLY`]), and every twin module has a Move module
//!   (or is listed in [`TWIN_ONLY_MODULES`]);
//! - `chain/README.md` names every Move function and struct checked (its twin table).
//!
//! The `#[test_only]` / `#[test]` items of the Move sources are ignored.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

/// Move functions without a twin function or field, with the twin text they stand for (file
/// relative to the repository root, text that must occur in it) and why.
const MOVE_ONLY: &[(&str, &str, &str, &str, &str)] = &[
    // (module, function, twin file, twin text, reason)
    (
        "wal",
        "frost_per_wal",
        "contracts/DESIGN.md",
        "public fun frost_per_wal(): u64",
        "the twin counts WAL in FROST (`u64`) and has no WAL module",
    ),
    (
        "redstuff",
        "assert_encoding_type",
        "chain/src/contract/blob.rs",
        "redstuff::E_INVALID_ENCODING_TYPE",
        "blob::derive_blob_id aborts with redstuff's error; Move constants are module-private",
    ),
    (
        "messages",
        "permanent",
        "chain/src/contract/messages.rs",
        "    Permanent,",
        "constructor of the variant BlobPersistenceType::Permanent (module-private in Move)",
    ),
    (
        "messages",
        "deletable",
        "chain/src/contract/messages.rs",
        "    Deletable {",
        "constructor of the variant BlobPersistenceType::Deletable (module-private in Move)",
    ),
    (
        "messages",
        "invalid_blob_id",
        "chain/src/contract/messages.rs",
        "pub struct CertifiedInvalidBlobId",
        "getter of CertifiedInvalidBlobId.blob_id (CertifiedBlobMessage's getter is blob_id)",
    ),
    (
        "bls_aggregate",
        "new_bls_committee_member",
        "chain/src/contract/bls_aggregate.rs",
        "pub struct BlsCommitteeMember",
        "the twin builds the struct with its pub fields",
    ),
    (
        "storage_resource",
        "destroy",
        "chain/src/contract/storage_resource.rs",
        "pub struct Storage",
        "Rust drops a Storage; Move must delete its UID",
    ),
    (
        "storage_resource",
        "assert_start_epoch",
        "chain/src/contract/system.rs",
        "storage_resource::E_INCOMPATIBLE_EPOCHS",
        "system::extend_blob_with_resource aborts with storage_resource's error",
    ),
    (
        "blob",
        "new",
        "chain/src/contract/system.rs",
        "let blob = Blob {",
        "system::register_blob builds the Blob with its pub fields",
    ),
    (
        "blob",
        "delete",
        "chain/src/contract/system.rs",
        "Ok(blob.storage)",
        "system::delete_blob moves the storage out of the Blob",
    ),
    (
        "blob",
        "object_id",
        "chain/src/contract/blob.rs",
        "pub id: ObjectId",
        "getter of the Blob's `id` as an ID",
    ),
    (
        "system",
        "share",
        "chain/src/contract/system.rs",
        "pub struct System",
        "a key-only object is shared by its own module; the localnet keeps System in its store",
    ),
    (
        "staking",
        "share",
        "chain/src/contract/init.rs",
        "Ok((system, staking))",
        "a key-only object is shared by its own module; the twin's initialize_walrus returns it",
    ),
    (
        "staking",
        "pool_node_id",
        "chain/src/contract/staking.rs",
        "pub struct StakingPool",
        "getter of StakingPool.node_id (one Move module has one `node_id`: StorageNodeCap's)",
    ),
    (
        "staking",
        "staked_wal_node_id",
        "chain/src/contract/staking.rs",
        "pub struct StakedWal",
        "getter of StakedWal.node_id (one Move module has one `node_id`: StorageNodeCap's)",
    ),
];

/// Move structs whose twin has another name: (module, Move name, Rust name, reason).
const RENAMED: &[(&str, &str, &str, &str)] = &[
    (
        "events",
        "InvalidBlobID",
        "InvalidBlobId",
        "the Move name is the event type (`Event::type_name`); Rust naming style differs",
    ),
    (
        "wal",
        "WAL",
        "Coin",
        "the coin's one-time witness; the twin erases `Coin<WAL>` to `sui::Coin`",
    ),
];

/// Twin fields that are `Balance<WAL>` in Move: (module, struct, field). (`StakedWal.principal`
/// is a `u64` in both: the staked WAL is in the pool's `wal_balance`, the twin counts it in both.)
const BALANCE_FIELDS: &[(&str, &str, &str)] = &[
    ("system", "System", "rewards_pool"),
    ("staking", "StakingPool", "wal_balance"),
    ("staking", "StakingPool", "commission"),
];

/// Twin items without a Move counterpart: (module, item, reason).
const RUST_ONLY: &[(&str, &str, &str)] = &[
    (
        "events",
        "Event",
        "the Rust sum of all events (Move emits each struct)",
    ),
    (
        "events",
        "type_name",
        "Rust helper of Event: the Move struct name",
    ),
    (
        "events",
        "bcs_contents",
        "Rust helper of Event: the BCS a Sui event stores",
    ),
    (
        "init",
        "init",
        "a Move package initializer is a private `fun init(ctx)` that transfers the InitCap to \
         the publisher; the twin returns it",
    ),
];

/// Twin modules without a Move module (yet): (module, reason).
const TWIN_ONLY_MODULES: &[(&str, &str)] = &[(
    "sui",
    "the Sui framework types the twin needs (Coin, TxContext, ...)",
)];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("chain/ is in the repository root")
        .to_path_buf()
}

// === Tokens ===

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    Punct(String),
}

impl Token {
    fn is(&self, text: &str) -> bool {
        match self {
            Token::Ident(value) | Token::Punct(value) => value == text,
            Token::Str(_) => false,
        }
    }

    fn ident(&self) -> Option<&str> {
        match self {
            Token::Ident(value) => Some(value),
            _ => None,
        }
    }

    fn text(&self) -> &str {
        match self {
            Token::Ident(value) | Token::Str(value) | Token::Punct(value) => value,
        }
    }
}

/// Tokens of Rust or Move source without comments: identifiers and numbers, string literals
/// (`"..."`, `b"..."`, `x"..."`), `::`, and single punctuation characters.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' || ((c == 'b' || c == 'x') && next == Some('"')) {
            if c != '"' {
                i += 1;
            }
            i += 1;
            let mut value = String::new();
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(ch) = chars.get(i) {
                    value.push(*ch);
                }
                i += 1;
            }
            i += 1;
            tokens.push(Token::Str(value));
        } else if c == '\'' {
            // A Rust char literal ('x', '\n') or a lifetime ('a).
            if next == Some('\\') {
                i += 4;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && next == Some(':') {
            tokens.push(Token::Punct("::".into()));
            i += 2;
        } else {
            tokens.push(Token::Punct(c.to_string()));
            i += 1;
        }
    }
    tokens
}

/// The index of the token closing the bracket opened at `open` (`{`, `(`, `[` or `<`).
fn matching(tokens: &[Token], open: usize) -> usize {
    let (left, right) = match tokens[open].text() {
        "{" => ("{", "}"),
        "(" => ("(", ")"),
        "[" => ("[", "]"),
        "<" => ("<", ">"),
        other => panic!("no bracket: {other}"),
    };
    let mut depth = 0;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        if token.is(left) {
            depth += 1;
        } else if token.is(right) {
            depth -= 1;
            if depth == 0 {
                return index;
            }
        }
    }
    panic!("unbalanced {left}");
}

/// `tokens[start..end]` split at the commas outside `<>`, `()`, `[]` and `{}`.
fn split_top_level(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut parts = vec![Vec::new()];
    let mut depth = 0i32;
    for token in tokens {
        match token.text() {
            "<" | "(" | "[" | "{" if !matches!(token, Token::Str(_)) => depth += 1,
            ">" | ")" | "]" | "}" if !matches!(token, Token::Str(_)) => depth -= 1,
            "," if depth == 0 && !matches!(token, Token::Str(_)) => {
                parts.push(Vec::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("never empty").push(token.clone());
    }
    parts.retain(|part| !part.is_empty());
    parts
}

fn join(tokens: &[Token]) -> String {
    tokens.iter().map(Token::text).collect()
}

/// `(name, type)` of each `name: Type` field in a struct body (attributes and `pub` dropped).
fn fields(body: &[Token]) -> Vec<(String, String)> {
    split_top_level(body)
        .into_iter()
        .filter_map(|part| {
            let mut part: &[Token] = &part;
            while part.first().is_some_and(|t| t.is("#")) {
                let end = matching(part, 1);
                part = &part[end + 1..];
            }
            while part.first().is_some_and(|t| t.is("pub") || t.is("mut")) {
                part = &part[1..];
            }
            let colon = part.iter().position(|t| t.is(":"))?;
            let name = part[..colon].iter().map(Token::text).collect::<String>();
            Some((name, join(&part[colon + 1..])))
        })
        .collect()
}

/// A variant of an enum: its name and its named fields (none for a unit variant).
type Variant = (String, Vec<(String, String)>);

/// The variants of an enum body.
fn variants(body: &[Token]) -> Vec<Variant> {
    split_top_level(body)
        .into_iter()
        .filter_map(|part| {
            let mut part: &[Token] = &part;
            while part.first().is_some_and(|t| t.is("#")) {
                let end = matching(part, 1);
                part = &part[end + 1..];
            }
            let name = part.first().and_then(Token::ident)?.to_string();
            let fields = match part.get(1) {
                Some(open) if open.is("{") => fields(&part[2..matching(part, 1)]),
                _ => Vec::new(),
            };
            Some((name, fields))
        })
        .collect()
}

// === Move ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Public,
    Package,
}

#[derive(Debug)]
struct MoveModule {
    name: String,
    file: PathBuf,
    functions: Vec<(String, Visibility)>,
    structs: Vec<(String, Vec<(String, String)>)>,
    enums: Vec<(String, Vec<Variant>)>,
    constants: Vec<(String, String)>,
}

fn parse_move(file: &Path) -> MoveModule {
    let source = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let tokens = tokenize(&source);
    let mut module = MoveModule {
        name: String::new(),
        file: file.to_path_buf(),
        functions: Vec::new(),
        structs: Vec::new(),
        enums: Vec::new(),
        constants: Vec::new(),
    };
    let mut skip_next = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        if token.is("#") && tokens.get(i + 1).is_some_and(|t| t.is("[")) {
            let end = matching(&tokens, i + 1);
            if tokens[i + 1..end]
                .iter()
                .any(|t| t.is("test_only") || t.is("test"))
            {
                skip_next = true;
            }
            i = end + 1;
            continue;
        }
        if token.is("module") {
            // `module address::name;` (the label form: items at the top level).
            module.name = tokens[i + 3].text().to_string();
            assert!(
                tokens[i + 4].is(";"),
                "{}: use the module label form `module a::b;`",
                file.display()
            );
            i += 5;
            continue;
        }
        if token.is("{") {
            // A function body or a struct/enum body already handled: skip it.
            i = matching(&tokens, i) + 1;
            continue;
        }
        if token.is("const") {
            let name = tokens[i + 1].text().to_string();
            let end = (i..tokens.len())
                .find(|j| tokens[*j].is(";"))
                .expect("const ;");
            let equals = (i..end).find(|j| tokens[*j].is("=")).expect("const =");
            if !skip_next {
                module
                    .constants
                    .push((name, join(&tokens[equals + 1..end])));
            }
            skip_next = false;
            i = end + 1;
            continue;
        }
        if token.is("fun") || token.is("struct") || token.is("enum") {
            let name = tokens[i + 1].text().to_string();
            // Visibility: the tokens before the keyword, back to the previous item.
            let mut visibility = None;
            let mut j = i;
            while j > 0 {
                let previous = &tokens[j - 1];
                if previous.is("public") {
                    visibility = Some(Visibility::Public);
                    if tokens[j].is("(") && tokens.get(j + 1).is_some_and(|t| t.is("package")) {
                        visibility = Some(Visibility::Package);
                    }
                    break;
                }
                if previous.is("entry")
                    || previous.is("macro")
                    || previous.is("native")
                    || previous.is("package")
                    || previous.is("(")
                    || previous.is(")")
                {
                    j -= 1;
                    continue;
                }
                break;
            }
            let is_native_or_macro = tokens[j..i].iter().any(|t| t.is("native") || t.is("macro"));
            let body_start = (i..tokens.len())
                .find(|k| tokens[*k].is("{") || tokens[*k].is(";"))
                .expect("an item has a body");
            let body_end = if tokens[body_start].is("{") {
                matching(&tokens, body_start)
            } else {
                body_start
            };
            if !skip_next && !is_native_or_macro {
                match (token.text(), visibility) {
                    ("fun", Some(visibility)) => module.functions.push((name, visibility)),
                    ("struct", Some(_)) => module
                        .structs
                        .push((name, fields(&tokens[body_start + 1..body_end]))),
                    ("enum", Some(_)) => module
                        .enums
                        .push((name, variants(&tokens[body_start + 1..body_end]))),
                    _ => {}
                }
            }
            skip_next = false;
            i = body_end + 1;
            continue;
        }
        if token.is("use") {
            let end = (i..tokens.len())
                .find(|j| tokens[*j].is(";"))
                .expect("use ;");
            i = end + 1;
            continue;
        }
        i += 1;
    }
    assert!(!module.name.is_empty(), "{}: no module", file.display());
    module
}

// === Rust twin ===

#[derive(Debug, Default)]
struct TwinModule {
    /// `pub fn` and `pub(crate) fn` names, with whether they are `pub`.
    functions: Vec<(String, bool)>,
    structs: Vec<(String, Vec<(String, String)>)>,
    enums: Vec<(String, Vec<Variant>)>,
    /// `Abort::new(module, code, name)`.
    aborts: Vec<(String, String, String)>,
}

impl TwinModule {
    fn function(&self, name: &str) -> Option<bool> {
        self.functions
            .iter()
            .find(|(function, _)| function == name)
            .map(|(_, public)| *public)
    }

    fn has_pub_field(&self, name: &str) -> bool {
        self.structs
            .iter()
            .any(|(_, fields)| fields.iter().any(|(field, _)| field == name))
    }

    fn struct_fields(&self, name: &str) -> Option<&Vec<(String, String)>> {
        self.structs
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, fields)| fields)
    }
}

/// The twin module's items, without its `#[cfg(test)]` module.
fn parse_twin(file: &Path) -> TwinModule {
    let source = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let source = match source.find("#[cfg(test)]") {
        Some(index) => source[..index].to_string(),
        None => source,
    };
    let tokens = tokenize(&source);
    let mut twin = TwinModule::default();
    for i in 0..tokens.len() {
        if tokens[i].is("pub") {
            let (crate_only, keyword) = if tokens.get(i + 1).is_some_and(|t| t.is("(")) {
                (true, i + 4)
            } else {
                (false, i + 1)
            };
            let Some(keyword_token) = tokens.get(keyword) else {
                continue;
            };
            let Some(name) = tokens.get(keyword + 1).and_then(Token::ident) else {
                continue;
            };
            if keyword_token.is("fn") {
                twin.functions.push((name.to_string(), !crate_only));
            } else if (keyword_token.is("struct") || keyword_token.is("enum")) && !crate_only {
                let Some(open) =
                    (keyword..tokens.len()).find(|k| tokens[*k].is("{") || tokens[*k].is(";"))
                else {
                    continue;
                };
                if tokens[open].is(";") {
                    continue;
                }
                let close = matching(&tokens, open);
                if keyword_token.is("struct") {
                    twin.structs
                        .push((name.to_string(), fields(&tokens[open + 1..close])));
                } else {
                    twin.enums
                        .push((name.to_string(), variants(&tokens[open + 1..close])));
                }
            }
        }
        if tokens[i].is("Abort")
            && tokens.get(i + 1).is_some_and(|t| t.is("::"))
            && tokens.get(i + 2).is_some_and(|t| t.is("new"))
            && tokens.get(i + 3).is_some_and(|t| t.is("("))
        {
            let close = matching(&tokens, i + 3);
            let arguments: Vec<String> = split_top_level(&tokens[i + 4..close])
                .iter()
                .map(|part| join(part))
                .collect();
            if let [module, code, name] = arguments.as_slice() {
                twin.aborts
                    .push((module.clone(), code.clone(), name.clone()));
            }
        }
    }
    twin
}

// === Type correspondence ===

/// `Base<args>` split into the base and its arguments (types without spaces).
fn generic(rust_type: &str) -> (String, Vec<String>) {
    let Some(open) = rust_type.find('<') else {
        return (rust_type.to_string(), Vec::new());
    };
    let inner = &rust_type[open + 1..rust_type.len() - 1];
    let mut arguments = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                arguments.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    arguments.push(current);
    (rust_type[..open].to_string(), arguments)
}

/// The Move type of a twin field's Rust type.
fn move_type(rust_type: &str, field: &str, balance: bool) -> String {
    let (base, arguments) = generic(rust_type);
    let inner = |index: usize| move_type(&arguments[index], "", false);
    match base.as_str() {
        "ObjectId" if field == "id" => "UID".to_string(),
        "ObjectId" => "ID".to_string(),
        "U256" => "u256".to_string(),
        "u64" if balance => "Balance<WAL>".to_string(),
        "Vec" => format!("vector<{}>", inner(0)),
        "Option" => format!("Option<{}>", inner(0)),
        "VecMap" => format!("VecMap<{},{}>", inner(0), inner(1)),
        _ => rust_type.to_string(),
    }
}

/// Whether a Move constant is an error: `ECamelCase` (`EPOCH_CHANGE_DONE` is not one).
fn is_error_constant(name: &str) -> bool {
    name.starts_with('E')
        && name.chars().nth(1).is_some_and(char::is_uppercase)
        && name.chars().any(char::is_lowercase)
}

/// `InvalidBlobID` -> `invalid_blob_id`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let previous_lower = chars[i - 1].is_lowercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous_lower || (chars[i - 1].is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

// === The check ===

fn move_modules(root: &Path) -> Vec<MoveModule> {
    let mut modules = Vec::new();
    for package in ["contracts/wal/sources", "contracts/walrus/sources"] {
        let directory = root.join(package);
        let mut files: Vec<PathBuf> = fs::read_dir(&directory)
            .unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
            .map(|entry| entry.expect("readable directory").path())
            .filter(|path| path.extension().is_some_and(|e| e == "move"))
            .collect();
        files.sort();
        modules.extend(files.iter().map(|file| parse_move(file)));
    }
    modules
}

fn twin_file(root: &Path, module: &str) -> PathBuf {
    root.join("chain/src/contract").join(format!("{module}.rs"))
}

#[test]
fn move_sources_and_twin_correspond() {
    let root = repo_root();
    let modules = move_modules(&root);
    let mut errors: Vec<String> = Vec::new();
    let mut used_move_only = BTreeSet::new();
    let mut used_renamed = BTreeSet::new();
    let mut used_rust_only = BTreeSet::new();
    let mut checked = 0;

    let names: BTreeSet<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.len() >= 10,
        "expected the wal module and the 9 walrus modules, found {names:?}"
    );

    for module in &modules {
        let path = twin_file(&root, &module.name);
        let twin = if path.exists() {
            parse_twin(&path)
        } else {
            TwinModule::default()
        };
        let m = module.name.as_str();
        let twin_name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();

        // Functions.
        for (name, visibility) in &module.functions {
            checked += 1;
            let exception = MOVE_ONLY
                .iter()
                .find(|(module, function, ..)| *module == m && function == name);
            if let Some(entry @ (_, _, file, text, _)) = exception {
                used_move_only.insert((entry.0, entry.1));
                let content = fs::read_to_string(root.join(file)).unwrap_or_default();
                if !content.contains(text) {
                    errors.push(format!(
                        "{m}::{name}: MOVE_ONLY names `{text}` in {file}, which is not there"
                    ));
                }
                continue;
            }
            if let Some(public_in_rust) = twin.function(name) {
                if *visibility == Visibility::Public && !public_in_rust {
                    errors.push(format!(
                        "{m}::{name} is `public` in Move but `pub(crate)` in {twin_name}"
                    ));
                }
                continue;
            }
            if twin.has_pub_field(name) {
                continue;
            }
            let accessor_field = name
                .strip_prefix("set_")
                .or_else(|| name.strip_suffix("_mut"));
            if let Some(field) = accessor_field.filter(|field| twin.has_pub_field(field)) {
                if *visibility != Visibility::Package {
                    errors.push(format!(
                        "{m}::{name} mutates the field `{field}`: it must be public(package)"
                    ));
                }
                continue;
            }
            if let Some(event) = name.strip_prefix("emit_") {
                if twin.structs.iter().any(|(s, _)| snake_case(s) == event) {
                    if *visibility != Visibility::Package {
                        errors.push(format!(
                            "{m}::{name} emits events: it must be public(package)"
                        ));
                    }
                    continue;
                }
            }
            errors.push(format!(
                "{m}::{name} ({}) has no twin in {twin_name}: no `fn {name}`, no pub field \
                 `{name}`, not listed in MOVE_ONLY",
                module
                    .file
                    .strip_prefix(&root)
                    .unwrap_or(&module.file)
                    .display()
            ));
        }

        // Structs.
        for (name, move_fields) in &module.structs {
            checked += 1;
            let rust_name = match RENAMED
                .iter()
                .find(|(module, s, ..)| *module == m && s == name)
            {
                Some((module, s, rust, _)) => {
                    used_renamed.insert((*module, *s));
                    *rust
                }
                None => name.as_str(),
            };
            let rust_fields = if m == "wal" {
                // The coin's witness: only the existence of the twin type is checked.
                let sui = parse_twin(&twin_file(&root, "sui"));
                if sui.struct_fields(rust_name).is_none() {
                    errors.push(format!(
                        "wal::{name}: no `pub struct {rust_name}` in sui.rs"
                    ));
                }
                continue;
            } else {
                twin.struct_fields(rust_name)
            };
            let Some(rust_fields) = rust_fields else {
                errors.push(format!(
                    "{m}::{name}: no `pub struct {rust_name}` in {twin_name}"
                ));
                continue;
            };
            let move_names: Vec<&str> = move_fields.iter().map(|(n, _)| n.as_str()).collect();
            let rust_names: Vec<&str> = rust_fields.iter().map(|(n, _)| n.as_str()).collect();
            if move_names != rust_names {
                errors.push(format!(
                    "{m}::{name}: Move fields {move_names:?} != twin fields {rust_names:?}"
                ));
                continue;
            }
            for ((field, move_type_text), (_, rust_type)) in move_fields.iter().zip(rust_fields) {
                let balance = BALANCE_FIELDS
                    .iter()
                    .any(|(bm, bs, bf)| *bm == m && bs == name && bf == field);
                let expected = move_type(rust_type, field, balance);
                if *move_type_text != expected {
                    errors.push(format!(
                        "{m}::{name}.{field}: Move type `{move_type_text}`, twin `{rust_type}` \
                         (expected `{expected}`)"
                    ));
                }
            }
        }

        // Enums: the same variants with the same fields.
        for (name, move_variants) in &module.enums {
            checked += 1;
            let Some((_, rust_variants)) = twin.enums.iter().find(|(e, _)| e == name) else {
                errors.push(format!("{m}::{name}: no `pub enum {name}` in {twin_name}"));
                continue;
            };
            let expected: Vec<Variant> = rust_variants
                .iter()
                .map(|(variant, fields)| {
                    let fields = fields
                        .iter()
                        .map(|(field, rust_type)| {
                            (field.clone(), move_type(rust_type, field, false))
                        })
                        .collect();
                    (variant.clone(), fields)
                })
                .collect();
            if *move_variants != expected {
                errors.push(format!(
                    "{m}::{name}: Move variants {move_variants:?} != twin {expected:?} (as Move)"
                ));
            }
        }

        // Abort codes, both ways.
        for (twin_module, code, error) in &twin.aborts {
            if twin_module != m {
                errors.push(format!(
                    "{twin_name}: Abort::new({twin_module}, {code}, {error}) names another module"
                ));
            }
            match module.constants.iter().find(|(c, _)| c == error) {
                Some((_, value)) if value.replace('_', "") == code.replace('_', "") => {}
                Some((_, value)) => errors.push(format!(
                    "{m}::{error} = {value} in Move, {code} in the twin"
                )),
                None => errors.push(format!("{m}: no `const {error}: u64 = {code};`")),
            }
        }
        for (constant, value) in &module.constants {
            if is_error_constant(constant)
                && !twin.aborts.iter().any(|(_, _, error)| error == constant)
            {
                errors.push(format!(
                    "{m}::{constant} = {value}: no Abort::new(\"{m}\", {value}, \"{constant}\") in \
                     the twin"
                ));
            }
        }

        // The other direction: every pub item of the twin module is in Move.
        if path.exists() {
            for (name, _) in &twin.functions {
                if let Some(entry) = RUST_ONLY
                    .iter()
                    .find(|(rm, item, _)| *rm == m && item == name)
                {
                    used_rust_only.insert((entry.0, entry.1));
                    continue;
                }
                if !module.functions.iter().any(|(f, _)| f == name) {
                    errors.push(format!(
                        "{twin_name}: `fn {name}` has no public Move function in {}",
                        module
                            .file
                            .strip_prefix(&root)
                            .unwrap_or(&module.file)
                            .display()
                    ));
                }
            }
            let move_types: BTreeSet<&str> = module
                .structs
                .iter()
                .map(|(s, _)| s.as_str())
                .chain(module.enums.iter().map(|(e, _)| e.as_str()))
                .map(|s| {
                    RENAMED
                        .iter()
                        .find(|(rm, ms, ..)| *rm == m && *ms == s)
                        .map_or(s, |(_, _, rust, _)| *rust)
                })
                .collect();
            let twin_types: Vec<&str> = twin
                .structs
                .iter()
                .map(|(s, _)| s.as_str())
                .chain(twin.enums.iter().map(|(e, _)| e.as_str()))
                .collect();
            for name in twin_types {
                if let Some(entry) = RUST_ONLY
                    .iter()
                    .find(|(rm, item, _)| *rm == m && *item == name)
                {
                    used_rust_only.insert((entry.0, entry.1));
                    continue;
                }
                if !move_types.contains(name) {
                    errors.push(format!(
                        "{twin_name}: `pub struct/enum {name}` has no Move struct in {}",
                        module
                            .file
                            .strip_prefix(&root)
                            .unwrap_or(&module.file)
                            .display()
                    ));
                }
            }
        }
    }

    // Every twin module has a Move module, or is listed.
    let contract_dir = root.join("chain/src/contract");
    for entry in fs::read_dir(&contract_dir).expect("chain/src/contract") {
        let path = entry.expect("readable directory").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || stem == "mod" {
            continue;
        }
        let listed = TWIN_ONLY_MODULES.iter().any(|(module, _)| *module == stem);
        let in_move = names.contains(stem);
        if !listed && !in_move {
            errors.push(format!(
                "chain/src/contract/{stem}.rs has no Move module contracts/walrus/sources/{stem}.move"
            ));
        }
        if listed && in_move {
            errors.push(format!(
                "{stem} is listed in TWIN_ONLY_MODULES but has a Move module: remove the entry"
            ));
        }
    }

    // No stale exceptions.
    for (module, function, ..) in MOVE_ONLY {
        if !used_move_only.contains(&(*module, *function)) {
            errors.push(format!(
                "MOVE_ONLY lists {module}::{function}, which is not in Move"
            ));
        }
    }
    for (module, name, ..) in RENAMED {
        if !used_renamed.contains(&(*module, *name)) {
            errors.push(format!(
                "RENAMED lists {module}::{name}, which is not in Move"
            ));
        }
    }
    for (module, item, _) in RUST_ONLY {
        if !used_rust_only.contains(&(*module, *item)) {
            errors.push(format!(
                "RUST_ONLY lists {module}::{item}, which is not in the twin"
            ));
        }
    }

    // The README's table names everything.
    let readme = fs::read_to_string(root.join("chain/README.md")).unwrap_or_default();
    for module in &modules {
        let address = if module.name == "wal" {
            "wal"
        } else {
            "walrus"
        };
        let items = module
            .functions
            .iter()
            .map(|(name, _)| name)
            .chain(module.structs.iter().map(|(name, _)| name))
            .chain(module.enums.iter().map(|(name, _)| name));
        for name in items {
            let path = format!("`{address}::{}::{name}`", module.name);
            if !readme.contains(&path) {
                errors.push(format!("chain/README.md does not name {path}"));
            }
        }
    }

    assert!(
        errors.is_empty(),
        "{} mismatch(es) between contracts/ and chain/src/contract/:\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
    assert!(
        checked > 50,
        "only {checked} Move items found: is the parser broken?"
    );
}

#[test]
fn parser_sanity() {
    let module = parse_move_source(
        "module a::m;\n\
         use sui::bcs;\n\
         const EOne: u64 = 0;\n\
         /// doc\n\
         public struct S has key { id: UID, v: vector<u8>, m: VecMap<String, String> }\n\
         public enum T has copy, drop { A, B { x: ID } }\n\
         public fun f(x: u64): u64 { if (x > 0) { x } else { 0 } }\n\
         public(package) fun g() {}\n\
         fun h() {}\n\
         #[test_only]\n\
         public fun t() {}\n",
    );
    assert_eq!(module.name, "m");
    assert_eq!(
        module.functions,
        vec![
            ("f".to_string(), Visibility::Public),
            ("g".to_string(), Visibility::Package)
        ]
    );
    assert_eq!(
        module.structs,
        vec![(
            "S".to_string(),
            vec![
                ("id".to_string(), "UID".to_string()),
                ("v".to_string(), "vector<u8>".to_string()),
                ("m".to_string(), "VecMap<String,String>".to_string()),
            ]
        )]
    );
    assert_eq!(
        module.enums,
        vec![(
            "T".to_string(),
            vec![
                ("A".to_string(), vec![]),
                ("B".to_string(), vec![("x".to_string(), "ID".to_string())])
            ]
        )]
    );
    assert_eq!(
        module.constants,
        vec![("EOne".to_string(), "0".to_string())]
    );
    assert_eq!(move_type("Vec<ObjectId>", "x", false), "vector<ID>");
    assert_eq!(move_type("ObjectId", "id", false), "UID");
    assert_eq!(
        move_type("VecMap<String,String>", "a", false),
        "VecMap<String,String>"
    );
    assert_eq!(move_type("u64", "rewards_pool", true), "Balance<WAL>");
    assert_eq!(move_type("Option<u32>", "e", false), "Option<u32>");
    assert!(is_error_constant("EInvalidParameters"));
    assert!(!is_error_constant("EPOCH_CHANGE_DONE"));
    assert!(!is_error_constant("MAX_U64"));
    assert_eq!(snake_case("InvalidBlobID"), "invalid_blob_id");
    assert_eq!(snake_case("BlobRegistered"), "blob_registered");
}

fn parse_move_source(source: &str) -> MoveModule {
    let dir = std::env::temp_dir().join(format!("twin-table-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("m.move");
    fs::write(&file, source).expect("temp file");
    let module = parse_move(&file);
    let _ = fs::remove_dir_all(&dir);
    module
}
