//! Index expressions: names, comma lists, `*` patterns, `_all`, and the
//! aliases of the event index (3.3's `logstash-YYYY.MM.DD` names).

use std::sync::Arc;

use search::EventIndex;
use search::eval::glob;

use super::{EsErr, EsState};

pub const EVENTS_INDEX: &str = "cloudify_events";
pub const STORAGE_INDEX: &str = "cloudify_storage";

#[derive(Clone)]
pub enum Target {
    Index(String, Arc<EventIndex>),
    /// The read-only view of the model store.
    Storage,
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Index(n, _) => n,
            Target::Storage => STORAGE_INDEX,
        }
    }
}

/// The concrete index a single name writes to (aliases resolved).
pub fn concrete(name: &str) -> &str {
    if name.starts_with("logstash-") {
        EVENTS_INDEX
    } else {
        name
    }
}

/// Every index an expression names. A missing concrete name is a 404
/// unless `ignore_unavailable`; a pattern matching nothing is empty.
pub fn resolve(
    state: &EsState,
    expr: &str,
    ignore_unavailable: bool,
) -> Result<Vec<Target>, EsErr> {
    let mut out: Vec<Target> = Vec::new();
    let mut push = |t: Target| {
        if !out.iter().any(|o| o.name() == t.name()) {
            out.push(t);
        }
    };
    let storage = state.model.is_some();
    for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "_all" || part == "*" {
            for n in state.indices.names() {
                if let Some(i) = state.indices.get(&n) {
                    push(Target::Index(n, i));
                }
            }
            if storage {
                push(Target::Storage);
            }
            continue;
        }
        let name = concrete(part);
        if part.contains('*') {
            let aliases_events = part.starts_with("logstash-") || glob(part, "logstash-");
            for n in state.indices.names() {
                if (glob(part, &n) || (n == EVENTS_INDEX && aliases_events))
                    && let Some(i) = state.indices.get(&n)
                {
                    push(Target::Index(n, i));
                }
            }
            if storage && glob(part, STORAGE_INDEX) {
                push(Target::Storage);
            }
            continue;
        }
        if name == STORAGE_INDEX && storage {
            push(Target::Storage);
        } else if let Some(i) = state.indices.get(name) {
            push(Target::Index(name.to_owned(), i));
        } else if !ignore_unavailable {
            return Err(EsErr::no_index(part));
        }
    }
    Ok(out)
}

/// The one writable index a write names, created when missing (as ES
/// creates indices on first write).
pub fn writable(state: &EsState, name: &str) -> Result<Arc<EventIndex>, EsErr> {
    let name = concrete(name);
    if name == STORAGE_INDEX {
        return Err(EsErr::read_only(name));
    }
    if name.contains(['*', ',']) || name == "_all" {
        return Err(EsErr::bad_request(
            "illegal_argument_exception",
            format!("a write needs one concrete index, not [{name}]"),
        ));
    }
    state
        .indices
        .ensure(name)
        .map(|(i, _)| i)
        .map_err(|e| EsErr::bad_request("invalid_index_name_exception", e.to_string()))
}
