//! Definitions served offline for the standard Cloudify import URLs. These
//! are cfyd's own, written from the facts in the reference; a resolver rule
//! can point any URL elsewhere. The 3.2-era `types.yaml` URLs are not
//! bundled (resolve them with a rule).

const TYPES_33: &str = include_str!("bundled/types-3.3.yaml");

/// Plugin definition files: (plugin, version, executor). Versions from 1.3
/// on carry the DSL 1_2 packaging keys.
const PLUGINS: &[(&str, &str, &str)] = &[
    ("script", "1.3.1", "host_agent"),
    ("fabric", "1.2.1", "central_deployment_agent"),
    ("fabric", "1.3.1", "central_deployment_agent"),
    ("diamond", "1.2", "host_agent"),
    ("diamond", "1.3.1", "host_agent"),
];

const TYPES_URLS: &[&str] = &[
    "http://www.getcloudify.org/spec/cloudify/3.3/types.yaml",
    "http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml",
];

fn plugin_url(name: &str, version: &str) -> String {
    format!("http://www.getcloudify.org/spec/{name}-plugin/{version}/plugin.yaml")
}

/// The canonical form of a bundled URL (https and http are the same file).
pub fn url(imp: &str) -> Option<String> {
    let http = imp.replacen("https://", "http://", 1);
    let known = TYPES_URLS.contains(&http.as_str())
        || PLUGINS.iter().any(|(n, v, _)| plugin_url(n, v) == http);
    known.then_some(http)
}

/// The text served for a canonical bundled URL.
pub fn get(url: &str) -> Option<String> {
    if TYPES_URLS.contains(&url) {
        return Some(TYPES_33.to_owned());
    }
    let (name, version, executor) = PLUGINS.iter().find(|(n, v, _)| plugin_url(n, v) == url)?;
    let packaging = if version.starts_with("1.3") {
        format!("    package_name: cloudify-{name}-plugin\n    package_version: '{version}'\n")
    } else {
        String::new()
    };
    Some(format!(
        "# cfyd's definition of the {name} plugin {version}.\nplugins:\n  {name}:\n    executor: {executor}\n    source: https://github.com/cloudify-cosmo/cloudify-{name}-plugin/archive/{version}.zip\n{packaging}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_urls_load() {
        for u in TYPES_URLS
            .iter()
            .map(|s| s.to_string())
            .chain(PLUGINS.iter().map(|(n, v, _)| plugin_url(n, v)))
        {
            let canonical = url(&u.replacen("http://", "https://", 1)).unwrap();
            let text = get(&canonical).unwrap();
            let doc = super::super::yaml::load(&text, &u).unwrap();
            assert!(doc["plugins"].is_object(), "{u}");
        }
        assert!(url("http://www.getcloudify.org/spec/cloudify/3.2/types.yaml").is_none());
    }
}
