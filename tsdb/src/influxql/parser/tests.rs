//! Whole-query tests of the parser (statement lists, errors, limits, sources,
//! real client queries, properties) and the helpers the per-grammar test
//! modules share.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::{MAX_QUERY_BYTES, parse};
use crate::influxql::ast::*;

const SECOND: i64 = 1_000_000_000;

/// The single statement `query` parses to; panics otherwise.
pub(super) fn one(query: &str) -> Statement {
    let mut statements = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    assert_eq!(statements.len(), 1, "{query}");
    statements.remove(0)
}

/// The single `SELECT` statement `query` parses to.
pub(super) fn select(query: &str) -> SelectStatement {
    match one(query) {
        Statement::Select(select) => select,
        other => panic!("{query}: {other:?}"),
    }
}

/// The error message `query` fails with; panics if it parses.
pub(super) fn err(query: &str) -> String {
    match parse(query) {
        Ok(statements) => panic!("{query} parsed: {statements:?}"),
        Err(e) => e.message,
    }
}

pub(super) fn var(name: &str) -> Expr {
    Expr::VarRef {
        name: name.to_string(),
        kind: None,
    }
}

pub(super) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call {
        name: name.to_string(),
        args,
    }
}

pub(super) fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

pub(super) fn int(n: i64) -> Expr {
    Expr::Integer(n)
}

/// An unqualified measurement source.
pub(super) fn measurement(name: &str) -> Source {
    Source::Measurement {
        database: None,
        retention_policy: None,
        name: name.to_string(),
    }
}

pub(super) fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[test]
fn misspelt_statement_reads_like_influxdb() {
    assert_eq!(
        err("SELEC * FROM cpu"),
        "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, \
         ALTER, SET, KILL at line 1, char 1"
    );
}

#[test]
fn empty_queries_are_errors() {
    assert_eq!(
        err(""),
        "found EOF, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, \
         ALTER, SET, KILL at line 1, char 1"
    );
    assert!(err("  ;; ").starts_with("found EOF, expected SELECT"));
    assert!(err("-- just a comment").starts_with("found EOF"));
}

#[test]
fn statements_are_separated_by_semicolons() {
    assert_eq!(
        parse("SHOW DATABASES; select * from m;").unwrap(),
        vec![
            Statement::ShowDatabases,
            Statement::Select(SelectStatement {
                fields: vec![Field {
                    expr: Expr::Wildcard { kind: None },
                    alias: None
                }],
                from: vec![measurement("m")],
                ..SelectStatement::default()
            })
        ]
    );
    assert_eq!(
        parse(";;SHOW USERS;;\n;").unwrap(),
        vec![Statement::ShowUsers]
    );
    assert_eq!(
        err("SHOW DATABASES SHOW USERS"),
        "found SHOW, expected ; at line 1, char 16"
    );
    assert_eq!(
        err("SHOW DATABASES; SELEC"),
        "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, \
         ALTER, SET, KILL at line 1, char 17"
    );
}

#[test]
fn errors_point_at_line_and_character() {
    assert_eq!(
        err("SELECT v\nFROM m\nWHERE"),
        "found EOF, expected identifier, string, number, bool at line 3, char 6"
    );
    assert_eq!(
        err("SELECT \"é\" FROM m WHERE x = 'é' +"),
        "found EOF, expected identifier, string, number, bool at line 1, char 34"
    );
}

#[test]
fn keywords_are_reserved_unless_quoted() {
    assert_eq!(
        err("SELECT key FROM m"),
        "found KEY, expected identifier, string, number, bool at line 1, char 8"
    );
    assert_eq!(select("SELECT \"key\" FROM m").fields[0].expr, var("key"));
    assert_eq!(
        select("SeLeCt \"Value\" fRoM \"CPU\"").from,
        vec![measurement("CPU")]
    );
}

#[test]
fn limits_are_errors() {
    let long = format!("SHOW DATABASES{}", " ".repeat(MAX_QUERY_BYTES));
    assert!(err(&long).contains("more than the limit of 65536"));
    let many = ["SHOW DATABASES"; 1001].join(";");
    assert!(err(&many).starts_with("more than 1000 statements"));
    let enough = ["SHOW DATABASES"; 1000].join(";");
    assert_eq!(parse(&enough).unwrap().len(), 1000);
}

#[test]
fn sources_take_every_qualified_form() {
    let from = |text: &str| select(&format!("SELECT v FROM {text}")).from;
    let qualified = |db: Option<&str>, rp: Option<&str>, name: &str| Source::Measurement {
        database: db.map(str::to_string),
        retention_policy: rp.map(str::to_string),
        name: name.to_string(),
    };
    assert_eq!(from("cpu"), vec![measurement("cpu")]);
    assert_eq!(from("\"cpu load\""), vec![measurement("cpu load")]);
    assert_eq!(
        from("db.rp.cpu"),
        vec![qualified(Some("db"), Some("rp"), "cpu")]
    );
    assert_eq!(
        from("\"my db\".\"rp\".\"m.x\""),
        vec![qualified(Some("my db"), Some("rp"), "m.x")]
    );
    assert_eq!(from("db..cpu"), vec![qualified(Some("db"), None, "cpu")]);
    assert_eq!(
        from("autogen.cpu"),
        vec![qualified(None, Some("autogen"), "cpu")]
    );
    assert_eq!(
        from("/^cpu/, mem, db.rp./x/, rp./y/"),
        vec![
            Source::Regex {
                database: None,
                retention_policy: None,
                regex: "^cpu".to_string()
            },
            measurement("mem"),
            Source::Regex {
                database: s("db"),
                retention_policy: s("rp"),
                regex: "x".to_string()
            },
            Source::Regex {
                database: None,
                retention_policy: s("rp"),
                regex: "y".to_string()
            },
        ]
    );
    assert_eq!(
        err("SELECT v FROM a.b.c.d"),
        "found ., expected ; at line 1, char 20"
    );
    assert!(err("SELECT v FROM /[/").contains("invalid regex /[/"));
    assert!(err("SELECT v FROM /abc").starts_with("unterminated regex at line 1, char 15"));
    assert_eq!(
        err("SELECT v FROM 'm'"),
        "found 'm', expected identifier, regex at line 1, char 15"
    );
}

#[test]
fn identifiers_and_strings_unescape() {
    let s = select(r#"SELECT "a \"quoted\" \\ name" FROM m WHERE t = 'it\'s \\ here'"#);
    assert_eq!(s.fields[0].expr, var(r#"a "quoted" \ name"#));
    assert_eq!(
        s.condition,
        Some(bin(
            BinaryOp::Eq,
            var("t"),
            Expr::String(r"it's \ here".to_string())
        ))
    );
}

#[test]
fn grafana_time_series_query() {
    let query = "SELECT mean(\"value\") FROM \"cpu_total_user\" WHERE (\"deployment_id\" =~ /^d1$/) \
                 AND time >= 1451606400000ms and time <= 1451692800000ms \
                 GROUP BY time(10s), \"node_id\" fill(null)";
    assert_eq!(
        one(query),
        Statement::Select(SelectStatement {
            fields: vec![Field {
                expr: call("mean", vec![var("value")]),
                alias: None
            }],
            from: vec![measurement("cpu_total_user")],
            condition: Some(bin(
                BinaryOp::And,
                bin(
                    BinaryOp::And,
                    bin(
                        BinaryOp::EqRegex,
                        var("deployment_id"),
                        Expr::Regex("^d1$".to_string())
                    ),
                    bin(
                        BinaryOp::Gte,
                        var("time"),
                        Expr::Duration(1_451_606_400_000 * 1_000_000)
                    )
                ),
                bin(
                    BinaryOp::Lte,
                    var("time"),
                    Expr::Duration(1_451_692_800_000 * 1_000_000)
                )
            )),
            group_by_time: Some(GroupByTime {
                interval_ns: 10 * SECOND,
                offset_ns: 0
            }),
            group_by_tags: GroupByTags::Tags(vec!["node_id".to_string()]),
            ..SelectStatement::default()
        })
    );
}

#[test]
fn grafana_panel_with_several_queries_and_template_variables() {
    let statements = parse(
        "SELECT non_negative_derivative(mean(\"value\"), 1s) AS \"rate\" FROM \"autogen\".\"net\" \
         WHERE (\"host\" =~ /^(a|b)$/) AND time >= now() - 6h GROUP BY time(1m) fill(none);\
         SHOW TAG VALUES FROM \"net\" WITH KEY = \"host\" WHERE \"dc\" =~ /^eu$/;\
         SHOW MEASUREMENTS LIMIT 1",
    )
    .unwrap();
    assert_eq!(statements.len(), 3);
    let Statement::Select(first) = &statements[0] else {
        panic!("{:?}", statements[0]);
    };
    assert_eq!(first.fields[0].alias.as_deref(), Some("rate"));
    assert_eq!(
        first.from,
        vec![Source::Measurement {
            database: None,
            retention_policy: s("autogen"),
            name: "net".to_string()
        }]
    );
    assert_eq!(
        first.condition,
        Some(bin(
            BinaryOp::And,
            bin(
                BinaryOp::EqRegex,
                var("host"),
                Expr::Regex("^(a|b)$".to_string())
            ),
            bin(
                BinaryOp::Gte,
                var("time"),
                bin(BinaryOp::Sub, Expr::Now, Expr::Duration(6 * 3_600 * SECOND))
            )
        ))
    );
    assert_eq!(first.fill, Fill::None);
    assert!(matches!(
        &statements[1],
        Statement::ShowTagValues {
            key: TagKeyMatch::Eq(key),
            condition: Some(_),
            ..
        } if key == "host"
    ));
    assert_eq!(
        statements[2],
        Statement::ShowMeasurements {
            database: None,
            measurement: None,
            condition: None,
            limit: Some(1),
            offset: None
        }
    );
}

#[test]
fn python_client_statements() {
    let statements = parse(
        "CREATE DATABASE \"db\";\
         CREATE RETENTION POLICY \"rp\" ON \"db\" DURATION INF REPLICATION 1 SHARD DURATION 0s;\
         SELECT * FROM \"m\" WHERE \"host\" = $host;\
         DROP SERIES FROM \"m\" WHERE \"tag\" = 'v'",
    )
    .unwrap();
    assert_eq!(statements.len(), 4);
    assert_eq!(
        statements[2],
        Statement::Select(SelectStatement {
            fields: vec![Field {
                expr: Expr::Wildcard { kind: None },
                alias: None
            }],
            from: vec![measurement("m")],
            condition: Some(bin(
                BinaryOp::Eq,
                var("host"),
                Expr::BoundParam("host".to_string())
            )),
            ..SelectStatement::default()
        })
    );
}

/// Every token InfluxQL knows, and some it does not, for random soups.
const SOUP: &str = r#"SELECT FROM WHERE GROUP BY time(10s) time fill( null ) ( * / /re/ =~ !~
    's' "q" m 1 1.5 10s - + AND OR SHOW TAG VALUES KEYS WITH KEY = IN , ; :: field LIMIT now()
    CREATE DATABASE RETENTION POLICY ON DURATION INF REPLICATION DEFAULT DROP SERIES DELETE
    MEASUREMENTS MEASUREMENT . .. ORDER DESC tz('UTC') $p -- /* DISTINCT AS ALTER */ \ ' ""#;

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn token_soups_never_panic(
        parts in prop::collection::vec(
            prop::sample::select(SOUP.split_ascii_whitespace().collect::<Vec<_>>()),
            0..48,
        ),
        glue in prop::sample::select(vec![" ", "", "\n"]),
    ) {
        let _ = parse(&parts.join(glue));
    }

    #[test]
    fn generated_selects_parse_to_their_parts(
        field in "[a-zA-Z_][a-zA-Z0-9_ .,;'\"\\\\/()=-]{0,12}",
        name in "[a-zA-Z0-9_ .,;'\"\\\\/()=*-]{1,12}",
        tag in "[a-z][a-z0-9_]{0,8}",
        value in "[^\n]{0,10}",
        amount in 1i64..10_000,
        unit in prop::sample::select(vec![
            ("ns", 1i64),
            ("u", 1_000),
            ("ms", 1_000_000),
            ("s", SECOND),
            ("m", 60 * SECOND),
            ("h", 3_600 * SECOND),
            ("d", 86_400 * SECOND),
            ("w", 604_800 * SECOND),
        ]),
        limit in 0u64..1_000_000,
    ) {
        let (suffix, scale) = unit;
        let query = format!(
            "SELECT mean({f}) AS {f} FROM {m} WHERE {t} = {v} AND time > now() - {amount}{suffix} \
             GROUP BY time({amount}{suffix}), {t} fill(none) LIMIT {limit}",
            f = quote_ident(&field),
            m = quote_ident(&name),
            t = quote_ident(&tag),
            v = quote_string(&value),
        );
        let ns = amount * scale;
        let expected = SelectStatement {
            fields: vec![Field {
                expr: call("mean", vec![var(&field)]),
                alias: Some(field.clone()),
            }],
            from: vec![measurement(&name)],
            condition: Some(bin(
                BinaryOp::And,
                bin(BinaryOp::Eq, var(&tag), Expr::String(value.clone())),
                bin(
                    BinaryOp::Gt,
                    var("time"),
                    bin(BinaryOp::Sub, Expr::Now, Expr::Duration(ns)),
                ),
            )),
            group_by_time: Some(GroupByTime { interval_ns: ns, offset_ns: 0 }),
            group_by_tags: GroupByTags::Tags(vec![tag.clone()]),
            fill: Fill::None,
            limit: Some(limit),
            ..SelectStatement::default()
        };
        prop_assert_eq!(parse(&query), Ok(vec![Statement::Select(expected)]));
    }
}
