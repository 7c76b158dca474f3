//! Rule conditions: CEL expressions compiled once, evaluated per reading.
//!
//! Conditions are parsed by the `cel` crate (cel-rust), which is sandboxed:
//! a CEL program has no I/O, no loops and no way to reach the host. Most
//! conditions are plain comparisons of numeric variables with literals or
//! other variables, joined by `&&`, `||` and `!`, such as `value > upper`.
//! Those are also compiled into a [`Fast`] tree that evaluates without
//! allocating; everything else runs in the CEL interpreter.
//!
//! A condition that names an optional variable the evaluation does not have
//! (`upper` for a point without an upper limit, `prev` for the first
//! reading) is not applicable: the rule skips that reading.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::common::ast::{Expr, LiteralValue};
use cel::{Context, Program, Value};

use crate::aqi;
use crate::noise;

/// The variables a condition may name, each with its meaning for rule authors.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "value",
        "the reading's value, or the window aggregate when the rule has a window",
    ),
    (
        "upper",
        "the point's upper limit for the factor (absent: rule not applicable)",
    ),
    (
        "lower",
        "the point's lower limit for the factor (absent: rule not applicable)",
    ),
    (
        "prev",
        "the previous value of the same point and factor (absent on the first)",
    ),
    ("delta", "value - prev"),
    ("count", "the number of readings in the window"),
    (
        "flag",
        "the data flag, such as \"N\" or \"T\"; \"\" when the device sent none",
    ),
    ("factor", "the factor code, such as \"w01018\""),
    ("mn", "the point's MN"),
    ("area", "the point's area code"),
    (
        "system_code",
        "the point's HJ 212 system code, such as \"32\"",
    ),
    ("hour", "the local hour of the reading's data time, 0 to 23"),
    (
        "night",
        "true from 22:00 to 06:00 local time (GB 3096-2008 night period)",
    ),
    (
        "attrs",
        "the point's attributes, a map of strings, such as attrs.noise_class",
    ),
];

/// An optional numeric variable, as a bit in [`Needs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumVar {
    Value,
    Upper,
    Lower,
    Prev,
    Delta,
    Count,
    Hour,
}

impl NumVar {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "value" => Self::Value,
            "upper" => Self::Upper,
            "lower" => Self::Lower,
            "prev" => Self::Prev,
            "delta" => Self::Delta,
            "count" => Self::Count,
            "hour" => Self::Hour,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The values one evaluation sees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vars<'a> {
    pub(crate) value: f64,
    pub(crate) upper: Option<f64>,
    pub(crate) lower: Option<f64>,
    pub(crate) prev: Option<f64>,
    pub(crate) count: Option<f64>,
    pub(crate) hour: f64,
    pub(crate) flag: &'a str,
    pub(crate) factor: &'a str,
    pub(crate) mn: &'a str,
    pub(crate) area: &'a str,
    pub(crate) system_code: &'a str,
    pub(crate) attrs: &'a BTreeMap<String, String>,
}

impl Vars<'_> {
    #[inline(always)]
    fn number(&self, var: NumVar) -> Option<f64> {
        match var {
            NumVar::Value => Some(self.value),
            NumVar::Upper => self.upper,
            NumVar::Lower => self.lower,
            NumVar::Prev => self.prev,
            NumVar::Delta => self.prev.map(|prev| self.value - prev),
            NumVar::Count => self.count,
            NumVar::Hour => Some(self.hour),
        }
    }

    fn night(&self) -> bool {
        !(6.0..22.0).contains(&self.hour)
    }

    /// Returns true if every optional variable in `needs` is present.
    fn has(&self, needs: u8) -> bool {
        // `value` and `hour` are always present, and most conditions name
        // no other number.
        if needs & !(NumVar::Value.bit() | NumVar::Hour.bit()) == 0 {
            return true;
        }
        [
            NumVar::Upper,
            NumVar::Lower,
            NumVar::Prev,
            NumVar::Delta,
            NumVar::Count,
        ]
        .into_iter()
        .all(|var| needs & var.bit() == 0 || self.number(var).is_some())
    }
}

/// A numeric operand of the fast path.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Var(NumVar),
    Literal(f64),
    Arith(Box<Operand>, ArithOp, Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A string variable of the fast path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StrVar {
    Flag,
    Factor,
}

impl CmpOp {
    #[inline(always)]
    fn apply(self, left: f64, right: f64) -> bool {
        match self {
            Self::Lt => left < right,
            Self::Le => left <= right,
            Self::Gt => left > right,
            Self::Ge => left >= right,
            Self::Eq => left == right,
            Self::Ne => left != right,
        }
    }

    /// Returns the operator with its operands swapped: `a < b` is `b > a`.
    fn swapped(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Eq => Self::Eq,
            Self::Ne => Self::Ne,
        }
    }
}

/// A condition compiled for evaluation without the interpreter.
#[derive(Debug, Clone, PartialEq)]
enum Fast {
    /// A variable compared with a literal, such as `value > 100.0`: the
    /// most common condition, evaluated without walking a tree.
    VarLiteral(NumVar, CmpOp, f64),
    Compare(Operand, CmpOp, Operand),
    StrEquals(StrVar, String, bool),
    Night(bool),
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Not(Box<Fast>),
}

impl Operand {
    /// Evaluates the operand. Variables and literals, the common operands,
    /// are inlined into the comparison; arithmetic is a call.
    #[inline(always)]
    fn eval(&self, vars: &Vars<'_>) -> Option<f64> {
        match self {
            Self::Var(var) => vars.number(*var),
            Self::Literal(value) => Some(*value),
            Self::Arith(left, op, right) => Self::eval_arith(left, *op, right, vars),
        }
    }

    fn eval_arith(left: &Self, op: ArithOp, right: &Self, vars: &Vars<'_>) -> Option<f64> {
        let (left, right) = (left.eval(vars)?, right.eval(vars)?);
        Some(match op {
            ArithOp::Add => left + right,
            ArithOp::Sub => left - right,
            ArithOp::Mul => left * right,
            ArithOp::Div => left / right,
        })
    }
}

impl Fast {
    /// Evaluates the tree; `None` means an operand was absent or not a number.
    fn eval(&self, vars: &Vars<'_>) -> Option<bool> {
        Some(match self {
            Self::VarLiteral(var, op, literal) => {
                let value = vars.number(*var)?;
                if !value.is_finite() || !literal.is_finite() {
                    return None;
                }
                op.apply(value, *literal)
            }
            Self::Compare(left, op, right) => {
                let (left, right) = (left.eval(vars)?, right.eval(vars)?);
                if !left.is_finite() || !right.is_finite() {
                    return None;
                }
                op.apply(left, right)
            }
            Self::StrEquals(var, literal, equal) => {
                let actual = match var {
                    StrVar::Flag => vars.flag,
                    StrVar::Factor => vars.factor,
                };
                (actual == literal) == *equal
            }
            Self::Night(expected) => vars.night() == *expected,
            Self::And(left, right) => left.eval(vars)? && right.eval(vars)?,
            Self::Or(left, right) => left.eval(vars)? || right.eval(vars)?,
            Self::Not(inner) => !inner.eval(vars)?,
        })
    }

    /// Compiles the subset of CEL that the fast path covers, or returns `None`.
    fn compile(expr: &Expr) -> Option<Self> {
        match expr {
            Expr::Ident(name) if name == "night" => Some(Self::Night(true)),
            Expr::Call(call) if call.target.is_none() => {
                let args = &call.args;
                match (call.func_name.as_str(), args.as_slice()) {
                    ("_&&_", [left, right]) => Some(Self::And(
                        Box::new(Self::compile(&left.expr)?),
                        Box::new(Self::compile(&right.expr)?),
                    )),
                    ("_||_", [left, right]) => Some(Self::Or(
                        Box::new(Self::compile(&left.expr)?),
                        Box::new(Self::compile(&right.expr)?),
                    )),
                    ("!_", [inner]) => Some(Self::Not(Box::new(Self::compile(&inner.expr)?))),
                    (name, [left, right]) => compile_comparison(name, &left.expr, &right.expr),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

fn compile_comparison(name: &str, left: &Expr, right: &Expr) -> Option<Fast> {
    let op = match name {
        "_<_" => CmpOp::Lt,
        "_<=_" => CmpOp::Le,
        "_>_" => CmpOp::Gt,
        "_>=_" => CmpOp::Ge,
        "_==_" => CmpOp::Eq,
        "_!=_" => CmpOp::Ne,
        _ => return None,
    };
    if matches!(op, CmpOp::Eq | CmpOp::Ne)
        && let Some(fast) = compile_string_equality(left, right, op == CmpOp::Eq)
    {
        return Some(fast);
    }
    // CEL compares numbers across int and double, so literals of either kind
    // compare as in the interpreter.
    let left = compile_operand(left, true)?;
    let right = compile_operand(right, true)?;
    Some(match (left, right) {
        (Operand::Var(var), Operand::Literal(literal)) => Fast::VarLiteral(var, op, literal),
        (Operand::Literal(literal), Operand::Var(var)) => {
            Fast::VarLiteral(var, op.swapped(), literal)
        }
        (left, right) => Fast::Compare(left, op, right),
    })
}

fn compile_string_equality(left: &Expr, right: &Expr, equal: bool) -> Option<Fast> {
    let (Expr::Ident(name), Expr::Literal(LiteralValue::String(literal))) = (left, right) else {
        return None;
    };
    let var = match name.as_str() {
        "flag" => StrVar::Flag,
        "factor" => StrVar::Factor,
        _ => return None,
    };
    Some(Fast::StrEquals(var, literal.inner().to_owned(), equal))
}

/// Compiles a numeric operand. `comparison` is true directly under a
/// comparison, where an int literal is allowed; inside arithmetic CEL has no
/// int-double overloads, so only double literals keep the fast path there.
fn compile_operand(expr: &Expr, comparison: bool) -> Option<Operand> {
    match expr {
        Expr::Ident(name) => NumVar::parse(name).map(Operand::Var),
        Expr::Literal(LiteralValue::Double(value)) => Some(Operand::Literal(*value.inner())),
        Expr::Literal(LiteralValue::Int(value)) if comparison => {
            Some(Operand::Literal(*value.inner() as f64))
        }
        Expr::Call(call) if call.target.is_none() && call.args.len() == 2 => {
            let op = match call.func_name.as_str() {
                "_+_" => ArithOp::Add,
                "_-_" => ArithOp::Sub,
                "_*_" => ArithOp::Mul,
                "_/_" => ArithOp::Div,
                _ => return None,
            };
            let left = compile_operand(&call.args[0].expr, false)?;
            let right = compile_operand(&call.args[1].expr, false)?;
            // Integer variables (none today) would need int arithmetic; every
            // numeric variable is a double, so double arithmetic matches CEL.
            Some(Operand::Arith(Box::new(left), op, Box::new(right)))
        }
        _ => None,
    }
}

/// Returns what `expr` evaluates to when its outermost form shows it is
/// never a bool, such as a variable, a literal or arithmetic. Other forms,
/// such as a field of `attrs` or a conditional, are checked at run time.
fn non_boolean_result(expr: &Expr) -> Option<&'static str> {
    match expr {
        Expr::Literal(LiteralValue::Boolean(_)) => None,
        Expr::Literal(LiteralValue::String(_)) => Some("a string"),
        Expr::Literal(LiteralValue::Bytes(_)) => Some("bytes"),
        Expr::Literal(LiteralValue::Null) => Some("null"),
        Expr::Literal(_) => Some("a number"),
        Expr::Ident(name) => match name.as_str() {
            "flag" | "factor" | "mn" | "area" | "system_code" => Some("a string"),
            "attrs" => Some("a map"),
            name if NumVar::parse(name).is_some() => Some("a number"),
            _ => None,
        },
        Expr::List(_) => Some("a list"),
        Expr::Map(_) => Some("a map"),
        Expr::Call(call) if call.target.is_none() => match call.func_name.as_str() {
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" | "-_" => Some("the result of arithmetic"),
            "abs" | "iaqi" | "noise_limit" => Some("a number"),
            _ => None,
        },
        _ => None,
    }
}

/// Why a condition could not be compiled, with the position CEL reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// Line within the condition, from 1.
    pub line: usize,
    /// Column within the line, from 1.
    pub column: usize,
    /// CEL's message.
    pub message: String,
}

/// The result of evaluating a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The condition was evaluated.
    Bool(bool),
    /// The condition names a variable this evaluation does not have.
    NotApplicable,
}

/// A compiled condition.
#[derive(Debug)]
pub struct Condition {
    source: String,
    /// Boxed: the interpreter's program is large and only the slow path
    /// reads it, so rules stay small and more of them share the cache.
    program: Box<Program>,
    fast: Option<Fast>,
    /// Bits of [`NumVar`] the condition references.
    needs: u8,
}

impl Condition {
    /// Compiles `source`; CEL syntax errors carry their line and column.
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        let program = Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            CompileError {
                line: first.map_or(1, |error| usize::try_from(error.pos.0).unwrap_or(1)),
                column: first.map_or(1, |error| usize::try_from(error.pos.1 + 1).unwrap_or(1)),
                message: first.map_or_else(|| errors.to_string(), |error| error.msg.clone()),
            }
        })?;
        let references = program.references();
        let mut needs = 0;
        for (name, _) in VARIABLES {
            if let Some(var) = NumVar::parse(name)
                && references.has_variable(name)
            {
                needs |= var.bit();
            }
        }
        if let Some(variable) = referenced_unknown(&program).into_iter().next() {
            let (line, column) = word_position(source, &variable);
            return Err(CompileError {
                line,
                column,
                message: format!(
                    "unknown variable {variable:?}; the variables are {}",
                    VARIABLES
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let Some(kind) = non_boolean_result(&program.expression().expr) {
            return Err(CompileError {
                line: 1,
                column: 1,
                message: format!(
                    "the expression returns {kind}, not true or false; \
                     compare it instead, such as value > upper"
                ),
            });
        }
        let fast = Fast::compile(&program.expression().expr);
        Ok(Self {
            source: source.to_owned(),
            program: Box::new(program),
            fast,
            needs,
        })
    }

    /// Returns the condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns true if the condition runs without the interpreter.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    /// Evaluates the condition; an error is CEL's runtime error or a result
    /// that is not a bool.
    #[inline]
    pub(crate) fn eval(&self, vars: &Vars<'_>, cel: &CelRuntime) -> Result<Outcome, String> {
        if let Some(Fast::VarLiteral(var, op, literal)) = &self.fast {
            // The variable is the only one the condition names, so its
            // absence is the only way the condition is not applicable.
            return match vars.number(*var) {
                None => Ok(Outcome::NotApplicable),
                Some(value) if value.is_finite() && literal.is_finite() => {
                    Ok(Outcome::Bool(op.apply(value, *literal)))
                }
                Some(_) => Err(self.not_finite()),
            };
        }
        if !vars.has(self.needs) {
            return Ok(Outcome::NotApplicable);
        }
        if let Some(fast) = &self.fast {
            return match fast.eval(vars) {
                Some(result) => Ok(Outcome::Bool(result)),
                None => Err(self.not_finite()),
            };
        }
        cel.eval(&self.program, vars).map(Outcome::Bool)
    }

    #[cold]
    fn not_finite(&self) -> String {
        format!(
            "condition {:?} compared a value that is not a finite number",
            self.source
        )
    }
}

/// Returns the 1-based line and column of the first whole-word `word` in
/// `source`, or 1:1 when it is not found.
fn word_position(source: &str, word: &str) -> (usize, usize) {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let found = source.match_indices(word).find(|(start, _)| {
        let before = source[..*start].chars().next_back();
        let after = source[start + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    });
    let Some((start, _)) = found else {
        return (1, 1);
    };
    let before = &source[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Returns the identifiers a program reads that are neither variables nor
/// bound by a macro such as `exists(x, ...)`.
fn referenced_unknown(program: &Program) -> Vec<String> {
    let references = program.references();
    references
        .variables()
        .into_iter()
        .filter(|name| !VARIABLES.iter().any(|(known, _)| known == name))
        .map(str::to_owned)
        .collect()
}

/// The CEL interpreter's context with the functions rules may call.
pub struct CelRuntime {
    base: Context<'static, 'static>,
}

impl std::fmt::Debug for CelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelRuntime").finish_non_exhaustive()
    }
}

impl Default for CelRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl CelRuntime {
    /// Creates the context with the standard library and the domain functions:
    /// `abs(x)`, `iaqi(pollutant, concentration)` (HJ 633-2012 individual air
    /// quality index) and `noise_limit(class, night)` (GB 3096-2008 limits).
    pub fn new() -> Self {
        let mut base = Context::default();
        base.add_function("abs", |x: f64| x.abs())
            .expect("abs is not a standard CEL overload");
        base.add_function("iaqi", |pollutant: Arc<String>, concentration: f64| {
            aqi::iaqi(&pollutant, concentration).unwrap_or(f64::NAN)
        })
        .expect("iaqi is not a standard CEL overload");
        base.add_function("noise_limit", |class: Arc<String>, night: bool| {
            noise::limit(&class, night).unwrap_or(f64::NAN)
        })
        .expect("noise_limit is not a standard CEL overload");
        Self { base }
    }

    fn eval(&self, program: &Program, vars: &Vars<'_>) -> Result<bool, String> {
        let mut context = self.base.new_inner_scope();
        context.add_variable_from_value("value", vars.value);
        for (name, value) in [
            ("upper", vars.upper),
            ("lower", vars.lower),
            ("prev", vars.prev),
            ("delta", vars.prev.map(|prev| vars.value - prev)),
            ("count", vars.count),
        ] {
            if let Some(value) = value {
                context.add_variable_from_value(name, value);
            }
        }
        context.add_variable_from_value("hour", vars.hour as i64);
        context.add_variable_from_value("night", vars.night());
        for (name, value) in [
            ("flag", vars.flag),
            ("factor", vars.factor),
            ("mn", vars.mn),
            ("area", vars.area),
            ("system_code", vars.system_code),
        ] {
            context.add_variable_from_value(name, value);
        }
        let attrs: std::collections::HashMap<String, String> = vars
            .attrs
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        context.add_variable_from_value("attrs", attrs);
        match program.execute(&context) {
            Ok(Value::Bool(result)) => Ok(result),
            Ok(other) => Err(format!(
                "condition returned {other:?}, expected true or false"
            )),
            Err(error) => Err(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(value: f64) -> Vars<'static> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        Vars {
            value,
            upper: Some(100.0),
            lower: None,
            prev: Some(90.0),
            count: None,
            hour: 23.0,
            flag: "N",
            factor: "w01018",
            mn: "MN1",
            area: "350203",
            system_code: "32",
            attrs: &EMPTY,
        }
    }

    fn eval(source: &str, vars: &Vars<'_>) -> Result<Outcome, String> {
        Condition::compile(source)
            .unwrap()
            .eval(vars, &CelRuntime::new())
    }

    #[test]
    fn plain_comparisons_take_fast_path() {
        for source in [
            "value > upper",
            "flag == 'T' || value >= 2.0 * upper",
            "!(value <= upper) && night",
            "delta > 10",
        ] {
            assert!(Condition::compile(source).unwrap().is_fast(), "{source}");
        }
        assert!(!Condition::compile("abs(delta) > 10.0").unwrap().is_fast());
        assert!(!Condition::compile("value > 2 * upper").unwrap().is_fast());
    }

    #[test]
    fn fast_path_matches_interpreter() {
        let runtime = CelRuntime::new();
        let sources = [
            "value > upper",
            "value >= 100",
            "flag == 'T' || value >= 2.0 * upper",
            "flag != 'N'",
            "!(value <= upper) && night",
            "delta > 10.0 || value - prev < -5.0",
            "value / upper > 1.5",
            "factor == 'w01018' && value > 50.5",
            "100.0 < value",
            "95 >= value",
            "prev != 90.0",
        ];
        for source in sources {
            let condition = Condition::compile(source).unwrap();
            let fast = condition.fast.clone().expect(source);
            for value in [0.0, 50.0, 95.0, 100.0, 101.0, 150.0, 200.0, 250.0] {
                let vars = vars(value);
                let interpreted = runtime.eval(&condition.program, &vars).unwrap();
                assert_eq!(fast.eval(&vars), Some(interpreted), "{source} at {value}");
            }
        }
    }

    #[test]
    fn absent_variable_is_not_applicable() {
        let mut vars = vars(5.0);
        vars.prev = None;
        assert_eq!(eval("delta > 1.0", &vars), Ok(Outcome::NotApplicable));
        assert_eq!(eval("value < lower", &vars), Ok(Outcome::NotApplicable));
        assert_eq!(eval("lower > 1.0", &vars), Ok(Outcome::NotApplicable));
        assert_eq!(eval("1.0 < prev", &vars), Ok(Outcome::NotApplicable));
    }

    #[test]
    fn non_finite_value_is_an_error() {
        let vars = vars(f64::NAN);
        for source in ["value > 100.0", "100.0 < value", "value > upper"] {
            let error = eval(source, &vars).unwrap_err();
            assert!(error.contains("not a finite number"), "{source}: {error}");
        }
    }

    #[test]
    fn interpreter_runs_domain_functions() {
        let vars = vars(80.0);
        assert_eq!(
            eval("iaqi('pm25_24h', value) > 100.0", &vars),
            Ok(Outcome::Bool(true))
        );
        assert_eq!(
            eval("value > noise_limit('2', night)", &vars),
            Ok(Outcome::Bool(true))
        );
        assert_eq!(eval("abs(delta) > 5.0", &vars), Ok(Outcome::Bool(true)));
    }

    #[test]
    fn runtime_errors_are_reported() {
        let vars = vars(1.0);
        let error = eval("value / 0 > 1.0", &vars).unwrap_err();
        assert!(!error.is_empty());
        let error = eval("value > 0.0 ? value : true", &vars).unwrap_err();
        assert!(error.contains("expected true or false"), "{error}");
        let error = eval("attrs.missing == 'x'", &vars).unwrap_err();
        assert!(error.contains("missing"), "{error}");
    }

    #[test]
    fn non_boolean_conditions_are_rejected() {
        let cases = [
            ("value", "a number"),
            ("3.5", "a number"),
            ("mn", "a string"),
            ("'a' + 'b'", "the result of arithmetic"),
            ("value * 2.0", "the result of arithmetic"),
            ("abs(delta)", "a number"),
            ("[value]", "a list"),
        ];
        for (source, kind) in cases {
            let error = Condition::compile(source).unwrap_err();
            assert!(
                error
                    .message
                    .contains(&format!("returns {kind}, not true or false")),
                "{source}: {}",
                error.message
            );
        }
        for source in ["night", "true", "!night", "attrs.enabled", "value > upper"] {
            assert!(Condition::compile(source).is_ok(), "{source} rejected");
        }
    }

    #[test]
    fn compile_errors_have_position() {
        let error = Condition::compile("value >").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.column > 1, "{error:?}");
        let error = Condition::compile("valeu > upper").unwrap_err();
        assert!(error.message.contains("valeu"), "{}", error.message);
        let error = Condition::compile("value > upper && x_value < lower").unwrap_err();
        assert!(error.message.contains("x_value"), "{}", error.message);
        assert_eq!((error.line, error.column), (1, 18));
    }
}
