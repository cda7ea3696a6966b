//! Statements that change things: `CREATE`, `DROP` and `ALTER` of databases,
//! retention policies, measurements and series, and `DELETE`. Users,
//! continuous queries, shards and subscriptions are refused as not supported.

use super::{ParseError, Parser, unsupported};
use crate::influxql::ast::{Expr, RetentionSpec, Source, Statement};
use crate::influxql::lexer::Tok;

impl Parser<'_> {
    /// `CREATE DATABASE ..` or `CREATE RETENTION POLICY ..`, `CREATE` consumed.
    pub(super) fn create(&mut self) -> Result<Statement, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Keyword("DATABASE") => {
                let name = self.ident()?;
                let retention = if self.eat_kw("WITH")? {
                    Some(self.retention_spec()?)
                } else {
                    None
                };
                Ok(Statement::CreateDatabase { name, retention })
            }
            Tok::Keyword("RETENTION") => self.create_retention_policy(),
            Tok::Keyword("USER") => Err(unsupported("CREATE USER", token.pos)),
            Tok::Keyword("CONTINUOUS") => Err(unsupported("CREATE CONTINUOUS QUERY", token.pos)),
            Tok::Keyword("SUBSCRIPTION") => Err(unsupported("CREATE SUBSCRIPTION", token.pos)),
            _ => Err(self.unexpected(
                &token,
                &[
                    "CONTINUOUS",
                    "DATABASE",
                    "USER",
                    "RETENTION",
                    "SUBSCRIPTION",
                ],
            )),
        }
    }

    /// The `WITH` clause of `CREATE DATABASE`: `[DURATION d] [REPLICATION n]
    /// [SHARD DURATION d] [NAME rp]`, in that order, at least one.
    fn retention_spec(&mut self) -> Result<RetentionSpec, ParseError> {
        let duration = if self.eat_kw("DURATION")? {
            Some(self.retention_duration()?)
        } else {
            None
        };
        let replication = if self.eat_kw("REPLICATION")? {
            Some(self.replication()?)
        } else {
            None
        };
        let shard_duration = self.opt_shard_duration()?;
        let name = if self.eat_kw("NAME")? {
            Some(self.ident()?)
        } else {
            None
        };
        let spec = RetentionSpec {
            duration,
            replication,
            shard_duration,
            name,
        };
        if spec == RetentionSpec::default() {
            let token = self.bump()?;
            return Err(self.unexpected(&token, &["DURATION", "NAME", "REPLICATION", "SHARD"]));
        }
        Ok(spec)
    }

    /// `POLICY name ON db DURATION d REPLICATION n [SHARD DURATION d]
    /// [DEFAULT]`, `CREATE RETENTION` consumed.
    fn create_retention_policy(&mut self) -> Result<Statement, ParseError> {
        self.expect_kw("POLICY")?;
        let name = self.ident()?;
        self.expect_kw("ON")?;
        let database = self.ident()?;
        self.expect_kw("DURATION")?;
        let duration = self.retention_duration()?;
        self.expect_kw("REPLICATION")?;
        let replication = self.replication()?;
        let shard_duration = self.opt_shard_duration()?;
        let default = self.eat_kw("DEFAULT")?;
        Ok(Statement::CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        })
    }

    /// `ALTER RETENTION POLICY name ON db` followed by at least one of
    /// `DURATION d`, `REPLICATION n`, `SHARD DURATION d`, `DEFAULT`, in any
    /// order.
    pub(super) fn alter(&mut self) -> Result<Statement, ParseError> {
        self.expect_kw("RETENTION")?;
        self.expect_kw("POLICY")?;
        let name = self.ident()?;
        self.expect_kw("ON")?;
        let database = self.ident()?;
        let mut duration = None;
        let mut replication = None;
        let mut shard_duration = None;
        let mut default = false;
        let mut any = false;
        loop {
            if self.eat_kw("DURATION")? {
                duration = Some(self.retention_duration()?);
            } else if self.eat_kw("REPLICATION")? {
                replication = Some(self.replication()?);
            } else if self.peek_kw("SHARD")? {
                shard_duration = self.opt_shard_duration()?;
            } else if self.eat_kw("DEFAULT")? {
                default = true;
            } else {
                break;
            }
            any = true;
        }
        if !any {
            let token = self.bump()?;
            return Err(self.unexpected(&token, &["DURATION", "REPLICATION", "SHARD", "DEFAULT"]));
        }
        Ok(Statement::AlterRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        })
    }

    /// `DROP ..`, `DROP` consumed.
    pub(super) fn drop_statement(&mut self) -> Result<Statement, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Keyword("DATABASE") => Ok(Statement::DropDatabase {
                name: self.ident()?,
            }),
            Tok::Keyword("MEASUREMENT") => Ok(Statement::DropMeasurement {
                name: self.ident()?,
            }),
            Tok::Keyword("RETENTION") => {
                self.expect_kw("POLICY")?;
                let name = self.ident()?;
                self.expect_kw("ON")?;
                let database = self.ident()?;
                Ok(Statement::DropRetentionPolicy { name, database })
            }
            Tok::Keyword("SERIES") => {
                let (from, condition) = self.sources_and_condition()?;
                Ok(Statement::DropSeries { from, condition })
            }
            Tok::Keyword("USER") => Err(unsupported("DROP USER", token.pos)),
            Tok::Keyword("CONTINUOUS") => Err(unsupported("DROP CONTINUOUS QUERY", token.pos)),
            Tok::Keyword("SHARD") => Err(unsupported("DROP SHARD", token.pos)),
            Tok::Keyword("SUBSCRIPTION") => Err(unsupported("DROP SUBSCRIPTION", token.pos)),
            _ => Err(self.unexpected(
                &token,
                &[
                    "CONTINUOUS",
                    "DATABASE",
                    "MEASUREMENT",
                    "RETENTION",
                    "SERIES",
                    "SHARD",
                    "SUBSCRIPTION",
                    "USER",
                ],
            )),
        }
    }

    /// `DELETE [FROM ..] [WHERE ..]`, `DELETE` consumed.
    pub(super) fn delete(&mut self) -> Result<Statement, ParseError> {
        let (from, condition) = self.sources_and_condition()?;
        Ok(Statement::Delete { from, condition })
    }

    /// `[FROM ..] [WHERE ..]` with at least one of the two.
    fn sources_and_condition(&mut self) -> Result<(Vec<Source>, Option<Expr>), ParseError> {
        let from = self.opt_from()?;
        let condition = self.opt_where()?;
        if from.is_empty() && condition.is_none() {
            let token = self.bump()?;
            return Err(self.unexpected(&token, &["FROM", "WHERE"]));
        }
        Ok((from, condition))
    }

    /// A retention duration: a duration literal, or `INF` (returned as 0).
    fn retention_duration(&mut self) -> Result<i64, ParseError> {
        if self.eat_kw("INF")? {
            return Ok(0);
        }
        self.duration()
    }

    /// `SHARD DURATION d`, if present.
    fn opt_shard_duration(&mut self) -> Result<Option<i64>, ParseError> {
        if !self.eat_kw("SHARD")? {
            return Ok(None);
        }
        self.expect_kw("DURATION")?;
        Ok(Some(self.retention_duration()?))
    }

    /// A replication factor: an integer from 1 to 2147483647.
    fn replication(&mut self) -> Result<u32, ParseError> {
        let pos = self.peek()?.pos;
        let n = self.integer()?;
        match u32::try_from(n) {
            Ok(n) if (1..=i32::MAX.unsigned_abs()).contains(&n) => Ok(n),
            _ => Err(ParseError::at(
                format!("invalid value {n}: must be 1 <= n <= 2147483647"),
                pos,
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::{err, measurement, one, s, var};
    use crate::influxql::ast::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn host_is_a() -> Option<Expr> {
        Some(Expr::Binary {
            op: BinaryOp::Eq,
            lhs: Box::new(var("host")),
            rhs: Box::new(Expr::String("a".to_string())),
        })
    }

    #[test]
    fn create_and_drop_database() {
        assert_eq!(
            one("CREATE DATABASE \"my db\""),
            Statement::CreateDatabase {
                name: "my db".to_string(),
                retention: None
            }
        );
        assert_eq!(
            one("create database db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME \"rp\""),
            Statement::CreateDatabase {
                name: "db".to_string(),
                retention: Some(RetentionSpec {
                    duration: Some(24 * HOUR),
                    replication: Some(1),
                    shard_duration: Some(HOUR),
                    name: s("rp")
                })
            }
        );
        assert_eq!(
            one("CREATE DATABASE db WITH NAME rp"),
            Statement::CreateDatabase {
                name: "db".to_string(),
                retention: Some(RetentionSpec {
                    name: s("rp"),
                    ..RetentionSpec::default()
                })
            }
        );
        assert_eq!(
            err("CREATE DATABASE db WITH"),
            "found EOF, expected DURATION, NAME, REPLICATION, SHARD at line 1, char 24"
        );
        assert_eq!(
            one("DROP DATABASE db"),
            Statement::DropDatabase {
                name: "db".to_string()
            }
        );
    }

    #[test]
    fn create_retention_policy() {
        assert_eq!(
            one("CREATE RETENTION POLICY \"rp\" ON \"db\" DURATION INF REPLICATION 1"),
            Statement::CreateRetentionPolicy {
                name: "rp".to_string(),
                database: "db".to_string(),
                duration: 0,
                replication: 1,
                shard_duration: None,
                default: false
            }
        );
        assert_eq!(
            one(
                "CREATE RETENTION POLICY rp ON db DURATION 1w REPLICATION 2 SHARD DURATION 0s DEFAULT"
            ),
            Statement::CreateRetentionPolicy {
                name: "rp".to_string(),
                database: "db".to_string(),
                duration: 168 * HOUR,
                replication: 2,
                shard_duration: Some(0),
                default: true
            }
        );
        assert!(
            err("CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 0")
                .starts_with("invalid value 0: must be 1 <= n <= 2147483647")
        );
        assert!(
            err("CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 2147483648")
                .starts_with("invalid value 2147483648")
        );
        assert!(
            err("CREATE RETENTION POLICY rp ON db REPLICATION 1").contains("expected DURATION")
        );
    }

    #[test]
    fn alter_and_drop_retention_policy() {
        assert_eq!(
            one("ALTER RETENTION POLICY rp ON db DEFAULT SHARD DURATION 2h DURATION 2d"),
            Statement::AlterRetentionPolicy {
                name: "rp".to_string(),
                database: "db".to_string(),
                duration: Some(48 * HOUR),
                replication: None,
                shard_duration: Some(2 * HOUR),
                default: true
            }
        );
        assert_eq!(
            one("ALTER RETENTION POLICY rp ON db REPLICATION 3"),
            Statement::AlterRetentionPolicy {
                name: "rp".to_string(),
                database: "db".to_string(),
                duration: None,
                replication: Some(3),
                shard_duration: None,
                default: false
            }
        );
        assert_eq!(
            err("ALTER RETENTION POLICY rp ON db"),
            "found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 32"
        );
        assert_eq!(
            one("DROP RETENTION POLICY \"rp\" ON \"db\""),
            Statement::DropRetentionPolicy {
                name: "rp".to_string(),
                database: "db".to_string()
            }
        );
    }

    #[test]
    fn drop_measurement_series_and_delete() {
        assert_eq!(
            one("DROP MEASUREMENT \"cpu load\""),
            Statement::DropMeasurement {
                name: "cpu load".to_string()
            }
        );
        assert_eq!(
            one("DROP SERIES FROM cpu WHERE host = 'a'"),
            Statement::DropSeries {
                from: vec![measurement("cpu")],
                condition: host_is_a()
            }
        );
        assert_eq!(
            one("DROP SERIES WHERE host = 'a'"),
            Statement::DropSeries {
                from: vec![],
                condition: host_is_a()
            }
        );
        assert_eq!(
            one("DELETE FROM cpu"),
            Statement::Delete {
                from: vec![measurement("cpu")],
                condition: None
            }
        );
        assert_eq!(
            one("DELETE WHERE host = 'a'"),
            Statement::Delete {
                from: vec![],
                condition: host_is_a()
            }
        );
        assert_eq!(
            err("DELETE"),
            "found EOF, expected FROM, WHERE at line 1, char 7"
        );
        assert!(err("DROP SERIES").contains("expected FROM, WHERE"));
    }

    #[test]
    fn unsupported_admin_statements() {
        let cases = [
            ("CREATE USER bob WITH PASSWORD 'x'", "CREATE USER", 8),
            (
                "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT 1 END",
                "CREATE CONTINUOUS QUERY",
                8,
            ),
            ("DROP USER bob", "DROP USER", 6),
            ("DROP SHARD 1", "DROP SHARD", 6),
            ("GRANT ALL TO bob", "GRANT", 1),
            ("REVOKE ALL FROM bob", "REVOKE", 1),
            ("KILL QUERY 1", "KILL", 1),
            ("EXPLAIN SELECT * FROM m", "EXPLAIN", 1),
            ("SET PASSWORD FOR bob = 'x'", "SET", 1),
        ];
        for (query, what, column) in cases {
            assert_eq!(
                err(query),
                format!("{what} is not supported yet by cfyd at line 1, char {column}"),
                "{query}"
            );
        }
        assert!(err("ALTER USER bob").starts_with("found USER, expected RETENTION"));
    }
}
