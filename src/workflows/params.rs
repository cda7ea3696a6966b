//! Reading workflow parameters the way 3.3's Python did: booleans may come
//! as strings from the CLI, lists may be missing or null.

use serde_json::Value;

use super::Outcome;

pub(super) fn flag(v: Option<&Value>, default: bool) -> Result<bool, Outcome> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(Outcome::Failed(format!(
            "{other} is not a boolean parameter value"
        ))),
    }
}

pub(super) fn integer(v: Option<&Value>, name: &str, default: i64) -> Result<i64, Outcome> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or(default)),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| Outcome::Failed(format!("{name} must be an integer, not '{s}'"))),
        Some(other) => Err(Outcome::Failed(format!(
            "{name} must be an integer, not {other}"
        ))),
    }
}

pub(super) fn strings(v: Option<&Value>, name: &str) -> Result<Vec<String>, Outcome> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Outcome::Failed(format!("{name} must be a list of strings")))
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(_) => Err(Outcome::Failed(format!("{name} must be a list of strings"))),
    }
}

pub(super) fn text(v: Option<&Value>, name: &str) -> Result<String, Outcome> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Outcome::Failed(format!("the '{name}' parameter is required")))
}
