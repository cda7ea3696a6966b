//! The query AST: what the Elasticsearch DSL parses into, what the index
//! translates to tantivy and what the reference evaluator runs on JSON
//! documents.

use std::ops::Bound;

use serde_json::Value;

/// Paths indexed as exact keywords (raw terms, fast for sort and
/// aggregations). `_id` is the document id, kept outside `_source`.
pub const KEYWORDS: &[&str] = &[
    "_id",
    "type",
    "event_type",
    "level",
    "logger",
    "context.execution_id",
    "context.deployment_id",
    "context.blueprint_id",
    "context.workflow_id",
    "context.node_id",
    "context.node_name",
    "context.node_instance_id",
    "context.task_id",
    "context.task_name",
    "context.operation",
    "context.plugin",
];

/// Paths analyzed as text (tantivy's default tokenizer: split on
/// non-alphanumerics, lowercased, tokens of 40 bytes and more dropped).
pub const TEXT_FIELDS: &[&str] = &["message.text"];

/// The time field: a date, compared as epoch milliseconds.
pub const TIME_FIELD: &str = "@timestamp";

/// How a path is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Time,
    Text,
    Keyword,
    /// Only in the stored document: matched by the evaluator.
    Stored,
}

pub fn field_kind(field: &str) -> FieldKind {
    if field == TIME_FIELD {
        FieldKind::Time
    } else if TEXT_FIELDS.contains(&field) {
        FieldKind::Text
    } else if KEYWORDS.contains(&field) {
        FieldKind::Keyword
    } else {
        FieldKind::Stored
    }
}

/// A range bound value: numbers (and dates, as epoch milliseconds) or strings.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeValue {
    Num(f64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    All,
    Nothing,
    /// Any of the exact values (keyword semantics; on a text field, one token).
    Term {
        field: String,
        values: Vec<String>,
    },
    /// Any (or, with `all`, every) token of `text` (text fields only).
    Match {
        field: String,
        text: String,
        all: bool,
    },
    /// The tokens of `text` at consecutive positions (text fields only).
    Phrase {
        field: String,
        text: String,
    },
    Range {
        field: String,
        lower: Bound<RangeValue>,
        upper: Bound<RangeValue>,
    },
    Prefix {
        field: String,
        prefix: String,
    },
    /// `*` any run of characters, `?` one character.
    Wildcard {
        field: String,
        pattern: String,
    },
    Exists {
        field: String,
    },
    Ids(Vec<String>),
    Bool {
        must: Vec<Query>,
        should: Vec<Query>,
        must_not: Vec<Query>,
        min_should: usize,
    },
}

impl Query {
    /// A conjunction, flattening trivial cases.
    pub fn and(mut clauses: Vec<Query>) -> Query {
        clauses.retain(|c| *c != Query::All);
        match clauses.len() {
            0 => Query::All,
            1 => clauses.pop().unwrap_or(Query::All),
            _ => Query::Bool {
                must: clauses,
                should: Vec::new(),
                must_not: Vec::new(),
                min_should: 0,
            },
        }
    }

    /// A disjunction.
    pub fn or(mut clauses: Vec<Query>) -> Query {
        match clauses.len() {
            0 => Query::Nothing,
            1 => clauses.pop().unwrap_or(Query::Nothing),
            _ => Query::Bool {
                must: Vec::new(),
                should: clauses,
                must_not: Vec::new(),
                min_should: 1,
            },
        }
    }

    pub fn negate(clause: Query) -> Query {
        Query::Bool {
            must: Vec::new(),
            should: Vec::new(),
            must_not: vec![clause],
            min_should: 0,
        }
    }

    pub fn term(field: &str, value: &str) -> Query {
        Query::Term {
            field: field.to_owned(),
            values: vec![value.to_owned()],
        }
    }
}

/// One sort key. `_score` and `_doc` (ingestion order) are special.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub field: String,
    pub descending: bool,
}

/// What `_source` a hit carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SourceFilter {
    #[default]
    All,
    None,
    /// Glob patterns on dotted paths.
    Some {
        includes: Vec<String>,
        excludes: Vec<String>,
    },
}

/// How `hits.total` is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotalHits {
    /// A plain number, as Cloudify and ES before 7 read it.
    #[default]
    Number,
    /// ES 7's `{value, relation}`, counted up to the limit.
    Object { limit: Option<usize> },
    /// `track_total_hits: false`.
    Omitted,
}

/// A whole search request.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub query: Query,
    pub sort: Vec<Sort>,
    pub from: usize,
    pub size: usize,
    pub search_after: Option<Vec<Value>>,
    pub source: SourceFilter,
    pub total: TotalHits,
    /// The `aggs` request, in the aggregation JSON tantivy shares with ES.
    pub aggs: Option<Value>,
}

impl Default for Search {
    fn default() -> Search {
        Search {
            query: Query::All,
            sort: Vec::new(),
            from: 0,
            size: 10,
            search_after: None,
            source: SourceFilter::All,
            total: TotalHits::Number,
            aggs: None,
        }
    }
}
