//! Bounded YAML loading into JSON values. serde_norway (libyaml) refuses
//! alias-expansion bombs and deep recursion itself; sizes and depth are
//! checked here too, before anything else looks at the document.

use serde_json::{Map, Number, Value};

use super::error::{DslError, DslResult, code};

/// Largest blueprint file accepted.
pub const MAX_BYTES: usize = 8 << 20;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes (scalars and collections) one file may expand to.
pub const MAX_NODES: usize = 2_000_000;

pub fn load(text: &str, origin: &str) -> DslResult<Value> {
    if text.len() > MAX_BYTES {
        return Err(DslError::new(
            code::YAML,
            format!("{origin}: file is larger than {MAX_BYTES} bytes"),
        ));
    }
    let raw: Node = serde_norway::from_str(text)
        .map_err(|e| DslError::new(code::YAML, format!("Failed to parse YAML in {origin}: {e}")))?;
    let mut budget = MAX_NODES;
    convert(raw, 0, &mut budget)
        .map_err(|why| DslError::new(code::YAML, format!("{origin}: {why}")))
}

/// A YAML tree as libyaml reports it. Unlike `serde_norway::Value` it keeps
/// duplicate mapping keys (the last one wins, as PyYAML did for Cloudify)
/// and keys of any scalar type.
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Node, A::Error> {
        // A `!tag value`: keep the value, drop the tag.
        use serde::de::VariantAccess;
        let (_tag, variant): (serde::de::IgnoredAny, _) = data.variant()?;
        variant.newtype_variant()
    }
}

fn convert(v: Node, depth: usize, budget: &mut usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH}"));
    }
    if *budget == 0 {
        return Err(format!("more than {MAX_NODES} YAML nodes"));
    }
    *budget -= 1;
    Ok(match v {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::from(i),
        Node::UInt(u) => Value::from(u),
        Node::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .map(|i| convert(i, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries) => {
            let mut out = Map::new();
            let mut merged: Vec<Map<String, Value>> = Vec::new();
            for (k, v) in entries {
                let key = match k {
                    Node::Str(s) => s,
                    Node::Int(i) => i.to_string(),
                    Node::UInt(u) => u.to_string(),
                    Node::Float(f) => f.to_string(),
                    Node::Bool(b) => {
                        if b {
                            "True".to_owned()
                        } else {
                            "False".to_owned()
                        }
                    }
                    Node::Null => "None".to_owned(),
                    Node::Seq(_) | Node::Map(_) => {
                        return Err("a mapping key is not a scalar".to_owned());
                    }
                };
                let value = convert(v, depth + 1, budget)?;
                if key == "<<" {
                    // YAML merge key, as PyYAML applies it: mapped values
                    // come in under the explicit keys, earlier sources first.
                    match value {
                        Value::Object(m) => merged.push(m),
                        Value::Array(items) => {
                            for item in items {
                                match item {
                                    Value::Object(m) => merged.push(m),
                                    _ => {
                                        return Err(
                                            "a '<<' merge list holds a non-mapping".to_owned()
                                        );
                                    }
                                }
                            }
                        }
                        _ => {
                            return Err(
                                "a '<<' merge key needs a mapping or a list of mappings".to_owned()
                            );
                        }
                    }
                    continue;
                }
                out.insert(key, value);
            }
            for m in merged {
                for (k, v) in m {
                    out.entry(k).or_insert(v);
                }
            }
            Value::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_anchors_and_scalars() {
        let v = load("a: &x {b: 1}\nc: *x\nd: [true, 1.5, null]\n3: three\n", "t").unwrap();
        assert_eq!(v["c"]["b"], 1);
        assert_eq!(v["d"][1], 1.5);
        assert_eq!(v["3"], "three");
    }

    #[test]
    fn merge_keys_apply_under_explicit_keys() {
        let v = load(
            "base: &b {x: 1, y: 2}\nother: &o {y: 9, z: 3}\nm:\n  <<: [*b, *o]\n  x: 5\n",
            "t",
        )
        .unwrap();
        assert_eq!(v["m"], serde_json::json!({"x": 5, "y": 2, "z": 3}));
        assert!(v["m"].get("<<").is_none());
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(load("a: 1\na: 2\n", "t").unwrap()["a"], 2);
    }

    #[test]
    fn bombs_and_bad_yaml_are_errors() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            bomb.push_str(&format!(
                "{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char,
                p = (b'a' + i - 1) as char
            ));
        }
        assert_eq!(load(&bomb, "bomb").unwrap_err().code, code::YAML);
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(load(&deep, "deep").is_err());
        let e = load("a: [1, 2\n", "bad.yaml").unwrap_err();
        assert!(
            e.message.contains("bad.yaml") && e.message.contains("line"),
            "{}",
            e.message
        );
    }
}
