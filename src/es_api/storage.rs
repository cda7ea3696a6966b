//! `cloudify_storage`: a read-only view of the model store, so tooling
//! that read 3.3's model from Elasticsearch still works. Each collection
//! is the 3.3 document type of the same name.

use search::eval::Doc;

use super::EsErr;
use crate::model::{self, Model};

/// 3.3's storage document types and the collections behind them.
pub const TYPES: &[(&str, &str)] = &[
    ("blueprint", model::BLUEPRINTS),
    ("deployment", model::DEPLOYMENTS),
    ("execution", model::EXECUTIONS),
    ("node", model::NODES),
    ("node_instance", model::NODE_INSTANCES),
    ("deployment_modification", model::MODIFICATIONS),
    ("provider_context", model::PROVIDER_CONTEXT),
    ("plugin", model::PLUGINS),
    ("snapshot", model::SNAPSHOTS),
];

/// The documents of one type (or all, when `None`), each with its type;
/// an unknown type has none.
pub fn documents(model: &Model, kind: Option<&str>) -> Result<Vec<(&'static str, Doc)>, EsErr> {
    let mut out = Vec::new();
    let mut seq = 0u64;
    for (t, collection) in TYPES {
        if kind.is_some_and(|k| k != *t) {
            continue;
        }
        let page = model
            .store
            .list(collection, &store::Query::default())
            .map_err(|e| EsErr::internal(e.to_string()))?;
        for item in page.items {
            out.push((
                *t,
                Doc {
                    id: item.id,
                    seq,
                    source: item.doc,
                },
            ));
            seq += 1;
        }
    }
    Ok(out)
}
