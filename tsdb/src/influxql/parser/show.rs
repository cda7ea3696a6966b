//! `SHOW` statements: DATABASES, MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD
//! KEYS, SERIES, RETENTION POLICIES, USERS. The other SHOW forms InfluxDB
//! knows are refused as not supported.

use super::{ParseError, Parser, unsupported};
use crate::influxql::ast::{MeasurementMatch, Statement, TagKeyMatch};
use crate::influxql::lexer::Tok;

/// What may follow `SHOW`, in InfluxDB's order.
const SHOW_TARGETS: &[&str] = &[
    "CONTINUOUS",
    "DATABASES",
    "DIAGNOSTICS",
    "FIELD",
    "GRANTS",
    "MEASUREMENT",
    "MEASUREMENTS",
    "QUERIES",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SHARDS",
    "STATS",
    "SUBSCRIPTIONS",
    "TAG",
    "USERS",
];

impl Parser<'_> {
    /// A `SHOW` statement, the keyword already consumed.
    pub(super) fn show(&mut self) -> Result<Statement, ParseError> {
        let token = self.bump()?;
        let target = match token.tok {
            Tok::Keyword(keyword) if SHOW_TARGETS.contains(&keyword) => keyword,
            _ => return Err(self.unexpected(&token, SHOW_TARGETS)),
        };
        match target {
            "DATABASES" => Ok(Statement::ShowDatabases),
            "USERS" => Ok(Statement::ShowUsers),
            "MEASUREMENTS" => self.show_measurements(),
            "TAG" => {
                let token = self.bump()?;
                match token.tok {
                    Tok::Keyword("KEYS") => self.show_tag_keys(),
                    Tok::Keyword("VALUES") => {
                        self.refuse_cardinality("SHOW TAG VALUES CARDINALITY")?;
                        self.show_tag_values()
                    }
                    Tok::Keyword("KEY") => Err(unsupported("SHOW TAG KEY CARDINALITY", token.pos)),
                    _ => Err(self.unexpected(&token, &["KEYS", "VALUES"])),
                }
            }
            "FIELD" => {
                let token = self.bump()?;
                match token.tok {
                    Tok::Keyword("KEYS") => self.show_field_keys(),
                    Tok::Keyword("KEY") => {
                        Err(unsupported("SHOW FIELD KEY CARDINALITY", token.pos))
                    }
                    _ => Err(self.unexpected(&token, &["KEYS"])),
                }
            }
            "SERIES" => {
                self.refuse_cardinality("SHOW SERIES CARDINALITY")?;
                self.show_series()
            }
            "RETENTION" => {
                self.expect_kw("POLICIES")?;
                let database = self.on_database()?;
                Ok(Statement::ShowRetentionPolicies { database })
            }
            "CONTINUOUS" => Err(unsupported("SHOW CONTINUOUS QUERIES", token.pos)),
            "MEASUREMENT" => Err(unsupported("SHOW MEASUREMENT CARDINALITY", token.pos)),
            "SHARD" => Err(unsupported("SHOW SHARD GROUPS", token.pos)),
            other => Err(unsupported(&format!("SHOW {other}"), token.pos)),
        }
    }

    /// Fails with `<what> is not supported` when `CARDINALITY` or `EXACT`
    /// comes next.
    fn refuse_cardinality(&mut self, what: &str) -> Result<(), ParseError> {
        if self.peek_kw("CARDINALITY")? || self.peek_kw("EXACT")? {
            let pos = self.peek()?.pos;
            return Err(unsupported(what, pos));
        }
        Ok(())
    }

    /// `[ON db] [WITH MEASUREMENT = m | =~ /re/] [WHERE ..] [LIMIT n] [OFFSET n]`
    fn show_measurements(&mut self) -> Result<Statement, ParseError> {
        let database = self.on_database()?;
        let measurement = if self.eat_kw("WITH")? {
            self.expect_kw("MEASUREMENT")?;
            let token = self.bump()?;
            Some(match token.tok {
                Tok::Eq => MeasurementMatch::Eq(self.name_or_string()?),
                Tok::EqRegex => MeasurementMatch::Regex(self.regex()?),
                _ => return Err(self.unexpected(&token, &["=", "=~"])),
            })
        } else {
            None
        };
        let condition = self.opt_where()?;
        let limit = self.opt_integer("LIMIT")?;
        let offset = self.opt_integer("OFFSET")?;
        Ok(Statement::ShowMeasurements {
            database,
            measurement,
            condition,
            limit,
            offset,
        })
    }

    /// `[ON db] [FROM ..] [WHERE ..] [LIMIT n] [OFFSET n]`
    fn show_tag_keys(&mut self) -> Result<Statement, ParseError> {
        let database = self.on_database()?;
        let from = self.opt_from()?;
        let condition = self.opt_where()?;
        let limit = self.opt_integer("LIMIT")?;
        let offset = self.opt_integer("OFFSET")?;
        Ok(Statement::ShowTagKeys {
            database,
            from,
            condition,
            limit,
            offset,
        })
    }

    /// `[ON db] [FROM ..] WITH KEY (= k | != k | =~ /re/ | !~ /re/ | IN (k, ..))
    /// [WHERE ..] [LIMIT n] [OFFSET n]`
    fn show_tag_values(&mut self) -> Result<Statement, ParseError> {
        let database = self.on_database()?;
        let from = self.opt_from()?;
        self.expect_kw("WITH")?;
        self.expect_kw("KEY")?;
        let token = self.bump()?;
        let key = match token.tok {
            Tok::Eq => TagKeyMatch::Eq(self.name_or_string()?),
            Tok::NotEq => TagKeyMatch::NotEq(self.name_or_string()?),
            Tok::EqRegex => TagKeyMatch::Regex(self.regex()?),
            Tok::NotEqRegex => TagKeyMatch::NotRegex(self.regex()?),
            Tok::Keyword("IN") => TagKeyMatch::In(self.name_list()?),
            _ => return Err(self.unexpected(&token, &["=", "!=", "=~", "!~", "IN"])),
        };
        let condition = self.opt_where()?;
        let limit = self.opt_integer("LIMIT")?;
        let offset = self.opt_integer("OFFSET")?;
        Ok(Statement::ShowTagValues {
            database,
            from,
            key,
            condition,
            limit,
            offset,
        })
    }

    /// `[ON db] [FROM ..] [LIMIT n] [OFFSET n]`
    fn show_field_keys(&mut self) -> Result<Statement, ParseError> {
        let database = self.on_database()?;
        let from = self.opt_from()?;
        let limit = self.opt_integer("LIMIT")?;
        let offset = self.opt_integer("OFFSET")?;
        Ok(Statement::ShowFieldKeys {
            database,
            from,
            limit,
            offset,
        })
    }

    /// `[ON db] [FROM ..] [WHERE ..] [LIMIT n] [OFFSET n]`
    fn show_series(&mut self) -> Result<Statement, ParseError> {
        let database = self.on_database()?;
        let from = self.opt_from()?;
        let condition = self.opt_where()?;
        let limit = self.opt_integer("LIMIT")?;
        let offset = self.opt_integer("OFFSET")?;
        Ok(Statement::ShowSeries {
            database,
            from,
            condition,
            limit,
            offset,
        })
    }

    /// An identifier, or (leniently) a string literal naming one.
    fn name_or_string(&mut self) -> Result<String, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Ident(name) | Tok::Str(name) => Ok(name),
            _ => Err(self.unexpected(&token, &["identifier", "string"])),
        }
    }

    /// `(name, name, ...)`
    fn name_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect_tok(&Tok::LParen, "(")?;
        let mut names = Vec::new();
        loop {
            names.push(self.name_or_string()?);
            let token = self.bump()?;
            match token.tok {
                Tok::Comma => {}
                Tok::RParen => return Ok(names),
                _ => return Err(self.unexpected(&token, &[",", ")"])),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::{err, measurement, one, s, var};
    use crate::influxql::ast::*;

    fn host_is(value: &str) -> Expr {
        Expr::Binary {
            op: BinaryOp::Eq,
            lhs: Box::new(var("host")),
            rhs: Box::new(Expr::String(value.to_string())),
        }
    }

    #[test]
    fn show_databases_and_users() {
        assert_eq!(one("SHOW DATABASES"), Statement::ShowDatabases);
        assert_eq!(one("show users"), Statement::ShowUsers);
    }

    #[test]
    fn show_measurements() {
        assert_eq!(
            one("SHOW MEASUREMENTS"),
            Statement::ShowMeasurements {
                database: None,
                measurement: None,
                condition: None,
                limit: None,
                offset: None
            }
        );
        assert_eq!(
            one("SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu.*/ LIMIT 100"),
            Statement::ShowMeasurements {
                database: None,
                measurement: Some(MeasurementMatch::Regex("cpu.*".to_string())),
                condition: None,
                limit: Some(100),
                offset: None
            }
        );
        assert_eq!(
            one(
                "SHOW MEASUREMENTS ON \"db\" WITH MEASUREMENT = \"cpu\" WHERE host = 'a' LIMIT 1 OFFSET 2"
            ),
            Statement::ShowMeasurements {
                database: s("db"),
                measurement: Some(MeasurementMatch::Eq("cpu".to_string())),
                condition: Some(host_is("a")),
                limit: Some(1),
                offset: Some(2)
            }
        );
        assert!(err("SHOW MEASUREMENTS WITH MEASUREMENT != cpu").contains("expected =, =~"));
    }

    #[test]
    fn show_tag_keys() {
        assert_eq!(
            one("SHOW TAG KEYS FROM \"cpu\""),
            Statement::ShowTagKeys {
                database: None,
                from: vec![measurement("cpu")],
                condition: None,
                limit: None,
                offset: None
            }
        );
        assert_eq!(
            one("SHOW TAG KEYS ON db FROM cpu, /^mem/ WHERE host = 'x' LIMIT 5 OFFSET 1"),
            Statement::ShowTagKeys {
                database: s("db"),
                from: vec![
                    measurement("cpu"),
                    Source::Regex {
                        database: None,
                        retention_policy: None,
                        regex: "^mem".to_string()
                    }
                ],
                condition: Some(host_is("x")),
                limit: Some(5),
                offset: Some(1)
            }
        );
    }

    #[test]
    fn show_tag_values() {
        let with_key = |key: TagKeyMatch| Statement::ShowTagValues {
            database: None,
            from: vec![],
            key,
            condition: None,
            limit: None,
            offset: None,
        };
        let cases = [
            ("= \"host\"", TagKeyMatch::Eq("host".to_string())),
            ("= host", TagKeyMatch::Eq("host".to_string())),
            ("!= 'host'", TagKeyMatch::NotEq("host".to_string())),
            ("=~ /^h/", TagKeyMatch::Regex("^h".to_string())),
            ("!~ /^h/", TagKeyMatch::NotRegex("^h".to_string())),
            (
                "IN (\"a\",\"b\")",
                TagKeyMatch::In(vec!["a".to_string(), "b".to_string()]),
            ),
        ];
        for (text, key) in cases {
            assert_eq!(
                one(&format!("SHOW TAG VALUES WITH KEY {text}")),
                with_key(key),
                "{text}"
            );
        }
        assert_eq!(
            one(
                "SHOW TAG VALUES ON db FROM \"cpu\" WITH KEY = \"host\" WHERE host = 'a' LIMIT 3 OFFSET 4"
            ),
            Statement::ShowTagValues {
                database: s("db"),
                from: vec![measurement("cpu")],
                key: TagKeyMatch::Eq("host".to_string()),
                condition: Some(host_is("a")),
                limit: Some(3),
                offset: Some(4)
            }
        );
        assert_eq!(
            err("SHOW TAG VALUES FROM cpu"),
            "found EOF, expected WITH at line 1, char 25"
        );
        assert!(err("SHOW TAG VALUES WITH KEY IN (a b)").contains("expected ,, )"));
    }

    #[test]
    fn show_field_keys_series_and_retention_policies() {
        assert_eq!(
            one("SHOW FIELD KEYS FROM \"m\" LIMIT 2"),
            Statement::ShowFieldKeys {
                database: None,
                from: vec![measurement("m")],
                limit: Some(2),
                offset: None
            }
        );
        assert_eq!(
            one("SHOW SERIES FROM cpu WHERE host = 'a' LIMIT 10"),
            Statement::ShowSeries {
                database: None,
                from: vec![measurement("cpu")],
                condition: Some(host_is("a")),
                limit: Some(10),
                offset: None
            }
        );
        assert_eq!(
            one("SHOW RETENTION POLICIES ON \"db\""),
            Statement::ShowRetentionPolicies { database: s("db") }
        );
        assert_eq!(
            one("SHOW RETENTION POLICIES"),
            Statement::ShowRetentionPolicies { database: None }
        );
    }

    #[test]
    fn other_show_forms_are_refused() {
        let cases = [
            ("SHOW GRANTS FOR bob", "SHOW GRANTS"),
            ("SHOW CONTINUOUS QUERIES", "SHOW CONTINUOUS QUERIES"),
            ("SHOW SHARD GROUPS", "SHOW SHARD GROUPS"),
            ("SHOW SERIES CARDINALITY", "SHOW SERIES CARDINALITY"),
            (
                "SHOW TAG VALUES EXACT CARDINALITY",
                "SHOW TAG VALUES CARDINALITY",
            ),
            (
                "SHOW MEASUREMENT CARDINALITY",
                "SHOW MEASUREMENT CARDINALITY",
            ),
            ("SHOW FIELD KEY CARDINALITY", "SHOW FIELD KEY CARDINALITY"),
        ];
        for (query, what) in cases {
            let message = err(query);
            assert!(
                message.starts_with(&format!("{what} is not supported yet by cfyd")),
                "{query}: {message}"
            );
        }
        assert!(err("SHOW TABLES").starts_with("found TABLES, expected CONTINUOUS, DATABASES,"));
    }
}
