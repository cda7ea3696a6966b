//! Cloudify's model on the general document store: the collections, their
//! indexes, and where uploaded files live (the file server root).

pub mod modifications;
pub mod runtime;
pub mod time;

use std::path::{Path, PathBuf};

use store::{CollectionSpec, Config, Store};

pub const BLUEPRINTS: &str = "blueprints";
pub const DEPLOYMENTS: &str = "deployments";
pub const EXECUTIONS: &str = "executions";
pub const NODES: &str = "nodes";
pub const NODE_INSTANCES: &str = "node_instances";
pub const PROVIDER_CONTEXT: &str = "provider_context";
pub const MODIFICATIONS: &str = "deployment_modifications";
pub const PLUGINS: &str = "plugins";
pub const SNAPSHOTS: &str = "snapshots";

fn collections() -> Vec<CollectionSpec> {
    vec![
        CollectionSpec::new(BLUEPRINTS, &[]),
        CollectionSpec::new(DEPLOYMENTS, &["blueprint_id"]),
        CollectionSpec::new(EXECUTIONS, &["deployment_id", "status"]),
        CollectionSpec::new(NODES, &["deployment_id"]),
        CollectionSpec::new(NODE_INSTANCES, &["deployment_id", "node_id"]),
        CollectionSpec::new(PROVIDER_CONTEXT, &[]),
        CollectionSpec::new(MODIFICATIONS, &["deployment_id", "status"]),
        CollectionSpec::new(PLUGINS, &["package_name"]),
        CollectionSpec::new(SNAPSHOTS, &[]),
    ]
}

/// The store and the file server root of one manager.
pub struct Model {
    pub store: Store,
    /// Root of the file server: `blueprints/<id>/…`, `uploaded-blueprints/…`.
    pub resources: PathBuf,
}

impl Model {
    pub fn open(data_dir: &Path) -> Result<Model, ModelError> {
        let resources = data_dir.join("resources");
        for sub in [
            "blueprints",
            "uploaded-blueprints",
            "plugins",
            "snapshots",
            "tmp",
        ] {
            std::fs::create_dir_all(resources.join(sub))
                .map_err(|e| ModelError::Io(resources.join(sub), e))?;
        }
        let store = Store::open(Config::at(data_dir.join("store")), &collections())?;
        Ok(Model { store, resources })
    }

    /// A throw-away model for tests.
    pub fn temporary(dir: &Path) -> Result<Model, ModelError> {
        Model::open(dir)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot create {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}
