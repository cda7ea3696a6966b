//! Merging the configuration layers: defaults, file, environment, flags.
//!
//! Every layer is reduced to dotted key paths (`ports.amqp`) checked against
//! the keys the defaults have, so an unknown key or a value of the wrong type
//! is reported with the layer it came from and the key it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Config;

/// Name of the configuration file looked for in the data directory.
pub const FILE_NAME: &str = "cfyd.toml";
const ENV_PREFIX: &str = "CFYD_";
/// Environment variables with the prefix that are not configuration keys.
const ENV_NOT_KEYS: &[&str] = &["CFYD_CONFIG"];

/// What the command line adds on top of file and environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`: an explicit file, which must exist.
    pub config_file: Option<PathBuf>,
    /// Dotted key and raw value pairs, in the order given.
    pub values: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    ReadFile { path: PathBuf, reason: String },
    #[error("config file {path} is not valid TOML: {reason}")]
    ParseFile { path: PathBuf, reason: String },
    #[error("unknown config key `{key}` in {origin}")]
    UnknownKey { origin: String, key: String },
    #[error("unknown environment variable {name} (no config key `{hint}`)")]
    UnknownEnv { name: String, hint: String },
    #[error("bad value for `{key}` in {origin}: {reason}")]
    BadValue {
        origin: String,
        key: String,
        reason: String,
    },
    #[error("port {port} plus low_port_offset {offset} is above 65535")]
    PortOffsetOverflow { port: u16, offset: u16 },
}

/// Builds the effective configuration from all layers.
pub fn load(
    overrides: &Overrides,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let defaults = to_table(&Config::default());
    let mut known = BTreeMap::new();
    flatten("", &defaults, &mut known);

    let env_values = env_layer(env, &known)?;
    let flag_values = overrides
        .values
        .iter()
        .map(|(key, raw)| typed(&known, "command-line flags", key, raw))
        .collect::<Result<Vec<_>, _>>()?;

    let file = match &overrides.config_file {
        Some(path) => Some(read_file(path)?),
        None => {
            // The data directory decides where the implicit file lives, so
            // find it from the layers that cannot come from the file.
            let mut probe = defaults.clone();
            apply(&mut probe, &env_values);
            apply(&mut probe, &flag_values);
            let dir = validate(&probe, "environment and flags")?.data_dir;
            let path = dir.join(FILE_NAME);
            if path.is_file() {
                Some(read_file(&path)?)
            } else {
                None
            }
        }
    };

    let mut merged = defaults;
    if let Some((path, table)) = file {
        let origin = path.display().to_string();
        let mut pairs = BTreeMap::new();
        flatten("", &table, &mut pairs);
        for (key, value) in pairs {
            let Some(default) = known.get(&key) else {
                return Err(ConfigError::UnknownKey { origin, key });
            };
            if default.type_str() != value.type_str() {
                return Err(ConfigError::BadValue {
                    origin,
                    key,
                    reason: format!(
                        "expected a {}, got a {}",
                        default.type_str(),
                        value.type_str()
                    ),
                });
            }
            set(&mut merged, &key, value);
        }
        validate(&merged, &origin)?;
    }
    apply(&mut merged, &env_values);
    validate(&merged, "the environment")?;
    apply(&mut merged, &flag_values);
    validate(&merged, "command-line flags")
}

fn read_file(path: &Path) -> Result<(PathBuf, toml::Table), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::ReadFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| ConfigError::ParseFile {
            path: path.to_owned(),
            reason: e.message().to_owned(),
        })?;
    Ok((path.to_owned(), table))
}

fn env_layer(
    env: impl IntoIterator<Item = (String, String)>,
    known: &BTreeMap<String, toml::Value>,
) -> Result<Vec<(String, toml::Value)>, ConfigError> {
    let by_env_name: BTreeMap<String, &String> = known.keys().map(|k| (env_name(k), k)).collect();
    let mut out = Vec::new();
    let mut vars: Vec<(String, String)> = env.into_iter().collect();
    vars.sort();
    for (name, raw) in vars {
        if name == "RUST_LOG" {
            out.push(typed(known, "RUST_LOG", "log.filter", &raw)?);
            continue;
        }
        if !name.starts_with(ENV_PREFIX) || ENV_NOT_KEYS.contains(&name.as_str()) {
            continue;
        }
        let Some(key) = by_env_name.get(&name) else {
            let hint = name[ENV_PREFIX.len()..].to_lowercase();
            return Err(ConfigError::UnknownEnv { name, hint });
        };
        out.push(typed(
            known,
            &format!("environment variable {name}"),
            key,
            &raw,
        )?);
    }
    Ok(out)
}

/// `ports.amqp` → `CFYD_PORTS_AMQP`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_uppercase())
}

/// Converts a raw string into the TOML type the default of `key` has.
fn typed(
    known: &BTreeMap<String, toml::Value>,
    origin: &str,
    key: &str,
    raw: &str,
) -> Result<(String, toml::Value), ConfigError> {
    let Some(default) = known.get(key) else {
        return Err(ConfigError::UnknownKey {
            origin: origin.to_owned(),
            key: key.to_owned(),
        });
    };
    let bad = |reason: String| ConfigError::BadValue {
        origin: origin.to_owned(),
        key: key.to_owned(),
        reason,
    };
    let value = match default {
        toml::Value::String(_) => toml::Value::String(raw.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| bad(format!("expected an integer, got `{raw}`")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            raw.trim()
                .parse()
                .map_err(|_| bad(format!("expected true or false, got `{raw}`")))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| bad(format!("expected a number, got `{raw}`")))?,
        ),
        other => {
            return Err(bad(format!(
                "a {} cannot be set from a string",
                other.type_str()
            )));
        }
    };
    Ok((key.to_owned(), value))
}

fn validate(table: &toml::Table, origin: &str) -> Result<Config, ConfigError> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize(value).map_err(|e| ConfigError::BadValue {
        origin: origin.to_owned(),
        key: e.path().to_string(),
        reason: e.inner().to_string(),
    })
}

fn to_table(config: &Config) -> toml::Table {
    toml::Table::try_from(config).unwrap_or_default()
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, toml::Value>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            other => {
                out.insert(key, other.clone());
            }
        }
    }
}

fn apply(table: &mut toml::Table, values: &[(String, toml::Value)]) {
    for (k, v) in values {
        set(table, k, v.clone());
    }
}

fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn with_file(text: &str) -> (tempfile::TempDir, Overrides) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let o = Overrides {
            config_file: Some(path),
            values: vec![],
        };
        (dir, o)
    }

    #[test]
    fn defaults_load_without_any_layer() {
        let dir = tempfile::tempdir().unwrap();
        let o = Overrides {
            values: vec![("data_dir".into(), dir.path().display().to_string())],
            ..Overrides::default()
        };
        let c = load(&o, vec![]).unwrap();
        assert_eq!(c.ports.amqp, 5672);
        assert_eq!(c.data_dir, dir.path());
    }

    #[test]
    fn later_layers_win() {
        let (_d, mut o) = with_file("[ports]\namqp = 1\nrest = 2\nlogstash = 3\n");
        o.values.push(("ports.logstash".into(), "30".into()));
        let c = load(
            &o,
            env(&[("CFYD_PORTS_REST", "20"), ("CFYD_PORTS_LOGSTASH", "300")]),
        )
        .unwrap();
        assert_eq!((c.ports.amqp, c.ports.rest, c.ports.logstash), (1, 20, 30));
    }

    #[test]
    fn problems_name_the_key_and_the_layer() {
        type Pairs = &'static [(&'static str, &'static str)];
        // (file text, environment, flags, expected part of the error)
        let cases: &[(&str, Pairs, Pairs, &str)] = &[
            (
                "[ports]\namqpp = 1\n",
                &[],
                &[],
                "unknown config key `ports.amqpp`",
            ),
            ("[ports]\namqp = \"x\"\n", &[], &[], "`ports.amqp`"),
            ("[ports]\namqp = 70000\n", &[], &[], "ports.amqp"),
            ("", &[("CFYD_PORTS_NOPE", "1")], &[], "CFYD_PORTS_NOPE"),
            (
                "",
                &[("CFYD_PORTS_AMQP", "abc")],
                &[],
                "environment variable CFYD_PORTS_AMQP",
            ),
            (
                "",
                &[],
                &[("ports.nope", "1")],
                "unknown config key `ports.nope` in command-line flags",
            ),
            ("", &[], &[("log.format", "xml")], "log.format"),
            ("", &[], &[("bind.public", "not-an-ip")], "bind.public"),
            ("this is = not toml [", &[], &[], "not valid TOML"),
        ];
        for (file, envs, flags, expected) in cases {
            let (_d, mut o) = with_file(file);
            o.values = flags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let err = load(&o, env(envs)).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn implicit_file_is_read_from_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[ports]\nmqtt = 11883\n").unwrap();
        let o = Overrides {
            values: vec![("data_dir".into(), dir.path().display().to_string())],
            ..Overrides::default()
        };
        assert_eq!(load(&o, vec![]).unwrap().ports.mqtt, 11883);
    }

    #[test]
    fn rust_log_sets_the_filter_and_unrelated_env_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let o = Overrides {
            values: vec![("data_dir".into(), dir.path().display().to_string())],
            ..Overrides::default()
        };
        let c = load(
            &o,
            env(&[("RUST_LOG", "debug"), ("HOME", "/x"), ("CFYD_CONFIG", "y")]),
        )
        .unwrap();
        assert_eq!(c.log.filter, "debug");
    }

    #[test]
    fn every_key_has_an_env_name() {
        assert_eq!(env_name("ports.rest_internal"), "CFYD_PORTS_REST_INTERNAL");
        assert_eq!(env_name("data_dir"), "CFYD_DATA_DIR");
    }
}
