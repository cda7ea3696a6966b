//! Exchanges, bindings and routing: direct, fanout, topic and headers.

use crate::error::AmqpError;
use crate::proto::{FieldTable, FieldValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    Direct,
    Fanout,
    Topic,
    Headers,
}

impl ExchangeKind {
    pub fn parse(s: &str) -> Option<ExchangeKind> {
        Some(match s {
            "direct" => ExchangeKind::Direct,
            "fanout" => ExchangeKind::Fanout,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
        }
    }
}

/// Where a binding sends what matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    Queue(String),
    Exchange(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub destination: Destination,
    pub routing_key: String,
    pub arguments: FieldTable,
    /// Parsed once at bind time for headers exchanges.
    match_mode: HeadersMatch,
}

impl Binding {
    pub fn new(
        destination: Destination,
        routing_key: String,
        arguments: FieldTable,
    ) -> Result<Self, AmqpError> {
        let match_mode = HeadersMatch::from_args(&arguments)?;
        Ok(Binding {
            destination,
            routing_key,
            arguments,
            match_mode,
        })
    }

    /// RabbitMQ identifies a binding by destination, key and arguments.
    pub fn same_as(&self, destination: &Destination, key: &str, args: &FieldTable) -> bool {
        self.destination == *destination && self.routing_key == key && self.arguments == *args
    }
}

#[derive(Debug, Clone)]
pub struct Exchange {
    pub name: String,
    pub kind: ExchangeKind,
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: FieldTable,
    pub bindings: Vec<Binding>,
    /// Auto-delete applies only once the exchange has had a binding.
    pub had_binding: bool,
}

impl Exchange {
    pub fn new(name: &str, kind: ExchangeKind, durable: bool) -> Self {
        Exchange {
            name: name.to_owned(),
            kind,
            durable,
            auto_delete: false,
            internal: false,
            arguments: FieldTable::new(),
            bindings: Vec::new(),
            had_binding: false,
        }
    }

    pub fn alternate(&self) -> Option<&str> {
        self.arguments
            .get("alternate-exchange")
            .and_then(FieldValue::as_str)
    }

    /// Appends the destinations whose bindings match to `out`.
    pub fn matching<'a>(
        &'a self,
        key: &str,
        headers: Option<&FieldTable>,
        out: &mut Vec<&'a Destination>,
    ) {
        for b in &self.bindings {
            let hit = match self.kind {
                ExchangeKind::Direct => b.routing_key == key,
                ExchangeKind::Fanout => true,
                ExchangeKind::Topic => topic_matches(&b.routing_key, key),
                ExchangeKind::Headers => b.match_mode.matches(&b.arguments, headers),
            };
            if hit {
                out.push(&b.destination);
            }
        }
    }
}

/// Topic matching: words split by `.`, `*` is one word, `#` zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    matches_words(&pattern, &key)
}

fn matches_words(pattern: &[&str], key: &[&str]) -> bool {
    // Iterative with backtracking to the last `#`, linear for typical keys.
    let (mut p, mut k) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while k < key.len() {
        if p < pattern.len() && pattern[p] == "#" {
            star = Some((p, k));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == "*" || pattern[p] == key[k]) {
            p += 1;
            k += 1;
        } else if let Some((sp, sk)) = star {
            p = sp + 1;
            k = sk + 1;
            star = Some((sp, sk + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == "#" {
        p += 1;
    }
    p == pattern.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadersMatch {
    All { with_x: bool },
    Any { with_x: bool },
}

impl HeadersMatch {
    fn from_args(args: &FieldTable) -> Result<Self, AmqpError> {
        let Some(v) = args.get("x-match") else {
            return Ok(HeadersMatch::All { with_x: false });
        };
        match v.as_str() {
            Some("all") => Ok(HeadersMatch::All { with_x: false }),
            Some("any") => Ok(HeadersMatch::Any { with_x: false }),
            Some("all-with-x") => Ok(HeadersMatch::All { with_x: true }),
            Some("any-with-x") => Ok(HeadersMatch::Any { with_x: true }),
            other => Err(AmqpError::precondition(format!(
                "Invalid x-match field value {:?}; expected all, any, all-with-x, or any-with-x",
                other.unwrap_or("")
            ))),
        }
    }

    fn matches(self, binding: &FieldTable, headers: Option<&FieldTable>) -> bool {
        let (all, with_x) = match self {
            HeadersMatch::All { with_x } => (true, with_x),
            HeadersMatch::Any { with_x } => (false, with_x),
        };
        let empty = FieldTable::new();
        let headers = headers.unwrap_or(&empty);
        let mut considered = binding
            .iter()
            .filter(|(k, _)| *k != "x-match" && (with_x || !k.starts_with("x-")));
        let hit = |(k, v): (&str, &FieldValue)| match headers.get(k) {
            None => false,
            Some(_) if *v == FieldValue::Void => true,
            Some(h) => values_equal(h, v),
        };
        if all {
            considered.all(hit)
        } else {
            considered.any(hit)
        }
    }
}

fn values_equal(a: &FieldValue, b: &FieldValue) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => match (a, b) {
            (
                FieldValue::LongStr(x) | FieldValue::Bytes(x),
                FieldValue::LongStr(y) | FieldValue::Bytes(y),
            ) => x == y,
            _ => a == b,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns() {
        let cases = [
            ("a.b.c", "a.b.c", true),
            ("a.*.c", "a.b.c", true),
            ("a.*.c", "a.b.b.c", false),
            ("a.#", "a", true),
            ("a.#", "a.b.c", true),
            ("#", "", true),
            ("#", "x.y", true),
            ("a.#.c", "a.c", true),
            ("a.#.c", "a.b.x.c", true),
            ("a.#.c", "a.b.x.d", false),
            ("#.c", "c", true),
            ("*", "a.b", false),
            ("*.*", "a.b", true),
            ("worker.#", "worker.heartbeat", true),
            ("#.#", "a", true),
            ("a.#.#.b", "a.b", true),
            ("", "", true),
            ("*", "", true),
        ];
        for (p, k, want) in cases {
            assert_eq!(topic_matches(p, k), want, "{p} vs {k}");
        }
    }

    fn table(pairs: &[(&str, FieldValue)]) -> FieldTable {
        FieldTable(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn headers_all_and_any() {
        let all = Binding::new(
            Destination::Queue("q".into()),
            String::new(),
            table(&[
                ("x-match", FieldValue::str("all")),
                ("a", FieldValue::I32(1)),
                ("b", FieldValue::str("x")),
            ]),
        )
        .unwrap();
        let any = Binding::new(
            Destination::Queue("q".into()),
            String::new(),
            table(&[
                ("x-match", FieldValue::str("any")),
                ("a", FieldValue::I32(1)),
                ("b", FieldValue::Void),
            ]),
        )
        .unwrap();
        let msg = table(&[("a", FieldValue::I64(1)), ("b", FieldValue::str("x"))]);
        let partial = table(&[("b", FieldValue::str("zzz"))]);
        assert!(all.match_mode.matches(&all.arguments, Some(&msg)));
        assert!(!all.match_mode.matches(&all.arguments, Some(&partial)));
        assert!(any.match_mode.matches(&any.arguments, Some(&partial)));
        assert!(!any.match_mode.matches(&any.arguments, None));
        let bad = Binding::new(
            Destination::Queue("q".into()),
            String::new(),
            table(&[("x-match", FieldValue::str("foo"))]),
        );
        assert_eq!(bad.unwrap_err().code, 406);
    }
}
