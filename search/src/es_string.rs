//! `query_string`'s Lucene syntax: terms, `field:value`, quoted phrases,
//! `*`/`?` wildcards, `AND`/`OR`/`NOT`/`&&`/`||`/`!`, `+`/`-`, groups,
//! ranges `[a TO b]`/`{a TO b}`, `>=x` and `_exists_:field`. `AND` binds
//! tighter than `OR`; juxtaposition is the default operator.

use std::ops::Bound;

use serde_json::Value;

use crate::es::{EsError, date, field_name};
use crate::eval::tokens;
use crate::query::{FieldKind, Query, RangeValue, field_kind};

/// Longest query string accepted.
pub const MAX_LEN: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Plus,
    Minus,
    /// A word, with whether it held an unescaped wildcard.
    Word(String, bool),
    Phrase(String),
    /// `[a TO b]` / `{a TO b}`: bounds and inclusivity.
    Range(String, bool, String, bool),
}

fn err(reason: impl Into<String>) -> EsError {
    EsError {
        kind: "query_shard_exception",
        reason: format!("Failed to parse query: {}", reason.into()),
    }
}

fn lex(s: &str) -> Result<Vec<Tok>, EsError> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '+' => {
                out.push(Tok::Plus);
                i += 1;
            }
            '-' | '!' => {
                out.push(if c == '-' { Tok::Minus } else { Tok::Not });
                i += 1;
            }
            '&' | '|' if chars.get(i + 1) == Some(&c) => {
                out.push(if c == '&' { Tok::And } else { Tok::Or });
                i += 2;
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err("unterminated phrase"));
                }
                i += 1;
                out.push(Tok::Phrase(text));
            }
            '[' | '{' => {
                let close = chars[i..]
                    .iter()
                    .position(|x| *x == ']' || *x == '}')
                    .ok_or_else(|| err("unterminated range"))?;
                let inner: String = chars[i + 1..i + close].iter().collect();
                let parts: Vec<&str> = inner.split(" TO ").collect();
                let [a, b] = parts.as_slice() else {
                    return Err(err(format!("range [{inner}] needs `a TO b`")));
                };
                out.push(Tok::Range(
                    a.trim().to_owned(),
                    c == '[',
                    b.trim().to_owned(),
                    chars[i + close] == ']',
                ));
                i += close + 1;
            }
            _ => {
                let mut word = String::new();
                let mut wild = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace() || "()\"[]{}".contains(c) {
                        break;
                    }
                    if c == '\\' && i + 1 < chars.len() {
                        word.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if c == ':' {
                        word.push(c);
                        i += 1;
                        break;
                    }
                    wild |= c == '*' || c == '?';
                    word.push(c);
                    i += 1;
                }
                if word.is_empty() {
                    return Err(err(format!("unexpected [{c}]")));
                }
                out.push(match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word, wild),
                });
            }
        }
    }
    Ok(out)
}

struct P<'a> {
    toks: &'a [Tok],
    pos: usize,
    default_field: String,
    default_and: bool,
    now_ms: i64,
    depth: usize,
}

/// Parses `text` with unqualified terms searching `default_field`.
pub fn parse(
    text: &str,
    default_field: &str,
    default_and: bool,
    now_ms: i64,
) -> Result<Query, EsError> {
    if text.len() > MAX_LEN {
        return Err(err(format!("longer than {MAX_LEN} bytes")));
    }
    let toks = lex(text)?;
    let mut p = P {
        toks: &toks,
        pos: 0,
        default_field: default_field.to_owned(),
        default_and,
        now_ms,
        depth: 0,
    };
    let q = p.expr()?;
    if p.pos < toks.len() {
        return Err(err(format!("unexpected {:?}", toks[p.pos])));
    }
    Ok(q)
}

enum Occ {
    Should,
    Must,
    MustNot,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    /// An OR-level list: items separated by OR (or juxtaposed, with the
    /// default operator OR); `+`/`-` items are required/excluded.
    fn expr(&mut self) -> Result<Query, EsError> {
        self.depth += 1;
        if self.depth > crate::es::MAX_DEPTH {
            return Err(err("nesting too deep"));
        }
        let (mut must, mut should, mut must_not) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            match self.peek() {
                None | Some(Tok::Close) => break,
                Some(Tok::Or) => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let (occ, q) = self.conj()?;
            match occ {
                Occ::Should => should.push(q),
                Occ::Must => must.push(q),
                Occ::MustNot => must_not.push(q),
            }
        }
        self.depth -= 1;
        if must.is_empty() && must_not.is_empty() {
            return Ok(match should.len() {
                0 => Query::Nothing,
                _ => Query::or(should),
            });
        }
        if should.is_empty() && must_not.is_empty() {
            return Ok(Query::and(must));
        }
        let min_should = usize::from(must.is_empty() && !should.is_empty());
        Ok(Query::Bool {
            must,
            should,
            must_not,
            min_should,
        })
    }

    /// Items joined by AND (or juxtaposed, with the default operator AND).
    fn conj(&mut self) -> Result<(Occ, Query), EsError> {
        let first = self.unary()?;
        let mut parts = vec![first];
        loop {
            match self.peek() {
                Some(Tok::And) => self.pos += 1,
                Some(Tok::Or) | Some(Tok::Close) | None => break,
                _ if self.default_and => {}
                _ => break,
            }
            parts.push(self.unary()?);
        }
        if parts.len() == 1 {
            return Ok(parts.remove(0));
        }
        Ok((
            Occ::Should,
            Query::and(
                parts
                    .into_iter()
                    .map(|(o, q)| match o {
                        Occ::MustNot => Query::negate(q),
                        _ => q,
                    })
                    .collect(),
            ),
        ))
    }

    fn unary(&mut self) -> Result<(Occ, Query), EsError> {
        match self.peek() {
            Some(Tok::Not) | Some(Tok::Minus) => {
                self.pos += 1;
                let (_, q) = self.unary()?;
                Ok((Occ::MustNot, q))
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                let (_, q) = self.unary()?;
                Ok((Occ::Must, q))
            }
            _ => {
                let field = self.default_field.clone();
                Ok((Occ::Should, self.primary(&field)?))
            }
        }
    }

    fn primary(&mut self, field: &str) -> Result<Query, EsError> {
        let tok = self.peek().cloned().ok_or_else(|| err("unexpected end"))?;
        self.pos += 1;
        match tok {
            Tok::Open => {
                let saved = std::mem::replace(&mut self.default_field, field.to_owned());
                let q = self.expr()?;
                self.default_field = saved;
                if self.peek() != Some(&Tok::Close) {
                    return Err(err("missing `)`"));
                }
                self.pos += 1;
                Ok(q)
            }
            Tok::Word(w, wild) => match w.strip_suffix(':') {
                Some(f) if !f.is_empty() => {
                    if f == "_exists_" {
                        return match self.peek().cloned() {
                            Some(Tok::Word(x, _)) => {
                                self.pos += 1;
                                Ok(Query::Exists {
                                    field: field_name(&x),
                                })
                            }
                            _ => Err(err("_exists_ needs a field")),
                        };
                    }
                    self.primary(&field_name(f))
                }
                _ => self.word(field, &w, wild),
            },
            Tok::Phrase(text) => Ok(match field_kind(field) {
                FieldKind::Text => Query::Phrase {
                    field: field.to_owned(),
                    text,
                },
                _ => Query::term(field, &text),
            }),
            Tok::Range(a, inc_a, b, inc_b) => {
                let lower = self.bound(field, &a, inc_a)?;
                let upper = self.bound(field, &b, inc_b)?;
                Ok(Query::Range {
                    field: field.to_owned(),
                    lower,
                    upper,
                })
            }
            other => Err(err(format!("unexpected {other:?}"))),
        }
    }

    fn bound(&self, field: &str, v: &str, inclusive: bool) -> Result<Bound<RangeValue>, EsError> {
        if v == "*" {
            return Ok(Bound::Unbounded);
        }
        let value = match field_kind(field) {
            FieldKind::Time => RangeValue::Num(
                date(&Value::String(v.to_owned()), self.now_ms)
                    .ok_or_else(|| err(format!("[{v}] is not a date")))? as f64,
            ),
            FieldKind::Stored => v
                .parse()
                .map_or_else(|_| RangeValue::Str(v.to_owned()), RangeValue::Num),
            _ => RangeValue::Str(v.to_owned()),
        };
        Ok(if inclusive {
            Bound::Included(value)
        } else {
            Bound::Excluded(value)
        })
    }

    fn word(&self, field: &str, w: &str, wild: bool) -> Result<Query, EsError> {
        let text = field_kind(field) == FieldKind::Text;
        for (op, inclusive, upper) in [
            (">=", true, false),
            ("<=", true, true),
            (">", false, false),
            ("<", false, true),
        ] {
            if let Some(v) = w.strip_prefix(op) {
                let b = self.bound(field, v, inclusive)?;
                let (lower, upper) = if upper {
                    (Bound::Unbounded, b)
                } else {
                    (b, Bound::Unbounded)
                };
                return Ok(Query::Range {
                    field: field.to_owned(),
                    lower,
                    upper,
                });
            }
        }
        if w == "*" {
            return Ok(Query::Exists {
                field: field.to_owned(),
            });
        }
        if wild {
            let pattern = if text { w.to_lowercase() } else { w.to_owned() };
            return Ok(Query::Wildcard {
                field: field.to_owned(),
                pattern,
            });
        }
        if !text {
            return Ok(Query::term(field, w));
        }
        let toks = tokens(w);
        Ok(match toks.len() {
            0 => Query::Nothing,
            1 => Query::term(field, &toks[0].1),
            _ => Query::Phrase {
                field: field.to_owned(),
                text: w.to_owned(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Query {
        parse(s, "message.text", false, 0).unwrap()
    }

    fn t(f: &str, v: &str) -> Query {
        Query::term(f, v)
    }

    #[test]
    fn precedence_and_modifiers() {
        assert_eq!(
            p("a b AND c"),
            Query::or(vec![
                t("message.text", "a"),
                Query::and(vec![t("message.text", "b"), t("message.text", "c")])
            ])
        );
        assert_eq!(
            p("level:error -logger:x"),
            Query::Bool {
                must: vec![],
                should: vec![t("level", "error")],
                must_not: vec![t("logger", "x")],
                min_should: 1
            }
        );
        assert_eq!(
            parse("a b", "message.text", true, 0).unwrap(),
            Query::and(vec![t("message.text", "a"), t("message.text", "b")])
        );
        assert_eq!(
            p("level:(error OR warn)"),
            Query::or(vec![t("level", "error"), t("level", "warn")])
        );
    }

    #[test]
    fn leaves() {
        assert_eq!(
            p("message.text:*FAIL*"),
            Query::Wildcard {
                field: "message.text".into(),
                pattern: "*fail*".into()
            }
        );
        assert_eq!(
            p("\"on vm\""),
            Query::Phrase {
                field: "message.text".into(),
                text: "on vm".into()
            }
        );
        assert_eq!(
            p("_exists_:level"),
            Query::Exists {
                field: "level".into()
            }
        );
        assert_eq!(
            p("context.task_current_retries:[1 TO *}"),
            Query::Range {
                field: "context.task_current_retries".into(),
                lower: Bound::Included(RangeValue::Num(1.0)),
                upper: Bound::Unbounded
            }
        );
        assert_eq!(
            p("vm_1"),
            Query::Phrase {
                field: "message.text".into(),
                text: "vm_1".into()
            }
        );
        assert!(parse("(a", "message.text", false, 0).is_err());
        assert!(parse("\"a", "message.text", false, 0).is_err());
        assert!(
            parse("2E]", "message.text", false, 0).is_err(),
            "a stray closer"
        );
        assert!(parse("a }", "message.text", false, 0).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_errors(text in "[a-zA-Z0-9 :*?\"()\\[\\]{}+!&|<>=.-]{0,60}") {
            let _ = parse(&text, "message.text", false, 0);
            let _ = parse(&text, "level", true, 0);
        }
    }
}
