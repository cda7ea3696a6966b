//! Type hierarchies (node types, relationship types, data types) and
//! property validation against merged schemas (cloudify-api.md §2.4).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::{DslError, DslResult, code};
use super::imports::type_name;

pub const PRIMITIVES: &[&str] = &["string", "integer", "float", "boolean"];

/// Ancestors root-first, then `name` itself.
pub fn hierarchy(kind: &str, defs: &Map<String, Value>, name: &str) -> DslResult<Vec<String>> {
    let mut chain = vec![name.to_owned()];
    let mut seen: HashSet<String> = HashSet::from([name.to_owned()]);
    let mut current = name.to_owned();
    loop {
        let def = defs.get(&current).ok_or_else(|| {
            DslError::new(
                code::UNKNOWN_TYPE,
                format!("Missing definition for {kind} '{current}'"),
            )
        })?;
        let Some(parent) = def.get("derived_from") else {
            break;
        };
        let parent = parent.as_str().ok_or_else(|| {
            DslError::format(format!(
                "'derived_from' of {kind} '{current}' must be a string"
            ))
        })?;
        if !defs.contains_key(parent) {
            return Err(DslError::new(
                code::UNKNOWN_TYPE,
                format!(
                    "Missing definition for {kind} '{parent}' which is declared as derived by {kind} '{current}'"
                ),
            ));
        }
        if !seen.insert(parent.to_owned()) {
            return Err(DslError::new(
                code::CYCLE,
                format!("Circular dependency detected: {kind} '{name}' derives from itself"),
            ));
        }
        chain.push(parent.to_owned());
        current = parent.to_owned();
    }
    chain.reverse();
    Ok(chain)
}

/// Union of a section (`properties`, …) over a hierarchy, children winning.
pub fn merged_schema(
    defs: &Map<String, Value>,
    chain: &[String],
    section: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    for t in chain {
        if let Some(Value::Object(props)) = defs.get(t).and_then(|d| d.get(section)) {
            for (k, v) in props {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// Interfaces over a hierarchy: per operation, the child's definition wins.
pub fn merged_interfaces(
    defs: &Map<String, Value>,
    chain: &[String],
    section: &str,
) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for t in chain {
        if let Some(Value::Object(ifaces)) = defs.get(t).and_then(|d| d.get(section)) {
            for (iface, ops) in ifaces {
                let entry = out
                    .entry(iface.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(into), Value::Object(ops)) = (entry, ops) {
                    for (op, def) in ops {
                        into.insert(op.clone(), def.clone());
                    }
                }
            }
        }
    }
    out
}

/// Whether a value is an intrinsic function call (not type-checked).
pub fn is_function(v: &Value) -> bool {
    match v {
        Value::Object(m) if m.len() == 1 => {
            matches!(
                m.keys().next().map(String::as_str),
                Some("get_input" | "get_property" | "get_attribute" | "concat")
            )
        }
        _ => false,
    }
}

/// Validates `given` against `schema`, filling defaults; `owner` names the
/// element in messages (e.g. `'vm' node`).
pub fn validate_properties(
    owner: &str,
    schema: &Map<String, Value>,
    given: &Map<String, Value>,
    data_types: &Map<String, Value>,
    depth: usize,
) -> DslResult<Map<String, Value>> {
    if depth > 16 {
        return Err(DslError::new(
            code::CYCLE,
            format!("{owner}: data types nest too deeply (circular?)"),
        ));
    }
    for key in given.keys() {
        if !schema.contains_key(key) {
            return Err(DslError::new(
                code::NOT_IN_SCHEMA,
                format!(
                    "{owner} '{key}' property is not part of the derived type properties schema"
                ),
            ));
        }
    }
    let mut out = Map::new();
    for (key, def) in schema {
        let def = def.as_object().cloned().unwrap_or_default();
        let ty = def.get("type").and_then(Value::as_str);
        let value = match given.get(key) {
            Some(v) => {
                let base = def.get("default");
                Some(check_value(owner, key, ty, v, base, data_types, depth)?)
            }
            None => match def.get("default") {
                Some(d) => Some(check_value(owner, key, ty, d, None, data_types, depth)?),
                None => {
                    let required = def.get("required").and_then(Value::as_bool).unwrap_or(true);
                    match (required, ty.filter(|t| data_types.contains_key(*t))) {
                        (false, _) => None,
                        // A data type whose fields all have defaults needs no value.
                        (true, Some(t)) => match check_value(
                            owner,
                            key,
                            Some(t),
                            &Value::Object(Map::new()),
                            None,
                            data_types,
                            depth,
                        ) {
                            Ok(v) => Some(v),
                            Err(_) => return Err(missing(owner, key)),
                        },
                        (true, None) => return Err(missing(owner, key)),
                    }
                }
            },
        };
        if let Some(v) = value {
            out.insert(key.clone(), v);
        }
    }
    Ok(out)
}

fn missing(owner: &str, key: &str) -> DslError {
    DslError::new(
        code::MANDATORY_MISSING,
        format!(
            "{owner} does not provide a value for mandatory '{key}' property which is part of its type schema"
        ),
    )
}

fn check_value(
    owner: &str,
    key: &str,
    ty: Option<&str>,
    v: &Value,
    base: Option<&Value>,
    data_types: &Map<String, Value>,
    depth: usize,
) -> DslResult<Value> {
    if is_function(v) || v.is_null() {
        return Ok(v.clone());
    }
    let mismatch = |expected: &str| {
        DslError::new(
            code::TYPE_MISMATCH,
            format!(
                "{owner} property '{key}' has type '{}' but the schema says '{expected}' ({v})",
                type_name(v)
            ),
        )
    };
    match ty {
        None => Ok(v.clone()),
        Some("string") => v
            .is_string()
            .then(|| v.clone())
            .ok_or_else(|| mismatch("string")),
        Some("integer") => (v.is_i64() || v.is_u64())
            .then(|| v.clone())
            .ok_or_else(|| mismatch("integer")),
        Some("float") => v
            .is_number()
            .then(|| v.clone())
            .ok_or_else(|| mismatch("float")),
        Some("boolean") => v
            .is_boolean()
            .then(|| v.clone())
            .ok_or_else(|| mismatch("boolean")),
        Some(t) => {
            let Some(dt) = data_types.get(t) else {
                return Err(DslError::new(
                    code::UNKNOWN_TYPE,
                    format!("{owner} property '{key}' has unknown type '{t}'"),
                ));
            };
            let Value::Object(given) = v else {
                return Err(mismatch(t));
            };
            let chain = hierarchy("data type", data_types, t)?;
            let schema = merged_schema(data_types, &chain, "properties");
            // Values given over the property's default, field by field.
            let mut merged = base.and_then(Value::as_object).cloned().unwrap_or_default();
            merged.extend(given.clone());
            let _ = dt;
            let inner = validate_properties(
                &format!("{owner} property '{key}' ({t})"),
                &schema,
                &merged,
                data_types,
                depth + 1,
            )?;
            Ok(Value::Object(inner))
        }
    }
}

/// Checks a data type section: parents exist, no primitive redefined.
pub fn check_data_types(data_types: &Map<String, Value>) -> DslResult<()> {
    for name in data_types.keys() {
        if PRIMITIVES.contains(&name.as_str()) {
            return Err(DslError::new(
                code::PRIMITIVE_REDEFINED,
                format!("Redefinition of primitive type '{name}'"),
            ));
        }
        hierarchy("data type", data_types, name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn hierarchies_and_cycles() {
        let defs = obj(
            json!({"A": {}, "B": {"derived_from": "A"}, "C": {"derived_from": "B"}, "X": {"derived_from": "Y"}, "Y": {"derived_from": "X"}, "M": {"derived_from": "nope"}}),
        );
        assert_eq!(
            hierarchy("node type", &defs, "C").unwrap(),
            vec!["A", "B", "C"]
        );
        assert_eq!(
            hierarchy("node type", &defs, "X").unwrap_err().code,
            code::CYCLE
        );
        assert_eq!(
            hierarchy("node type", &defs, "M").unwrap_err().code,
            code::UNKNOWN_TYPE
        );
    }

    #[test]
    fn properties_are_checked_and_defaulted() {
        let dts = obj(json!({"D": {"properties": {"a": {"type": "string"}, "b": {"default": 2}}}}));
        let schema = obj(json!({
            "s": {"type": "string"}, "i": {"type": "integer", "default": 1}, "o": {"required": false},
            "d": {"type": "D", "default": {"a": "x"}}
        }));
        let ok = validate_properties(
            "'n' node",
            &schema,
            &obj(json!({"s": "v", "d": {"b": 3}})),
            &dts,
            0,
        )
        .unwrap();
        assert_eq!(
            Value::Object(ok),
            json!({"s": "v", "i": 1, "d": {"a": "x", "b": 3}})
        );
        let cases = [
            (json!({}), code::MANDATORY_MISSING),
            (json!({"s": 5}), code::TYPE_MISMATCH),
            (json!({"s": "v", "zz": 1}), code::NOT_IN_SCHEMA),
            (json!({"s": "v", "i": true}), code::TYPE_MISMATCH),
            (json!({"s": "v", "d": {"q": 1}}), code::NOT_IN_SCHEMA),
        ];
        for (given, want) in cases {
            let e =
                validate_properties("'n' node", &schema, &obj(given.clone()), &dts, 0).unwrap_err();
            assert_eq!(e.code, want, "{given}: {}", e.message);
        }
        let f = validate_properties(
            "'n' node",
            &schema,
            &obj(json!({"s": {"get_input": "x"}})),
            &dts,
            0,
        )
        .unwrap();
        assert_eq!(f["s"], json!({"get_input": "x"}));
    }
}
