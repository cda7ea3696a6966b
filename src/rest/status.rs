//! `GET /status` and `GET /version`.
//!
//! `/status` lists the embedded services that are really running, in the
//! systemd-unit shape the 3.3 CLI prints; `/version` names the Cloudify
//! release cfyd is compatible with.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::RestState;

/// The Cloudify release whose API cfyd serves.
pub const COMPATIBLE_VERSION: &str = "3.3.1";

/// One embedded service as `/status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub display_name: String,
    pub instances: Vec<Instance>,
}

/// Field names follow the systemd D-Bus properties Cloudify copied.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "LoadState")]
    pub load_state: &'static str,
    #[serde(rename = "ActiveState")]
    pub active_state: &'static str,
    #[serde(rename = "SubState")]
    pub sub_state: &'static str,
    #[serde(rename = "MainPID")]
    pub main_pid: u32,
    pub state: &'static str,
}

impl Service {
    /// A service running inside this process.
    pub fn running(display_name: &str, id: &str, description: String) -> Self {
        Service {
            display_name: display_name.to_owned(),
            instances: vec![Instance {
                id: format!("{id}.service"),
                description,
                load_state: "loaded",
                active_state: "active",
                sub_state: "running",
                main_pid: std::process::id(),
                state: "running",
            }],
        }
    }
}

#[derive(Serialize)]
pub struct StatusBody {
    status: &'static str,
    services: Vec<Service>,
}

pub async fn status(State(state): State<RestState>) -> Json<StatusBody> {
    Json(StatusBody {
        status: "running",
        services: state.services.as_ref().clone(),
    })
}

#[derive(Serialize)]
pub struct VersionBody {
    version: &'static str,
    build: String,
    date: &'static str,
    commit: &'static str,
}

pub async fn version() -> Json<VersionBody> {
    Json(VersionBody {
        version: COMPATIBLE_VERSION,
        build: format!("cfyd-{}", env!("CARGO_PKG_VERSION")),
        date: "",
        commit: "",
    })
}
