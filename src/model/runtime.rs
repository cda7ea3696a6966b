//! Run-time function evaluation against stored node instances.

use serde_json::{Map, Value};
use store::Query;

use super::{Model, NODE_INSTANCES};
use crate::dsl::functions::Runtime;

/// The node instances of one deployment, read from the store.
pub struct StoredRuntime<'a> {
    pub model: &'a Model,
    pub deployment_id: &'a str,
}

impl Runtime for StoredRuntime<'_> {
    fn runtime_properties(&self, instance_id: &str) -> Option<Map<String, Value>> {
        let d = self.model.store.get(NODE_INSTANCES, instance_id).ok()??;
        d.doc["runtime_properties"].as_object().cloned()
    }
    fn node_of(&self, instance_id: &str) -> Option<String> {
        let d = self.model.store.get(NODE_INSTANCES, instance_id).ok()??;
        d.doc["node_id"].as_str().map(str::to_owned)
    }
    fn instances_of(&self, node: &str) -> Vec<String> {
        let q = Query::default()
            .filter("deployment_id", self.deployment_id)
            .filter("node_id", node);
        self.model
            .store
            .list(NODE_INSTANCES, &q)
            .map(|p| p.items.into_iter().map(|d| d.id).collect())
            .unwrap_or_default()
    }
}
