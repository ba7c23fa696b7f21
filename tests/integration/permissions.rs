//! The IAM policies in `template.yaml` against what each function's code
//! calls: every AWS operation a function can send is granted to its role,
//! and its role is granted nothing the function never calls, but for a short
//! list of actions AWS checks on the function's behalf (the KMS grant RDS
//! makes for an encrypted copy, say), each allowed only where the function
//! makes the call that needs it.
//!
//! What the code calls is read two ways, which check each other:
//!
//! - **Statically.** The sources of `shared/` and `functions/*/` (test
//!   modules left out) are read for AWS SDK operation calls
//!   (`.create_db_snapshot()`, `.put_object()`), each looked up in
//!   `OPERATIONS`, the table of the SDK operations the project may use and
//!   the IAM action each needs; a call that is not in the table fails, named
//!   by file and line. A call in a function's crate is that function's. A
//!   call in the shared library is a function's if the function reaches the
//!   `fn` around it: by path (`rds::create_snapshot(..)`), by a name it
//!   imports, or, for the methods of a shared type, through a receiver named
//!   after the type (`catalog.put_new(..)`, `ctx.publisher().publish(..)`),
//!   the way the code names them; and so on through the shared library.
//! - **Dynamically.** Each function's `handle` runs against moto, its
//!   clients aimed through the test proxy, on a scenario that walks its main
//!   paths (see `run_every_function`);
//!   the proxy names every operation sent. Each must be granted, and must be
//!   in the static reading too, so the static reading misses nothing that
//!   runs. And the scenario must send everything the static reading finds
//!   but the few failure paths in `NOT_EXERCISED`, so it keeps up with the
//!   code.
//!
//! The template's side: the actions of every `Allow` statement in each
//! function's `Policies`, both branches of every `!If` counted (a stack of
//! either role, with any parameters, may deploy either). No wildcard action,
//! no `NotAction`, no policy this test cannot read (a SAM policy template,
//! a managed policy), and every KMS action limited to use through a service
//! (`kms:ViaService`): the functions never call KMS themselves.
//!
//! Actions only; which resources and regions a statement names is the
//! template's own business (and `template.rs` checks the recovery role's).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use lifeboat::aws::clients::Clients;
use lifeboat::Context;
use lifeboat_tests::proxy::{Call, Proxy};
use lifeboat_tests::{moto, moto::repo_root, sample_event, seed, World};
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;

// ---------------------------------------------------------------------------
// The table: SDK operations and the IAM actions they need
// ---------------------------------------------------------------------------

/// One AWS SDK operation: the fluent method that builds it, the service as
/// SigV4 signs it (what the proxy reads), the operation's name on the wire
/// and the IAM action that authorises it.
#[derive(Debug)]
struct Operation {
    method: &'static str,
    service: &'static str,
    name: &'static str,
    action: &'static str,
}

const fn op(
    method: &'static str,
    service: &'static str,
    name: &'static str,
    action: &'static str,
) -> Operation {
    Operation {
        method,
        service,
        name,
        action,
    }
}

/// The SDK operations Lifeboat may use. A new AWS call goes here and into
/// the policy of the function that calls it.
#[rustfmt::skip]
const OPERATIONS: &[Operation] = &[
    // RDS: the fleet.
    op("describe_db_instances",               "rds",   "DescribeDBInstances",             "rds:DescribeDBInstances"),
    op("describe_db_clusters",                "rds",   "DescribeDBClusters",              "rds:DescribeDBClusters"),
    // RDS: snapshots and their copies.
    op("describe_db_snapshots",               "rds",   "DescribeDBSnapshots",             "rds:DescribeDBSnapshots"),
    op("describe_db_cluster_snapshots",       "rds",   "DescribeDBClusterSnapshots",      "rds:DescribeDBClusterSnapshots"),
    op("create_db_snapshot",                  "rds",   "CreateDBSnapshot",                "rds:CreateDBSnapshot"),
    op("create_db_cluster_snapshot",          "rds",   "CreateDBClusterSnapshot",         "rds:CreateDBClusterSnapshot"),
    op("copy_db_snapshot",                    "rds",   "CopyDBSnapshot",                  "rds:CopyDBSnapshot"),
    op("copy_db_cluster_snapshot",            "rds",   "CopyDBClusterSnapshot",           "rds:CopyDBClusterSnapshot"),
    op("delete_db_snapshot",                  "rds",   "DeleteDBSnapshot",                "rds:DeleteDBSnapshot"),
    op("delete_db_cluster_snapshot",          "rds",   "DeleteDBClusterSnapshot",         "rds:DeleteDBClusterSnapshot"),
    // RDS: restores, what they look up first, and their rollback.
    op("restore_db_instance_from_db_snapshot","rds",   "RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"),
    op("restore_db_cluster_from_snapshot",    "rds",   "RestoreDBClusterFromSnapshot",    "rds:RestoreDBClusterFromSnapshot"),
    op("create_db_instance",                  "rds",   "CreateDBInstance",                "rds:CreateDBInstance"),
    op("modify_db_instance",                  "rds",   "ModifyDBInstance",                "rds:ModifyDBInstance"),
    op("delete_db_instance",                  "rds",   "DeleteDBInstance",                "rds:DeleteDBInstance"),
    op("modify_db_cluster",                   "rds",   "ModifyDBCluster",                 "rds:ModifyDBCluster"),
    op("delete_db_cluster",                   "rds",   "DeleteDBCluster",                 "rds:DeleteDBCluster"),
    op("describe_db_subnet_groups",           "rds",   "DescribeDBSubnetGroups",          "rds:DescribeDBSubnetGroups"),
    op("describe_db_parameter_groups",        "rds",   "DescribeDBParameterGroups",       "rds:DescribeDBParameterGroups"),
    op("describe_db_cluster_parameter_groups","rds",   "DescribeDBClusterParameterGroups","rds:DescribeDBClusterParameterGroups"),
    op("describe_option_groups",              "rds",   "DescribeOptionGroups",            "rds:DescribeOptionGroups"),
    // RDS: tags on their own (Lifeboat sets them with the create instead).
    op("add_tags_to_resource",                "rds",   "AddTagsToResource",               "rds:AddTagsToResource"),
    op("list_tags_for_resource",              "rds",   "ListTagsForResource",             "rds:ListTagsForResource"),
    op("remove_tags_from_resource",           "rds",   "RemoveTagsFromResource",          "rds:RemoveTagsFromResource"),
    // S3: the catalog. Listing is authorised as s3:ListBucket on the bucket,
    // HeadObject as s3:GetObject on the object.
    op("put_object",                          "s3",    "PutObject",                       "s3:PutObject"),
    op("get_object",                          "s3",    "GetObject",                       "s3:GetObject"),
    op("head_object",                         "s3",    "HeadObject",                      "s3:GetObject"),
    op("list_objects_v2",                     "s3",    "ListObjectsV2",                   "s3:ListBucket"),
    op("list_objects",                        "s3",    "ListObjects",                     "s3:ListBucket"),
    op("delete_object",                       "s3",    "DeleteObject",                    "s3:DeleteObject"),
    // EventBridge: Lifeboat's own events.
    op("put_events",                          "events","PutEvents",                       "events:PutEvents"),
    // Step Functions: a run that outlasts its invocation, handed on.
    op("start_execution",                     "states","StartExecution",                  "states:StartExecution"),
    // Lambda: the user's drill validator.
    op("invoke",                              "lambda","Invoke",                          "lambda:InvokeFunction"),
];

fn operation_by_method(method: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.method == method)
}

fn operation_on_the_wire(service: &str, name: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|o| o.service == service && o.name == name)
}

/// An action AWS authorises on the function's behalf when it makes another
/// call: granted for a reason the code never shows.
struct OnBehalf {
    action: &'static str,
    /// The actions of the calls that need it: a policy may grant it only
    /// to a function that can make one of them.
    needed_by: &'static [&'static str],
    reason: &'static str,
}

const RDS_WRITES_WITH_TAGS: &[&str] = &[
    "rds:CreateDBSnapshot",
    "rds:CreateDBClusterSnapshot",
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:RestoreDBClusterFromSnapshot",
    "rds:CreateDBInstance",
];

const RDS_USES_OF_A_SNAPSHOT_KEY: &[&str] = &[
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:RestoreDBClusterFromSnapshot",
];

const ON_BEHALF: &[OnBehalf] = &[
    OnBehalf {
        action: "rds:AddTagsToResource",
        needed_by: RDS_WRITES_WITH_TAGS,
        reason: "RDS also authorises a create, copy or restore that carries Tags as AddTagsToResource on the new resource",
    },
    OnBehalf {
        action: "kms:CreateGrant",
        needed_by: RDS_USES_OF_A_SNAPSHOT_KEY,
        reason: "RDS creates grants on the snapshot's key (and, copying, on the DR region's KmsKeyId) to read and re-encrypt an encrypted snapshot",
    },
    OnBehalf {
        action: "kms:DescribeKey",
        needed_by: RDS_USES_OF_A_SNAPSHOT_KEY,
        reason: "RDS describes the snapshot's key, or the KmsKeyId a copy is given, before it uses it",
    },
    OnBehalf {
        action: "kms:GenerateDataKey",
        needed_by: &["s3:PutObject"],
        reason: "S3 asks KMS for a data key to write an object into an SSE-KMS bucket (CatalogKmsKeyArn, DrCatalogKmsKeyArns)",
    },
    OnBehalf {
        action: "kms:Decrypt",
        needed_by: &["s3:GetObject"],
        reason: "S3 asks KMS to decrypt the data key to read an object from an SSE-KMS bucket",
    },
];

/// Actions AWS checks on a function's behalf that a role must have when it
/// has the first and its code makes the call: (granted, called, needed,
/// why).
const NEEDED_TOGETHER: &[(&str, &str, &str, &str)] = &[(
    "kms:GenerateDataKey",
    "s3:GetObject",
    "kms:Decrypt",
    "the role writes through a catalog key (SSE-KMS), so the records it reads are encrypted with it too",
)];

/// What a function's code can call that the scenario does not lead it to:
/// paths that only a failure half-way through opens. (function, action,
/// why.)
const NOT_EXERCISED: &[(&str, &str, &str)] = &[
    (
        "restore",
        "rds:DeleteDBInstance",
        "the rollback of a cluster restore whose member failed; restore.rs drives it through the adapter",
    ),
    (
        "restore",
        "rds:ModifyDBInstance",
        "the same rollback, turning off a half-made instance's deletion protection",
    ),
    (
        "restore",
        "rds:ModifyDBCluster",
        "the same rollback, turning off the half-made cluster's deletion protection",
    ),
    (
        "restore",
        "rds:DeleteDBCluster",
        "the same rollback, deleting the half-made cluster",
    ),
    (
        "drill",
        "rds:ModifyDBInstance",
        "turning off the deletion protection of a drill DB that has it (a drill restores without), before deleting it; or the restore's rollback",
    ),
    (
        "snapshot",
        "states:StartExecution",
        "handing on a run that outlasts its invocation; runs.rs drives it against moto with a shortened deadline",
    ),
    (
        "copy",
        "states:StartExecution",
        "handing on a reconcile that outlasts its invocation; runs.rs drives it",
    ),
    (
        "prune",
        "states:StartExecution",
        "handing on a prune that outlasts its invocation; runs.rs drives it",
    ),
    (
        "drill",
        "rds:DescribeDBParameterGroups",
        "a drill restores a DB as captured, looking its custom groups up in the region; the scenario's DBs use the default groups (the restore scenario looks each kind up)",
    ),
    (
        "drill",
        "rds:DescribeDBClusterParameterGroups",
        "the same, for a cluster's custom parameter group",
    ),
    (
        "drill",
        "rds:DescribeOptionGroups",
        "the same, for a custom option group",
    ),
];

// ---------------------------------------------------------------------------
// Reading Rust: tokens, items, references, SDK calls
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Punct,
    /// A string, char or number literal; its text is not kept, so nothing
    /// in a string or a comment is ever taken for code.
    Literal,
    Lifetime,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
}

/// Rust source as tokens, comments dropped and literals blanked. Just
/// enough of the lexical grammar for what this test looks for: raw strings,
/// byte strings, chars versus lifetimes, nested block comments, `::`.
fn lex(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let is_ident_start = |c: char| c.is_alphabetic() || c == '_';
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let push =
        |tokens: &mut Vec<Token>, kind, text: String, line| tokens.push(Token { kind, text, line });
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if at(i) == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&chars, i) {
            line += chars[i..end].iter().filter(|&&c| c == '\n').count();
            push(&mut tokens, Kind::Literal, String::new(), start_line);
            i = end;
        } else if c == '"' || (c == 'b' && at(i + 1) == '"') {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            line += chars[i..j.min(chars.len())]
                .iter()
                .filter(|&&c| c == '\n')
                .count();
            push(&mut tokens, Kind::Literal, String::new(), start_line);
            i = j + 1;
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let q = if c == 'b' { i + 1 } else { i };
            if at(q + 1) == '\\' {
                // An escape: '\n', '\'', '\u{1F600}'.
                let mut j = q + 3;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                push(&mut tokens, Kind::Literal, String::new(), start_line);
                i = j + 1;
            } else if at(q + 2) == '\'' {
                push(&mut tokens, Kind::Literal, String::new(), start_line);
                i = q + 3;
            } else {
                // A lifetime or a loop label.
                let mut j = q + 1;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                push(
                    &mut tokens,
                    Kind::Lifetime,
                    chars[q..j].iter().collect(),
                    start_line,
                );
                i = j;
            }
        } else if c == 'r' && at(i + 1) == '#' && is_ident_start(at(i + 2)) {
            // A raw identifier, r#type.
            let mut j = i + 2;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            push(
                &mut tokens,
                Kind::Ident,
                chars[i + 2..j].iter().collect(),
                start_line,
            );
            i = j;
        } else if is_ident_start(c) {
            let mut j = i;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            push(
                &mut tokens,
                Kind::Ident,
                chars[i..j].iter().collect(),
                start_line,
            );
            i = j;
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len()
                && (is_ident(chars[j]) || (chars[j] == '.' && at(j + 1).is_ascii_digit()))
            {
                j += 1;
            }
            push(&mut tokens, Kind::Literal, String::new(), start_line);
            i = j;
        } else if c == ':' && at(i + 1) == ':' {
            push(&mut tokens, Kind::Punct, "::".to_string(), start_line);
            i += 2;
        } else {
            push(&mut tokens, Kind::Punct, c.to_string(), start_line);
            i += 1;
        }
    }
    tokens
}

/// Where a raw string starting at `i` (`r"..."`, `r#"..."#`, `br"..."`)
/// ends, if one does.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = match (chars.get(i), chars.get(i + 1)) {
        (Some('r'), _) => i + 1,
        (Some('b'), Some('r')) => i + 2,
        _ => return None,
    };
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    j += hashes;
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && chars[j + 1..].iter().take(hashes).all(|&c| c == '#') {
            let end = j + 1 + hashes;
            if end <= chars.len() {
                return Some(end);
            }
        }
        j += 1;
    }
    Some(chars.len())
}

/// For every bracket, the index of its partner (`()`, `[]`, `{}`).
fn partners(tokens: &[Token]) -> Vec<Option<usize>> {
    let mut partner = vec![None; tokens.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.kind != Kind::Punct {
            continue;
        }
        match t.text.as_str() {
            "(" | "[" | "{" => open.push(i),
            ")" | "]" | "}" => {
                if let Some(o) = open.pop() {
                    partner[o] = Some(i);
                    partner[i] = Some(o);
                }
            }
            _ => {}
        }
    }
    partner
}

fn is(tokens: &[Token], i: usize, text: &str) -> bool {
    tokens.get(i).is_some_and(|t| t.text == text)
}

fn ident_at(tokens: &[Token], i: usize) -> Option<&str> {
    tokens
        .get(i)
        .filter(|t| t.kind == Kind::Ident)
        .map(|t| t.text.as_str())
}

/// The last token of the item that starts at `i`: its closing `}` or its
/// `;`.
fn item_end(tokens: &[Token], partner: &[Option<usize>], mut i: usize) -> usize {
    while i < tokens.len() {
        match tokens[i].text.as_str() {
            "{" => return partner[i].unwrap_or(tokens.len() - 1),
            ";" => return i,
            "(" | "[" => i = partner[i].map_or(i + 1, |p| p + 1),
            _ => i += 1,
        }
    }
    tokens.len().saturating_sub(1)
}

/// The tokens without the items under `#[cfg(test)]` (test modules, test
/// helpers): what ships.
fn without_tests(tokens: Vec<Token>) -> Vec<Token> {
    let partner = partners(&tokens);
    let mut kept = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is(&tokens, i, "#") && is(&tokens, i + 1, "[") {
            let close = partner[i + 1].unwrap_or(i + 1);
            let attribute = &tokens[i + 2..close];
            let has = |word: &str| attribute.iter().any(|t| t.text == word);
            if is(attribute, 0, "cfg") && has("test") && !has("not") {
                let mut j = close + 1;
                while is(&tokens, j, "#") && is(&tokens, j + 1, "[") {
                    j = partner[j + 1].map_or(j + 2, |p| p + 1);
                }
                i = item_end(&tokens, &partner, j) + 1;
                continue;
            }
        }
        kept.push(tokens[i].clone());
        i += 1;
    }
    kept
}

/// A `fn` with a body: its name, the type of the `impl` it is in (if any)
/// and the token range of its body.
#[derive(Debug, Clone)]
struct Item {
    name: String,
    owner: Option<String>,
    body: (usize, usize),
}

/// Whether `i` can start an item: at the top of a block, after another item
/// or an attribute. (`impl` elsewhere is `impl Trait` in a type.)
fn starts_item(tokens: &[Token], i: usize) -> bool {
    i == 0 || ["}", ";", "{", "]"].contains(&tokens[i - 1].text.as_str())
}

/// The type an `impl` header (the tokens between `impl` and `{`) is for:
/// `Catalog` for `impl Catalog`, `DbSnapshot` for `impl SdkSnapshot for
/// DbSnapshot`, `Progress` for `impl fmt::Display for Progress`.
fn impl_owner(header: &[Token]) -> String {
    let mut rest = header;
    if is(rest, 0, "<") {
        let mut depth = 0;
        for (i, t) in rest.iter().enumerate() {
            let arrow = i > 0 && rest[i - 1].text == "-";
            match t.text.as_str() {
                "<" => depth += 1,
                ">" if !arrow => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                rest = &rest[i + 1..];
                break;
            }
        }
    }
    if let Some(f) = rest.iter().position(|t| t.text == "for") {
        rest = &rest[f + 1..];
    }
    let end = rest
        .iter()
        .position(|t| t.text == "<" || t.text == "where")
        .unwrap_or(rest.len());
    rest[..end]
        .iter()
        .rev()
        .find(|t| t.kind == Kind::Ident)
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// Every `fn` with a body, with the `impl` it is in.
fn items(tokens: &[Token], partner: &[Option<usize>]) -> Vec<Item> {
    let mut found = Vec::new();
    let mut impls: Vec<(String, usize)> = Vec::new();
    for i in 0..tokens.len() {
        while impls.last().is_some_and(|(_, close)| i > *close) {
            impls.pop();
        }
        if tokens[i].kind != Kind::Ident {
            continue;
        }
        if tokens[i].text == "impl" && starts_item(tokens, i) {
            if let Some(open) = (i..tokens.len()).find(|&j| is(tokens, j, "{")) {
                let owner = impl_owner(&tokens[i + 1..open]);
                impls.push((owner, partner[open].unwrap_or(tokens.len())));
            }
        } else if tokens[i].text == "fn" {
            let Some(name) = ident_at(tokens, i + 1) else {
                continue; // a `fn(..)` pointer type
            };
            let mut j = i + 2;
            while j < tokens.len() {
                match tokens[j].text.as_str() {
                    "{" | ";" => break,
                    "(" | "[" => j = partner[j].map_or(j + 1, |p| p + 1),
                    _ => j += 1,
                }
            }
            if is(tokens, j, "{") {
                found.push(Item {
                    name: name.to_string(),
                    owner: impls.last().map(|(owner, _)| owner.clone()),
                    body: (j, partner[j].unwrap_or(tokens.len())),
                });
            }
        }
    }
    found
}

/// How code names something it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    /// `name(..)`, or `name` passed as a value (`.map(name)`).
    Bare(String),
    /// `qualifier::name`.
    Path { qualifier: String, name: String },
    /// `receiver.name(..)`: `receiver` is the last name before the dot
    /// (`catalog` in `self.source.catalog.get(..)`, `publisher` in
    /// `ctx.publisher().publish(..)`).
    Method { receiver: String, name: String },
}

#[derive(Debug, Clone)]
struct Reference {
    at: usize,
    line: usize,
    name: Name,
}

/// The last name of the expression that ends at token `k`.
fn receiver(tokens: &[Token], partner: &[Option<usize>], k: usize) -> String {
    match tokens.get(k) {
        Some(t) if t.kind == Kind::Ident => t.text.clone(),
        Some(t) if t.text == "?" && k > 0 => receiver(tokens, partner, k - 1),
        Some(t) if t.text == ")" || t.text == "]" => partner[k]
            .filter(|&open| open > 0)
            .and_then(|open| ident_at(tokens, open - 1))
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// Every place the code names something callable, outside `use`
/// declarations (which name, but do not call).
fn references(tokens: &[Token], partner: &[Option<usize>]) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.text == "use" && starts_item(tokens, i) {
            i = item_end(tokens, partner, i) + 1;
            continue;
        }
        if t.kind == Kind::Ident && i > 0 {
            let before = tokens[i - 1].text.as_str();
            let next = tokens.get(i + 1).map_or("", |t| t.text.as_str());
            let called = next == "(" || (next == "::" && is(tokens, i + 2, "<"));
            let name = t.text.clone();
            let found_name = match before {
                "fn" => None,
                _ if next == "!" => None,
                "." if called => Some(Name::Method {
                    receiver: receiver(tokens, partner, i.saturating_sub(2)),
                    name,
                }),
                "." => None,
                "::" => ident_at(tokens, i.wrapping_sub(2)).map(|q| Name::Path {
                    qualifier: q.to_string(),
                    name,
                }),
                "(" | "," if next == ")" || next == "," => Some(Name::Bare(name)),
                _ if next == "(" => Some(Name::Bare(name)),
                _ => None,
            };
            if let Some(name) = found_name {
                found.push(Reference {
                    at: i,
                    line: t.line,
                    name,
                });
            }
        }
        i += 1;
    }
    found
}

/// The names inside the file's `use` declarations.
fn imported(tokens: &[Token], partner: &[Option<usize>]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].text == "use" && starts_item(tokens, i) {
            let end = item_end(tokens, partner, i);
            names.extend(
                tokens[i + 1..=end.min(tokens.len() - 1)]
                    .iter()
                    .filter(|t| t.kind == Kind::Ident)
                    .map(|t| t.text.clone()),
            );
            i = end + 1;
        } else {
            i += 1;
        }
    }
    names
}

/// An SDK operation called in the code: `.put_object()`, no arguments, as
/// the SDK's fluent builders start.
#[derive(Debug, Clone)]
struct Site {
    at: usize,
    line: usize,
    operation: &'static Operation,
}

/// The SDK operations called, and the SDK calls whose operation is not in
/// the table: a chain that ends in `.send()` (the SDK's way to send a
/// request) and starts with no operation `OPERATIONS` knows. Unknown ones
/// are (line, the first method of the chain).
fn sdk_calls(tokens: &[Token], partner: &[Option<usize>]) -> (Vec<Site>, Vec<(usize, String)>) {
    let mut sites = Vec::new();
    let mut unknown = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let no_arguments =
            i > 0 && is(tokens, i - 1, ".") && is(tokens, i + 1, "(") && is(tokens, i + 2, ")");
        if t.kind != Kind::Ident || !no_arguments {
            continue;
        }
        if let Some(operation) = operation_by_method(&t.text) {
            sites.push(Site {
                at: i,
                line: t.line,
                operation,
            });
        }
        if t.text == "send" {
            // Back along the chain: `.name(..)` after `.name(..)`.
            let mut chain: Vec<&str> = Vec::new();
            let mut dot = i - 1;
            while dot > 0 && is(tokens, dot - 1, ")") {
                let Some(open) = partner[dot - 1] else { break };
                match (ident_at(tokens, open.wrapping_sub(1)), open.checked_sub(2)) {
                    (Some(method), Some(d)) if is(tokens, d, ".") => {
                        chain.push(method);
                        dot = d;
                    }
                    _ => break,
                }
            }
            if !chain.iter().any(|m| operation_by_method(m).is_some()) {
                let first = chain.last().copied().unwrap_or("send");
                unknown.push((t.line, first.to_string()));
            }
        }
    }
    (sites, unknown)
}

// ---------------------------------------------------------------------------
// The code: the shared library and the function crates, and what reaches what
// ---------------------------------------------------------------------------

/// Whose code a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Crate {
    Shared,
    /// `functions/<name>`.
    Function(String),
}

struct File {
    /// Relative to the repository, with `/`.
    path: String,
    krate: Crate,
    /// The module path inside its crate: `["aws", "rds", "snapshots"]`.
    module: Vec<String>,
    items: Vec<Item>,
    references: Vec<Reference>,
    imported: BTreeSet<String>,
    sites: Vec<Site>,
    unknown: Vec<(usize, String)>,
}

impl File {
    fn read(root: &Path, path: &Path, krate: Crate) -> File {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let relative = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let tokens = without_tests(lex(&text));
        let partner = partners(&tokens);
        let (sites, unknown) = sdk_calls(&tokens, &partner);
        let module = relative
            .split("/src/")
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .split('/')
            .filter(|s| !["lib", "main", "mod"].contains(s))
            .map(str::to_string)
            .collect();
        File {
            path: relative,
            krate,
            module,
            items: items(&tokens, &partner),
            references: references(&tokens, &partner),
            imported: imported(&tokens, &partner),
            sites,
            unknown,
        }
    }

    /// The innermost `fn` whose body holds token `at`.
    fn item_at(&self, at: usize) -> Option<usize> {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.body.0 <= at && at <= item.body.1)
            .min_by_key(|(_, item)| item.body.1 - item.body.0)
            .map(|(n, _)| n)
    }

    fn defines_free_fn(&self, name: &str) -> bool {
        self.items
            .iter()
            .any(|i| i.owner.is_none() && i.name == name)
    }
}

/// A `fn` of the shared library: (file, item) indices.
type Node = (usize, usize);

/// How a function came to call an action: the first call site found, and
/// the chain of shared fns that leads there from the function's crate.
type Evidence = String;

struct Code {
    files: Vec<File>,
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The function crates whose code `function` runs: its own, and the other
/// function crates its `Cargo.toml` depends on (the drill restores through
/// `lifeboat-restore`'s own code).
fn crates_of(function: &str) -> Vec<Crate> {
    let manifest = repo_root()
        .join("functions")
        .join(function)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("read {}: {e}", manifest.display()));
    let mut crates = vec![Crate::Function(function.to_string())];
    crates.extend(
        function_names()
            .into_iter()
            .filter(|other| other != function)
            .filter(|other| {
                let dependency = format!("lifeboat-{other}");
                text.lines().any(|line| {
                    line.split(['=', '.', ' '])
                        .next()
                        .is_some_and(|name| name == dependency)
                })
            })
            .map(Crate::Function),
    );
    crates
}

/// The function crates: `functions/<name>`.
fn function_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

impl Code {
    fn load() -> Code {
        let root = repo_root();
        let mut files = Vec::new();
        let mut paths = Vec::new();
        rust_files(&root.join("shared/src"), &mut paths);
        files.extend(
            paths
                .drain(..)
                .map(|p| File::read(&root, &p, Crate::Shared)),
        );
        for name in function_names() {
            rust_files(&root.join("functions").join(&name).join("src"), &mut paths);
            files.extend(
                paths
                    .drain(..)
                    .map(|p| File::read(&root, &p, Crate::Function(name.clone()))),
            );
        }
        Code { files }
    }

    fn shared_nodes(&self) -> impl Iterator<Item = (Node, &Item)> {
        self.files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.krate == Crate::Shared)
            .flat_map(|(n, f)| {
                f.items
                    .iter()
                    .enumerate()
                    .map(move |(i, item)| ((n, i), item))
            })
    }

    fn crate_defines_free_fn(&self, krate: &Crate, name: &str) -> bool {
        self.files
            .iter()
            .any(|f| &f.krate == krate && f.defines_free_fn(name))
    }

    /// The shared fns a reference in file `f` (inside its item `within`,
    /// if in a fn) may call. Names resolve as the compiler would, as far as
    /// names alone tell: a fn of the file itself or its crate first, then
    /// what the file imports, paths by their module, and methods through
    /// `self` or a receiver named after the type.
    fn resolve(&self, f: usize, within: Option<usize>, name: &Name) -> Vec<Node> {
        let file = &self.files[f];
        let shared = file.krate == Crate::Shared;
        let owner = within.and_then(|i| file.items[i].owner.as_deref());
        let free = |wanted: &str, module: Option<&str>| -> Vec<Node> {
            self.shared_nodes()
                .filter(|((n, _), item)| {
                    item.owner.is_none()
                        && item.name == wanted
                        && module.is_none_or(|m| self.files[*n].module.iter().any(|s| s == m))
                })
                .map(|(node, _)| node)
                .collect()
        };
        let methods = |of: &dyn Fn(&str) -> bool, wanted: &str| -> Vec<Node> {
            self.shared_nodes()
                .filter(|(_, item)| item.name == wanted && item.owner.as_deref().is_some_and(of))
                .map(|(node, _)| node)
                .collect()
        };
        match name {
            Name::Bare(name) => {
                if file.defines_free_fn(name) {
                    // The file's own fn (for a function crate: not shared).
                    return match shared {
                        true => free(name, None)
                            .into_iter()
                            .filter(|(n, _)| *n == f)
                            .collect(),
                        false => Vec::new(),
                    };
                }
                let own_crate = !shared && self.crate_defines_free_fn(&file.krate, name);
                if !file.imported.contains(name) || own_crate {
                    return Vec::new();
                }
                free(name, None)
            }
            Name::Path { qualifier, name } => match qualifier.as_str() {
                "Self" => match owner {
                    Some(own) if shared => methods(&|o| o == own, name),
                    _ => Vec::new(),
                },
                "self" | "super" | "crate" | "lifeboat" => free(name, None),
                q if q.starts_with(|c: char| c.is_uppercase()) => methods(&|o| o == q, name),
                q => free(name, Some(q)),
            },
            Name::Method { receiver, name } if receiver == "self" => match owner {
                Some(own) if shared => methods(&|o| o == own, name),
                _ => Vec::new(),
            },
            Name::Method { receiver, name } => {
                let receiver = receiver.to_lowercase();
                methods(
                    &|owner| {
                        let owner = owner.to_lowercase();
                        receiver.split('_').any(|part| part == owner)
                    },
                    name,
                )
            }
        }
    }

    /// The references made inside shared fn `node` (not in fns nested in
    /// it).
    fn references_of(&self, (f, i): Node) -> impl Iterator<Item = &Reference> {
        let file = &self.files[f];
        file.references
            .iter()
            .filter(move |r| file.item_at(r.at) == Some(i))
    }

    /// The shared fns function `function` reaches, each with how: from
    /// which shared fn (`None`: from the function's own crate) and where.
    fn reached(&self, function: &str) -> BTreeMap<Node, (Option<Node>, String)> {
        let crates = crates_of(function);
        let mut via: BTreeMap<Node, (Option<Node>, String)> = BTreeMap::new();
        let mut queue = VecDeque::new();
        type Via = BTreeMap<Node, (Option<Node>, String)>;
        fn visit(
            via: &mut Via,
            queue: &mut VecDeque<Node>,
            node: Node,
            from: Option<Node>,
            at: String,
        ) {
            if let Entry::Vacant(e) = via.entry(node) {
                e.insert((from, at));
                queue.push_back(node);
            }
        }
        for (f, file) in self.files.iter().enumerate() {
            if !crates.contains(&file.krate) {
                continue;
            }
            for r in &file.references {
                for node in self.resolve(f, None, &r.name) {
                    visit(
                        &mut via,
                        &mut queue,
                        node,
                        None,
                        format!("{}:{}", file.path, r.line),
                    );
                }
            }
        }
        while let Some(node) = queue.pop_front() {
            let file = &self.files[node.0];
            for r in self.references_of(node) {
                for next in self.resolve(node.0, Some(node.1), &r.name) {
                    visit(
                        &mut via,
                        &mut queue,
                        next,
                        Some(node),
                        format!("{}:{}", file.path, r.line),
                    );
                }
            }
        }
        via
    }

    /// What function `function` can call: each action with the first call
    /// site found and how the function gets there.
    fn reach(&self, function: &str) -> BTreeMap<&'static str, Evidence> {
        let crates = crates_of(function);
        let mut actions: BTreeMap<&'static str, Evidence> = BTreeMap::new();
        for file in self.files.iter().filter(|f| crates.contains(&f.krate)) {
            for site in &file.sites {
                actions
                    .entry(site.operation.action)
                    .or_insert_with(|| format!("{}:{}", file.path, site.line));
            }
        }
        let via = self.reached(function);
        for &node in via.keys() {
            let file = &self.files[node.0];
            for site in file
                .sites
                .iter()
                .filter(|s| file.item_at(s.at) == Some(node.1))
            {
                actions.entry(site.operation.action).or_insert_with(|| {
                    format!("{}:{} in {}", file.path, site.line, self.chain(&via, node))
                });
            }
        }
        actions
    }

    fn fn_name(&self, (f, i): Node) -> String {
        let item = &self.files[f].items[i];
        match &item.owner {
            Some(owner) => format!("{owner}::{}", item.name),
            None => item.name.clone(),
        }
    }

    /// `find_snapshot <- create_snapshot <- functions/snapshot/src/lib.rs:160`.
    fn chain(&self, via: &BTreeMap<Node, (Option<Node>, String)>, mut node: Node) -> String {
        let mut parts = vec![self.fn_name(node)];
        while let Some((from, at)) = via.get(&node) {
            match from {
                Some(from) if parts.len() < 12 => {
                    parts.push(self.fn_name(*from));
                    node = *from;
                }
                _ => {
                    parts.push(at.clone());
                    break;
                }
            }
        }
        parts.join(" <- ")
    }

    /// Every SDK call in the shared library: (file:line, its fn).
    fn shared_sites(&self) -> Vec<(String, Option<Node>, &'static Operation)> {
        self.files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.krate == Crate::Shared)
            .flat_map(|(n, f)| {
                f.sites.iter().map(move |s| {
                    (
                        format!("{}:{}", f.path, s.line),
                        f.item_at(s.at).map(|i| (n, i)),
                        s.operation,
                    )
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// The template: what each function's role is granted
// ---------------------------------------------------------------------------

use crate::template::{intrinsic, template};

/// The `AWS::Serverless::Function` whose build produces `lifeboat-<name>`:
/// its logical ID and the resource.
fn function_resource<'a>(template: &'a Yaml, name: &str) -> (String, &'a Yaml) {
    crate::template::function_resource(template, name)
        .map(|(id, r)| (id.to_string(), r))
        .unwrap_or_else(|| panic!("template.yaml has no function built from lifeboat-{name}"))
}

/// The values `value` may come to: both branches of an `!If`, nothing for
/// `!Ref AWS::NoValue`, every element of a list.
fn alternatives(value: &Yaml) -> Vec<&Yaml> {
    match intrinsic(value) {
        Some((f, argument)) if f == "Fn::If" => argument
            .as_sequence()
            .map(|branches| branches.iter().skip(1).flat_map(alternatives).collect())
            .unwrap_or_default(),
        Some((f, argument)) if f == "Ref" && argument == "AWS::NoValue" => Vec::new(),
        _ => match value {
            Yaml::Sequence(items) => items.iter().flat_map(alternatives).collect(),
            other => vec![other],
        },
    }
}

/// Whether `value` holds the mapping key `key`, at any depth.
fn holds_key(value: &Yaml, key: &str) -> bool {
    match value {
        Yaml::Mapping(m) => m
            .iter()
            .any(|(k, v)| k.as_str() == Some(key) || holds_key(v, key)),
        Yaml::Sequence(items) => items.iter().any(|v| holds_key(v, key)),
        Yaml::Tagged(tagged) => holds_key(&tagged.value, key),
        _ => false,
    }
}

/// One `Allow` statement of a function's policies.
#[derive(Debug)]
struct Statement {
    sid: String,
    actions: Vec<String>,
    via_service: bool,
}

/// A function's role, as the template writes it: its `Allow` statements,
/// and what in its policies this test cannot take at its word.
struct Role {
    resource: String,
    statements: Vec<Statement>,
    unreadable: Vec<String>,
}

impl Role {
    fn of(template: &Yaml, function: &str) -> Role {
        let (resource, r) = function_resource(template, function);
        let mut role = Role {
            resource,
            statements: Vec::new(),
            unreadable: Vec::new(),
        };
        let policies = &r["Properties"]["Policies"];
        if policies.is_null() {
            role.unreadable.push("it has no Policies".to_string());
        }
        for policy in alternatives(policies) {
            if policy["Statement"].is_null() {
                role.unreadable.push(format!(
                    "a policy that is not a statement list (a SAM policy template or a managed policy?): {policy:?}"
                ));
                continue;
            }
            for (n, statement) in alternatives(&policy["Statement"]).into_iter().enumerate() {
                let sid = statement["Sid"]
                    .as_str()
                    .map_or_else(|| format!("statement {n}"), str::to_string);
                if !statement["NotAction"].is_null() {
                    role.unreadable.push(format!(
                        "{sid} uses NotAction, which grants what it does not name"
                    ));
                }
                if statement["Effect"] != "Allow" {
                    continue;
                }
                let actions: Vec<String> = alternatives(&statement["Action"])
                    .into_iter()
                    .map(|a| {
                        a.as_str().map(str::to_string).unwrap_or_else(|| {
                            role.unreadable
                                .push(format!("{sid} has an action that is not a name: {a:?}"));
                            String::new()
                        })
                    })
                    .filter(|a| !a.is_empty())
                    .collect();
                role.statements.push(Statement {
                    sid,
                    via_service: holds_key(&statement["Condition"], "kms:ViaService"),
                    actions,
                });
            }
        }
        role
    }

    /// Every action granted, with the statements that grant it.
    fn granted(&self) -> BTreeMap<String, Vec<String>> {
        let mut granted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &self.statements {
            for a in &s.actions {
                granted.entry(a.clone()).or_default().push(s.sid.clone());
            }
        }
        granted
    }
}

/// The on-behalf actions a function may be granted, given what it calls.
fn allowed_on_behalf(calls: &BTreeSet<&str>) -> BTreeMap<&'static str, &'static str> {
    ON_BEHALF
        .iter()
        .filter(|b| b.needed_by.iter().any(|a| calls.contains(a)))
        .map(|b| (b.action, b.reason))
        .collect()
}

fn fail_with(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n- {}",
        problems.len(),
        problems.join("\n- ")
    );
}

// ---------------------------------------------------------------------------
// The reader itself, on small pieces of code
// ---------------------------------------------------------------------------

fn read_snippet(text: &str) -> (Vec<Token>, Vec<Option<usize>>) {
    let tokens = without_tests(lex(text));
    let partner = partners(&tokens);
    (tokens, partner)
}

#[test]
fn the_reader_sees_code_not_strings_comments_or_tests() {
    let (tokens, partner) = read_snippet(
        r##"
        // .put_object() in a comment
        /* nested /* .get_object() */ still a comment */
        fn a(c: &Client) -> &'static str {
            let _ = '{'; let _ = '\''; let _ = b'x';
            let _ = r#"rds.delete_db_cluster().send()"#;
            c.list_objects_v2()
                .bucket("b")
                .into_paginator()
                .send();
            "}"
        }
        #[cfg(test)]
        mod tests {
            fn b(c: &Client) { c.delete_db_instance().send(); }
        }
        #[cfg(test)]
        fn helper(c: &Client) { c.delete_object().send(); }
        fn z(c: &Client) { c.unheard_of().key("k").send(); }
        "##,
    );
    let (sites, unknown) = sdk_calls(&tokens, &partner);
    let names: Vec<&str> = sites.iter().map(|s| s.operation.method).collect();
    assert_eq!(names, ["list_objects_v2"]);
    assert_eq!(sites[0].line, 7);
    assert_eq!(unknown, [(19, "unheard_of".to_string())]);
    let fns: Vec<String> = items(&tokens, &partner)
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(fns, ["a", "z"]);
}

#[test]
fn the_reader_knows_impls_and_how_things_are_named() {
    let (tokens, partner) = read_snippet(
        r#"
        use super::{unless, owned};
        impl<T: Into<String>> SdkSnapshot for DbSnapshot { fn parts(&self) -> u8 { 0 } }
        impl Catalog {
            pub async fn get<T>(&self, key: &str) -> T { self.find(key).await }
            fn x(tags: impl IntoIterator<Item = u8>) {}
        }
        fn y(ctx: &Context) {
            rds::find_snapshot(ctx.clients.rds(), id, None);
            ctx.publisher().publish(&events);
            self.source.catalog.get::<Value>(&key);
            catalogs[&region].list("p", 1);
            list.iter().map(unless);
            let _ = format!("{}", owned(x));
        }
        "#,
    );
    let found = items(&tokens, &partner);
    let owners: Vec<(String, Option<String>)> = found
        .iter()
        .map(|i| (i.name.clone(), i.owner.clone()))
        .collect();
    assert_eq!(
        owners,
        [
            ("parts".to_string(), Some("DbSnapshot".to_string())),
            ("get".to_string(), Some("Catalog".to_string())),
            ("x".to_string(), Some("Catalog".to_string())),
            ("y".to_string(), None),
        ]
    );
    let names: Vec<Name> = references(&tokens, &partner)
        .into_iter()
        .map(|r| r.name)
        .collect();
    let method = |receiver: &str, name: &str| Name::Method {
        receiver: receiver.to_string(),
        name: name.to_string(),
    };
    for expected in [
        method("self", "find"),
        Name::Path {
            qualifier: "rds".to_string(),
            name: "find_snapshot".to_string(),
        },
        method("publisher", "publish"),
        method("catalog", "get"),
        method("catalogs", "list"),
        Name::Bare("unless".to_string()),
        Name::Bare("owned".to_string()),
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| matches!(n, Name::Bare(b) if b == "format")),
        "macros are not calls: {names:?}"
    );
    assert!(imported(&tokens, &partner).contains("unless"));
}

// ---------------------------------------------------------------------------
// Static: the code against the table and the template
// ---------------------------------------------------------------------------

#[test]
fn the_operation_table_names_each_operation_once_and_as_the_sdk_does() {
    let mut problems = Vec::new();
    let mut methods = BTreeSet::new();
    for o in OPERATIONS {
        if !methods.insert(o.method) {
            problems.push(format!("{} is in OPERATIONS twice", o.method));
        }
        // The SDK's method is the operation's name in snake case.
        let squash = |s: &str| s.replace('_', "").to_lowercase();
        if squash(o.method) != squash(o.name) {
            problems.push(format!("{} is not the SDK's name for {}", o.method, o.name));
        }
        if !o.action.contains(':') || o.action.contains('*') {
            problems.push(format!("{}: {} is not one IAM action", o.method, o.action));
        }
    }
    for b in ON_BEHALF {
        for a in b.needed_by {
            if !OPERATIONS.iter().any(|o| o.action == *a) {
                problems.push(format!(
                    "{} is needed by {a}, which no operation needs",
                    b.action
                ));
            }
        }
    }
    fail_with(&problems);
}

#[test]
fn every_aws_call_in_the_code_is_in_the_table() {
    let code = Code::load();
    assert!(
        code.files.iter().filter(|f| !f.sites.is_empty()).count() >= 4,
        "the reader found too few SDK calls to be reading the code"
    );
    let problems: Vec<String> = code
        .files
        .iter()
        .flat_map(|f| {
            f.unknown.iter().map(|(line, method)| {
                format!(
                    "{}:{line}: the SDK call .{method}() is not in this test's OPERATIONS: add it to the table and to the policy of the function that calls it",
                    f.path
                )
            })
        })
        .collect();
    fail_with(&problems);
}

#[test]
fn every_aws_call_in_the_shared_library_is_reached_by_a_function() {
    let code = Code::load();
    let functions = function_names();
    let reached: BTreeSet<Node> = functions
        .iter()
        .flat_map(|f| code.reached(f).into_keys())
        .collect();
    let sites = code.shared_sites();
    assert!(sites.len() >= 10, "too few shared SDK calls: {sites:?}");
    let problems: Vec<String> = sites
        .into_iter()
        .filter(|(_, node, _)| !node.is_some_and(|n| reached.contains(&n)))
        .map(|(at, node, o)| {
            format!(
                "{at}: .{}() in {} is reached by no function: dead code, or a way of calling it this test does not follow (it follows paths, imports, and methods through `self` or a receiver named after the type)",
                o.method,
                node.map_or_else(|| "no fn".to_string(), |n| code.fn_name(n))
            )
        })
        .collect();
    fail_with(&problems);
}

/// What each function's code can call that its role is not granted.
fn under_granted(code: &Code, template: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    for function in function_names() {
        let role = Role::of(template, &function);
        let granted = role.granted();
        let reach = code.reach(&function);
        assert!(!reach.is_empty(), "lifeboat-{function} calls nothing?");
        for (action, evidence) in &reach {
            if !granted.contains_key(*action) {
                problems.push(format!(
                    "lifeboat-{function} can call {action} ({evidence}), but {}'s policies in template.yaml do not grant it: add it to the policy",
                    role.resource
                ));
            }
        }
        for (granted_for, called, needed, why) in NEEDED_TOGETHER {
            if granted.contains_key(*granted_for)
                && reach.contains_key(called)
                && !granted.contains_key(*needed)
            {
                problems.push(format!(
                    "{} (lifeboat-{function}) is granted {granted_for} and can call {called} ({}), but is not granted {needed}: {why}",
                    role.resource, reach[called]
                ));
            }
        }
    }
    problems
}

/// What each function's role is granted that its code never calls, but
/// for what AWS checks on its behalf (`ON_BEHALF`) when it makes a call
/// that needs it.
fn over_granted(code: &Code, template: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    for function in function_names() {
        let role = Role::of(template, &function);
        let reach = code.reach(&function);
        let calls: BTreeSet<&str> = reach.keys().copied().collect();
        let on_behalf = allowed_on_behalf(&calls);
        for (action, sids) in role.granted() {
            if !calls.contains(action.as_str()) && !on_behalf.contains_key(action.as_str()) {
                let why = ON_BEHALF
                    .iter()
                    .find(|b| b.action == action)
                    .map(|b| format!(" (AWS needs it only for {})", b.needed_by.join(", ")))
                    .unwrap_or_default();
                problems.push(format!(
                    "{} (lifeboat-{function}) is granted {action} by {}, which its code never calls{why}: remove it, or, if AWS checks it on the function's behalf, add it to ON_BEHALF with the reason",
                    role.resource,
                    sids.join(", ")
                ));
            }
        }
    }
    problems
}

/// What in the function roles this test cannot take at its word, wildcard
/// actions, and KMS actions not limited to use through a service.
fn not_plain(template: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    for function in function_names() {
        let role = Role::of(template, &function);
        let id = &role.resource;
        problems.extend(role.unreadable.iter().map(|u| format!("{id}: {u}")));
        for s in &role.statements {
            for a in &s.actions {
                if a.contains('*') || a.contains('?') {
                    problems.push(format!(
                        "{id}: {} grants the wildcard action {a}: name each action",
                        s.sid
                    ));
                }
            }
            if s.actions.iter().any(|a| a.starts_with("kms:")) && !s.via_service {
                problems.push(format!(
                    "{id}: {} grants KMS actions without a kms:ViaService condition; the functions never call KMS, only S3 and RDS do on their behalf",
                    s.sid
                ));
            }
        }
    }
    problems
}

#[test]
fn every_function_role_grants_what_its_code_can_call() {
    fail_with(&under_granted(&Code::load(), &template()));
}

#[test]
fn no_function_role_grants_what_its_code_never_calls() {
    fail_with(&over_granted(&Code::load(), &template()));
}

#[test]
fn function_roles_are_plain_named_actions_and_kms_only_through_a_service() {
    fail_with(&not_plain(&template()));
}

/// The checks above, on a template whose snapshot role lost a grant its
/// code needs and gained some it does not: each is caught.
#[test]
fn the_checks_catch_a_role_granted_too_little_or_too_much() {
    let code = Code::load();
    let mut template = template();
    let id = function_resource(&template, "snapshot").0;
    let statements = template["Resources"][id.as_str()]["Properties"]["Policies"][0]["Statement"]
        .as_sequence_mut()
        .expect("the snapshot role's first policy is a statement list");
    let before = statements.len();
    statements.retain(|s| s["Sid"] != "CreateInstanceSnapshots");
    assert_eq!(
        statements.len(),
        before - 1,
        "no CreateInstanceSnapshots statement"
    );
    statements.push(
        serde_yaml::from_str(
            "{Sid: Extra, Effect: Allow, Action: [s3:DeleteObject, 's3:*', kms:Decrypt], Resource: '*'}",
        )
        .unwrap(),
    );
    let under = under_granted(&code, &template).join("\n");
    assert!(
        under.contains(
            "lifeboat-snapshot can call rds:CreateDBSnapshot (shared/src/aws/rds/snapshots.rs:"
        ),
        "{under}"
    );
    let over = over_granted(&code, &template).join("\n");
    assert!(
        over.contains("is granted s3:DeleteObject by Extra"),
        "{over}"
    );
    let plain = not_plain(&template).join("\n");
    assert!(
        plain.contains("Extra grants the wildcard action s3:*"),
        "{plain}"
    );
    assert!(
        plain.contains("Extra grants KMS actions without"),
        "{plain}"
    );
}

// ---------------------------------------------------------------------------
// Dynamic: what the functions send to moto
// ---------------------------------------------------------------------------

const SOURCE: &str = "us-east-1";
const WEST: &str = "us-west-2";
const EU: &str = "eu-west-1";
const DR_REGIONS: &str = "us-west-2,eu-west-1";

fn lambda(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// A Lambda event with a request id, as a retried invocation has.
fn lambda_with_id(payload: Value, request_id: &str) -> LambdaEvent<Value> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_string();
    LambdaEvent::new(payload, context)
}

/// A function context like `World::context`, but its every call goes
/// through a proxy of its own, which counts them.
fn proxied(world: &World, extra: &[(&str, &str)]) -> (Proxy, Context) {
    let proxy = Proxy::start(moto::endpoint(), Duration::ZERO, Duration::ZERO)
        .unwrap_or_else(|e| panic!("start the proxy: {e}"));
    let mut account = world.account.clone();
    account.endpoint = proxy.url();
    let clients = Clients::from_sdk_config(account.sdk_config(SOURCE));
    let ctx = world.context_in(SOURCE, clients, extra);
    (proxy, ctx)
}

/// A recovery stack's function context in the first DR region, its calls
/// through `proxy`.
fn recovery_stack(world: &World, proxy: &Proxy, extra: &[(&str, &str)]) -> Context {
    let mut account = world.account.clone();
    account.endpoint = proxy.url();
    let clients = Clients::from_sdk_config(account.sdk_config(WEST));
    let mut settings = vec![("LIFEBOAT_STACK_ROLE", "recovery")];
    settings.extend_from_slice(extra);
    world.context_in(WEST, clients, &settings)
}

/// A sample event with ARNs in this world's account.
fn in_account(world: &World, name: &str) -> Value {
    let text = sample_event(name)
        .to_string()
        .replace("123456789012", &world.account.id);
    serde_json::from_str(&text).unwrap()
}

/// The outcomes of a summary, as `"<snapshot id>" "<outcome>"`.
fn outcomes(summary: &Value) -> Vec<String> {
    summary["outcomes"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|o| format!("{} {}", o["snapshot_id"], o["outcome"]))
                .collect()
        })
        .unwrap_or_default()
}

fn as_json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The pipeline a primary stack runs, each function through its own proxy:
/// what each one sent, by function.
async fn run_every_function(world: &World) -> BTreeMap<&'static str, BTreeMap<Call, u64>> {
    let rds = world.clients.rds();
    let source_key = world.account.kms_key(SOURCE);
    seed::encrypted_instance(
        rds,
        "orders",
        "postgres",
        &[seed::SELECT],
        Some(&source_key),
    )
    .await;
    seed::instance(rds, "inventory", "mysql", &[seed::SELECT]).await;
    seed::encrypted_cluster(
        rds,
        "ledger",
        "aurora-postgresql",
        &[("ledger-1", "db.r6g.large"), ("ledger-2", "db.r6g.xlarge")],
        &[seed::SELECT],
        Some(&source_key),
    )
    .await;
    seed::subnet_group(
        &world.clients.rds_in(WEST),
        &world.account,
        WEST,
        "dr-subnets",
    )
    .await;
    let dr_keys = format!(
        "{WEST}={},{EU}={}",
        world.account.kms_key(WEST),
        world.account.kms_key(EU)
    );
    let mut seen = BTreeMap::new();

    // snapshot: the schedule (every selected DB, instances and a cluster),
    // both alarm shapes (one DB each, later recovery points), an alarm
    // back to OK (nothing), a manual request delivered twice with the same
    // request id (the retry finds its first attempt's snapshots and
    // records), and the next day's schedule (which looks through the
    // catalog for snapshots earlier runs could not record).
    let (proxy, ctx) = proxied(world, &[]);
    for name in [
        "snapshot-scheduled.json",
        "snapshot-alarm.json",
        "snapshot-alarm-action.json",
        "snapshot-alarm-ok.json",
    ] {
        let summary = lifeboat_snapshot::handle(&ctx, lambda(sample_event(name)))
            .await
            .unwrap_or_else(|e| panic!("snapshot {name}: {e}"));
        assert!(
            !summary.counts.contains_key("failed"),
            "{name}: {summary:?}"
        );
    }
    for _ in 0..2 {
        let event = lambda_with_id(sample_event("snapshot-manual.json"), "permissions-retry");
        lifeboat_snapshot::handle(&ctx, event).await.unwrap();
    }
    let mut next_day = sample_event("snapshot-scheduled.json");
    next_day["id"] = json!("permissions-next-day");
    next_day["time"] = json!("2026-11-25T04:00:00Z");
    let summary = lifeboat_snapshot::handle(&ctx, lambda(next_day))
        .await
        .unwrap();
    assert!(!summary.counts.contains_key("failed"), "{summary:?}");
    seen.insert("snapshot", proxy.take().calls);

    // copy, encrypted snapshots re-encrypted with each DR region's key:
    // RDS's events for an instance and a cluster snapshot, a manual request
    // for snapshots already copied, and a reconcile that copies the rest
    // and writes every DR catalog's missing records.
    let copy_settings = [
        ("LIFEBOAT_DR_REGIONS", DR_REGIONS),
        ("LIFEBOAT_DR_KMS_KEYS", dr_keys.as_str()),
    ];
    let (proxy, ctx) = proxied(world, &copy_settings);
    for payload in [
        in_account(world, "copy-db-snapshot-created.json"),
        in_account(world, "copy-db-cluster-snapshot-created.json"),
        sample_event("copy-manual.json"),
        json!({}),
    ] {
        let summary = lifeboat_copy::handle(&ctx, lambda(payload.clone()))
            .await
            .unwrap_or_else(|e| panic!("copy {payload}: {e}"));
        let summary = as_json(summary);
        assert!(
            !outcomes(&summary).iter().any(|o| o.contains("failed")),
            "{summary:#}"
        );
    }
    seen.insert("copy", proxy.take().calls);

    // prune, keeping the newest of each DB: a dry run, then for real, in
    // the source region and both DR regions (instance and cluster
    // snapshots deleted in each), one of them recorded as deleted already,
    // as another run of the same schedule leaves it.
    let doomed = "lifeboat-orders-20261124-0400";
    let recovery_point = "2026-11-24T04:00:00Z".parse().ok();
    world
        .clients
        .s3()
        .put_object()
        .bucket(&world.bucket)
        .key(lifeboat::domain::record::deletion_key(
            "",
            SOURCE,
            (lifeboat::domain::model::DatabaseKind::Instance, "orders"),
            recovery_point,
            doomed,
        ))
        .body(
            json!({"kind": "deletion", "request_id": "another-run"})
                .to_string()
                .into_bytes()
                .into(),
        )
        .send()
        .await
        .unwrap();
    let (proxy, ctx) = proxied(
        world,
        &[
            ("LIFEBOAT_DR_REGIONS", DR_REGIONS),
            ("LIFEBOAT_RETENTION", "last=1"),
        ],
    );
    lifeboat_prune::handle(&ctx, lambda(sample_event("prune-dry-run.json")))
        .await
        .unwrap();
    let pruned = as_json(
        lifeboat_prune::handle(&ctx, lambda_with_id(json!({}), "permissions-prune"))
            .await
            .unwrap(),
    );
    let deleted = outcomes(&pruned)
        .iter()
        .filter(|o| o.ends_with("\"deleted\""))
        .count();
    assert!(deleted >= 6, "prune deleted too little: {pruned:#}");
    seen.insert("prune", proxy.take().calls);

    // restore, into the first DR region: dry runs (one naming its snapshot,
    // ones naming groups that region lacks), an encrypted instance and an
    // encrypted Aurora cluster restored, and the status of each.
    let (proxy, ctx) = proxied(world, &[("LIFEBOAT_DR_REGIONS", DR_REGIONS)]);
    let restore = |payload: Value| {
        let ctx = &ctx;
        async move {
            lifeboat_restore::handle(ctx, lambda(payload.clone()))
                .await
                .map(as_json)
                .unwrap_or_else(|e| panic!("restore {payload}: {e}"))
        }
    };
    let dry = restore(sample_event("restore-dry-run.json")).await;
    let chosen = dry["snapshot"]["id"].as_str().unwrap().to_string();
    let named = json!({"database": "orders", "snapshot": chosen,
                       "target": "orders-restored", "dry_run": true});
    let lacking_groups = json!({"database": "orders", "target": "orders-restored",
                                "dry_run": true, "overrides": {"parameter_group": "orders-pg",
                                                               "option_group": "orders-og"}});
    let lacking_cluster_group = json!({"database": "ledger", "target": "ledger-restored",
                                       "dry_run": true,
                                       "overrides": {"cluster_parameter_group": "ledger-cpg"}});
    for dry_run in [named, lacking_groups, lacking_cluster_group] {
        restore(dry_run).await;
    }
    let started = restore(sample_event("restore-latest.json")).await;
    assert_eq!(started["status"], "started", "{started:#}");
    let ledger = json!({"database": "ledger", "target": "ledger-restored",
                        "overrides": {"subnet_group": "dr-subnets"}});
    let started = restore(ledger).await;
    assert_eq!(started["status"], "started", "{started:#}");
    for target in ["orders-restored", "ledger-restored"] {
        let status = restore(json!({"action": "status", "region": WEST, "target": target})).await;
        assert_eq!(status["available"], true, "{status:#}");
    }
    seen.insert("restore", proxy.take().calls);

    // monitor: the primary's (the fleet, the snapshots here and in each DR
    // region, the breaches announced), then a recovery stack's in the
    // first DR region (its catalog listed level by level, a DB's newest
    // drill record read).
    let (proxy, ctx) = proxied(world, &[("LIFEBOAT_DR_REGIONS", DR_REGIONS)]);
    let watched = lifeboat_monitor::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    assert!(watched.counts.contains_key("ok"), "{watched:?}");
    let drill = json!({"schema": "lifeboat/v1", "kind": "drill", "recorded_at": "2026-12-01T03:30:00Z",
                       "database": "ledger", "database_kind": "cluster", "source_region": SOURCE,
                       "region": WEST, "target": "lifeboat-drill-ledger-20261201",
                       "snapshot_id": "lifeboat-ledger-20261201-0200",
                       "recovery_point_time": "2026-12-01T02:00:00Z",
                       "started_at": "2026-12-01T03:00:00Z", "available_at": "2026-12-01T03:20:00Z",
                       "recovery_time_seconds": 1200, "recovery_point_age_seconds": 3600,
                       "checks": [], "verdict": "passed", "cleaned_up": true});
    let key = lifeboat::domain::record::drill_key(
        "",
        WEST,
        (lifeboat::domain::model::DatabaseKind::Cluster, "ledger"),
        chrono::DateTime::parse_from_rfc3339("2026-12-01T03:00:00Z")
            .unwrap()
            .to_utc(),
        "lifeboat-drill-ledger-20261201",
    );
    world
        .clients
        .s3_in(WEST)
        .put_object()
        .bucket(world.catalog_bucket(WEST))
        .key(key)
        .body(drill.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    let ctx = recovery_stack(
        world,
        &proxy,
        &[("LIFEBOAT_DRILL_MAX_AGE_SECONDS", "1209600")],
    );
    let watched = lifeboat_monitor::handle(&ctx, lambda(json!({})))
        .await
        .unwrap();
    assert!(!watched.outcomes.is_empty(), "{watched:?}");
    seen.insert("monitor", proxy.take().calls);

    // drill, as the recovery stack in the first DR region runs it: a start
    // (deleting a crashed drill's leftover, restoring each DB with a copy
    // there, the encrypted instance and cluster among them), a check and a
    // finish of each (verify, the validator, delete, record). The
    // validator's Invoke goes through the proxy to moto, which has no
    // such function: the call is what counts here.
    seed::instance(
        &world.clients.rds_in(WEST),
        "lifeboat-drill-orders-20261101",
        "postgres",
        &[("lifeboat:drill", "true")],
    )
    .await;
    let ctx = recovery_stack(
        world,
        &proxy,
        &[
            ("LIFEBOAT_DRILL_SUBNET_GROUP", "dr-subnets"),
            ("LIFEBOAT_DRILL_SECURITY_GROUPS", "sg-0dr"),
            ("LIFEBOAT_DRILL_VALIDATOR", "check-orders"),
        ],
    );
    let validator = lifeboat_drill::validator::Validator::with_endpoint(&ctx, Some(&proxy.url()));
    let drill = |payload: Value| {
        let (ctx, validator) = (&ctx, &validator);
        async move {
            lifeboat_drill::handle(ctx, validator, lambda(payload.clone()))
                .await
                .map(as_json)
                .unwrap_or_else(|e| panic!("drill {payload}: {e}"))
        }
    };
    let started = drill(json!({})).await;
    assert!(
        outcomes(&started)
            .iter()
            .any(|o| o.ends_with("\"deleted\"")),
        "{started:#}"
    );
    let drills = started["drills"].as_array().cloned().unwrap_or_default();
    assert!(drills.len() >= 2, "{started:#}");
    for d in drills {
        let checked = drill(json!({"action": "check", "drill": d})).await;
        drill(json!({"action": "finish", "drill": checked["drill"]})).await;
    }
    seen.insert("drill", proxy.take().calls);
    seen
}

#[tokio::test]
async fn the_calls_each_function_makes_against_moto_are_granted() {
    let world = World::new(SOURCE).await;
    let observed = run_every_function(&world).await;
    let code = Code::load();
    let template = template();
    let mut problems = Vec::new();
    for function in function_names() {
        let calls = observed.get(function.as_str()).unwrap_or_else(|| {
            panic!("the scenario does not run lifeboat-{function}: add it to run_every_function")
        });
        let role = Role::of(&template, &function);
        let granted = role.granted();
        let reach = code.reach(&function);
        let mut sent = BTreeSet::new();
        for call in calls.keys() {
            let Some(o) = operation_on_the_wire(&call.service, &call.operation) else {
                problems.push(format!(
                    "lifeboat-{function} sent {} {} (in {}), which is not in OPERATIONS: add it to the table and to the function's policy",
                    call.service, call.operation, call.region
                ));
                continue;
            };
            sent.insert(o.action);
            if !granted.contains_key(o.action) {
                problems.push(format!(
                    "lifeboat-{function} sent {} in {}, but {} is not granted {}",
                    o.name, call.region, role.resource, o.action
                ));
            }
            if !reach.contains_key(o.action) {
                problems.push(format!(
                    "lifeboat-{function} sent {}, but this test's reading of its code finds no call that needs {}: the reading misses a way the code calls the SDK",
                    o.name, o.action
                ));
            }
        }
        for action in reach.keys() {
            let excused = NOT_EXERCISED
                .iter()
                .any(|(f, a, _)| *f == function && a == action);
            if !sent.contains(action) && !excused {
                problems.push(format!(
                    "lifeboat-{function} can call {action} ({}), but the scenario never leads it there: extend run_every_function, or list it in NOT_EXERCISED with why",
                    reach[action]
                ));
            }
            if sent.contains(action) && excused {
                problems.push(format!(
                    "lifeboat-{function} called {action}, which NOT_EXERCISED says the scenario does not reach: remove it from there"
                ));
            }
        }
    }
    fail_with(&problems);
}
