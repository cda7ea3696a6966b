//! The InfluxQL parser: `parse` turns query text into statements.
//!
//! Recursive descent over tokens the lexer produces one at a time, with one
//! token of lookahead. Errors read like InfluxDB 1.x's (`found X, expected Y
//! at line L, char C`); statements cfyd does not implement fail with `<X> is
//! not supported yet by cfyd`. Every limit below is an error, never a panic or
//! a stack overflow.
//!
//! The grammar is split by statement family: `select` (SELECT), `show` (SHOW),
//! `admin` (CREATE, DROP, ALTER, DELETE), and `expr` for expressions.

mod admin;
mod expr;
mod select;
mod show;

use std::fmt;

use super::ast::{Expr, Source, Statement};
use super::lexer::{Lexer, Pos, Tok, Token};

/// The longest query text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// The most statements one query may hold.
pub const MAX_STATEMENTS: usize = 1000;
/// The deepest nesting of parentheses, function calls and unary operators
/// within one expression.
pub const MAX_NESTING: usize = 64;
/// The deepest expression tree accepted (a chain of 300 `OR`s is 300 deep
/// without any parentheses). Keeps recursive consumers of the tree safe.
pub const MAX_EXPR_DEPTH: usize = 256;

/// The words a statement may start with, in InfluxDB's order.
const STATEMENT_STARTS: &[&str] = &[
    "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER", "SET",
    "KILL",
];

/// Why query text could not be parsed, worded as InfluxDB 1.x words it, e.g.
/// `found SELEC, expected SELECT, DELETE, ... at line 1, char 1`. The HTTP
/// layer prefixes `error parsing query: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The whole message, position included when one is known.
    pub message: String,
}

impl ParseError {
    /// An error with no position.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// An error at `pos`: `<message> at line L, char C`.
    pub(crate) fn at(message: impl fmt::Display, pos: Pos) -> Self {
        Self {
            message: format!("{message} at line {}, char {}", pos.line, pos.column),
        }
    }
}

/// `<what> is not supported yet by cfyd`, at `pos`.
fn unsupported(what: &str, pos: Pos) -> ParseError {
    ParseError::at(format!("{what} is not supported yet by cfyd"), pos)
}

/// Parses `;`-separated InfluxQL statements. Empty statements (`;;`, a
/// trailing `;`) are skipped; text holding no statement at all is an error,
/// and so is any error in any statement.
pub fn parse(text: &str) -> Result<Vec<Statement>, ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError::new(format!(
            "query is {} bytes long, more than the limit of {MAX_QUERY_BYTES}",
            text.len()
        )));
    }
    let mut parser = Parser::new(text);
    let mut statements = Vec::new();
    loop {
        while parser.eat(&Tok::Semicolon)? {}
        let start = parser.peek()?;
        if start.tok == Tok::Eof {
            break;
        }
        if statements.len() >= MAX_STATEMENTS {
            return Err(ParseError::at(
                format!("more than {MAX_STATEMENTS} statements"),
                start.pos,
            ));
        }
        statements.push(parser.statement()?);
        if !matches!(parser.peek()?.tok, Tok::Semicolon | Tok::Eof) {
            let token = parser.bump()?;
            return Err(parser.unexpected(&token, &[";"]));
        }
    }
    if statements.is_empty() {
        let token = parser.bump()?;
        return Err(parser.unexpected(&token, STATEMENT_STARTS));
    }
    Ok(statements)
}

/// Parser state: the text (for error messages), the lexer, one token of
/// lookahead, and the current expression nesting.
struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    nesting: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            lexer: Lexer::new(src),
            peeked: None,
            nesting: 0,
        }
    }

    /// The next token, without consuming it.
    fn peek(&mut self) -> Result<&Token, ParseError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        let token: &Token = self.peeked.insert(token);
        Ok(token)
    }

    /// Consumes and returns the next token.
    fn bump(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn peek_is(&mut self, tok: &Tok) -> Result<bool, ParseError> {
        Ok(self.peek()?.tok == *tok)
    }

    /// Consumes the next token if it is `tok`.
    fn eat(&mut self, tok: &Tok) -> Result<bool, ParseError> {
        let hit = self.peek_is(tok)?;
        if hit {
            self.bump()?;
        }
        Ok(hit)
    }

    fn peek_kw(&mut self, kw: &str) -> Result<bool, ParseError> {
        Ok(matches!(self.peek()?.tok, Tok::Keyword(k) if k == kw))
    }

    /// Consumes the next token if it is the keyword `kw` (upper case).
    fn eat_kw(&mut self, kw: &str) -> Result<bool, ParseError> {
        let hit = self.peek_kw(kw)?;
        if hit {
            self.bump()?;
        }
        Ok(hit)
    }

    /// Whether the next token is the unreserved word `word`, in any case
    /// (`fill`, `tz`, `time`).
    fn peek_word(&mut self, word: &str) -> Result<bool, ParseError> {
        Ok(matches!(&self.peek()?.tok, Tok::Ident(name) if name.eq_ignore_ascii_case(word)))
    }

    /// Consumes `tok` or fails with `found X, expected <shown>`.
    fn expect_tok(&mut self, tok: &Tok, shown: &str) -> Result<Token, ParseError> {
        let token = self.bump()?;
        if token.tok == *tok {
            Ok(token)
        } else {
            Err(self.unexpected(&token, &[shown]))
        }
    }

    /// Consumes the keyword `kw` or fails.
    fn expect_kw(&mut self, kw: &str) -> Result<Token, ParseError> {
        let token = self.bump()?;
        if matches!(token.tok, Tok::Keyword(k) if k == kw) {
            Ok(token)
        } else {
            Err(self.unexpected(&token, &[kw]))
        }
    }

    /// An identifier, bare or quoted.
    fn ident(&mut self) -> Result<String, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Ident(name) => Ok(name),
            _ => Err(self.unexpected(&token, &["identifier"])),
        }
    }

    /// A non-negative integer literal.
    fn integer(&mut self) -> Result<u64, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Integer(n) if n >= 0 => Ok(n.unsigned_abs()),
            _ => Err(self.unexpected(&token, &["integer"])),
        }
    }

    /// A duration literal, in nanoseconds.
    fn duration(&mut self) -> Result<i64, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Duration(ns) => Ok(ns),
            _ => Err(self.unexpected(&token, &["duration"])),
        }
    }

    /// A regex literal `/.../`.
    fn regex(&mut self) -> Result<String, ParseError> {
        let token = self.bump()?;
        if token.tok == Tok::Div {
            self.regex_after(&token)
        } else {
            Err(self.unexpected(&token, &["regex"]))
        }
    }

    /// The regex literal opened by `slash`, which must be the token consumed
    /// last (so nothing was lexed after it). The regex must compile.
    fn regex_after(&mut self, slash: &Token) -> Result<String, ParseError> {
        let body = self.lexer.regex_body(slash.pos)?;
        if let Err(err) = regex::Regex::new(&body) {
            let text = err.to_string();
            let reason = text.lines().next_back().unwrap_or_default();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            return Err(ParseError::at(
                format!("invalid regex /{body}/: {reason}"),
                slash.pos,
            ));
        }
        Ok(body)
    }

    /// `found X, expected A, B` at the token.
    fn unexpected(&self, token: &Token, expected: &[&str]) -> ParseError {
        let found = match &token.tok {
            Tok::Eof => "EOF",
            Tok::Keyword(keyword) => *keyword,
            _ => self
                .src
                .get(token.pos.offset..token.end)
                .unwrap_or_default(),
        };
        ParseError::at(
            format!("found {found}, expected {}", expected.join(", ")),
            token.pos,
        )
    }

    /// Enters one level of expression nesting, failing past `MAX_NESTING`.
    fn enter(&mut self, pos: Pos) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(ParseError::at(
                format!("expression nested more than {MAX_NESTING} levels deep"),
                pos,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    /// One statement, from its first keyword.
    fn statement(&mut self) -> Result<Statement, ParseError> {
        let token = self.bump()?;
        let keyword = match token.tok {
            Tok::Keyword(keyword) => keyword,
            _ => return Err(self.unexpected(&token, STATEMENT_STARTS)),
        };
        match keyword {
            "SELECT" => Ok(Statement::Select(self.select()?)),
            "SHOW" => self.show(),
            "CREATE" => self.create(),
            "DROP" => self.drop_statement(),
            "DELETE" => self.delete(),
            "ALTER" => self.alter(),
            "EXPLAIN" | "GRANT" | "REVOKE" | "SET" | "KILL" => Err(unsupported(keyword, token.pos)),
            _ => Err(self.unexpected(&token, STATEMENT_STARTS)),
        }
    }

    /// `FROM` sources: comma-separated measurements and regexes.
    fn sources(&mut self) -> Result<Vec<Source>, ParseError> {
        let mut sources = Vec::new();
        loop {
            sources.push(self.source()?);
            if !self.eat(&Tok::Comma)? {
                return Ok(sources);
            }
        }
    }

    /// `m`, `/re/`, `rp.m`, `db.rp.m`, `db..m` (any part may be quoted).
    fn source(&mut self) -> Result<Source, ParseError> {
        if self.peek_is(&Tok::LParen)? {
            let pos = self.peek()?.pos;
            return Err(unsupported("a subquery", pos));
        }
        let first = match self.source_leaf(None, None)? {
            Source::Measurement { name, .. } => name,
            regex @ Source::Regex { .. } => return Ok(regex),
        };
        if !self.eat(&Tok::Dot)? {
            return Ok(Source::Measurement {
                database: None,
                retention_policy: None,
                name: first,
            });
        }
        if self.eat(&Tok::Dot)? {
            return self.source_leaf(Some(first), None);
        }
        let second = match self.source_leaf(None, Some(first.clone()))? {
            Source::Measurement { name, .. } => name,
            regex @ Source::Regex { .. } => return Ok(regex),
        };
        if self.eat(&Tok::Dot)? {
            return self.source_leaf(Some(first), Some(second));
        }
        Ok(Source::Measurement {
            database: None,
            retention_policy: Some(first),
            name: second,
        })
    }

    /// The last part of a source: a name or a regex, qualified as given.
    fn source_leaf(
        &mut self,
        database: Option<String>,
        retention_policy: Option<String>,
    ) -> Result<Source, ParseError> {
        let token = self.bump()?;
        match token.tok {
            Tok::Ident(name) => Ok(Source::Measurement {
                database,
                retention_policy,
                name,
            }),
            Tok::Div => Ok(Source::Regex {
                database,
                retention_policy,
                regex: self.regex_after(&token)?,
            }),
            _ => Err(self.unexpected(&token, &["identifier", "regex"])),
        }
    }

    /// `ON db`, if present.
    fn on_database(&mut self) -> Result<Option<String>, ParseError> {
        if self.eat_kw("ON")? {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    /// `FROM sources`, if present (else empty).
    fn opt_from(&mut self) -> Result<Vec<Source>, ParseError> {
        if self.eat_kw("FROM")? {
            self.sources()
        } else {
            Ok(Vec::new())
        }
    }

    /// `WHERE expr`, if present.
    fn opt_where(&mut self) -> Result<Option<Expr>, ParseError> {
        if self.eat_kw("WHERE")? {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    /// `<kw> n` (LIMIT, OFFSET, SLIMIT, SOFFSET), if present.
    fn opt_integer(&mut self, kw: &str) -> Result<Option<u64>, ParseError> {
        if self.eat_kw(kw)? {
            Ok(Some(self.integer()?))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests;
