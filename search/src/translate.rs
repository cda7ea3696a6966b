//! The query AST as tantivy queries. [`exact`] translates a query when the
//! index alone can answer it; [`candidates`] gives a superset for the
//! evaluator to check when it cannot (paths only in the stored document).

use std::ops::Bound;

use tantivy::query::{
    AllQuery, BitSetDocSet, BooleanQuery, ConstScorer, EmptyQuery, EnableScoring, ExistsQuery,
    Explanation, Occur, PhraseQuery, Query as TQuery, RangeQuery, RegexQuery, Scorer, TermQuery,
    TermSetQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DateTime, DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

use crate::eval::tokens;
use crate::query::{FieldKind, Query, RangeValue, field_kind};

/// The schema fields translation needs.
pub(crate) struct Fields {
    pub source: Field,
    pub version: Field,
    pub key: Field,
    pub seq: Field,
    pub ts: Field,
    pub text: Field,
    pub keywords: Vec<(&'static str, Field)>,
}

impl Fields {
    pub fn keyword(&self, name: &str) -> Option<Field> {
        self.keywords
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, f)| *f)
    }
}

type Boxed = Box<dyn TQuery>;

fn term_query(t: Term) -> Boxed {
    Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs))
}

/// Every character of `s` as a literal in a regular expression.
fn escape_literal(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_string()
            } else {
                format!("\\x{{{:X}}}", c as u32)
            }
        })
        .collect()
}

/// A glob as a regular expression over whole terms, every literal escaped.
fn glob_regex(pattern: &str) -> String {
    pattern
        .split('*')
        .map(|part| {
            part.split('?')
                .map(escape_literal)
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect::<Vec<_>>()
        .join(".*")
}

/// The field that holds terms of `field`, if it is indexed.
fn term_field(f: &Fields, field: &str) -> Option<Field> {
    match field_kind(field) {
        FieldKind::Text => Some(f.text),
        FieldKind::Keyword => f.keyword(field),
        _ => None,
    }
}

fn millis_bound(b: &Bound<RangeValue>, lower: bool) -> Option<Bound<i64>> {
    Some(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(RangeValue::Num(x)) => {
            Bound::Included(if lower { x.ceil() } else { x.floor() } as i64)
        }
        Bound::Excluded(RangeValue::Num(x)) => Bound::Included(if lower {
            x.floor() as i64 + 1
        } else {
            x.ceil() as i64 - 1
        }),
        _ => return None,
    })
}

/// The exact tantivy query, or `None` when some part needs the evaluator.
pub(crate) fn exact(q: &Query, f: &Fields) -> Option<Boxed> {
    Some(match q {
        Query::All => Box::new(AllQuery),
        Query::Nothing => Box::new(EmptyQuery),
        Query::Term { field, values } => {
            let tf = term_field(f, field)?;
            let terms: Vec<Term> = values
                .iter()
                .map(|v| Term::from_field_text(tf, v))
                .collect();
            match terms.len() {
                1 => term_query(terms[0].clone()),
                _ => Box::new(TermSetQuery::new(terms)),
            }
        }
        Query::Match { field, text, all } => {
            if field_kind(field) != FieldKind::Text {
                return None;
            }
            let clauses: Vec<(Occur, Boxed)> = tokens(text)
                .into_iter()
                .map(|(_, t)| {
                    let occur = if *all { Occur::Must } else { Occur::Should };
                    (occur, term_query(Term::from_field_text(f.text, &t)))
                })
                .collect();
            if clauses.is_empty() {
                Box::new(EmptyQuery)
            } else {
                Box::new(BooleanQuery::new(clauses))
            }
        }
        Query::Phrase { field, text } => {
            if field_kind(field) != FieldKind::Text {
                return None;
            }
            let toks = tokens(text);
            let base = toks.first().map_or(0, |t| t.0);
            let terms: Vec<(usize, Term)> = toks
                .into_iter()
                .map(|(p, t)| (p - base, Term::from_field_text(f.text, &t)))
                .collect();
            match terms.len() {
                0 => Box::new(EmptyQuery),
                1 => term_query(terms[0].1.clone()),
                _ => Box::new(Materialized(Box::new(PhraseQuery::new_with_offset(terms)))),
            }
        }
        Query::Range {
            field,
            lower,
            upper,
        } => {
            if field_kind(field) != FieldKind::Time {
                return None;
            }
            let date = |b: Bound<i64>| {
                b.map(|ms| Term::from_field_date(f.ts, DateTime::from_timestamp_millis(ms)))
            };
            let (lo, hi) = (millis_bound(lower, true)?, millis_bound(upper, false)?);
            if let (Bound::Included(a), Bound::Included(b)) = (lo, hi)
                && a > b
            {
                return Some(Box::new(EmptyQuery));
            }
            Box::new(RangeQuery::new(date(lo), date(hi)))
        }
        Query::Prefix { field, prefix } => {
            let tf = term_field(f, field)?;
            let re = format!("{}.*", escape_literal(prefix));
            Box::new(RegexQuery::from_pattern(&re, tf).ok()?)
        }
        Query::Wildcard { field, pattern } => {
            let tf = term_field(f, field)?;
            Box::new(RegexQuery::from_pattern(&glob_regex(pattern), tf).ok()?)
        }
        Query::Exists { field } => match field_kind(field) {
            _ if field == "_id" => Box::new(AllQuery),
            FieldKind::Time | FieldKind::Keyword => {
                Box::new(ExistsQuery::new(field.clone(), false))
            }
            _ => return None,
        },
        Query::Ids(ids) => {
            let idf = f.keyword("_id")?;
            Box::new(TermSetQuery::new(
                ids.iter().map(|i| Term::from_field_text(idf, i)),
            ))
        }
        Query::Bool {
            must,
            should,
            must_not,
            min_should,
        } => {
            let mut clauses: Vec<(Occur, Boxed)> = Vec::new();
            for c in must {
                clauses.push((Occur::Must, exact(c, f)?));
            }
            for c in must_not {
                clauses.push((Occur::MustNot, exact(c, f)?));
            }
            if *min_should > should.len() {
                return Some(Box::new(EmptyQuery));
            }
            if *min_should > 0 {
                let any = should
                    .iter()
                    .map(|c| Some((Occur::Should, exact(c, f)?)))
                    .collect::<Option<Vec<_>>>()?;
                clauses.push((
                    Occur::Must,
                    Box::new(BooleanQuery::with_minimum_required_clauses(
                        any,
                        *min_should,
                    )),
                ));
            }
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
    })
}

/// A query answered by running its inner query to the end first.
/// tantivy 0.27's phrase scorer asserts (in debug builds) when an
/// exclusion seeks it backwards; a materialized doc list seeks safely.
#[derive(Debug)]
struct Materialized(Boxed);

impl Clone for Materialized {
    fn clone(&self) -> Materialized {
        Materialized(self.0.box_clone())
    }
}

impl TQuery for Materialized {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(MaterializedWeight(self.0.weight(scoring)?)))
    }
}

struct MaterializedWeight(Box<dyn Weight>);

impl Weight for MaterializedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut inner = self.0.scorer(reader, boost)?;
        let mut docs = BitSet::with_max_value(reader.max_doc());
        let mut doc = inner.doc();
        while doc != TERMINATED {
            docs.insert(doc);
            doc = inner.advance();
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

/// A query whose matches include every match of `q`.
pub(crate) fn candidates(q: &Query, f: &Fields) -> Boxed {
    if let Some(e) = exact(q, f) {
        return e;
    }
    match q {
        Query::Bool {
            must,
            should,
            min_should,
            ..
        } => {
            let mut clauses: Vec<(Occur, Boxed)> = must
                .iter()
                .map(|c| (Occur::Must, candidates(c, f)))
                .collect();
            if *min_should > 0 {
                let any = should
                    .iter()
                    .map(|c| (Occur::Should, candidates(c, f)))
                    .collect();
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
            }
            if clauses.is_empty() {
                Box::new(AllQuery)
            } else {
                Box::new(BooleanQuery::new(clauses))
            }
        }
        _ => Box::new(AllQuery),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_escape_every_literal() {
        assert_eq!(glob_regex("a*b?.c"), "a.*b.\\x{2E}c");
    }
}
