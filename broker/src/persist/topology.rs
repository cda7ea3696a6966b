//! Durable exchanges, queues and bindings, saved as one JSON document.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::io::Write;
use std::path::Path;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

use crate::core::{Destination, VHost};
use crate::proto::FieldTable;

/// A field table stored as its AMQP encoding, in hex.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredTable(String);

impl StoredTable {
    fn from_table(t: &FieldTable) -> Self {
        let mut buf = BytesMut::new();
        t.encode(&mut buf);
        StoredTable(buf.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn to_table(&self) -> FieldTable {
        let bytes: Option<Vec<u8>> = (0..self.0.len() / 2)
            .map(|i| u8::from_str_radix(self.0.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        bytes
            .and_then(|b| FieldTable::decode(&b).ok())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExchangeDef {
    pub name: String,
    pub kind: String,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: StoredTable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueDef {
    pub name: String,
    pub auto_delete: bool,
    pub arguments: StoredTable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BindingDef {
    pub source: String,
    pub destination: String,
    pub to_exchange: bool,
    pub routing_key: String,
    pub arguments: StoredTable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VHostDef {
    pub exchanges: Vec<ExchangeDef>,
    pub queues: Vec<QueueDef>,
    pub bindings: Vec<BindingDef>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub vhosts: BTreeMap<String, VHostDef>,
}

fn predeclared(name: &str) -> bool {
    name.is_empty() || name.starts_with("amq.")
}

impl Topology {
    /// What of the live state survives a restart.
    pub fn capture(vhosts: &HashMap<String, VHost>) -> Topology {
        let mut out = Topology::default();
        for (vname, v) in vhosts {
            let mut def = VHostDef::default();
            for e in v.exchanges.values() {
                if e.durable && !predeclared(&e.name) {
                    def.exchanges.push(ExchangeDef {
                        name: e.name.clone(),
                        kind: e.kind.as_str().to_owned(),
                        auto_delete: e.auto_delete,
                        internal: e.internal,
                        arguments: StoredTable::from_table(&e.arguments),
                    });
                }
            }
            for q in v.queues.values() {
                if q.durable && q.exclusive_owner.is_none() {
                    def.queues.push(QueueDef {
                        name: q.name.clone(),
                        auto_delete: q.auto_delete,
                        arguments: StoredTable::from_table(&q.arguments),
                    });
                }
            }
            for e in v.exchanges.values().filter(|e| e.durable) {
                for b in &e.bindings {
                    let (destination, to_exchange, durable) = match &b.destination {
                        Destination::Queue(q) => (
                            q,
                            false,
                            v.queues
                                .get(q)
                                .is_some_and(|q| q.durable && q.exclusive_owner.is_none()),
                        ),
                        Destination::Exchange(x) => {
                            (x, true, v.exchanges.get(x).is_some_and(|x| x.durable))
                        }
                    };
                    if durable {
                        def.bindings.push(BindingDef {
                            source: e.name.clone(),
                            destination: destination.clone(),
                            to_exchange,
                            routing_key: b.routing_key.clone(),
                            arguments: StoredTable::from_table(&b.arguments),
                        });
                    }
                }
            }
            def.exchanges.sort_by(|a, b| a.name.cmp(&b.name));
            def.queues.sort_by(|a, b| a.name.cmp(&b.name));
            out.vhosts.insert(vname.clone(), def);
        }
        out
    }

    pub fn load(path: &Path) -> std::io::Result<Option<Topology>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically: temp file, fsync, rename, fsync of the directory.
    pub fn save(&self, path: &Path, fsync: bool) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        if fsync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if fsync && let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::FieldValue;

    #[test]
    fn tables_survive_storage() {
        let mut t = FieldTable::new();
        t.insert("x-expires", FieldValue::I32(10));
        t.insert("x-dead-letter-exchange", FieldValue::str("dlx"));
        assert_eq!(StoredTable::from_table(&t).to_table(), t);
        assert_eq!(StoredTable("zz".into()).to_table(), FieldTable::new());
    }
}
