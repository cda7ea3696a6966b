//! The list conventions: v2 `_include`, `_sort`, `_offset`, `_size` and field
//! filters answered as `{items, metadata: {pagination}}`; v1 bare arrays.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use store::{Filter, Query, Sort};

use super::error::RestError;

/// Which API prefix a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

/// The page size a v2 answer reports when `_size` is absent.
pub const DEFAULT_SIZE: usize = 10_000;

/// Parsed list parameters.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub query: Query,
    pub size: usize,
    pub include: Option<Vec<String>>,
}

/// `_include=a,b` checked against the model's fields.
pub fn include(
    pairs: &[(String, String)],
    fields: &[&str],
) -> Result<Option<Vec<String>>, RestError> {
    let Some((_, raw)) = pairs.iter().find(|(k, _)| k == "_include") else {
        return Ok(None);
    };
    let wanted: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let bad: Vec<&String> = wanted
        .iter()
        .filter(|f| !fields.contains(&f.as_str()))
        .collect();
    if !bad.is_empty() {
        return Err(RestError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "no_such_include_field_error",
            format!("Illegal include fields: {bad:?} - available fields: {fields:?}"),
        ));
    }
    Ok(Some(wanted))
}

/// Builds the store query; `renames` maps client filter names to fields
/// (v1's `node_name` → `node_id`, …).
pub fn parse(
    pairs: &[(String, String)],
    fields: &[&str],
    renames: &[(&str, &str)],
) -> Result<ListParams, RestError> {
    let include = include(pairs, fields)?;
    let mut q = Query::default();
    let mut size = DEFAULT_SIZE;
    let mut bad = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "_include" => {}
            "_sort" => {
                let (field, descending) = match v.strip_prefix('-') {
                    Some(f) => (f, true),
                    None => (v.strip_prefix('+').unwrap_or(v), false),
                };
                q.sort.push(Sort {
                    field: field.to_owned(),
                    descending,
                });
            }
            "_offset" => {
                q.offset = v.parse().map_err(|_| {
                    RestError::bad_parameters(format!("_offset must be an integer, got {v}"))
                })?
            }
            "_size" => {
                size = v.parse().map_err(|_| {
                    RestError::bad_parameters(format!("_size must be an integer, got {v}"))
                })?
            }
            k if k.starts_with('_') => {}
            k => {
                let field = renames
                    .iter()
                    .find(|(from, _)| *from == k)
                    .map_or(k, |(_, to)| *to);
                if !fields.contains(&field) {
                    bad.push(k.to_owned());
                    continue;
                }
                let value = Value::String(v.clone());
                match q.filters.iter_mut().find(|f| f.field == field) {
                    Some(f) => f.any_of.push(value),
                    None => q.filters.push(Filter {
                        field: field.to_owned(),
                        any_of: vec![value],
                    }),
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(RestError::bad_parameters(format!(
            "Filter keys '{bad:?}' do not exist. Allowed filters are: {fields:?}"
        )));
    }
    q.size = Some(size);
    Ok(ListParams {
        query: q,
        size,
        include,
    })
}

/// Keeps only the `_include` fields of one document.
pub fn project(doc: Value, include: &Option<Vec<String>>) -> Value {
    match (include, doc) {
        (Some(fields), Value::Object(mut m)) => {
            m.retain(|k, _| fields.contains(k));
            Value::Object(m)
        }
        (_, doc) => doc,
    }
}

/// A list answer in the version's shape.
pub fn respond(
    version: ApiVersion,
    items: Vec<Value>,
    total: usize,
    params: &ListParams,
) -> Response {
    match version {
        ApiVersion::V1 => Json(items).into_response(),
        ApiVersion::V2 => Json(json!({
            "items": items,
            "metadata": {"pagination": {"total": total, "size": params.size, "offset": params.query.offset}},
        }))
        .into_response(),
    }
}

/// Lists a collection in the version's shape; `shape` turns a stored
/// document into its response form before `_include` applies.
pub fn page(
    store: &store::Store,
    version: ApiVersion,
    p: &ListParams,
    collection: &str,
    shape: impl Fn(store::Versioned) -> Value,
) -> Result<Response, RestError> {
    let page = store.list(collection, &p.query)?;
    let items = page
        .items
        .into_iter()
        .map(|d| project(shape(d), &p.include))
        .collect();
    Ok(respond(version, items, page.total, p))
}

/// One document by id, shaped and projected, or Cloudify's 404
/// `"<doc_type> <id> not found"`.
pub fn one(
    store: &store::Store,
    collection: &str,
    doc_type: &str,
    id: &str,
    pairs: &[(String, String)],
    fields: &[&str],
    shape: impl Fn(store::Versioned) -> Value,
) -> Result<Json<Value>, RestError> {
    let include = include(pairs, fields)?;
    let d = existing(store, collection, doc_type, id)?;
    Ok(Json(project(shape(d), &include)))
}

/// The document `id` of `collection`, or Cloudify's 404
/// `"<doc_type> <id> not found"`.
pub fn existing(
    store: &store::Store,
    collection: &str,
    doc_type: &str,
    id: &str,
) -> Result<store::Versioned, RestError> {
    store
        .get(collection, id)?
        .ok_or_else(|| RestError::not_found(format!("{doc_type} {id} not found")))
}

/// Cloudify's boolean parameters: JSON booleans or "true"/"false" strings.
pub fn boolean(name: &str, v: Option<&Value>, default: bool) -> Result<bool, RestError> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(RestError::bad_parameters(format!(
            "{name} must be <true/false>, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn v2_parameters() {
        let p = parse(
            &pairs(&[
                ("deployment_id", "a"),
                ("deployment_id", "b"),
                ("_sort", "-created_at"),
                ("_offset", "5"),
                ("_size", "2"),
                ("_include", "id"),
            ]),
            &["id", "deployment_id", "created_at"],
            &[],
        )
        .unwrap();
        assert_eq!(p.query.filters[0].any_of.len(), 2);
        assert!(p.query.sort[0].descending);
        assert_eq!((p.query.offset, p.size), (5, 2));
        assert_eq!(p.include, Some(vec!["id".to_string()]));
        let e = parse(&pairs(&[("nope", "1")]), &["id"], &[]).unwrap_err();
        assert_eq!(e.code, "bad_parameters_error");
        let e = parse(&pairs(&[("_include", "id,zz")]), &["id"], &[]).unwrap_err();
        assert_eq!(e.code, "no_such_include_field_error");
        assert!(boolean("force", Some(&Value::String("False".into())), true).is_ok_and(|b| !b));
        assert!(boolean("force", Some(&Value::from(3)), true).is_err());
    }
}
