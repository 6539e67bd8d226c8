//! The policy language: names, the syntax tree, the parser and the canonical printer.
//!
//! # Grammar
//!
//! ```text
//! policy    := or EOF
//! or        := and ( "or" and )*
//! and       := atom ( "and" atom )*
//! atom      := NAME
//!            | "(" or ")"
//!            | threshold
//! threshold := [ "any" ] NUMBER "of" set        -- at least NUMBER members of the set
//!            | "all" "of" set                   -- every member of the set
//! set       := "{" NAME ( "," NAME )* [ "," ] "}"
//! NAME      := [A-Za-z_][A-Za-z0-9_-]*          -- at most 64 bytes, not a keyword
//! NUMBER    := [0-9]+                            -- 1 ..= 256
//! keywords  := and | or | of | any | all
//! ```
//!
//! `and` binds tighter than `or`: `a or b and c` is `a or (b and c)`. Whitespace (spaces, tabs,
//! newlines) separates tokens and is otherwise ignored.
//!
//! A NAME is an approver or, inside a set, a group whose members the workspace lists. A bare
//! NAME outside a set must be an approver: a group there would be ambiguous (one of it? all of
//! it?), so resolution rejects it and asks for `1 of {ops}` or `all of {ops}`.
//!
//! # What the parser refuses, with the position
//! threshold 0, a threshold above 256, an empty set, a name twice in one set, more than 256
//! names in a set, names longer than 64 bytes, input longer than [`MAX_INPUT_LEN`] bytes,
//! parentheses nested deeper than [`MAX_DEPTH`]` - 1`, and any token where it does not belong.
//! Thresholds larger than the set and unknown names can only be judged against a workspace and
//! are refused by [`crate::resolve`](mod@crate::resolve).
//!
//! # Canonical form
//! [`Policy`]'s `Display` is canonical: single spaces, `k of {a, b}` (never `any`), no trailing
//! commas, and parentheses exactly where the tree needs them — around an `or` inside an `and`
//! and around an `and`/`or` directly inside another of the same kind (the tree keeps the
//! grouping the author wrote). Set members keep the author's order. For every policy
//! `parse(p.to_string()) == p`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest accepted policy text, in bytes.
pub const MAX_INPUT_LEN: usize = 4096;
/// Deepest nesting of `and`/`or` nodes in a policy tree (the parser allows one fewer level of
/// parentheses, which is what that tree needs when printed).
pub const MAX_DEPTH: usize = 16;
/// Most names in one set, and so the largest threshold.
pub const MAX_SET_LEN: usize = 256;
/// Longest name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

const KEYWORDS: [&str; 5] = ["and", "or", "of", "any", "all"];

/// An approver or group name: `[A-Za-z_][A-Za-z0-9_-]*`, 1 to 64 bytes, not a keyword.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// Why a string is not a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("name `{0}…` is longer than 64 bytes")]
    TooLong(String),
    #[error("`{0}` is a keyword, not a name")]
    Keyword(String),
    #[error(
        "name `{0}` must start with a letter or `_` and contain only letters, digits, `_` and `-`"
    )]
    Invalid(String),
}

impl Name {
    pub fn new(s: &str) -> Result<Name, NameError> {
        let mut chars = s.chars();
        let first = chars.next().ok_or(NameError::Empty)?;
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(s.chars().take(16).collect()));
        }
        if !(first.is_ascii_alphabetic() || first == '_')
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(NameError::Invalid(s.to_string()));
        }
        if KEYWORDS.contains(&s) {
            return Err(NameError::Keyword(s.to_string()));
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::new(s)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::new(&s).map_err(serde::de::Error::custom)
    }
}

/// How many members of a set are needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    /// At least this many (1 ..= 256).
    AtLeast(u32),
    /// Every member, however many the groups in the set expand to.
    All,
}

/// A policy tree. Build one with [`Policy::parse`] or [`Policy::new`]; both enforce the
/// invariants (`And`/`Or` have two or more children, sets are non-empty and free of repeats,
/// thresholds are 1 ..= 256, depth at most [`MAX_DEPTH`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// This approver must approve.
    Approver(Name),
    /// `k of {…}` or `all of {…}`.
    Threshold { need: Need, of: Vec<Name> },
    /// Every child.
    And(Vec<Expr>),
    /// At least one child.
    Or(Vec<Expr>),
}

/// A checked policy (see [`Expr`] for the invariants). Serialised as its canonical text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Policy(Expr);

/// A policy tree that breaks an invariant (from [`Policy::new`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("`and`/`or` needs at least two operands")]
    TooFewOperands,
    #[error("a set needs at least one name")]
    EmptySet,
    #[error("`{0}` appears twice in one set")]
    DuplicateName(Name),
    #[error("threshold must be at least 1")]
    ZeroThreshold,
    #[error("threshold {0} is above the maximum of 256")]
    ThresholdTooLarge(u32),
    #[error("a set has more than 256 names")]
    SetTooLarge,
    #[error("policy nests `and`/`or` deeper than 16 levels")]
    TooDeep,
    #[error("canonical text is longer than 4096 bytes")]
    TooLong,
}

impl Policy {
    /// Checks a tree built in code.
    pub fn new(expr: Expr) -> Result<Policy, ShapeError> {
        check_shape(&expr, 1)?;
        let p = Policy(expr);
        if p.to_string().len() > MAX_INPUT_LEN {
            return Err(ShapeError::TooLong);
        }
        Ok(p)
    }

    /// Parses policy text (see the module docs for the grammar).
    pub fn parse(text: &str) -> Result<Policy, ParseError> {
        parse(text)
    }

    pub fn expr(&self) -> &Expr {
        &self.0
    }

    /// Every name the policy mentions, in first-appearance order, without repeats.
    pub fn names(&self) -> Vec<Name> {
        fn walk(e: &Expr, out: &mut Vec<Name>) {
            match e {
                Expr::Approver(n) => push_unique(out, n),
                Expr::Threshold { of, .. } => of.iter().for_each(|n| push_unique(out, n)),
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|c| walk(c, out)),
            }
        }
        fn push_unique(out: &mut Vec<Name>, n: &Name) {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}

fn check_shape(e: &Expr, depth: usize) -> Result<(), ShapeError> {
    match e {
        Expr::Approver(_) => Ok(()),
        Expr::Threshold { need, of } => {
            if of.is_empty() {
                return Err(ShapeError::EmptySet);
            }
            if of.len() > MAX_SET_LEN {
                return Err(ShapeError::SetTooLarge);
            }
            for (i, n) in of.iter().enumerate() {
                if of.iter().take(i).any(|m| m == n) {
                    return Err(ShapeError::DuplicateName(n.clone()));
                }
            }
            match *need {
                Need::AtLeast(0) => Err(ShapeError::ZeroThreshold),
                Need::AtLeast(k) if k as usize > MAX_SET_LEN => {
                    Err(ShapeError::ThresholdTooLarge(k))
                }
                _ => Ok(()),
            }
        }
        Expr::And(v) | Expr::Or(v) => {
            if depth > MAX_DEPTH {
                return Err(ShapeError::TooDeep);
            }
            if v.len() < 2 {
                return Err(ShapeError::TooFewOperands);
            }
            v.iter().try_for_each(|c| check_shape(c, depth + 1))
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print(&self.0, f)
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Policy({:?})", self.to_string())
    }
}

impl FromStr for Policy {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

fn print(e: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        Expr::Approver(n) => write!(f, "{n}"),
        Expr::Threshold { need, of } => {
            match need {
                Need::AtLeast(k) => write!(f, "{k} of {{")?,
                Need::All => f.write_str("all of {")?,
            }
            for (i, n) in of.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{n}")?;
            }
            f.write_str("}")
        }
        Expr::And(v) => print_chain(v, " and ", f, |c| matches!(c, Expr::And(_) | Expr::Or(_))),
        Expr::Or(v) => print_chain(v, " or ", f, |c| matches!(c, Expr::Or(_))),
    }
}

fn print_chain(
    v: &[Expr],
    sep: &str,
    f: &mut fmt::Formatter<'_>,
    needs_parens: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, c) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(c) {
            f.write_str("(")?;
            print(c, f)?;
            f.write_str(")")?;
        } else {
            print(c, f)?;
        }
    }
    Ok(())
}

/// A parse failure and where it happened (1-based line and column, counted in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {}", position(*line, *column))]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub line: usize,
    pub column: usize,
}

fn position(line: usize, column: usize) -> String {
    if line == 1 {
        format!("column {column}")
    } else {
        format!("line {line}, column {column}")
    }
}

/// What went wrong while parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("policy text is longer than 4096 bytes ({0} bytes)")]
    TooLong(usize),
    #[error("empty policy")]
    Empty,
    #[error("policy's canonical form is longer than 4096 bytes ({0} bytes)")]
    CanonicalTooLong(usize),
    #[error("unexpected character {0:?}")]
    BadCharacter(char),
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
    #[error("expected `of` after threshold {0}, found {1}")]
    ExpectedOf(String, String),
    #[error("threshold must be at least 1")]
    ZeroThreshold,
    #[error("threshold {0} is above the maximum of 256")]
    ThresholdTooLarge(String),
    #[error("empty set: list at least one name")]
    EmptySet,
    #[error("`{0}` appears twice in this set")]
    DuplicateName(Name),
    #[error("set has more than 256 names")]
    SetTooLarge,
    #[error("{0}")]
    BadName(NameError),
    #[error("policy nested deeper than 16 levels")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Number(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) if KEYWORDS.contains(&w.as_str()) => format!("`{w}`"),
            Tok::Word(w) => format!("name `{w}`"),
            Tok::Number(n) => format!("number {n}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
            Tok::End => "end of input".into(),
        }
    }

    fn is_word(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w == kw)
    }
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, (ParseErrorKind, usize)> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some(&(at, c)) = it.peek() {
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            it.next();
            out.push((t, at));
        } else if c.is_whitespace() {
            it.next();
        } else if c.is_ascii_digit() || c.is_ascii_alphabetic() || c == '_' {
            let mut end = at;
            while let Some(&(i, d)) = it.peek() {
                if d.is_ascii_alphanumeric() || d == '_' || d == '-' {
                    end = i + d.len_utf8();
                    it.next();
                } else {
                    break;
                }
            }
            let word = text.get(at..end).unwrap_or_default().to_string();
            if c.is_ascii_digit() {
                if !word.bytes().all(|b| b.is_ascii_digit()) {
                    return Err((ParseErrorKind::BadName(NameError::Invalid(word)), at));
                }
                out.push((Tok::Number(word), at));
            } else {
                out.push((Tok::Word(word), at));
            }
        } else {
            return Err((ParseErrorKind::BadCharacter(c), at));
        }
    }
    out.push((Tok::End, text.len()));
    Ok(out)
}

fn parse(text: &str) -> Result<Policy, ParseError> {
    let at = |kind, offset: usize| {
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        ParseError { kind, line, column }
    };
    if text.len() > MAX_INPUT_LEN {
        return Err(at(ParseErrorKind::TooLong(text.len()), 0));
    }
    let toks = lex(text).map_err(|(k, o)| at(k, o))?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    if p.peek() == &Tok::End {
        return Err(at(ParseErrorKind::Empty, text.len()));
    }
    let expr = p.or().map_err(|(k, o)| at(k, o))?;
    if p.peek() != &Tok::End {
        let found = p.peek().describe();
        let expected = "`and`, `or` or end of input";
        return Err(at(ParseErrorKind::Expected { expected, found }, p.offset()));
    }
    // Parentheses bound the recursion; the tree depth (an `or` and an `and` per level) and
    // the other invariants are checked here, in the one place `Policy::new` also uses.
    check_shape(&expr, 1).map_err(|e| {
        let kind = match e {
            ShapeError::TooDeep => ParseErrorKind::TooDeep,
            other => ParseErrorKind::Expected {
                expected: "a well-formed policy",
                found: other.to_string(),
            },
        };
        at(kind, 0)
    })?;
    // The canonical form adds a space after each comma; it too must fit, or it would not
    // parse back.
    let p = Policy(expr);
    let canonical = p.to_string().len();
    if canonical > MAX_INPUT_LEN {
        return Err(at(ParseErrorKind::CanonicalTooLong(canonical), 0));
    }
    Ok(p)
}

type PResult<T> = Result<T, (ParseErrorKind, usize)>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|(t, _)| t).unwrap_or(&Tok::End)
    }

    fn offset(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|(_, o)| *o)
            .unwrap_or(self.text.len())
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn expected<T>(&self, expected: &'static str) -> PResult<T> {
        let found = self.peek().describe();
        Err((ParseErrorKind::Expected { expected, found }, self.offset()))
    }

    fn or(&mut self) -> PResult<Expr> {
        let mut v = vec![self.and()?];
        while self.peek().is_word("or") {
            self.bump();
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(v)
        })
    }

    fn and(&mut self) -> PResult<Expr> {
        let mut v = vec![self.atom()?];
        while self.peek().is_word("and") {
            self.bump();
            v.push(self.atom()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(v)
        })
    }

    fn atom(&mut self) -> PResult<Expr> {
        let start = self.offset();
        match self.peek().clone() {
            Tok::LParen => {
                if self.depth + 1 >= MAX_DEPTH {
                    return Err((ParseErrorKind::TooDeep, start));
                }
                self.bump();
                self.depth += 1;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != &Tok::RParen {
                    return self.expected("`)` or an operator");
                }
                self.bump();
                Ok(e)
            }
            Tok::Number(n) => {
                self.bump();
                let k = threshold(&n, start)?;
                self.expect_of(&n)?;
                let of = self.set()?;
                Ok(Expr::Threshold {
                    need: Need::AtLeast(k),
                    of,
                })
            }
            Tok::Word(w) if w == "any" => {
                self.bump();
                let at = self.offset();
                let Tok::Number(n) = self.peek().clone() else {
                    return self.expected("a threshold after `any`");
                };
                self.bump();
                let k = threshold(&n, at)?;
                self.expect_of(&n)?;
                let of = self.set()?;
                Ok(Expr::Threshold {
                    need: Need::AtLeast(k),
                    of,
                })
            }
            Tok::Word(w) if w == "all" => {
                self.bump();
                if !self.peek().is_word("of") {
                    return self.expected("`of` after `all`");
                }
                self.bump();
                let of = self.set()?;
                Ok(Expr::Threshold {
                    need: Need::All,
                    of,
                })
            }
            Tok::Word(w) if KEYWORDS.contains(&w.as_str()) => {
                self.expected("a name, a threshold or `(`")
            }
            Tok::Word(w) => {
                self.bump();
                let n = Name::new(&w).map_err(|e| (ParseErrorKind::BadName(e), start))?;
                Ok(Expr::Approver(n))
            }
            _ => self.expected("a name, a threshold or `(`"),
        }
    }

    fn expect_of(&mut self, n: &str) -> PResult<()> {
        if self.peek().is_word("of") {
            self.bump();
            Ok(())
        } else {
            Err((
                ParseErrorKind::ExpectedOf(n.to_string(), self.peek().describe()),
                self.offset(),
            ))
        }
    }

    fn set(&mut self) -> PResult<Vec<Name>> {
        let open = self.offset();
        if self.peek() != &Tok::LBrace {
            return self.expected("`{`");
        }
        self.bump();
        let mut names: Vec<Name> = Vec::new();
        loop {
            let at = self.offset();
            match self.bump() {
                Tok::RBrace if names.is_empty() => return Err((ParseErrorKind::EmptySet, open)),
                Tok::RBrace => return Ok(names),
                Tok::Word(w) => {
                    let n = Name::new(&w).map_err(|e| (ParseErrorKind::BadName(e), at))?;
                    if names.contains(&n) {
                        return Err((ParseErrorKind::DuplicateName(n), at));
                    }
                    if names.len() == MAX_SET_LEN {
                        return Err((ParseErrorKind::SetTooLarge, at));
                    }
                    names.push(n);
                }
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return self.expected("a name or `}`");
                }
            }
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBrace => {}
                _ => return self.expected("`,` or `}`"),
            }
        }
    }
}

fn threshold(n: &str, at: usize) -> PResult<u32> {
    let too_large = || (ParseErrorKind::ThresholdTooLarge(n.to_string()), at);
    let k: u32 = if n.len() > 9 {
        return Err(too_large());
    } else {
        n.parse().map_err(|_| too_large())?
    };
    if k == 0 {
        return Err((ParseErrorKind::ZeroThreshold, at));
    }
    if k as usize > MAX_SET_LEN {
        return Err(too_large());
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Policy::parse(text) {
            Ok(p) => format!("parsed as {p}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn examples_parse_and_print_canonically() {
        let cases = [
            ("2 of {alice, bob, carol}", "2 of {alice, bob, carol}"),
            ("any 1 of {ops} and cfo", "1 of {ops} and cfo"),
            (
                "(alice or bob) and 2 of {carol, dave, erin}",
                "(alice or bob) and 2 of {carol, dave, erin}",
            ),
            ("all of { a ,b, }", "all of {a, b}"),
            ("a or b and c", "a or b and c"),
            ("((a))", "a"),
            ("a and (b and c)", "a and (b and c)"),
            ("(a or b) or c", "(a or b) or c"),
            ("a\n  and\tb", "a and b"),
        ];
        for (text, canon) in cases {
            let p = Policy::parse(text).unwrap();
            assert_eq!(p.to_string(), canon, "{text}");
            assert_eq!(Policy::parse(canon).unwrap(), p, "{text}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let p = Policy::parse("a or b and c or d").unwrap();
        let n = |s: &str| Expr::Approver(Name::new(s).unwrap());
        assert_eq!(
            p.expr(),
            &Expr::Or(vec![n("a"), Expr::And(vec![n("b"), n("c")]), n("d")])
        );
    }

    #[test]
    fn errors_name_the_problem_and_the_column() {
        let cases = [
            ("2 {alice}", "expected `of` after threshold 2, found `{` at column 3"),
            ("0 of {a}", "threshold must be at least 1 at column 1"),
            ("257 of {a}", "threshold 257 is above the maximum of 256 at column 1"),
            ("99999999999 of {a}", "threshold 99999999999 is above the maximum of 256 at column 1"),
            ("1 of {}", "empty set: list at least one name at column 6"),
            ("2 of {a, b, a}", "`a` appears twice in this set at column 13"),
            ("a and", "expected a name, a threshold or `(`, found end of input at column 6"),
            ("a b", "expected `and`, `or` or end of input, found name `b` at column 3"),
            ("(a or b", "expected `)` or an operator, found end of input at column 8"),
            ("a &", "unexpected character '&' at column 3"),
            ("", "empty policy at column 1"),
            ("   ", "empty policy at column 4"),
            ("a and\n  or", "expected a name, a threshold or `(`, found `or` at line 2, column 3"),
            ("1 of {a b}", "expected `,` or `}`, found name `b` at column 9"),
            ("1 of {a,,b}", "expected a name or `}`, found `,` at column 9"),
            ("1 of a", "expected `{`, found name `a` at column 6"),
            ("all {a}", "expected `of` after `all`, found `{` at column 5"),
            ("any of {a}", "expected a threshold after `any`, found `of` at column 5"),
            ("1of {a}", "name `1of` must start with a letter or `_` and contain only letters, digits, `_` and `-` at column 1"),
            ("1 of {a, 2}", "expected a name or `}`, found number 2 at column 10"),
            ("é", "unexpected character 'é' at column 1"),
            ("aé", "unexpected character 'é' at column 2"),
            ("of", "expected a name, a threshold or `(`, found `of` at column 1"),
            ("1 of {and}", "`and` is a keyword, not a name at column 7"),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), want, "{text:?}");
        }
        let long = format!("1 of {{{}}}", "a".repeat(65));
        assert!(err(&long).starts_with("name `aaaaaaaaaaaaaaaa…` is longer than 64 bytes"));
    }

    #[test]
    fn input_size_and_nesting_are_bounded() {
        let big = format!("a{}", " or a".repeat(MAX_INPUT_LEN / 5 + 1));
        assert!(err(&big).starts_with("policy text is longer than 4096 bytes"));
        let ok = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(Policy::parse(&ok).is_ok());
        let deep = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(
            err(&deep),
            format!("policy nested deeper than 16 levels at column {MAX_DEPTH}")
        );
        // Far deeper than the stack could take without the bound.
        let very = "(".repeat(MAX_INPUT_LEN);
        assert!(err(&very).starts_with("policy nested deeper"));
        // Within the parenthesis bound, but `or` inside `and` at every level doubles the depth.
        let mut alt = String::from("a");
        for _ in 0..(MAX_DEPTH - 1) {
            alt = format!("a or b and ({alt})");
        }
        assert_eq!(err(&alt), "policy nested deeper than 16 levels at column 1");
        let names: Vec<String> = (0..=MAX_SET_LEN).map(|i| format!("n{i}")).collect();
        let set = format!("1 of {{{}}}", names.join(","));
        assert!(
            err(&set).starts_with("set has more than 256 names"),
            "{}",
            err(&set)
        );
        // Fits as written, but not once printed with `, ` between names.
        let names: Vec<String> = (0..MAX_SET_LEN).map(|i| format!("n{i:013}")).collect();
        let tight = format!("1 of {{{}}}", names.join(","));
        assert_eq!(tight.len(), 3846);
        assert_eq!(
            err(&tight),
            "policy's canonical form is longer than 4096 bytes (4101 bytes) at column 1"
        );
    }

    #[test]
    fn the_deepest_printable_tree_parses_back() {
        // a and (b or (a and (b or …))) at MAX_DEPTH levels of and/or.
        let n = |s: &str| Expr::Approver(Name::new(s).unwrap());
        let mut e = Expr::Or(vec![n("a"), n("b")]);
        for level in 1..MAX_DEPTH {
            e = if level % 2 == 1 {
                Expr::And(vec![n("a"), e])
            } else {
                Expr::Or(vec![n("b"), e])
            };
        }
        let p = Policy::new(e.clone()).unwrap();
        assert_eq!(Policy::parse(&p.to_string()).unwrap(), p);
        let deeper = Expr::And(vec![n("c"), e]);
        assert_eq!(Policy::new(deeper), Err(ShapeError::TooDeep));
    }

    #[test]
    fn new_rejects_malformed_trees() {
        let n = |s: &str| Name::new(s).unwrap();
        let t = |need, of: &[&str]| Expr::Threshold {
            need,
            of: of.iter().map(|s| n(s)).collect(),
        };
        assert_eq!(
            Policy::new(t(Need::AtLeast(0), &["a"])),
            Err(ShapeError::ZeroThreshold)
        );
        assert_eq!(Policy::new(t(Need::All, &[])), Err(ShapeError::EmptySet));
        assert_eq!(
            Policy::new(t(Need::AtLeast(1), &["a", "a"])),
            Err(ShapeError::DuplicateName(n("a")))
        );
        assert_eq!(
            Policy::new(t(Need::AtLeast(300), &["a"])),
            Err(ShapeError::ThresholdTooLarge(300))
        );
        assert_eq!(
            Policy::new(Expr::And(vec![Expr::Approver(n("a"))])),
            Err(ShapeError::TooFewOperands)
        );
        assert_eq!(
            Policy::new(Expr::Or(vec![])),
            Err(ShapeError::TooFewOperands)
        );
    }

    #[test]
    fn names_validate() {
        assert!(Name::new("ops-team_2").is_ok());
        assert!(Name::new("_x").is_ok());
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert!(matches!(Name::new("2x"), Err(NameError::Invalid(_))));
        assert!(matches!(Name::new("-x"), Err(NameError::Invalid(_))));
        assert!(matches!(Name::new("a b"), Err(NameError::Invalid(_))));
        assert!(matches!(Name::new("all"), Err(NameError::Keyword(_))));
        assert!(Name::new(&"x".repeat(64)).is_ok());
        assert!(matches!(
            Name::new(&"x".repeat(65)),
            Err(NameError::TooLong(_))
        ));
    }

    #[test]
    fn serde_uses_the_canonical_text_and_reparses() {
        let p = Policy::parse("any 2 of {a,b,c}").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"2 of {a, b, c}\"");
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);
        let bad = serde_json::from_str::<Policy>("\"0 of {a}\"").unwrap_err();
        assert!(
            bad.to_string().contains("threshold must be at least 1"),
            "{bad}"
        );
        assert!(serde_json::from_str::<Name>("\"or\"").is_err());
    }

    #[test]
    fn names_lists_each_once_in_order() {
        let p = Policy::parse("(b or a) and 2 of {c, a, d} or b").unwrap();
        let got: Vec<String> = p.names().iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["b", "a", "c", "d"]);
    }
}
