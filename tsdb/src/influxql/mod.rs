//! InfluxQL, the query language of InfluxDB 1.x: a pure, sans-IO parser from
//! query text to an AST, plus the duration helpers InfluxDB's HTTP API needs.
//!
//! ```
//! use tsdb::influxql::{Statement, parse};
//!
//! let statements = parse("SHOW DATABASES; SHOW USERS").unwrap();
//! assert_eq!(statements, vec![Statement::ShowDatabases, Statement::ShowUsers]);
//! ```
//!
//! What the parser decides and what it leaves to the executor:
//!
//! - Parentheses do not survive parsing: `(a OR b) AND c` is simply a
//!   `Binary { op: And, .. }` whose left side is the `OR`.
//! - Time literals stay as written: `'2016-01-01T00:00:00Z'` is a string,
//!   `1451606400000ms` a duration (nanoseconds since the epoch), `now()` is
//!   `Expr::Now`. Converting them to instants is the executor's job.
//! - Function names are lowercased but not checked; a call is any identifier
//!   followed by parentheses.
//! - Regex literals are checked to compile with the `regex` crate.
//! - Keywords are case-insensitive and reserved, as in InfluxDB: a tag called
//!   `key` or `name` must be written `"key"` or `"name"`.
//! - Statements cfyd does not implement (GRANT, KILL, SELECT INTO, subqueries,
//!   CREATE USER, ...) are parse errors reading `<X> is not supported yet by
//!   cfyd`.

pub mod ast;
mod duration;
mod lexer;
mod parser;

pub use ast::*;
pub use duration::{format_duration, parse_duration};
pub use parser::{MAX_EXPR_DEPTH, MAX_NESTING, MAX_QUERY_BYTES, MAX_STATEMENTS, ParseError, parse};
