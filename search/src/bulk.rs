//! `_bulk` NDJSON, sans-IO: action lines, each followed by its document
//! except `delete`.

use serde_json::Value;

use crate::es::EsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Index,
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One bulk action: the target index and id from the action line, the
/// document (for `update`, the update body) from the line after it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkItem {
    pub action: Action,
    pub index: Option<String>,
    pub id: Option<String>,
    pub doc: Option<Value>,
}

/// Most lines one `_bulk` request may hold.
pub const MAX_BULK_LINES: usize = 200_000;

fn illegal(reason: String) -> EsError {
    EsError {
        kind: "illegal_argument_exception",
        reason,
    }
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses a `_bulk` body. A malformed line fails the whole request, as in
/// Elasticsearch; per-document failures are the caller's per-item results.
pub fn parse_bulk(text: &str) -> Result<Vec<BulkItem>, EsError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(line) = lines.next() {
        n += 1;
        if n > MAX_BULK_LINES {
            return Err(illegal(format!(
                "more than {MAX_BULK_LINES} lines in one _bulk request"
            )));
        }
        let action: Value = serde_json::from_str(line)
            .map_err(|e| illegal(format!("malformed action/metadata line [{n}]: {e}")))?;
        let Some((name, meta)) = action
            .as_object()
            .and_then(|m| if m.len() == 1 { m.iter().next() } else { None })
        else {
            return Err(illegal(format!(
                "malformed action/metadata line [{n}], expected an object with one key"
            )));
        };
        let action = match name.as_str() {
            "index" => Action::Index,
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            other => {
                return Err(illegal(format!(
                    "malformed action/metadata line [{n}], expected one of [create, delete, index, update] but found [{other}]"
                )));
            }
        };
        if !meta.is_object() {
            return Err(illegal(format!(
                "malformed action/metadata line [{n}], expected an object"
            )));
        }
        let doc = if action == Action::Delete {
            None
        } else {
            let line = lines.next().ok_or_else(|| {
                illegal(format!(
                    "the {} action on line [{n}] has no document",
                    action.name()
                ))
            })?;
            n += 1;
            Some(serde_json::from_str(line).map_err(|e| EsError {
                kind: "mapper_parsing_exception",
                reason: format!("failed to parse the document on line [{n}]: {e}"),
            })?)
        };
        out.push(BulkItem {
            action,
            index: meta
                .get("_index")
                .and_then(Value::as_str)
                .map(str::to_owned),
            id: meta.get("_id").and_then(id_of),
            doc,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_and_documents() {
        let text = "{\"index\":{\"_index\":\"cloudify_events\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"delete\":{\"_id\":2}}\n{\"create\":{}}\n{\"b\":2}\n{\"update\":{\"_id\":\"1\"}}\n{\"doc\":{\"c\":3}}\n";
        let items = parse_bulk(text).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0],
            BulkItem {
                action: Action::Index,
                index: Some("cloudify_events".into()),
                id: Some("1".into()),
                doc: Some(json!({"a": 1}))
            }
        );
        assert_eq!(
            (items[1].action, items[1].id.as_deref()),
            (Action::Delete, Some("2"))
        );
        assert_eq!(items[3].doc, Some(json!({"doc": {"c": 3}})));
        assert!(parse_bulk("{\"index\":{}}\n").is_err());
        assert!(parse_bulk("nope\n").is_err());
        assert!(parse_bulk("{\"upsert\":{}}\n{}\n").is_err());
    }
}
