//! `SELECT fields FROM sources [WHERE ..] [GROUP BY ..] [fill(..)]
//! [ORDER BY time [ASC|DESC]] [LIMIT n] [OFFSET n] [SLIMIT n] [SOFFSET n]
//! [tz('..')]`, clauses in that order, as in InfluxDB.

use super::{ParseError, Parser, unsupported};
use crate::influxql::ast::{Field, Fill, GroupByTags, GroupByTime, SelectStatement, VarKind};
use crate::influxql::lexer::{Pos, Tok};

impl Parser<'_> {
    /// A `SELECT` statement, the keyword already consumed.
    pub(super) fn select(&mut self) -> Result<SelectStatement, ParseError> {
        let fields = self.fields()?;
        if self.peek_kw("INTO")? {
            let pos = self.peek()?.pos;
            return Err(unsupported("SELECT INTO", pos));
        }
        self.expect_kw("FROM")?;
        let from = self.sources()?;
        let condition = self.opt_where()?;
        let (group_by_time, group_by_tags) = if self.eat_kw("GROUP")? {
            self.expect_kw("BY")?;
            self.dimensions()?
        } else {
            (None, GroupByTags::None)
        };
        let fill = self.fill()?;
        let order_desc = self.order_by()?;
        let limit = self.opt_integer("LIMIT")?;
        let offset = self.opt_integer("OFFSET")?;
        let slimit = self.opt_integer("SLIMIT")?;
        let soffset = self.opt_integer("SOFFSET")?;
        let tz = self.tz()?;
        Ok(SelectStatement {
            fields,
            from,
            condition,
            group_by_time,
            group_by_tags,
            fill,
            order_desc,
            limit,
            offset,
            slimit,
            soffset,
            tz,
        })
    }

    /// `expr [AS alias], ...`
    fn fields(&mut self) -> Result<Vec<Field>, ParseError> {
        let mut fields = Vec::new();
        loop {
            let expr = self.expr()?;
            let alias = if self.eat_kw("AS")? {
                Some(self.ident()?)
            } else {
                None
            };
            fields.push(Field { expr, alias });
            if !self.eat(&Tok::Comma)? {
                return Ok(fields);
            }
        }
    }

    /// `GROUP BY` dimensions: `time(interval[, offset])`, tag names, `*`,
    /// `/regex/`, comma-separated.
    fn dimensions(&mut self) -> Result<(Option<GroupByTime>, GroupByTags), ParseError> {
        let mut time = None;
        let mut tags = GroupByTags::None;
        loop {
            let token = self.bump()?;
            let is_time = matches!(&token.tok, Tok::Ident(name) if name.eq_ignore_ascii_case("time"))
                && self.peek_is(&Tok::LParen)?;
            match token.tok {
                Tok::Ident(_) if is_time => {
                    if time.is_some() {
                        return Err(ParseError::at("multiple time dimensions", token.pos));
                    }
                    time = Some(self.time_dimension()?);
                }
                Tok::Ident(name) => {
                    if let Some(kind) = self.opt_kind()?
                        && kind != VarKind::Tag
                    {
                        return Err(ParseError::at(
                            format!("cannot group by the field {name}"),
                            token.pos,
                        ));
                    }
                    tags = add_tag(tags, name, token.pos)?;
                }
                Tok::Mul => tags = GroupByTags::All,
                Tok::Div => {
                    let regex = self.regex_after(&token)?;
                    tags = match tags {
                        GroupByTags::None => GroupByTags::Regex(regex),
                        GroupByTags::All => GroupByTags::All,
                        GroupByTags::Tags(_) | GroupByTags::Regex(_) => {
                            return Err(mixed_dimensions(token.pos));
                        }
                    };
                }
                _ => {
                    return Err(self.unexpected(&token, &["time()", "identifier", "*", "regex"]));
                }
            }
            if !self.eat(&Tok::Comma)? {
                return Ok((time, tags));
            }
        }
    }

    /// `(interval[, offset])` after `time`. The interval must be positive;
    /// the offset may carry a sign.
    fn time_dimension(&mut self) -> Result<GroupByTime, ParseError> {
        self.expect_tok(&Tok::LParen, "(")?;
        let pos = self.peek()?.pos;
        let interval_ns = self.duration()?;
        if interval_ns <= 0 {
            return Err(ParseError::at(
                "time dimension must have a positive duration",
                pos,
            ));
        }
        let offset_ns = if self.eat(&Tok::Comma)? {
            self.signed_duration()?
        } else {
            0
        };
        self.expect_tok(&Tok::RParen, ")")?;
        Ok(GroupByTime {
            interval_ns,
            offset_ns,
        })
    }

    /// A duration literal with an optional `-` or `+` sign.
    fn signed_duration(&mut self) -> Result<i64, ParseError> {
        if self.eat(&Tok::Minus)? {
            return Ok(-self.duration()?);
        }
        self.eat(&Tok::Plus)?;
        self.duration()
    }

    /// `fill(null|none|previous|linear|<number>)`, or `Fill::Null` when
    /// absent.
    fn fill(&mut self) -> Result<Fill, ParseError> {
        if !self.peek_word("fill")? {
            return Ok(Fill::Null);
        }
        self.bump()?;
        self.expect_tok(&Tok::LParen, "(")?;
        let negative = self.eat(&Tok::Minus)?;
        let token = self.bump()?;
        let fill = match &token.tok {
            Tok::Integer(n) => Some(Fill::Value(*n as f64)),
            Tok::Number(x) => Some(Fill::Value(*x)),
            Tok::Ident(word) if !negative => match word.to_ascii_lowercase().as_str() {
                "null" => Some(Fill::Null),
                "none" => Some(Fill::None),
                "previous" => Some(Fill::Previous),
                "linear" => Some(Fill::Linear),
                _ => None,
            },
            _ => None,
        };
        let fill = match fill {
            Some(Fill::Value(x)) if negative => Fill::Value(-x),
            Some(fill) => fill,
            None => {
                return Err(
                    self.unexpected(&token, &["null", "none", "previous", "linear", "number"])
                );
            }
        };
        self.expect_tok(&Tok::RParen, ")")?;
        Ok(fill)
    }

    /// `ORDER BY time [ASC|DESC]` (or just `ORDER BY ASC|DESC`); returns
    /// whether the order is descending.
    fn order_by(&mut self) -> Result<bool, ParseError> {
        if !self.eat_kw("ORDER")? {
            return Ok(false);
        }
        self.expect_kw("BY")?;
        if self.peek_word("time")? {
            self.bump()?;
        } else if !self.peek_kw("ASC")? && !self.peek_kw("DESC")? {
            let pos = self.peek()?.pos;
            return Err(ParseError::at(
                "only ORDER BY time supported at this time",
                pos,
            ));
        }
        if self.eat_kw("DESC")? {
            return Ok(true);
        }
        self.eat_kw("ASC")?;
        Ok(false)
    }

    /// `tz('Area/City')`, if present.
    fn tz(&mut self) -> Result<Option<String>, ParseError> {
        if !self.peek_word("tz")? {
            return Ok(None);
        }
        self.bump()?;
        self.expect_tok(&Tok::LParen, "(")?;
        let token = self.bump()?;
        let zone = match token.tok {
            Tok::Str(zone) => zone,
            _ => return Err(self.unexpected(&token, &["string"])),
        };
        self.expect_tok(&Tok::RParen, ")")?;
        Ok(Some(zone))
    }
}

/// Adds a tag name to the tag dimensions seen so far.
fn add_tag(tags: GroupByTags, name: String, pos: Pos) -> Result<GroupByTags, ParseError> {
    match tags {
        GroupByTags::None => Ok(GroupByTags::Tags(vec![name])),
        GroupByTags::All => Ok(GroupByTags::All),
        GroupByTags::Tags(mut names) => {
            names.push(name);
            Ok(GroupByTags::Tags(names))
        }
        GroupByTags::Regex(_) => Err(mixed_dimensions(pos)),
    }
}

fn mixed_dimensions(pos: Pos) -> ParseError {
    unsupported("GROUP BY a regex together with other tag dimensions", pos)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::{call, err, measurement, one, select, var};
    use crate::influxql::ast::*;

    fn dims(text: &str) -> (Option<GroupByTime>, GroupByTags) {
        let s = select(&format!("SELECT mean(v) FROM m GROUP BY {text}"));
        (s.group_by_time, s.group_by_tags)
    }

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn minimal_select() {
        assert_eq!(
            one("SELECT * FROM cpu"),
            Statement::Select(SelectStatement {
                fields: vec![Field {
                    expr: Expr::Wildcard { kind: None },
                    alias: None
                }],
                from: vec![measurement("cpu")],
                ..SelectStatement::default()
            })
        );
    }

    #[test]
    fn fields_with_aliases_and_distinct() {
        let s = select(
            "select mean(\"value\") AS \"m\", value*2, percentile(v, 95), DISTINCT host, \
             count(distinct(h)), *::field from m",
        );
        let fields: Vec<(Expr, Option<String>)> =
            s.fields.into_iter().map(|f| (f.expr, f.alias)).collect();
        assert_eq!(
            fields,
            vec![
                (call("mean", vec![var("value")]), Some("m".to_string())),
                (
                    Expr::Binary {
                        op: BinaryOp::Mul,
                        lhs: Box::new(var("value")),
                        rhs: Box::new(Expr::Integer(2))
                    },
                    None
                ),
                (call("percentile", vec![var("v"), Expr::Integer(95)]), None),
                (call("distinct", vec![var("host")]), None),
                (call("count", vec![call("distinct", vec![var("h")])]), None),
                (
                    Expr::Wildcard {
                        kind: Some(VarKind::Field)
                    },
                    None
                ),
            ]
        );
    }

    #[test]
    fn derivatives_take_a_unit() {
        let s = select("SELECT non_negative_derivative(mean(\"value\"), 1s) FROM m");
        assert_eq!(
            s.fields[0].expr,
            call(
                "non_negative_derivative",
                vec![call("mean", vec![var("value")]), Expr::Duration(SECOND)]
            )
        );
    }

    #[test]
    fn every_trailing_clause() {
        let s = select(
            "SELECT last(v) FROM m WHERE time > now() - 1h GROUP BY time(1h, -15m), host, \"dc\" \
             fill(previous) ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 4 \
             tz('Europe/Paris')",
        );
        assert_eq!(
            s.group_by_time,
            Some(GroupByTime {
                interval_ns: 3_600 * SECOND,
                offset_ns: -900 * SECOND
            })
        );
        assert_eq!(
            s.group_by_tags,
            GroupByTags::Tags(vec!["host".to_string(), "dc".to_string()])
        );
        assert_eq!(s.fill, Fill::Previous);
        assert!(s.order_desc);
        assert_eq!(
            (s.limit, s.offset, s.slimit, s.soffset),
            (Some(10), Some(2), Some(3), Some(4))
        );
        assert_eq!(s.tz.as_deref(), Some("Europe/Paris"));
        assert!(s.condition.is_some());
    }

    #[test]
    fn group_by_forms() {
        let ten = Some(GroupByTime {
            interval_ns: 10 * SECOND,
            offset_ns: 0,
        });
        assert_eq!(dims("time(10s)"), (ten, GroupByTags::None));
        assert_eq!(dims("*"), (None, GroupByTags::All));
        assert_eq!(dims("host, *, time(10s)"), (ten, GroupByTags::All));
        assert_eq!(dims("/^h/"), (None, GroupByTags::Regex("^h".to_string())));
        assert_eq!(
            dims("TIME(10s, 5s), \"node_id\"::tag"),
            (
                Some(GroupByTime {
                    interval_ns: 10 * SECOND,
                    offset_ns: 5 * SECOND
                }),
                GroupByTags::Tags(vec!["node_id".to_string()])
            )
        );
        assert!(err("SELECT v FROM m GROUP BY time(10s), time(1m)").contains("multiple time"));
        assert!(err("SELECT v FROM m GROUP BY time(0s)").contains("positive duration"));
        assert!(err("SELECT v FROM m GROUP BY time(10)").contains("expected duration"));
        assert!(err("SELECT v FROM m GROUP BY host, /h/").contains("not supported yet"));
        assert!(err("SELECT v FROM m GROUP BY v::field").contains("cannot group by"));
    }

    #[test]
    fn fill_forms() {
        let cases = [
            ("fill(null)", Fill::Null),
            ("fill(none)", Fill::None),
            ("FILL(Previous)", Fill::Previous),
            ("fill(linear)", Fill::Linear),
            ("fill(0)", Fill::Value(0.0)),
            ("fill(-1.5)", Fill::Value(-1.5)),
            ("fill(-2)", Fill::Value(-2.0)),
            ("", Fill::Null),
        ];
        for (text, fill) in cases {
            let s = select(&format!("SELECT mean(v) FROM m GROUP BY time(1m) {text}"));
            assert_eq!(s.fill, fill, "{text}");
        }
        assert_eq!(select("SELECT mean(v) FROM m fill(none)").fill, Fill::None);
        assert_eq!(
            err("SELECT v FROM m fill(some)"),
            "found some, expected null, none, previous, linear, number at line 1, char 22"
        );
        assert!(err("SELECT v FROM m fill(-none)").contains("found none"));
    }

    #[test]
    fn order_by_forms() {
        assert!(!select("SELECT v FROM m ORDER BY time").order_desc);
        assert!(!select("SELECT v FROM m ORDER BY time asc").order_desc);
        assert!(select("SELECT v FROM m order by DESC").order_desc);
        assert_eq!(
            err("SELECT v FROM m ORDER BY host"),
            "only ORDER BY time supported at this time at line 1, char 26"
        );
    }

    #[test]
    fn unsupported_select_forms() {
        assert_eq!(
            err("SELECT v INTO m2 FROM m"),
            "SELECT INTO is not supported yet by cfyd at line 1, char 10"
        );
        assert_eq!(
            err("SELECT v FROM (SELECT v FROM m)"),
            "a subquery is not supported yet by cfyd at line 1, char 15"
        );
    }

    #[test]
    fn malformed_selects() {
        assert_eq!(
            err("SELECT v"),
            "found EOF, expected FROM at line 1, char 9"
        );
        assert_eq!(
            err("SELECT FROM m"),
            "found FROM, expected identifier, string, number, bool at line 1, char 8"
        );
        assert_eq!(
            err("SELECT v FROM m LIMIT -1"),
            "found -, expected integer at line 1, char 23"
        );
        assert_eq!(
            err("SELECT v FROM m LIMIT 1 garbage"),
            "found garbage, expected ; at line 1, char 25"
        );
        assert!(err("SELECT v FROM m tz(1)").contains("expected string"));
    }
}
