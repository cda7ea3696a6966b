//! The InfluxQL syntax tree: what `parse` returns.
//!
//! Durations are `i64` nanoseconds throughout. Names (databases, retention
//! policies, measurements, tags, fields) keep the case they were written in,
//! without their quotes or escapes.

use std::fmt;

/// One InfluxQL statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `SELECT ...`
    Select(SelectStatement),
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT = m | =~ /re/] [WHERE ..] [LIMIT n] [OFFSET n]`
    ShowMeasurements {
        /// The `ON` database; `None` means the request's `db`.
        database: Option<String>,
        /// The `WITH MEASUREMENT` filter.
        measurement: Option<MeasurementMatch>,
        /// The `WHERE` condition (on tags).
        condition: Option<Expr>,
        /// `LIMIT n`
        limit: Option<u64>,
        /// `OFFSET n`
        offset: Option<u64>,
    },
    /// `SHOW TAG KEYS [ON db] [FROM ..] [WHERE ..] [LIMIT n] [OFFSET n]`
    ShowTagKeys {
        /// The `ON` database.
        database: Option<String>,
        /// The `FROM` sources; empty means all measurements.
        from: Vec<Source>,
        /// The `WHERE` condition.
        condition: Option<Expr>,
        /// `LIMIT n`
        limit: Option<u64>,
        /// `OFFSET n`
        offset: Option<u64>,
    },
    /// `SHOW TAG VALUES [ON db] [FROM ..] WITH KEY .. [WHERE ..] [LIMIT n] [OFFSET n]`
    ShowTagValues {
        /// The `ON` database.
        database: Option<String>,
        /// The `FROM` sources; empty means all measurements.
        from: Vec<Source>,
        /// Which tag keys to list values of.
        key: TagKeyMatch,
        /// The `WHERE` condition.
        condition: Option<Expr>,
        /// `LIMIT n`
        limit: Option<u64>,
        /// `OFFSET n`
        offset: Option<u64>,
    },
    /// `SHOW FIELD KEYS [ON db] [FROM ..] [LIMIT n] [OFFSET n]`
    ShowFieldKeys {
        /// The `ON` database.
        database: Option<String>,
        /// The `FROM` sources; empty means all measurements.
        from: Vec<Source>,
        /// `LIMIT n`
        limit: Option<u64>,
        /// `OFFSET n`
        offset: Option<u64>,
    },
    /// `SHOW SERIES [ON db] [FROM ..] [WHERE ..] [LIMIT n] [OFFSET n]`
    ShowSeries {
        /// The `ON` database.
        database: Option<String>,
        /// The `FROM` sources; empty means all measurements.
        from: Vec<Source>,
        /// The `WHERE` condition.
        condition: Option<Expr>,
        /// `LIMIT n`
        limit: Option<u64>,
        /// `OFFSET n`
        offset: Option<u64>,
    },
    /// `SHOW RETENTION POLICIES [ON db]`
    ShowRetentionPolicies {
        /// The `ON` database.
        database: Option<String>,
    },
    /// `SHOW USERS`
    ShowUsers,
    /// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`
    CreateDatabase {
        /// The new database.
        name: String,
        /// The `WITH` clause: the default retention policy to create.
        retention: Option<RetentionSpec>,
    },
    /// `DROP DATABASE name`
    DropDatabase {
        /// The database to drop.
        name: String,
    },
    /// `CREATE RETENTION POLICY name ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT]`
    CreateRetentionPolicy {
        /// The policy's name.
        name: String,
        /// The database it belongs to.
        database: String,
        /// How long data is kept, in nanoseconds; 0 means forever (`INF`).
        duration: i64,
        /// The replication factor (accepted, meaningless on one node).
        replication: u32,
        /// `SHARD DURATION`, in nanoseconds; 0 or `None` means the default.
        shard_duration: Option<i64>,
        /// Whether `DEFAULT` was given.
        default: bool,
    },
    /// `ALTER RETENTION POLICY name ON db [DURATION d] [REPLICATION n] [SHARD DURATION d] [DEFAULT]`
    AlterRetentionPolicy {
        /// The policy's name.
        name: String,
        /// The database it belongs to.
        database: String,
        /// New duration in nanoseconds (0 = `INF`).
        duration: Option<i64>,
        /// New replication factor.
        replication: Option<u32>,
        /// New shard duration in nanoseconds.
        shard_duration: Option<i64>,
        /// Whether `DEFAULT` was given.
        default: bool,
    },
    /// `DROP RETENTION POLICY name ON db`
    DropRetentionPolicy {
        /// The policy's name.
        name: String,
        /// The database it belongs to.
        database: String,
    },
    /// `DROP MEASUREMENT name`
    DropMeasurement {
        /// The measurement to drop.
        name: String,
    },
    /// `DROP SERIES [FROM ..] [WHERE ..]` (at least one of the two)
    DropSeries {
        /// The `FROM` sources; empty means all measurements.
        from: Vec<Source>,
        /// The `WHERE` condition (on tags).
        condition: Option<Expr>,
    },
    /// `DELETE [FROM ..] [WHERE ..]` (at least one of the two)
    Delete {
        /// The `FROM` sources; empty means all measurements.
        from: Vec<Source>,
        /// The `WHERE` condition (on tags and time).
        condition: Option<Expr>,
    },
}

impl Statement {
    /// Whether the statement only reads (`SELECT`, `SHOW ...`). InfluxDB 1.x
    /// warns when anything else comes in a GET request.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Statement::Select(_)
                | Statement::ShowDatabases
                | Statement::ShowMeasurements { .. }
                | Statement::ShowTagKeys { .. }
                | Statement::ShowTagValues { .. }
                | Statement::ShowFieldKeys { .. }
                | Statement::ShowSeries { .. }
                | Statement::ShowRetentionPolicies { .. }
                | Statement::ShowUsers
        )
    }
}

/// A `SELECT` statement. `Default` is an empty statement, handy for building
/// one field by field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectStatement {
    /// The selected expressions, in order.
    pub fields: Vec<Field>,
    /// The `FROM` sources, at least one.
    pub from: Vec<Source>,
    /// The `WHERE` condition.
    pub condition: Option<Expr>,
    /// `GROUP BY time(interval[, offset])`
    pub group_by_time: Option<GroupByTime>,
    /// The tag dimensions of `GROUP BY`.
    pub group_by_tags: GroupByTags,
    /// `fill(..)`; `Fill::Null` when absent, as in InfluxDB.
    pub fill: Fill,
    /// `ORDER BY time DESC`
    pub order_desc: bool,
    /// `LIMIT n` (points per series)
    pub limit: Option<u64>,
    /// `OFFSET n` (points per series)
    pub offset: Option<u64>,
    /// `SLIMIT n` (series)
    pub slimit: Option<u64>,
    /// `SOFFSET n` (series)
    pub soffset: Option<u64>,
    /// `tz('Area/City')`
    pub tz: Option<String>,
}

/// One selected expression with its `AS` alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// The name given with `AS`.
    pub alias: Option<String>,
}

/// A measurement, or a regex over measurement names, optionally qualified by
/// database and retention policy (`db.rp.m`, `db..m`, `rp.m`).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A measurement by name.
    Measurement {
        /// The database; `None` means the request's `db`.
        database: Option<String>,
        /// The retention policy; `None` means the database's default.
        retention_policy: Option<String>,
        /// The measurement's name.
        name: String,
    },
    /// Every measurement whose name the regex matches.
    Regex {
        /// The database; `None` means the request's `db`.
        database: Option<String>,
        /// The retention policy; `None` means the database's default.
        retention_policy: Option<String>,
        /// The regex, without its slashes (`\/` already unescaped).
        regex: String,
    },
}

impl Source {
    /// The database this source names, if any.
    pub fn database(&self) -> Option<&str> {
        match self {
            Source::Measurement { database, .. } | Source::Regex { database, .. } => {
                database.as_deref()
            }
        }
    }

    /// The retention policy this source names, if any.
    pub fn retention_policy(&self) -> Option<&str> {
        match self {
            Source::Measurement {
                retention_policy, ..
            }
            | Source::Regex {
                retention_policy, ..
            } => retention_policy.as_deref(),
        }
    }
}

/// The `WITH MEASUREMENT` filter of `SHOW MEASUREMENTS`.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementMatch {
    /// `= name`
    Eq(String),
    /// `=~ /regex/`
    Regex(String),
}

/// The `WITH KEY` filter of `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeyMatch {
    /// `= "key"`
    Eq(String),
    /// `!= "key"`
    NotEq(String),
    /// `IN ("a", "b")`
    In(Vec<String>),
    /// `=~ /regex/`
    Regex(String),
    /// `!~ /regex/`
    NotRegex(String),
}

/// `GROUP BY time(interval[, offset])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupByTime {
    /// Bucket width in nanoseconds, always positive.
    pub interval_ns: i64,
    /// Offset as written, in nanoseconds: may be negative or exceed the
    /// interval, so bucket arithmetic should use `rem_euclid(interval_ns)`.
    pub offset_ns: i64,
}

/// The tag dimensions of `GROUP BY`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum GroupByTags {
    /// No tag dimension.
    #[default]
    None,
    /// `GROUP BY *`: every tag.
    All,
    /// `GROUP BY host, "region"`: these tags, in order.
    Tags(Vec<String>),
    /// `GROUP BY /regex/`: every tag whose key the regex matches.
    Regex(String),
}

/// `fill(..)`: what empty `GROUP BY time` buckets become.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fill {
    /// `fill(null)`, the default: empty buckets report null.
    #[default]
    Null,
    /// `fill(none)`: empty buckets are left out.
    None,
    /// `fill(previous)`: the previous bucket's value.
    Previous,
    /// `fill(linear)`: linear interpolation between neighbours.
    Linear,
    /// `fill(0)`, `fill(-1.5)`: a constant.
    Value(f64),
}

/// An expression. Parentheses are not kept: the tree's shape says it all.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `*`, `*::field` or `*::tag`.
    Wildcard {
        /// The `::field` / `::tag` restriction.
        kind: Option<VarKind>,
    },
    /// A field or tag name: `value`, `"value"`, `"host"::tag`.
    VarRef {
        /// The name, unquoted.
        name: String,
        /// The `::field` / `::tag` restriction.
        kind: Option<VarKind>,
    },
    /// A function call: `mean(value)`, `percentile(value, 95)`.
    Call {
        /// The function's name, lowercased.
        name: String,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// A float literal: `1.5`, `.5`, `1e3`.
    Number(f64),
    /// An integer literal: `42`.
    Integer(i64),
    /// A string literal, unescaped: `'text'`.
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// A duration literal in nanoseconds: `10s`, `1h30m`, `1451606400000ms`.
    Duration(i64),
    /// A regex literal, without its slashes: `/^cpu/`.
    Regex(String),
    /// `now()`
    Now,
    /// A bound parameter, without its `$`: `$host`.
    BoundParam(String),
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
}

/// The `::field` / `::tag` suffix of a variable reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// `::field`
    Field,
    /// `::tag`
    Tag,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`
    EqRegex,
    /// `!~`
    NotEqRegex,
    /// `AND`
    And,
    /// `OR`
    Or,
}

impl BinaryOp {
    /// Binding strength, 1 (weakest, `OR`) to 5 (`*`, `/`, `%`).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::Lte
            | BinaryOp::Gt
            | BinaryOp::Gte
            | BinaryOp::EqRegex
            | BinaryOp::NotEqRegex => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
        }
    }

    /// The operator as InfluxQL writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::EqRegex => "=~",
            BinaryOp::NotEqRegex => "!~",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `WITH` clause of `CREATE DATABASE`: the default retention policy to
/// create with the database. At least one of the fields is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionSpec {
    /// `DURATION d` in nanoseconds (0 = `INF`).
    pub duration: Option<i64>,
    /// `REPLICATION n`
    pub replication: Option<u32>,
    /// `SHARD DURATION d` in nanoseconds.
    pub shard_duration: Option<i64>,
    /// `NAME rp`
    pub name: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn precedence_orders_or_and_comparison_additive_multiplicative() {
        let order = [
            BinaryOp::Or,
            BinaryOp::And,
            BinaryOp::Eq,
            BinaryOp::Add,
            BinaryOp::Mul,
        ];
        for pair in order.windows(2) {
            assert!(pair[0].precedence() < pair[1].precedence(), "{pair:?}");
        }
        assert_eq!(BinaryOp::NotEqRegex.precedence(), BinaryOp::Lt.precedence());
        assert_eq!(BinaryOp::Mod.precedence(), BinaryOp::Div.precedence());
    }

    #[test]
    fn binary_op_displays_as_written() {
        assert_eq!(BinaryOp::EqRegex.to_string(), "=~");
        assert_eq!(BinaryOp::And.to_string(), "AND");
    }

    #[test]
    fn select_defaults_to_fill_null_and_no_grouping() {
        let select = SelectStatement::default();
        assert_eq!(select.fill, Fill::Null);
        assert_eq!(select.group_by_tags, GroupByTags::None);
        assert!(!select.order_desc);
    }

    #[test]
    fn read_only_statements_are_select_and_show() {
        assert!(Statement::ShowUsers.is_read_only());
        assert!(Statement::Select(SelectStatement::default()).is_read_only());
        let drop = Statement::DropDatabase {
            name: "db".to_string(),
        };
        assert!(!drop.is_read_only());
    }

    #[test]
    fn source_accessors_return_qualifiers() {
        let source = Source::Regex {
            database: Some("db".to_string()),
            retention_policy: None,
            regex: "^cpu".to_string(),
        };
        assert_eq!(source.database(), Some("db"));
        assert_eq!(source.retention_policy(), None);
    }
}
