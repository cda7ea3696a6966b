//! Import resolution and merging (cloudify-api.md §2.2): resolver rules,
//! bundled standard definitions, paths relative to the importing file and
//! then to the resources base; mergeable sections unioned, conflicts refused.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::bundled;
use super::error::{DslError, DslResult, code};
use super::yaml;

/// Most files one blueprint may pull in through imports.
pub const MAX_IMPORTS: usize = 256;

/// How imports are found.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    /// `(url prefix, replacement prefix)`, tried in order before the URL.
    pub rules: Vec<(String, String)>,
    /// Relative imports not found beside the importing file are looked up here.
    pub resources_base: Option<PathBuf>,
}

/// Where a loaded file came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    File(PathBuf),
    Bundled(String),
}

impl Source {
    fn display(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Bundled(u) => u.clone(),
        }
    }
}

const MERGEABLE: &[&str] = &[
    "node_types",
    "plugins",
    "workflows",
    "relationships",
    "policy_types",
    "policy_triggers",
    "groups",
    "data_types",
    "interfaces",
];
const IGNORED_IN_IMPORTS: &[&str] = &["imports", "tosca_definitions_version", "dsl_definitions"];

/// Loads the main file and everything it imports into one document.
pub fn load_merged(main: &Path, resolver: &Resolver) -> DslResult<Value> {
    let text = std::fs::read_to_string(main).map_err(|e| {
        DslError::new(
            code::IMPORT_NOT_FOUND,
            format!("cannot read blueprint {}: {e}", main.display()),
        )
    })?;
    load_merged_text(&text, main, resolver)
}

/// As [`load_merged`], with the main file's text given (imports still
/// resolve relative to `main`).
pub fn load_merged_text(text: &str, main: &Path, resolver: &Resolver) -> DslResult<Value> {
    let doc = yaml::load(text, &main.display().to_string())?;
    let Value::Object(mut combined) = doc else {
        return Err(DslError::format(format!(
            "Expected 'dict' type but found '{}' type in {}",
            type_name(&doc),
            main.display()
        )));
    };
    let mut seen: HashSet<Source> = HashSet::new();
    let main_source = Source::File(main.canonicalize().unwrap_or_else(|_| main.to_owned()));
    seen.insert(main_source.clone());
    let imports = combined.get("imports").cloned().unwrap_or(Value::Null);
    let mut queue: Vec<(Source, Value)> = vec![(main_source, imports)];
    while let Some((from, imports)) = queue.pop() {
        for imp in import_list(&imports, &from)? {
            let source = resolve(&imp, &from, resolver)?;
            if !seen.insert(source.clone()) {
                continue;
            }
            if seen.len() > MAX_IMPORTS {
                return Err(DslError::new(
                    code::IMPORT_NOT_FOUND,
                    format!("more than {MAX_IMPORTS} imported files"),
                ));
            }
            let (text, name) = match &source {
                Source::File(p) => (
                    std::fs::read_to_string(p).map_err(|e| {
                        DslError::new(
                            code::IMPORT_NOT_FOUND,
                            format!(
                                "Import failed: could not read '{imp}' ({}): {e}",
                                p.display()
                            ),
                        )
                    })?,
                    p.display().to_string(),
                ),
                Source::Bundled(url) => (bundled::get(url).unwrap_or_default(), url.clone()),
            };
            let parsed = yaml::load(&text, &name)?;
            let Value::Object(parsed) = parsed else {
                if parsed.is_null() {
                    continue;
                }
                return Err(DslError::format(format!(
                    "Expected 'dict' type but found '{}' type in {name}",
                    type_name(&parsed)
                )));
            };
            queue.push((
                source.clone(),
                parsed.get("imports").cloned().unwrap_or(Value::Null),
            ));
            merge(&mut combined, parsed, &imp)?;
        }
    }
    combined.remove("imports");
    Ok(Value::Object(combined))
}

fn import_list(imports: &Value, from: &Source) -> DslResult<Vec<String>> {
    let items = match imports {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(DslError::format(format!(
                "'imports' in {} must be a list, found '{}'",
                from.display(),
                type_name(other)
            )));
        }
    };
    let mut out: Vec<String> = Vec::new();
    for i in items {
        let Value::String(s) = i else {
            return Err(DslError::format(format!(
                "import entries in {} must be strings",
                from.display()
            )));
        };
        if out.contains(s) {
            return Err(DslError::new(
                code::DUPLICATE_IMPORT,
                format!(
                    "Import failed: duplicate import '{s}' in {}",
                    from.display()
                ),
            ));
        }
        out.push(s.clone());
    }
    Ok(out)
}

fn resolve(imp: &str, from: &Source, resolver: &Resolver) -> DslResult<Source> {
    for (prefix, replacement) in &resolver.rules {
        if let Some(rest) = imp.strip_prefix(prefix.as_str())
            && let Some(s) = locate(&format!("{replacement}{rest}"), from, resolver)
        {
            return Ok(s);
        }
    }
    locate(imp, from, resolver).ok_or_else(|| {
        DslError::new(
            code::IMPORT_NOT_FOUND,
            format!("Import failed: no suitable location found for import '{imp}'"),
        )
    })
}

fn locate(imp: &str, from: &Source, resolver: &Resolver) -> Option<Source> {
    if let Some(path) = imp.strip_prefix("file://") {
        let p = PathBuf::from(path);
        return p
            .is_file()
            .then(|| Source::File(p.canonicalize().unwrap_or(p)));
    }
    if imp.starts_with("http://") || imp.starts_with("https://") || imp.starts_with("ftp://") {
        return bundled::url(imp).map(Source::Bundled);
    }
    let p = Path::new(imp);
    if p.is_absolute() {
        return p.is_file().then(|| Source::File(p.to_owned()));
    }
    let beside = match from {
        Source::File(f) => f.parent().map(|d| d.join(p)),
        Source::Bundled(_) => None,
    };
    let candidates = beside
        .into_iter()
        .chain(resolver.resources_base.as_ref().map(|b| b.join(p)));
    for c in candidates {
        if c.is_file() {
            return Some(Source::File(c.canonicalize().unwrap_or(c)));
        }
    }
    None
}

fn merge(
    combined: &mut Map<String, Value>,
    parsed: Map<String, Value>,
    imp: &str,
) -> DslResult<()> {
    for (key, value) in parsed {
        if IGNORED_IN_IMPORTS.contains(&key.as_str()) {
            continue;
        }
        match combined.get_mut(&key) {
            None => {
                combined.insert(key, value);
            }
            Some(existing) if MERGEABLE.contains(&key.as_str()) => {
                let (Value::Object(into), Value::Object(from)) = (existing, value) else {
                    return Err(DslError::format(format!(
                        "'{key}' must be a dict (in import '{imp}')"
                    )));
                };
                for (k, v) in from {
                    if into.contains_key(&k) {
                        return Err(DslError::new(
                            code::MERGE_CONFLICT,
                            format!(
                                "Import failed: Could not merge '{key}' due to conflict on '{k}'"
                            ),
                        ));
                    }
                    into.insert(k, v);
                }
            }
            Some(_) => {
                return Err(DslError::new(
                    code::NON_MERGEABLE,
                    format!("Import failed: non-mergeable field: '{key}'"),
                ));
            }
        }
    }
    Ok(())
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
