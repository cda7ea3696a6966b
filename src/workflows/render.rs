//! `ctx download-resource-and-render`: the subset of Jinja2 that 3.3
//! blueprints use in rendered resources — `{{ path.to.value }}`
//! substitutions over `ctx` (node, instance, deployment, source/target…)
//! and the template variables. Statements (`{% … %}`) and filters are
//! refused with a clear error rather than rendered wrongly.

use serde_json::Value;

/// The largest template rendered.
const MAX_TEMPLATE: usize = 8 << 20;

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = root;
    for part in path.split('.') {
        v = match v {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Renders `template`; `ctx` answers `ctx.…`, `vars` every other name.
pub fn render(template: &str, ctx: &Value, vars: &Value) -> Result<String, String> {
    if template.len() > MAX_TEMPLATE {
        return Err(format!("template above {MAX_TEMPLATE} bytes"));
    }
    if let Some(at) = template.find("{%") {
        return Err(format!(
            "template statements ({{% … %}}, at byte {at}) are not supported yet by cfyd; only {{{{ name.path }}}} substitutions are"
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "unclosed {{ in template".to_owned())?;
        let expr = after[..end].trim();
        if expr.is_empty()
            || !expr
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(format!(
                "template expression '{{{{ {expr} }}}}' is not supported yet by cfyd (only name.path lookups are)"
            ));
        }
        let value = match expr.strip_prefix("ctx.") {
            Some(path) => lookup(ctx, path),
            None => lookup(vars, expr),
        }
        .ok_or_else(|| format!("'{expr}' is undefined in the template"))?;
        match value {
            Value::String(s) => out.push_str(s),
            Value::Null => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn substitutes_ctx_and_variables() {
        let ctx = json!({"node": {"properties": {"port": 8080}}, "instance": {"id": "web_1"}});
        let vars = json!({"name": "world", "flag": true});
        assert_eq!(
            render(
                "listen {{ ctx.node.properties.port }} as {{ctx.instance.id}}; hi {{ name }} {{flag}}",
                &ctx,
                &vars
            )
            .unwrap(),
            "listen 8080 as web_1; hi world True"
        );
        assert!(
            render("{{ missing }}", &ctx, &vars)
                .unwrap_err()
                .contains("undefined")
        );
        assert!(
            render("{% if x %}", &ctx, &vars)
                .unwrap_err()
                .contains("not supported")
        );
        assert!(render("{{ a | upper }}", &ctx, &vars).is_err());
        assert!(render("{{ open", &ctx, &vars).is_err());
    }

    proptest! {
        #[test]
        fn text_without_braces_is_unchanged(s in "[^{}]{0,200}") {
            prop_assert_eq!(render(&s, &json!({}), &json!({})).unwrap(), s);
        }

        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = render(&s, &json!({"a": 1}), &json!({"b": [1, 2]}));
        }
    }
}
