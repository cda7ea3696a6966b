//! Expressions: precedence climbing over binary operators, unary signs,
//! literals, calls, variable references and wildcards.
//!
//! Precedence, weakest first: `OR`; `AND`; comparisons (`= != <> < <= > >=
//! =~ !~`); `+ -`; `* / %`. All are left-associative. Every function returns
//! the depth of the tree it built, so a long flat chain is caught as surely
//! as deep parentheses.

use super::{MAX_EXPR_DEPTH, ParseError, Parser, unsupported};
use crate::influxql::ast::{BinaryOp, Expr, VarKind};
use crate::influxql::lexer::{Pos, Tok};

/// What may start an operand, for error messages (InfluxDB's wording).
const OPERAND: &[&str] = &["identifier", "string", "number", "bool"];

/// An expression and the depth of its tree (a leaf is 1).
type Node = (Expr, usize);

impl Parser<'_> {
    /// A whole expression.
    pub(super) fn expr(&mut self) -> Result<Expr, ParseError> {
        Ok(self.binary(1)?.0)
    }

    /// Operands joined by operators of at least `min_precedence`.
    fn binary(&mut self, min_precedence: u8) -> Result<Node, ParseError> {
        let (mut lhs, mut depth) = self.unary()?;
        loop {
            let next = binary_op(&self.peek()?.tok);
            let Some(op) = next else { break };
            let precedence = op.precedence();
            if precedence < min_precedence {
                break;
            }
            let pos = self.bump()?.pos;
            let (rhs, rhs_depth) = self.binary(precedence + 1)?;
            depth = deeper(depth.max(rhs_depth), pos)?;
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok((lhs, depth))
    }

    /// An operand with optional leading signs. A sign before a number or
    /// duration literal folds into it (`-1.5`, `-15m`); before anything else
    /// `-x` becomes `-1 * x`, as InfluxDB does.
    fn unary(&mut self) -> Result<Node, ParseError> {
        let negative = match self.peek()?.tok {
            Tok::Minus => true,
            Tok::Plus => false,
            _ => return self.primary(),
        };
        let sign = self.bump()?.pos;
        let literal = match self.peek()?.tok {
            Tok::Integer(n) => Some(Expr::Integer(if negative { -n } else { n })),
            Tok::Number(x) => Some(Expr::Number(if negative { -x } else { x })),
            Tok::Duration(ns) => Some(Expr::Duration(if negative { -ns } else { ns })),
            _ => None,
        };
        if let Some(literal) = literal {
            self.bump()?;
            return Ok((literal, 1));
        }
        self.enter(sign)?;
        let operand = self.unary();
        self.leave();
        let (operand, depth) = operand?;
        if !negative {
            return Ok((operand, depth));
        }
        let negated = Expr::Binary {
            op: BinaryOp::Mul,
            lhs: Box::new(Expr::Integer(-1)),
            rhs: Box::new(operand),
        };
        Ok((negated, deeper(depth, sign)?))
    }

    /// A literal, a name, a call, a wildcard, a regex or a parenthesised
    /// expression (whose parentheses are dropped).
    fn primary(&mut self) -> Result<Node, ParseError> {
        let token = self.bump()?;
        let expr = match token.tok {
            Tok::Mul => Expr::Wildcard {
                kind: self.opt_kind()?,
            },
            Tok::Div => Expr::Regex(self.regex_after(&token)?),
            Tok::LParen => {
                self.enter(token.pos)?;
                let inner = self.binary(1);
                self.leave();
                let inner = inner?;
                self.expect_tok(&Tok::RParen, ")")?;
                return Ok(inner);
            }
            Tok::Ident(name) => {
                if self.peek_is(&Tok::LParen)? {
                    return self.call(name, token.pos);
                }
                Expr::VarRef {
                    name,
                    kind: self.opt_kind()?,
                }
            }
            Tok::Keyword("DISTINCT") => return self.distinct(token.pos),
            Tok::Keyword("TRUE") => Expr::Bool(true),
            Tok::Keyword("FALSE") => Expr::Bool(false),
            Tok::Str(text) => Expr::String(text),
            Tok::Integer(n) => Expr::Integer(n),
            Tok::Number(x) => Expr::Number(x),
            Tok::Duration(ns) => Expr::Duration(ns),
            Tok::BoundParam(name) => Expr::BoundParam(name),
            _ => return Err(self.unexpected(&token, OPERAND)),
        };
        Ok((expr, 1))
    }

    /// `name(args...)`, the name already consumed; `now()` becomes
    /// `Expr::Now`.
    fn call(&mut self, name: String, pos: Pos) -> Result<Node, ParseError> {
        self.expect_tok(&Tok::LParen, "(")?;
        self.enter(pos)?;
        let args = self.call_args();
        self.leave();
        let (args, depth) = args?;
        let name = name.to_ascii_lowercase();
        if name == "now" && args.is_empty() {
            return Ok((Expr::Now, 1));
        }
        Ok((Expr::Call { name, args }, deeper(depth, pos)?))
    }

    /// Comma-separated arguments up to and including `)`.
    fn call_args(&mut self) -> Result<(Vec<Expr>, usize), ParseError> {
        let mut args = Vec::new();
        let mut depth = 0;
        if self.eat(&Tok::RParen)? {
            return Ok((args, depth));
        }
        loop {
            let (arg, arg_depth) = self.binary(1)?;
            depth = depth.max(arg_depth);
            args.push(arg);
            let token = self.bump()?;
            match token.tok {
                Tok::Comma => {}
                Tok::RParen => return Ok((args, depth)),
                _ => return Err(self.unexpected(&token, &[",", ")"])),
            }
        }
    }

    /// `DISTINCT field` or `DISTINCT(field)`: both become a `distinct` call.
    fn distinct(&mut self, pos: Pos) -> Result<Node, ParseError> {
        if self.peek_is(&Tok::LParen)? {
            return self.call("distinct".to_string(), pos);
        }
        let name = self.ident()?;
        let kind = self.opt_kind()?;
        let call = Expr::Call {
            name: "distinct".to_string(),
            args: vec![Expr::VarRef { name, kind }],
        };
        Ok((call, 2))
    }

    /// An optional `::field` or `::tag` suffix. Type casts (`::integer`) are
    /// recognised and refused.
    pub(super) fn opt_kind(&mut self) -> Result<Option<VarKind>, ParseError> {
        if !self.eat(&Tok::DoubleColon)? {
            return Ok(None);
        }
        let token = self.bump()?;
        match &token.tok {
            Tok::Keyword("FIELD") => Ok(Some(VarKind::Field)),
            Tok::Keyword("TAG") => Ok(Some(VarKind::Tag)),
            Tok::Ident(cast) if is_type_name(cast) => Err(unsupported(
                &format!("the type cast ::{}", cast.to_ascii_lowercase()),
                token.pos,
            )),
            _ => Err(self.unexpected(
                &token,
                &["float", "integer", "string", "boolean", "field", "tag"],
            )),
        }
    }
}

/// One level deeper than `depth`, or an error past `MAX_EXPR_DEPTH`.
fn deeper(depth: usize, pos: Pos) -> Result<usize, ParseError> {
    let depth = depth + 1;
    if depth > MAX_EXPR_DEPTH {
        return Err(ParseError::at(
            format!("expression tree deeper than {MAX_EXPR_DEPTH} levels"),
            pos,
        ));
    }
    Ok(depth)
}

/// The binary operator a token stands for, if any.
fn binary_op(tok: &Tok) -> Option<BinaryOp> {
    let op = match tok {
        Tok::Plus => BinaryOp::Add,
        Tok::Minus => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::Eq => BinaryOp::Eq,
        Tok::NotEq => BinaryOp::NotEq,
        Tok::Lt => BinaryOp::Lt,
        Tok::Lte => BinaryOp::Lte,
        Tok::Gt => BinaryOp::Gt,
        Tok::Gte => BinaryOp::Gte,
        Tok::EqRegex => BinaryOp::EqRegex,
        Tok::NotEqRegex => BinaryOp::NotEqRegex,
        Tok::Keyword("AND") => BinaryOp::And,
        Tok::Keyword("OR") => BinaryOp::Or,
        _ => return None,
    };
    Some(op)
}

fn is_type_name(word: &str) -> bool {
    ["float", "integer", "unsigned", "string", "boolean"]
        .iter()
        .any(|name| name.eq_ignore_ascii_case(word))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::{bin, call, int, var};
    use super::*;
    use crate::influxql::ast::{SelectStatement, Statement};
    use crate::influxql::parse;

    /// The condition of `SELECT v FROM m WHERE <text>`.
    fn cond(text: &str) -> Expr {
        match where_clause(text) {
            Ok(expr) => expr,
            Err(err) => panic!("{text}: {err}"),
        }
    }

    fn where_clause(text: &str) -> Result<Expr, ParseError> {
        let statements = parse(&format!("SELECT v FROM m WHERE {text}"))?;
        match statements.into_iter().next() {
            Some(Statement::Select(SelectStatement {
                condition: Some(expr),
                ..
            })) => Ok(expr),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn precedence_and_associativity() {
        use BinaryOp::*;
        assert_eq!(
            cond("a = 1 OR b = 2 AND c = 3"),
            bin(
                Or,
                bin(Eq, var("a"), int(1)),
                bin(And, bin(Eq, var("b"), int(2)), bin(Eq, var("c"), int(3)))
            )
        );
        assert_eq!(
            cond("a + 2 * 3 > 1 - 4 % 2"),
            bin(
                Gt,
                bin(Add, var("a"), bin(Mul, int(2), int(3))),
                bin(Sub, int(1), bin(Mod, int(4), int(2)))
            )
        );
        assert_eq!(
            cond("a - 1 - 2"),
            bin(Sub, bin(Sub, var("a"), int(1)), int(2))
        );
        assert_eq!(
            cond("a / 2 / 4 = 1"),
            bin(Eq, bin(Div, bin(Div, var("a"), int(2)), int(4)), int(1))
        );
    }

    #[test]
    fn parentheses_group_and_disappear() {
        use BinaryOp::*;
        assert_eq!(
            cond("(a = 1 OR b = 2) AND ((c = 3))"),
            bin(
                And,
                bin(Or, bin(Eq, var("a"), int(1)), bin(Eq, var("b"), int(2))),
                bin(Eq, var("c"), int(3))
            )
        );
    }

    #[test]
    fn all_comparison_operators() {
        use BinaryOp::*;
        let cases = [
            ("=", Eq),
            ("!=", NotEq),
            ("<>", NotEq),
            ("<", Lt),
            ("<=", Lte),
            (">", Gt),
            (">=", Gte),
        ];
        for (text, op) in cases {
            assert_eq!(cond(&format!("a {text} 1")), bin(op, var("a"), int(1)));
        }
        assert_eq!(
            cond("host =~ /^a|b$/ and host !~ /c\\/d/"),
            bin(
                And,
                bin(EqRegex, var("host"), Expr::Regex("^a|b$".to_string())),
                bin(NotEqRegex, var("host"), Expr::Regex("c/d".to_string()))
            )
        );
    }

    #[test]
    fn literals() {
        use BinaryOp::*;
        assert_eq!(
            cond("s = 'it\\'s' AND b = true AND c = FALSE"),
            bin(
                And,
                bin(
                    And,
                    bin(Eq, var("s"), Expr::String("it's".to_string())),
                    bin(Eq, var("b"), Expr::Bool(true))
                ),
                bin(Eq, var("c"), Expr::Bool(false))
            )
        );
        assert_eq!(
            cond("x = $p"),
            bin(Eq, var("x"), Expr::BoundParam("p".to_string()))
        );
        assert_eq!(
            cond("x > -1.5 + -2 - -15m"),
            bin(
                Gt,
                var("x"),
                bin(
                    Sub,
                    bin(Add, Expr::Number(-1.5), int(-2)),
                    Expr::Duration(-900_000_000_000)
                )
            )
        );
    }

    #[test]
    fn time_conditions() {
        use BinaryOp::*;
        assert_eq!(
            cond("time > now() - 1h"),
            bin(
                Gt,
                var("time"),
                bin(Sub, Expr::Now, Expr::Duration(3_600_000_000_000))
            )
        );
        assert_eq!(
            cond("time >= '2016-01-01T00:00:00Z'"),
            bin(
                Gte,
                var("time"),
                Expr::String("2016-01-01T00:00:00Z".to_string())
            )
        );
        assert_eq!(
            cond("time > 1451606400000ms"),
            bin(Gt, var("time"), Expr::Duration(1_451_606_400_000_000_000))
        );
        assert_eq!(cond("time < NOW()"), bin(Lt, var("time"), Expr::Now));
    }

    #[test]
    fn unary_minus_on_names_multiplies_by_minus_one() {
        assert_eq!(
            cond("-a < +b"),
            bin(
                BinaryOp::Lt,
                bin(BinaryOp::Mul, int(-1), var("a")),
                var("b")
            )
        );
    }

    #[test]
    fn calls_casts_and_wildcards() {
        assert_eq!(
            cond("MEAN(\"v\"::field, 1) > 0"),
            bin(
                BinaryOp::Gt,
                call(
                    "mean",
                    vec![
                        Expr::VarRef {
                            name: "v".to_string(),
                            kind: Some(VarKind::Field)
                        },
                        int(1)
                    ]
                ),
                int(0)
            )
        );
        assert_eq!(
            cond("count(*::tag) = f()"),
            bin(
                BinaryOp::Eq,
                call(
                    "count",
                    vec![Expr::Wildcard {
                        kind: Some(VarKind::Tag)
                    }]
                ),
                call("f", vec![])
            )
        );
        let err = where_clause("v::integer = 1").unwrap_err();
        assert_eq!(
            err.message,
            "the type cast ::integer is not supported yet by cfyd at line 1, char 26"
        );
        assert!(where_clause("v::nope = 1").is_err());
    }

    #[test]
    fn bad_operands_are_reported_like_influxdb() {
        assert_eq!(
            where_clause("a = ").unwrap_err().message,
            "found EOF, expected identifier, string, number, bool at line 1, char 27"
        );
        assert_eq!(
            where_clause("f(a b)").unwrap_err().message,
            "found b, expected ,, ) at line 1, char 27"
        );
        assert!(where_clause("(a = 1").is_err());
        assert!(
            where_clause("a =~ /(/")
                .unwrap_err()
                .message
                .contains("invalid regex")
        );
    }

    #[test]
    fn nesting_is_limited_without_overflowing_the_stack() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        let err = where_clause(&deep).unwrap_err();
        assert!(err.message.contains("nested more than 64"), "{err}");
        let calls = format!("{}a{}", "f(".repeat(5000), ")".repeat(5000));
        assert!(where_clause(&calls).is_err());
        let signs = format!("{}a", "- ".repeat(5000));
        assert!(where_clause(&signs).is_err());
        let ok = format!("{}a{}", "(".repeat(60), ")".repeat(60));
        assert_eq!(cond(&ok), var("a"));
    }

    #[test]
    fn long_flat_chains_are_limited_by_tree_depth() {
        let ok = ["a = 1"; 200].join(" OR ");
        assert!(where_clause(&ok).is_ok());
        let long = ["a = 1"; 5000].join(" OR ");
        let err = where_clause(&long).unwrap_err();
        assert!(err.message.contains("deeper than 256"), "{err}");
    }
}
