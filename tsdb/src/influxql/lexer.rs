//! InfluxQL tokens and the scanner that produces them, one at a time.
//!
//! A `/` is ambiguous: division, or the start of a regex literal. The lexer
//! always returns `Tok::Div`; when the parser finds it where an operand, a
//! source or a regex is expected, it calls `Lexer::regex_body` to scan the
//! rest of the literal. That works because the parser looks at most one
//! token ahead, so the lexer sits right after the `/` at that moment.

use super::duration::parse_duration;
use super::parser::ParseError;

/// InfluxQL's reserved words (InfluxDB 1.x's keyword list plus `AND`, `OR`,
/// `TRUE`, `FALSE`). Bare words matching one, in any case, are keywords;
/// quoted identifiers never are.
const KEYWORDS: &str = "ALL ALTER ANALYZE AND ANY AS ASC BEGIN BY CARDINALITY CREATE CONTINUOUS \
     DATABASE DATABASES DEFAULT DELETE DESC DESTINATIONS DIAGNOSTICS DISTINCT DROP \
     DURATION END EVERY EXACT EXPLAIN FALSE FIELD FOR FROM GRANT GRANTS GROUP GROUPS \
     IN INF INSERT INTO KEY KEYS KILL LIMIT MEASUREMENT MEASUREMENTS NAME OFFSET ON \
     OR ORDER PASSWORD POLICIES POLICY PRIVILEGES QUERIES QUERY READ REPLICATION \
     RESAMPLE RETENTION REVOKE SELECT SERIES SET SHARD SHARDS SHOW SLIMIT SOFFSET \
     STATS SUBSCRIPTION SUBSCRIPTIONS TAG TO TRUE USER USERS VALUES WHERE WITH WRITE";

/// Where a token starts: byte offset, and 1-based line and character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    /// Byte offset into the query text.
    pub(crate) offset: usize,
    /// Line, from 1.
    pub(crate) line: u32,
    /// Character (not byte) within the line, from 1.
    pub(crate) column: u32,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// End of input.
    Eof,
    /// A bare or double-quoted identifier, unquoted and unescaped.
    Ident(String),
    /// A reserved word, as its upper-case entry in the keyword list.
    Keyword(&'static str),
    /// A single-quoted string, unquoted and unescaped.
    Str(String),
    /// An integer literal (never negative: `-` is its own token).
    Integer(i64),
    /// A float literal, or an integer too large for `i64`.
    Number(f64),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// `$name` or `$"name"`, without the `$`.
    BoundParam(String),
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Mul,
    /// `/` (or the start of a regex literal)
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
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// `.`
    Dot,
    /// `::`
    DoubleColon,
}

/// A token and where it is in the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) tok: Tok,
    /// Where it starts.
    pub(crate) pos: Pos,
    /// Byte offset just past its end.
    pub(crate) end: usize,
}

/// The scanner: a cursor over the query text.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    offset: usize,
    line: u32,
    column: u32,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// Scans the next token, skipping whitespace and comments (`-- ...` to
    /// the end of the line, `/* ... */`).
    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia();
        let pos = self.pos();
        let tok = match self.bump() {
            None => Tok::Eof,
            Some(c) => self.token_from(c, pos)?,
        };
        Ok(Token {
            tok,
            pos,
            end: self.offset,
        })
    }

    /// Scans a regex literal whose opening `/` (at `start`) was the last
    /// character consumed, up to and including the closing `/`. Returns the
    /// body: `\/` becomes `/`, every other escape is kept as written.
    pub(crate) fn regex_body(&mut self, start: Pos) -> Result<String, ParseError> {
        let mut body = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(ParseError::at("unterminated regex", start)),
                Some('\\') => match self.bump() {
                    Some('/') => body.push('/'),
                    None | Some('\n') => {
                        return Err(ParseError::at("unterminated regex", start));
                    }
                    Some(c) => {
                        body.push('\\');
                        body.push(c);
                    }
                },
                Some('/') => return Ok(body),
                Some(c) => body.push(c),
            }
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            offset: self.offset,
            line: self.line,
            column: self.column,
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.offset..).unwrap_or_default()
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn eat_char(&mut self, expected: char) -> bool {
        let hit = self.peek_char() == Some(expected);
        if hit {
            self.bump();
        }
        hit
    }

    /// Consumes characters while `keep` holds; returns them.
    fn bump_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.offset;
        while self.peek_char().is_some_and(&keep) {
            self.bump();
        }
        self.since(start)
    }

    fn since(&self, start: usize) -> &'a str {
        self.src.get(start..self.offset).unwrap_or_default()
    }

    fn skip_trivia(&mut self) {
        loop {
            self.bump_while(char::is_whitespace);
            let rest = self.rest();
            if rest.starts_with("--") {
                self.bump_while(|c| c != '\n');
            } else if rest.starts_with("/*") {
                self.bump();
                self.bump();
                while self.peek_char().is_some() && !self.rest().starts_with("*/") {
                    self.bump();
                }
                self.bump();
                self.bump();
            } else {
                return;
            }
        }
    }

    fn token_from(&mut self, c: char, pos: Pos) -> Result<Tok, ParseError> {
        let tok = match c {
            c if c.is_ascii_alphabetic() || c == '_' => self.word(pos),
            '"' => Tok::Ident(self.quoted('"', pos)?),
            '\'' => Tok::Str(self.quoted('\'', pos)?),
            c if c.is_ascii_digit() => self.number(pos, false)?,
            '.' if self.peek_char().is_some_and(|d| d.is_ascii_digit()) => {
                self.number(pos, true)?
            }
            '.' => Tok::Dot,
            '$' => self.param(pos)?,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Mul,
            '/' => Tok::Div,
            '%' => Tok::Mod,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ';' => Tok::Semicolon,
            '=' if self.eat_char('~') => Tok::EqRegex,
            '=' => Tok::Eq,
            '!' if self.eat_char('=') => Tok::NotEq,
            '!' if self.eat_char('~') => Tok::NotEqRegex,
            '<' if self.eat_char('=') => Tok::Lte,
            '<' if self.eat_char('>') => Tok::NotEq,
            '<' => Tok::Lt,
            '>' if self.eat_char('=') => Tok::Gte,
            '>' => Tok::Gt,
            ':' if self.eat_char(':') => Tok::DoubleColon,
            other => {
                return Err(ParseError::at(
                    format!("unexpected character {other:?}"),
                    pos,
                ));
            }
        };
        Ok(tok)
    }

    /// A bare word whose first character is consumed: keyword or identifier.
    fn word(&mut self, start: Pos) -> Tok {
        self.bump_while(is_ident_char);
        let text = self.since(start.offset);
        match KEYWORDS
            .split_ascii_whitespace()
            .find(|k| k.eq_ignore_ascii_case(text))
        {
            Some(keyword) => Tok::Keyword(keyword),
            None => Tok::Ident(text.to_string()),
        }
    }

    /// The rest of a quoted identifier or string whose opening quote is
    /// consumed. Escapes: `\\`, `\'`, `\"`, `\n`; a raw newline is an error.
    fn quoted(&mut self, quote: char, start: Pos) -> Result<String, ParseError> {
        let what = if quote == '"' {
            "unterminated quoted identifier"
        } else {
            "unterminated string"
        };
        let mut out = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(ParseError::at(what, start)),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some('\n') | None => return Err(ParseError::at(what, start)),
                    Some(c) => {
                        return Err(ParseError::at(format!("bad escape \\{c}"), start));
                    }
                },
                Some(c) if c == quote => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// A number or duration whose first character (a digit, or the `.` of
    /// `.5` when `leading_dot`) is consumed.
    fn number(&mut self, start: Pos, leading_dot: bool) -> Result<Tok, ParseError> {
        self.bump_while(|c| c.is_ascii_digit());
        let mut is_float = leading_dot;
        if !leading_dot
            && self.peek_char() == Some('.')
            && self.peek_second().is_some_and(|c| c.is_ascii_digit())
        {
            self.bump();
            self.bump_while(|c| c.is_ascii_digit());
            is_float = true;
        }
        if self.at_exponent() {
            self.bump();
            if matches!(self.peek_char(), Some('+' | '-')) {
                self.bump();
            }
            self.bump_while(|c| c.is_ascii_digit());
            is_float = true;
        }
        if !is_float && self.peek_char().is_some_and(is_unit_char) {
            self.bump_while(|c| c.is_ascii_digit() || is_unit_char(c));
            let text = self.since(start.offset);
            return parse_duration(text)
                .map(Tok::Duration)
                .ok_or_else(|| ParseError::at(format!("invalid duration {text}"), start));
        }
        let text = self.since(start.offset);
        if !is_float && let Ok(value) = text.parse::<i64>() {
            return Ok(Tok::Integer(value));
        }
        text.parse::<f64>()
            .map(Tok::Number)
            .map_err(|_| ParseError::at(format!("unable to parse number {text}"), start))
    }

    /// Whether an exponent (`e3`, `E-2`, `e+7`) follows.
    fn at_exponent(&self) -> bool {
        let mut chars = self.rest().chars();
        if !matches!(chars.next(), Some('e' | 'E')) {
            return false;
        }
        match chars.next() {
            Some('+' | '-') => chars.next().is_some_and(|c| c.is_ascii_digit()),
            Some(c) => c.is_ascii_digit(),
            None => false,
        }
    }

    /// A bound parameter whose `$` is consumed.
    fn param(&mut self, start: Pos) -> Result<Tok, ParseError> {
        if self.eat_char('"') {
            return Ok(Tok::BoundParam(self.quoted('"', start)?));
        }
        let name = self.bump_while(is_ident_char);
        if name.is_empty() {
            return Err(ParseError::at(
                "missing bound parameter name after $",
                start,
            ));
        }
        Ok(Tok::BoundParam(name.to_string()))
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters of duration units: letters, and the micro signs.
fn is_unit_char(c: char) -> bool {
    c.is_ascii_alphabetic() || c == 'µ' || c == 'μ'
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lex(src: &str) -> Result<Vec<Tok>, ParseError> {
        let mut lexer = Lexer::new(src);
        let mut toks = Vec::new();
        loop {
            let token = lexer.next_token()?;
            if token.tok == Tok::Eof {
                return Ok(toks);
            }
            toks.push(token.tok);
        }
    }

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap()
    }

    fn ident(name: &str) -> Tok {
        Tok::Ident(name.to_string())
    }

    #[test]
    fn keywords_are_case_insensitive_and_identifiers_keep_case() {
        assert_eq!(
            toks("select SeLeCt From cpu_Total _x9"),
            vec![
                Tok::Keyword("SELECT"),
                Tok::Keyword("SELECT"),
                Tok::Keyword("FROM"),
                ident("cpu_Total"),
                ident("_x9"),
            ]
        );
        assert_eq!(toks("\"select\""), vec![ident("select")]);
    }

    #[test]
    fn every_keyword_is_upper_case_and_unique() {
        let keywords: Vec<&str> = KEYWORDS.split_ascii_whitespace().collect();
        assert_eq!(keywords.len(), 80);
        for (i, keyword) in keywords.iter().enumerate() {
            assert_eq!(keyword.to_ascii_uppercase(), *keyword);
            assert!(!keywords[i + 1..].contains(keyword), "{keyword}");
        }
    }

    #[test]
    fn quoted_identifiers_and_strings_unescape() {
        assert_eq!(
            toks(r#""a \"b\" \\c" 'it\'s' 'a\\b' 'x\ny' '"' "'""#),
            vec![
                ident("a \"b\" \\c"),
                Tok::Str("it's".to_string()),
                Tok::Str("a\\b".to_string()),
                Tok::Str("x\ny".to_string()),
                Tok::Str("\"".to_string()),
                ident("'"),
            ]
        );
        assert_eq!(toks("''"), vec![Tok::Str(String::new())]);
    }

    #[test]
    fn bad_strings_are_errors() {
        assert!(
            lex("'abc")
                .unwrap_err()
                .message
                .contains("unterminated string")
        );
        assert!(
            lex("\"abc")
                .unwrap_err()
                .message
                .contains("unterminated quoted")
        );
        assert!(lex("'a\nb'").is_err());
        assert_eq!(
            lex("x '\\q'").unwrap_err().message,
            "bad escape \\q at line 1, char 3"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("1 42 1.5 .5 1e3 2.5E-2 7e+1"),
            vec![
                Tok::Integer(1),
                Tok::Integer(42),
                Tok::Number(1.5),
                Tok::Number(0.5),
                Tok::Number(1000.0),
                Tok::Number(0.025),
                Tok::Number(70.0),
            ]
        );
        assert_eq!(toks("99999999999999999999"), vec![Tok::Number(1e20)]);
        assert_eq!(toks("1.x"), vec![Tok::Integer(1), Tok::Dot, ident("x")]);
    }

    #[test]
    fn durations() {
        assert_eq!(
            toks("10s 1h30m 100ms 10u 10µ 1ns 1d 1w 1451606400000ms"),
            vec![
                Tok::Duration(10_000_000_000),
                Tok::Duration(5_400_000_000_000),
                Tok::Duration(100_000_000),
                Tok::Duration(10_000),
                Tok::Duration(10_000),
                Tok::Duration(1),
                Tok::Duration(86_400_000_000_000),
                Tok::Duration(604_800_000_000_000),
                Tok::Duration(1_451_606_400_000_000_000),
            ]
        );
        assert_eq!(
            lex("time(10x)").unwrap_err().message,
            "invalid duration 10x at line 1, char 6"
        );
        assert!(lex("99999999999999999999s").is_err());
    }

    #[test]
    fn operators_and_punctuation() {
        assert_eq!(
            toks("= != <> < <= > >= =~ !~ + - * / % ( ) , ; . :: =~/"),
            vec![
                Tok::Eq,
                Tok::NotEq,
                Tok::NotEq,
                Tok::Lt,
                Tok::Lte,
                Tok::Gt,
                Tok::Gte,
                Tok::EqRegex,
                Tok::NotEqRegex,
                Tok::Plus,
                Tok::Minus,
                Tok::Mul,
                Tok::Div,
                Tok::Mod,
                Tok::LParen,
                Tok::RParen,
                Tok::Comma,
                Tok::Semicolon,
                Tok::Dot,
                Tok::DoubleColon,
                Tok::EqRegex,
                Tok::Div,
            ]
        );
        assert!(lex("a ! b").is_err());
        assert!(lex("a : b").is_err());
        assert_eq!(
            lex("a # b").unwrap_err().message,
            "unexpected character '#' at line 1, char 3"
        );
    }

    #[test]
    fn bound_parameters() {
        assert_eq!(
            toks("$host $\"my param\" $1"),
            vec![
                Tok::BoundParam("host".to_string()),
                Tok::BoundParam("my param".to_string()),
                Tok::BoundParam("1".to_string()),
            ]
        );
        assert!(lex("$ x").is_err());
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            toks("a -- comment\n/* block\n comment */ b /* open"),
            vec![ident("a"), ident("b")]
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_characters() {
        let mut lexer = Lexer::new("SELECT\n  µx, \"é\" y");
        let mut positions = Vec::new();
        loop {
            let token = lexer.next_token();
            let token = match token {
                Ok(token) => token,
                Err(err) => {
                    positions.push((0, 0, err.message));
                    break;
                }
            };
            positions.push((token.pos.line, token.pos.column, String::new()));
            if token.tok == Tok::Eof {
                break;
            }
        }
        // `µ` is not an identifier character: the error points at it.
        assert_eq!(positions[0], (1, 1, String::new()));
        assert_eq!(positions[1].2, "unexpected character 'µ' at line 2, char 3");

        let mut lexer = Lexer::new("a,\n \"é\" b");
        let cols: Vec<(u32, u32, usize)> = (0..4)
            .map(|_| {
                let token = lexer.next_token().unwrap();
                (token.pos.line, token.pos.column, token.pos.offset)
            })
            .collect();
        assert_eq!(cols, vec![(1, 1, 0), (1, 2, 1), (2, 2, 4), (2, 6, 9)]);
    }

    #[test]
    fn regex_bodies_unescape_only_slashes() {
        let src = r"/^a\/b\d+$/ x";
        let mut lexer = Lexer::new(src);
        let slash = lexer.next_token().unwrap();
        assert_eq!(slash.tok, Tok::Div);
        assert_eq!(lexer.regex_body(slash.pos).unwrap(), r"^a/b\d+$");
        assert_eq!(lexer.next_token().unwrap().tok, ident("x"));

        let mut lexer = Lexer::new(r"/a\\/");
        let slash = lexer.next_token().unwrap();
        assert_eq!(lexer.regex_body(slash.pos).unwrap(), r"a\\");

        for bad in ["/abc", "/a\nb/", "/a\\"] {
            let mut lexer = Lexer::new(bad);
            let slash = lexer.next_token().unwrap();
            assert_eq!(
                lexer.regex_body(slash.pos).unwrap_err().message,
                "unterminated regex at line 1, char 1"
            );
        }
    }

    proptest! {
        #[test]
        fn lexing_never_panics(src in "\\PC{0,64}") {
            let _ = lex(&src);
        }

        #[test]
        fn quoted_identifiers_round_trip(name in "[^\n]{0,16}") {
            let quoted = format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
            prop_assert_eq!(lex(&quoted).unwrap(), vec![Tok::Ident(name)]);
        }
    }
}
