//! Control over what is sampled: conditions (`age>=65`), rebalanced columns, statistical parity
//! between groups, seed rows to complete, and the constraints declared in the model's metadata.
//!
//! Everything is turned into *scenarios*: a scenario is a conjunction of conditions, and every
//! output row belongs to one (all rows to the same one for plain conditions; rows split between
//! scenarios in exact shares for rebalancing and parity; one scenario per seed row for
//! completion). Rows of a scenario are drawn from the model's conditional distribution:
//! - with the `tree` engine, each conditioned column's variables are *restricted* to the codes
//!   (and, for numeric bins, the parts of a bin) whose values meet the conditions. The chain
//!   draws restricted variables from their allowed codes only and weights the row by the allowed
//!   mass, the likelihood of the conditions (sequential importance sampling): no rejection loop,
//!   so a condition that holds for 1 row in 10 000 costs no more than a common one;
//! - with the `copula` engine, candidate rows are drawn unconditioned (weight 1);
//! - either way, candidates are decoded, formulas of the constraints computed, and candidates
//!   that fail a condition or a constraint dropped (with restrictions this removes only the rows
//!   that fall on the edge of a bin). The rows of a scenario are then resampled systematically by
//!   weight from its valid candidates. Candidates are drawn in rounds until their effective
//!   sample size covers the rows needed.
//!
//! A condition the model cannot meet is an error that names it; [`estimate`] says how rare a
//! condition is under the model.

use std::collections::HashMap;
use std::sync::Arc;

use rand::RngExt;

use doppel_core::condition::Check;
pub use doppel_core::condition::{Condition, Op, Test};
use doppel_core::constraint::{ColumnRule, FittedConstraint};
use doppel_core::rng::mix64;
use doppel_core::{Column, ColumnData, ConstraintSet, Error, Result, SeededRng, Table, UniqueSeen, Value, stream_rng};
use std::sync::Mutex;

use doppel_transform::TransformState;

use crate::model_file::{EngineModel, ModelFile};
use crate::trees::{Codes, Restriction, SequentialTreesModel};
use crate::{BLOCK_ROWS, decode_scores};

/// Candidate rows drawn per output row when the `tree` engine samples under conditions. Part of
/// the output's definition.
pub const CONDITION_OVERSAMPLE: usize = 8;

/// Rounds of candidates drawn before giving up on a scenario.
const MAX_ROUNDS: u32 = 10;

/// Candidate rows drawn by [`estimate`].
pub const ESTIMATE_ROWS: usize = 20_000;

/// The target distribution of a rebalanced column.
#[derive(Debug, Clone, PartialEq)]
pub enum Shares {
    /// Every kept category equally often.
    Uniform,
    /// These values in these shares; the rest of the rows keep the other values in the model's
    /// proportions.
    Given(Vec<(String, f64)>),
    /// These values this many times as often as the model has them (`fraud=true:10x`).
    Multiply(Vec<(String, f64)>),
}

/// A column whose distribution is set to a target while the other columns keep their
/// distributions conditional on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebalance {
    /// A categorical or boolean column.
    pub column: String,
    /// The target.
    pub shares: Shares,
}

impl Rebalance {
    /// Parses `COLUMN=uniform` or `COLUMN=VALUE:SHARE[,VALUE:SHARE...]` (shares in [0, 1]).
    pub fn parse(text: &str) -> Result<Rebalance> {
        let invalid = |why: &str| {
            Error::InvalidConfig(format!(
                "rebalance `{text}`: {why}; expected `COLUMN=VALUE:SHARE[,VALUE:SHARE...]` (for example `churn=yes:0.5`) \
                 or `COLUMN=uniform`"
            ))
        };
        let (column, spec) = text.split_once('=').ok_or_else(|| invalid("no `=`"))?;
        if spec.trim() == "uniform" {
            return Ok(Rebalance { column: column.trim().to_string(), shares: Shares::Uniform });
        }
        let pairs = parse_pairs(spec, false).map_err(|why| invalid(&why))?;
        let total: f64 = pairs.iter().map(|(_, s)| s).sum();
        if pairs.iter().any(|(_, s)| !(0.0..=1.0).contains(s)) || total > 1.0 + 1e-9 {
            return Err(invalid("shares must lie in [0, 1] and add up to at most 1"));
        }
        Ok(Rebalance { column: column.trim().to_string(), shares: Shares::Given(pairs) })
    }

    /// Parses `COLUMN=VALUE:FACTORx[,VALUE:FACTORx...]` (a factor above 0).
    pub fn parse_oversample(text: &str) -> Result<Rebalance> {
        let invalid = |why: &str| {
            Error::InvalidConfig(format!(
                "oversample `{text}`: {why}; expected `COLUMN=VALUE:FACTORx`, for example `fraud=true:10x`"
            ))
        };
        let (column, spec) = text.split_once('=').ok_or_else(|| invalid("no `=`"))?;
        let pairs = parse_pairs(spec, true).map_err(|why| invalid(&why))?;
        if pairs.iter().any(|(_, f)| *f <= 0.0) {
            return Err(invalid("a factor must be above 0"));
        }
        Ok(Rebalance { column: column.trim().to_string(), shares: Shares::Multiply(pairs) })
    }
}

fn parse_pairs(spec: &str, factor: bool) -> std::result::Result<Vec<(String, f64)>, String> {
    let mut pairs = Vec::new();
    for item in spec.split(',') {
        let (value, number) = item.rsplit_once(':').ok_or_else(|| format!("`{item}` has no `:`"))?;
        let number = if factor { number.trim().strip_suffix(['x', 'X']).unwrap_or(number.trim()) } else { number };
        let number: f64 = number.trim().parse().map_err(|_| format!("`{number}` is not a number"))?;
        if !number.is_finite() {
            return Err(format!("`{number}` is not a finite number"));
        }
        pairs.push((value.trim().to_string(), number));
    }
    Ok(pairs)
}

/// The outcome whose rate must be equal between groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every value of a categorical column.
    Column(String),
    /// A condition and its opposite (`wage>=600`).
    Condition(Condition),
}

/// Statistical parity: every group of `group` gets the same distribution of `outcome`, the
/// overall one, while the groups keep their sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fairness {
    /// The protected attribute (a categorical or boolean column).
    pub group: String,
    /// The outcome.
    pub outcome: Outcome,
}

impl Outcome {
    /// A column name, or a condition when the text has a comparison in it.
    pub fn parse(text: &str) -> Result<Outcome> {
        if text.contains(['=', '<', '>']) {
            Ok(Outcome::Condition(Condition::parse(text)?))
        } else {
            Ok(Outcome::Column(text.trim().to_string()))
        }
    }
}

/// Everything that shapes which rows are sampled. The default samples the model as it is (its
/// constraints still apply).
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// Conditions every row meets.
    pub conditions: Vec<Condition>,
    /// Rebalanced columns (several multiply: their targets are combined independently).
    pub rebalance: Vec<Rebalance>,
    /// Statistical parity between groups.
    pub fairness: Option<Fairness>,
    /// Partial rows to complete, one output row each (the sample has exactly as many rows).
    /// Empty cells are filled in; given cells are kept.
    pub complete: Option<Arc<Table>>,
}

impl Control {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty() && self.rebalance.is_empty() && self.fairness.is_none() && self.complete.is_none()
    }
}

/// A condition checked against the model's columns.
#[derive(Debug, Clone)]
struct Compiled {
    column: usize,
    check: Check,
    text: String,
}

impl Compiled {
    fn holds(&self, value: &Value<'_>) -> bool {
        self.check.holds(value)
    }
}

fn compile(condition: &Condition, model: &ModelFile, template: &Table) -> Result<Compiled> {
    let text = condition.to_string();
    let column = template.columns().iter().position(|c| c.name == condition.column).ok_or_else(|| {
        Error::InvalidConfig(format!(
            "condition `{text}`: the model has no column `{}`; its columns are {}",
            condition.column,
            template.column_names().iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let transform = model_transforms(model)[column].clone();
    if transform.output_columns().is_empty() {
        let what = match transform {
            TransformState::Identifier(_) => "an identifier, generated afresh",
            TransformState::FreeText(_) => "free text, generated afresh",
            TransformState::Fake(_) => "personal data, replaced by fake values",
            _ => "a column whose values were all protected as rare",
        };
        return Err(Error::InvalidConfig(format!(
            "condition `{text}`: `{}` is {what}, not modelled, so it cannot be conditioned on",
            condition.column
        )));
    }
    let template_column = &template.columns()[column];
    let ordered = !matches!(template_column.data, ColumnData::Text(_) | ColumnData::Category(..) | ColumnData::Bool(_));
    let check = condition.check_with(ordered, &|literal| Value::parse_like(literal, template_column))?;
    Ok(Compiled { column, check, text })
}

fn model_transforms(model: &ModelFile) -> &[TransformState] {
    match &model.model {
        EngineModel::GaussianCopula(copula) => &copula.transforms,
        EngineModel::SequentialTrees(trees) => &trees.transforms,
        EngineModel::PrivateMarginals(dp) => &dp.transforms,
    }
}

/// One scenario: its conditions, and for the `tree` engine the restriction of each variable.
#[derive(Debug, Clone, Default)]
struct Scenario {
    conditions: Vec<Compiled>,
    restrictions: Option<Vec<Option<Arc<Restriction>>>>,
}

impl Scenario {
    fn describe(&self) -> String {
        if self.conditions.is_empty() {
            "(no condition)".into()
        } else {
            self.conditions.iter().map(|c| format!("`{}`", c.text)).collect::<Vec<_>>().join(" and ")
        }
    }

    fn holds(&self, table: &Table, row: usize) -> bool {
        self.conditions.iter().all(|c| c.holds(&Value::of(&table.columns()[c.column].data, row)))
    }
}

/// Restrictions of one column's variables for a set of conditions on it, cached by the
/// conditions' text (seed rows repeat values).
type ColumnRestrictions = Vec<(usize, Arc<Restriction>)>;

/// Compiles the restrictions of a scenario for the `tree` engine.
fn restrict(
    trees: &SequentialTreesModel,
    conditions: &[Compiled],
    cache: &mut HashMap<(usize, String), ColumnRestrictions>,
) -> Result<Vec<Option<Arc<Restriction>>>> {
    let mut restrictions: Vec<Option<Arc<Restriction>>> = vec![None; trees.variables.len()];
    let mut columns: Vec<usize> = conditions.iter().map(|c| c.column).collect();
    columns.sort_unstable();
    columns.dedup();
    for column in columns {
        let on_column: Vec<&Compiled> = conditions.iter().filter(|c| c.column == column).collect();
        let key = (column, on_column.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("\u{1}"));
        if !cache.contains_key(&key) {
            let computed = restrict_column(trees, column, &on_column)?;
            cache.insert(key.clone(), computed);
        }
        for (variable, restriction) in &cache[&key] {
            // A restriction that allows everything would only cost candidates.
            if restriction.weights.iter().any(|&w| w < 1.0) {
                restrictions[*variable] = Some(Arc::clone(restriction));
            }
        }
    }
    Ok(restrictions)
}

/// The restrictions that make column `column` meet `conditions` (all of them).
fn restrict_column(
    trees: &SequentialTreesModel,
    column: usize,
    conditions: &[&Compiled],
) -> Result<ColumnRestrictions> {
    let transform = &trees.transforms[column];
    let outputs = transform.output_columns();
    let first: usize = trees.transforms[..column].iter().map(|t| t.output_columns().len()).sum();
    let value_variable = outputs.iter().position(|o| o.name.ends_with(".value")).map(|i| first + i);
    let missing_variable = outputs.iter().position(|o| o.name.ends_with(".missing")).map(|i| first + i);
    let name = transform.column();
    let describe = || conditions.iter().map(|c| format!("`{}`", c.text)).collect::<Vec<_>>().join(" and ");
    // Scores of "present" and "missing" on the indicator (present < missing).
    let present_score = match missing_variable.map(|v| &trees.variables[v].codes) {
        Some(Codes::Classes { scores }) if scores.len() == 2 => scores[0],
        _ => 0.25,
    };
    let mut rng = stream_rng(0, 0);
    let mut decode = |u: f64| -> Value<'static> {
        let value = [u];
        let indicator = [present_score];
        let encoded: Vec<&[f64]> = match (value_variable.is_some(), missing_variable.is_some()) {
            (true, true) => vec![&value, &indicator],
            (true, false) => vec![&value],
            _ => vec![&indicator],
        };
        match transform.reverse_transform(&encoded, 0, 1, &mut rng) {
            Ok(decoded) => Value::of(&decoded.data, 0).into_owned(),
            Err(_) => Value::Missing,
        }
    };
    let holds = |value: &Value<'_>| conditions.iter().all(|c| c.holds(value));
    let missing_ok = holds(&Value::Missing);
    let mut result = Vec::new();
    let mut present_possible = false;
    if let Some(variable) = value_variable {
        let codes = &trees.variables[variable].codes;
        let gated = trees.variables[variable].gate.is_some();
        let (weights, parts) = match codes {
            Codes::Classes { scores } => {
                let mut weights: Vec<f64> = scores.iter().map(|&s| if holds(&decode(s)) { 1.0 } else { 0.0 }).collect();
                present_possible = weights.iter().any(|&w| w > 0.0);
                weights.push(if gated || holds(&decode(0.5)) { 1.0 } else { 0.0 });
                (weights, Vec::new())
            }
            Codes::Bins { edges } => {
                let mut allowed = vec![(0.0, 1.0)];
                for condition in conditions {
                    let set = allowed_scores(condition, &mut decode);
                    allowed = intersect(&allowed, &set);
                }
                let mut weights = Vec::with_capacity(edges.len());
                let mut parts = Vec::with_capacity(edges.len());
                for bin in edges.windows(2) {
                    let (low, high) = (bin[0], bin[1]);
                    let inside = intersect(&allowed, &[(low, high)]);
                    let length: f64 = inside.iter().map(|(a, b)| b - a).sum();
                    let share = if high > low { (length / (high - low)).clamp(0.0, 1.0) } else { 0.0 };
                    weights.push(share);
                    parts.push(if share > 0.0 && share < 1.0 { inside } else { Vec::new() });
                }
                present_possible = weights.iter().any(|&w| w > 0.0);
                weights.push(if gated || holds(&decode(0.5)) { 1.0 } else { 0.0 });
                (weights, parts)
            }
        };
        result.push((variable, Arc::new(trees.restriction(variable, weights, parts))));
    }
    if let Some(variable) = missing_variable {
        let present = if value_variable.is_some() { present_possible } else { true };
        let weights = vec![f64::from(u8::from(present)), f64::from(u8::from(missing_ok)), 1.0];
        result.push((variable, Arc::new(trees.restriction(variable, weights, Vec::new()))));
    }
    if !(present_possible || missing_ok && missing_variable.is_some()) {
        let seen = match &trees.variables[value_variable.unwrap_or(first)].codes {
            Codes::Classes { scores } => {
                let values: Vec<String> = scores.iter().take(20).map(|&s| format!("`{}`", decode(s))).collect();
                format!("its values are {}", values.join(", "))
            }
            Codes::Bins { .. } => format!("its values range from {} to {}", decode(1e-9), decode(1.0 - 1e-9)),
        };
        let missing = if missing_ok { "; it has no missing values either" } else { "" };
        return Err(Error::InvalidConfig(format!(
            "{}: impossible under the model: it never generates such a value of `{name}` ({seen}{missing})",
            describe()
        )));
    }
    Ok(result)
}

/// The scores in (0, 1) whose decoded present value meets `condition` (values are monotone in
/// the score): a union of intervals, found by bisection.
fn allowed_scores(condition: &Compiled, decode: &mut dyn FnMut(f64) -> Value<'static>) -> Vec<(f64, f64)> {
    let set = allowed_set(condition, decode);
    if condition.check.negated { complement(&set) } else { set }
}

/// The first score where `test` of the decoded value turns true, for a test that is false then
/// true along the scores (`Some(0)`: true everywhere; `None`: never).
fn first_true(decode: &mut dyn FnMut(f64) -> Value<'static>, test: &dyn Fn(&Value<'_>) -> bool) -> Option<f64> {
    let (low, high) = (1e-12, 1.0 - 1e-12);
    if test(&decode(low)) {
        return Some(0.0);
    }
    if !test(&decode(high)) {
        return None;
    }
    let (mut a, mut b) = (low, high);
    for _ in 0..64 {
        let mid = 0.5 * (a + b);
        if test(&decode(mid)) {
            b = mid;
        } else {
            a = mid;
        }
    }
    Some(b)
}

fn allowed_set(condition: &Compiled, decode: &mut dyn FnMut(f64) -> Value<'static>) -> Vec<(f64, f64)> {
    let check = &condition.check;
    match check.op {
        Some(op) => {
            let literal = &check.values[0];
            let at_least = |v: &Value<'_>| v.compare(literal).is_some_and(|o| o.is_ge());
            let above = |v: &Value<'_>| v.compare(literal).is_some_and(|o| o.is_gt());
            match op {
                Op::AtLeast => first_true(decode, &at_least).map_or(Vec::new(), |u| vec![(u, 1.0)]),
                Op::Greater => first_true(decode, &above).map_or(Vec::new(), |u| vec![(u, 1.0)]),
                Op::Less => first_true(decode, &at_least).map_or(vec![(0.0, 1.0)], |u| vec![(0.0, u)]),
                Op::AtMost => first_true(decode, &above).map_or(vec![(0.0, 1.0)], |u| vec![(0.0, u)]),
            }
        }
        None => {
            let mut set = Vec::new();
            for literal in check.values.iter().filter(|v| !v.is_missing()) {
                let at_least = |v: &Value<'_>| v.compare(literal).is_some_and(|o| o.is_ge());
                let above = |v: &Value<'_>| v.compare(literal).is_some_and(|o| o.is_gt());
                let Some(start) = first_true(decode, &at_least) else { continue };
                let end = first_true(decode, &above).unwrap_or(1.0);
                if end > start && decode(0.5 * (start + end)).same_as(literal) {
                    set.push((start, end));
                }
            }
            set.sort_by(|a, b| a.0.total_cmp(&b.0));
            set
        }
    }
}

fn intersect(a: &[(f64, f64)], b: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut result = Vec::new();
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            let (low, high) = (a0.max(b0), a1.min(b1));
            if high > low {
                result.push((low, high));
            }
        }
    }
    result.sort_by(|x, y| x.0.total_cmp(&y.0));
    result
}

fn complement(set: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut result = Vec::new();
    let mut start = 0.0;
    for &(low, high) in set {
        if low > start {
            result.push((start, low));
        }
        start = f64::max(start, high);
    }
    if start < 1.0 {
        result.push((start, 1.0));
    }
    result
}

/// How output rows are assigned to scenarios.
#[derive(Debug, Clone)]
enum Assignment {
    /// Every row to scenario 0.
    Single,
    /// Rows split in these shares (exactly, block by block).
    Shares(Vec<f64>),
    /// Row `r` completes seed row `r`.
    Seeds,
}

/// A compiled [`Control`] for one model.
#[derive(Debug)]
pub(crate) struct Plan {
    scenarios: Vec<Scenario>,
    assignment: Assignment,
    /// Conditions of every scenario (the control's conditions and the constraints' single-column
    /// rules), for seed rows.
    common: Vec<Compiled>,
    seeds: Option<Arc<Table>>,
    seed_columns: Vec<(usize, usize)>,
    constraints: Option<Arc<ConstraintSet>>,
    /// Values of unique columns used by earlier blocks (blocks then run one after another).
    unique: Option<Mutex<UniqueSeen>>,
    template: Table,
}

impl Plan {
    /// Whether blocks must be drawn one after another (unique columns: each block must know the
    /// values used before it).
    pub(crate) fn is_sequential(&self) -> bool {
        self.unique.is_some()
    }

    /// `None` when nothing shapes the sample (plain sampling is then used).
    pub(crate) fn new(model: &ModelFile, control: &Control, n_rows: u64) -> Result<Option<Plan>> {
        let constraints = model.constraints.clone().filter(|c| !c.is_empty());
        if control.is_empty() && constraints.is_none() {
            return Ok(None);
        }
        let template = crate::sampler::template(model)?;
        let mut base: Vec<Condition> = control.conditions.clone();
        if let Some(constraints) = &constraints {
            base.extend(constraint_conditions(constraints));
        }
        let common = base.iter().map(|c| compile(c, model, &template)).collect::<Result<Vec<_>>>()?;
        let mut plan = Plan {
            scenarios: Vec::new(),
            assignment: Assignment::Single,
            common: common.clone(),
            seeds: None,
            seed_columns: Vec::new(),
            unique: constraints
                .as_ref()
                .is_some_and(|c| c.constraints.iter().any(|c| matches!(c, FittedConstraint::Unique { .. })))
                .then(|| Mutex::new(UniqueSeen::default())),
            constraints: constraints.map(Arc::new),
            template,
        };
        if let Some(constraints) = &plan.constraints {
            constraints.check_columns(&plan.template)?;
        }
        if let Some(seeds) = &control.complete {
            if !control.rebalance.is_empty() || control.fairness.is_some() {
                return Err(Error::InvalidConfig(
                    "seed rows to complete cannot be combined with rebalancing or parity: every row's given values \
                     already fix its group"
                        .into(),
                ));
            }
            if seeds.n_rows() as u64 != n_rows {
                return Err(Error::InvalidConfig(format!(
                    "completing {} seed rows makes {} rows, not {n_rows}",
                    seeds.n_rows(),
                    seeds.n_rows()
                )));
            }
            for (seed_column, column) in seeds.columns().iter().enumerate() {
                let index = plan.template.columns().iter().position(|c| c.name == column.name).ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "the seed rows have a column `{}` that the model does not; its columns are {}",
                        column.name,
                        plan.template.column_names().iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                plan.seed_columns.push((seed_column, index));
            }
            plan.seeds = Some(Arc::clone(seeds));
            plan.assignment = Assignment::Seeds;
            return Ok(Some(plan));
        }
        // Groups: the cross product of every rebalanced column's groups and the parity cells.
        let mut groups: Vec<(Vec<Condition>, f64)> = vec![(Vec::new(), 1.0)];
        for rebalance in &control.rebalance {
            let parts = rebalance_groups(model, &plan, &base, rebalance)?;
            groups = cross(&groups, &parts);
        }
        if let Some(fairness) = &control.fairness {
            if control.rebalance.iter().any(|r| r.column == fairness.group) {
                return Err(Error::InvalidConfig(format!(
                    "`{}` is both rebalanced and the parity group; choose one",
                    fairness.group
                )));
            }
            let cells = parity_groups(model, &plan, &base, fairness)?;
            groups = cross(&groups, &cells);
        }
        let mut cache = HashMap::new();
        let mut shares = Vec::new();
        for (conditions, share) in groups {
            if share <= 0.0 {
                continue;
            }
            let mut compiled = common.clone();
            for condition in &conditions {
                compiled.push(compile(condition, model, &plan.template)?);
            }
            let restrictions = match &model.model {
                EngineModel::SequentialTrees(trees) => Some(restrict(trees, &compiled, &mut cache)?),
                EngineModel::GaussianCopula(_) | EngineModel::PrivateMarginals(_) => None,
            };
            plan.scenarios.push(Scenario { conditions: compiled, restrictions });
            shares.push(share);
        }
        plan.assignment = if plan.scenarios.len() == 1 { Assignment::Single } else { Assignment::Shares(shares) };
        Ok(Some(plan))
    }
}

/// The single-column rules of the constraints (ranges, allowed values) as conditions, so that
/// the `tree` engine draws only allowed values instead of rejecting the others.
fn constraint_conditions(constraints: &ConstraintSet) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for rule in constraints.column_rules() {
        match rule {
            // Negated comparisons hold for missing values too, as the rules do.
            ColumnRule::Range { column, min, max, .. } => {
                if let Some(min) = min {
                    conditions.push(Condition {
                        column: column.clone(),
                        test: Test::Compare(Op::Less, min.text),
                        negated: true,
                    });
                }
                if let Some(max) = max {
                    conditions.push(Condition { column, test: Test::Compare(Op::Greater, max.text), negated: true });
                }
            }
            ColumnRule::AllowedValues { column, values, .. } => {
                let mut allowed: Vec<Option<String>> = values.into_iter().map(|v| Some(v.text)).collect();
                allowed.push(None);
                conditions.push(Condition { column, test: Test::In(allowed), negated: false });
            }
        }
    }
    conditions
}

fn cross(a: &[(Vec<Condition>, f64)], b: &[(Vec<Condition>, f64)]) -> Vec<(Vec<Condition>, f64)> {
    let mut result = Vec::new();
    for (conditions_a, share_a) in a {
        for (conditions_b, share_b) in b {
            let mut conditions = conditions_a.clone();
            conditions.extend(conditions_b.iter().cloned());
            result.push((conditions, share_a * share_b));
        }
    }
    result
}

/// The kept categories of a categorical or boolean column, as texts a condition takes.
fn categories_of(model: &ModelFile, column: &str, what: &str) -> Result<Vec<String>> {
    let transform = model_transforms(model)
        .iter()
        .find(|t| t.column() == column)
        .ok_or_else(|| Error::InvalidConfig(format!("{what}: the model has no column `{column}`")))?;
    match transform {
        TransformState::Categorical(state) if !state.categories.is_empty() => Ok(state.categories.to_vec()),
        TransformState::Categorical(_) => {
            Err(Error::InvalidConfig(format!("{what}: every value of `{column}` was protected as rare")))
        }
        _ => Err(Error::InvalidConfig(format!("{what}: `{column}` is not categorical or boolean"))),
    }
}

/// The probability of `conditions` given `base` under the model, estimated with
/// [`ESTIMATE_ROWS`] candidate rows (0 when the model rules them out).
fn probability(model: &ModelFile, plan: &Plan, base: &[Condition], conditions: &[Condition]) -> Result<f64> {
    let compile_all = |conditions: &[Condition]| {
        conditions.iter().map(|c| compile(c, model, &plan.template)).collect::<Result<Vec<_>>>()
    };
    let mut all: Vec<Condition> = base.to_vec();
    all.extend(conditions.iter().cloned());
    let (joint, marginal) = (compile_all(&all)?, compile_all(base)?);
    let or_zero = |estimate: Result<f64>| match estimate {
        Err(Error::InvalidConfig(_)) => Ok(0.0),
        other => other,
    };
    let joint = or_zero(estimate_compiled(model, plan, &joint))?;
    let marginal = if base.is_empty() { 1.0 } else { or_zero(estimate_compiled(model, plan, &marginal))? };
    Ok(if marginal > 0.0 { (joint / marginal).min(1.0) } else { 0.0 })
}

fn rebalance_groups(
    model: &ModelFile,
    plan: &Plan,
    base: &[Condition],
    rebalance: &Rebalance,
) -> Result<Vec<(Vec<Condition>, f64)>> {
    let what = format!("rebalance `{}`", rebalance.column);
    let categories = categories_of(model, &rebalance.column, &what)?;
    let check = |value: &str| {
        if categories.iter().any(|c| c == value) {
            Ok(())
        } else {
            Err(Error::InvalidConfig(format!(
                "{what}: `{value}` is not a value the model kept; expected one of {}",
                categories.iter().take(20).map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let given = match &rebalance.shares {
        Shares::Uniform => {
            let share = 1.0 / categories.len() as f64;
            return Ok(categories
                .iter()
                .map(|c| (vec![Condition::equals(&rebalance.column, Some(c))], share))
                .collect());
        }
        Shares::Given(pairs) => pairs.clone(),
        Shares::Multiply(pairs) => {
            // Shares p_i become f_i p_i / (1 + Σ (f_j - 1) p_j).
            let mut shares = Vec::new();
            for (value, _) in pairs {
                check(value)?;
                shares.push(probability(model, plan, base, &[Condition::equals(&rebalance.column, Some(value))])?);
            }
            let norm: f64 = 1.0 + pairs.iter().zip(&shares).map(|((_, f), p)| (f - 1.0) * p).sum::<f64>();
            pairs.iter().zip(&shares).map(|((value, f), p)| (value.clone(), f * p / norm)).collect()
        }
    };
    let mut groups = Vec::new();
    for (value, share) in &given {
        check(value)?;
        groups.push((vec![Condition::equals(&rebalance.column, Some(value))], *share));
    }
    let rest: f64 = 1.0 - given.iter().map(|(_, s)| s).sum::<f64>();
    if rest > 1e-9 {
        let values: Vec<Option<String>> = given.iter().map(|(v, _)| Some(v.clone())).collect();
        let others = Condition { column: rebalance.column.clone(), test: Test::In(values), negated: true };
        groups.push((vec![others], rest));
    }
    Ok(groups)
}

fn parity_groups(
    model: &ModelFile,
    plan: &Plan,
    base: &[Condition],
    fairness: &Fairness,
) -> Result<Vec<(Vec<Condition>, f64)>> {
    let what = format!("parity for `{}`", fairness.group);
    let groups = categories_of(model, &fairness.group, &what)?;
    let outcomes: Vec<Condition> = match &fairness.outcome {
        Outcome::Column(column) => {
            if *column == fairness.group {
                return Err(Error::InvalidConfig(format!("{what}: the target is the group column itself")));
            }
            categories_of(model, column, &what)?.iter().map(|c| Condition::equals(column, Some(c))).collect()
        }
        Outcome::Condition(condition) => vec![condition.clone(), condition.negate()],
    };
    let mut group_shares = Vec::new();
    for group in &groups {
        group_shares.push(probability(model, plan, base, &[Condition::equals(&fairness.group, Some(group))])?);
    }
    let mut outcome_shares = Vec::new();
    for outcome in &outcomes {
        outcome_shares.push(probability(model, plan, base, std::slice::from_ref(outcome))?);
    }
    let normalise = |shares: &mut Vec<f64>| {
        let total: f64 = shares.iter().sum();
        if total > 0.0 {
            shares.iter_mut().for_each(|s| *s /= total);
        }
    };
    normalise(&mut group_shares);
    normalise(&mut outcome_shares);
    let mut cells = Vec::new();
    for (group, p) in groups.iter().zip(&group_shares) {
        for (outcome, q) in outcomes.iter().zip(&outcome_shares) {
            cells.push((vec![Condition::equals(&fairness.group, Some(group)), outcome.clone()], p * q));
        }
    }
    Ok(cells)
}

/// How rare the conditions of `control` are under the model: the estimated share of the
/// model's rows that meet them (1 when there are none). Errors when a condition is impossible.
pub fn estimate(model: &ModelFile, control: &Control) -> Result<f64> {
    let control = Control { conditions: control.conditions.clone(), ..Control::default() };
    if control.conditions.is_empty() {
        return Ok(1.0);
    }
    let plan = Plan::new(model, &control, 0)?.expect("invariant: conditions make a plan");
    estimate_compiled(model, &plan, &plan.scenarios[0].conditions)
}

fn estimate_compiled(model: &ModelFile, plan: &Plan, conditions: &[Compiled]) -> Result<f64> {
    let restrictions = match &model.model {
        EngineModel::SequentialTrees(trees) => Some(restrict(trees, conditions, &mut HashMap::new())?),
        EngineModel::GaussianCopula(_) | EngineModel::PrivateMarginals(_) => None,
    };
    let scenario = Scenario { conditions: conditions.to_vec(), restrictions };
    let mut rng = stream_rng(0x00e5_7170, 0);
    let (table, weights) = draw_candidates(model, plan, &scenario, ESTIMATE_ROWS, &mut rng, 0)?;
    let total: f64 = (0..table.n_rows()).filter(|&r| scenario.holds(&table, r)).map(|r| weights[r]).sum();
    Ok(total / ESTIMATE_ROWS as f64)
}

/// Draws `n` candidates of a scenario, decoded (formulas applied), with their weights.
fn draw_candidates(
    model: &ModelFile,
    plan: &Plan,
    scenario: &Scenario,
    n: usize,
    rng: &mut SeededRng,
    stream: u64,
) -> Result<(Table, Vec<f64>)> {
    let column_rng = |column: usize| stream_rng(stream, mix64(column as u64, 0xca9d));
    let mut table = match (&model.model, &scenario.restrictions) {
        (EngineModel::SequentialTrees(trees), Some(restrictions)) => {
            let (scores, weights) = trees.sample_candidates(n, restrictions, rng);
            let table = decode_scores(&trees.transforms, &scores, 0, n, &column_rng)?;
            return finish(plan, table, weights);
        }
        (EngineModel::SequentialTrees(trees), None) => trees.sample_rows(0, n, rng, &column_rng)?,
        (EngineModel::GaussianCopula(copula), _) => copula.sample_rows(0, n, rng, &column_rng)?,
        (EngineModel::PrivateMarginals(dp), _) => dp.sample_rows(0, n, rng, &column_rng)?,
    };
    if let Some(constraints) = &plan.constraints {
        constraints.apply_formulas(&mut table)?;
    }
    Ok((table, vec![1.0; n]))
}

fn finish(plan: &Plan, mut table: Table, weights: Vec<f64>) -> Result<(Table, Vec<f64>)> {
    if let Some(constraints) = &plan.constraints {
        constraints.apply_formulas(&mut table)?;
    }
    Ok((table, weights))
}

/// The rows of one block, `block_rows` of them from row `block * BLOCK_ROWS`.
pub(crate) fn sample_block(model: &ModelFile, plan: &Plan, seed: u64, block: u64, block_rows: usize) -> Result<Table> {
    let block_start = block * BLOCK_ROWS;
    let mut assign_rng = stream_rng(seed, mix64(block, 0x00a5_519e));
    // The scenarios of this block and each row's scenario.
    let (scenarios, row_scenario): (Vec<Scenario>, Vec<usize>) = match &plan.assignment {
        Assignment::Single => (plan.scenarios.clone(), vec![0; block_rows]),
        Assignment::Shares(shares) => {
            let counts = largest_remainder(shares, block_rows);
            let mut rows: Vec<usize> =
                counts.iter().enumerate().flat_map(|(s, &n)| std::iter::repeat_n(s, n)).collect();
            for i in (1..rows.len()).rev() {
                let j = assign_rng.random_range(0..=i);
                rows.swap(i, j);
            }
            (plan.scenarios.clone(), rows)
        }
        Assignment::Seeds => {
            let seeds = plan.seeds.as_ref().expect("invariant: a seeds plan has seeds");
            let mut cache = HashMap::new();
            let mut scenarios = Vec::with_capacity(block_rows);
            for offset in 0..block_rows {
                let row = block_start as usize + offset;
                let mut conditions = plan.common.clone();
                for &(seed_column, column) in &plan.seed_columns {
                    let data = &seeds.columns()[seed_column].data;
                    let Some(text) = data.text_at(row) else { continue };
                    if text.trim().is_empty() {
                        continue;
                    }
                    let condition = Condition::equals(&plan.template.columns()[column].name, Some(&text));
                    let compiled = compile(&condition, model, &plan.template)
                        .map_err(|e| Error::InvalidConfig(format!("seed row {}: {e}", row + 1)))?;
                    conditions.push(compiled);
                }
                let restrictions = match &model.model {
                    EngineModel::SequentialTrees(trees) => Some(
                        restrict(trees, &conditions, &mut cache)
                            .map_err(|e| Error::InvalidConfig(format!("seed row {}: {e}", row + 1)))?,
                    ),
                    EngineModel::GaussianCopula(_) | EngineModel::PrivateMarginals(_) => None,
                };
                scenarios.push(Scenario { conditions, restrictions });
            }
            (scenarios, (0..block_rows).collect())
        }
    };
    let mut needed = vec![0usize; scenarios.len()];
    for &s in &row_scenario {
        needed[s] += 1;
    }
    // Valid candidates of each scenario: (row in `pool`, weight).
    let mut pool = Table::default();
    let mut valid: Vec<Vec<(usize, f64)>> = vec![Vec::new(); scenarios.len()];
    let mut drawn = vec![0usize; scenarios.len()];
    // Values of unique columns: those of earlier blocks, then those of this block's valid
    // candidates (so that valid candidates never share one).
    let mut global = match &plan.unique {
        Some(seen) => Some(seen.lock().map_err(|_| Error::InvalidData("a sampling thread failed".into()))?),
        None => None,
    };
    let mut unique = global.as_deref().cloned().unwrap_or_default();
    let enough = |valid: &[(usize, f64)], need: usize| {
        if plan.unique.is_some() { valid.len() >= need } else { effective_size(valid) >= need as f64 }
    };
    for round in 0..MAX_ROUNDS {
        let mut pending = false;
        for (s, scenario) in scenarios.iter().enumerate() {
            let need = needed[s];
            if need == 0 || enough(&valid[s], need) {
                continue;
            }
            pending = true;
            if let (EngineModel::SequentialTrees(trees), Some(restrictions)) = (&model.model, &scenario.restrictions)
                && restrictions.iter().any(Option::is_some)
            {
                let stream = mix64(mix64(block, u64::from(round)), s as u64);
                let missing = need - valid[s].len();
                let (table, tried) =
                    draw_restricted(trees, plan, scenario, restrictions, missing, (seed, stream), &mut unique)?;
                let offset = pool.n_rows();
                valid[s].extend((0..table.n_rows()).map(|row| (offset + row, 1.0)));
                drawn[s] += tried;
                pool.append(table)?;
                continue;
            }
            // Unweighted candidates (the copula, or constraints alone): rejection, in rounds.
            let n = if round == 0 {
                need
            } else {
                // Enough for the rows still missing at the valid share seen so far, at least
                // double what was drawn.
                let share = valid[s].len() as f64 / drawn[s].max(1) as f64;
                let missing = need as f64 - effective_size(&valid[s]);
                ((missing / share.max(1e-3)) * 1.25).ceil().max(drawn[s] as f64) as usize
            }
            .clamp(1, 4_000_000);
            let stream = mix64(mix64(block, u64::from(round)), s as u64);
            let mut rng = stream_rng(seed, mix64(stream, 0xc4d1));
            let (table, weights) = draw_candidates(model, plan, scenario, n, &mut rng, mix64(seed, stream))?;
            let constraint_ok = match &plan.constraints {
                Some(constraints) => constraints.check_rows(&table, &mut unique),
                None => vec![true; table.n_rows()],
            };
            let offset = pool.n_rows();
            for row in 0..table.n_rows() {
                if weights[row] > 0.0 && constraint_ok[row] && scenario.holds(&table, row) {
                    valid[s].push((offset + row, weights[row]));
                }
            }
            drawn[s] += n;
            pool.append(table)?;
        }
        if !pending {
            break;
        }
    }
    // Choose each scenario's rows.
    let mut chosen: Vec<Vec<usize>> = Vec::with_capacity(scenarios.len());
    for (s, scenario) in scenarios.iter().enumerate() {
        let need = needed[s];
        let total: f64 = valid[s].iter().map(|(_, w)| w).sum();
        if need > 0 && total <= 0.0 {
            let constraints = match &plan.constraints {
                Some(c) if !c.is_empty() => format!(" together with the constraints ({})", c.describe_all().join("; ")),
                _ => String::new(),
            };
            let which = match plan.assignment {
                Assignment::Seeds => format!("seed row {}: ", block_start as usize + s + 1),
                _ => String::new(),
            };
            return Err(Error::InvalidConfig(format!(
                "{which}no row met {}{constraints} in {} candidates drawn from the model: it is impossible or too \
                 rare under the model",
                scenario.describe(),
                drawn[s]
            )));
        }
        let mut rows = systematic(&valid[s], need, total, &mut assign_rng);
        if plan.unique.is_some() {
            distinct(&mut rows, &valid[s]);
        }
        for i in (1..rows.len()).rev() {
            let j = assign_rng.random_range(0..=i);
            rows.swap(i, j);
        }
        chosen.push(rows);
    }
    let mut next = vec![0usize; scenarios.len()];
    let order: Vec<usize> = row_scenario
        .iter()
        .map(|&s| {
            next[s] += 1;
            chosen[s][next[s] - 1]
        })
        .collect();
    let table = regenerate(model, take_rows(&pool, &order), block_start, seed, block)?;
    if let (Some(global), Some(constraints)) = (global.as_deref_mut(), &plan.constraints) {
        constraints.check_rows(&table, global);
    }
    Ok(table)
}

/// Replaces repeated candidates by unused valid ones, in order (unique columns allow no repeat).
fn distinct(rows: &mut [usize], valid: &[(usize, f64)]) {
    let mut used = std::collections::HashSet::new();
    let mut spare = valid.iter().map(|(row, _)| *row);
    for row in rows.iter_mut() {
        if !used.insert(*row)
            && let Some(next) = spare.by_ref().find(|r| !used.contains(r))
        {
            used.insert(next);
            *row = next;
        }
    }
}

/// `need` rows of a restricted scenario of the `tree` engine, all valid (fewer when the
/// candidates run out), and how many candidates were drawn.
///
/// Candidates are drawn with their importance weights (twice the rows needed, up to
/// [`CONDITION_OVERSAMPLE`] times when the weights are uneven), resampled systematically by
/// weight, and only the rows chosen are decoded and checked. A chosen row that fails a condition
/// or a constraint (a value on the edge of a bin, a constraint across columns) loses its weight,
/// and the missing rows are chosen again from the rest: the rows follow the candidates' weights
/// times validity, at the cost of decoding about one row per row out.
fn draw_restricted(
    trees: &SequentialTreesModel,
    plan: &Plan,
    scenario: &Scenario,
    restrictions: &[Option<Arc<Restriction>>],
    need: usize,
    (seed, stream): (u64, u64),
    unique: &mut UniqueSeen,
) -> Result<(Table, usize)> {
    let mut rng = stream_rng(seed, mix64(stream, 0xc4d1));
    let column_rng = |column: usize| stream_rng(mix64(seed, stream), mix64(column as u64, 0xca9d));
    let (mut scores, mut weights) = trees.sample_candidates(2 * need, restrictions, &mut rng);
    let indexed: Vec<(usize, f64)> = weights.iter().copied().enumerate().collect();
    let ratio = effective_size(&indexed) / weights.len().max(1) as f64;
    let oversample = ((2.0 / ratio.max(1e-9)).ceil() as usize).clamp(2, CONDITION_OVERSAMPLE);
    if oversample > 2 {
        let (more_scores, more_weights) = trees.sample_candidates((oversample - 2) * need, restrictions, &mut rng);
        for (column, more) in scores.iter_mut().zip(more_scores) {
            column.extend(more);
        }
        weights.extend(more_weights);
    }
    let drawn = weights.len();
    let mut out = Table::default();
    let mut got = 0;
    for _ in 0..64 {
        let missing = need - got;
        let positive: Vec<(usize, f64)> = weights.iter().copied().enumerate().filter(|(_, w)| *w > 0.0).collect();
        let total: f64 = positive.iter().map(|(_, w)| w).sum();
        if missing == 0 || total <= 0.0 {
            break;
        }
        let picks = systematic(&positive, missing, total, &mut rng);
        let chosen: Vec<Vec<f64>> = scores.iter().map(|column| picks.iter().map(|&i| column[i]).collect()).collect();
        let mut table = decode_scores(&trees.transforms, &chosen, 0, picks.len(), &column_rng)?;
        if let Some(constraints) = &plan.constraints {
            constraints.apply_formulas(&mut table)?;
        }
        let constraint_ok = match &plan.constraints {
            Some(constraints) => constraints.check_rows(&table, unique),
            None => vec![true; picks.len()],
        };
        let mut keep = Vec::with_capacity(picks.len());
        for (row, &candidate) in picks.iter().enumerate() {
            if constraint_ok[row] && scenario.holds(&table, row) {
                keep.push(row);
            } else {
                weights[candidate] = 0.0;
            }
        }
        got += keep.len();
        out.append(if keep.len() == picks.len() { table } else { take_rows(&table, &keep) })?;
    }
    Ok((out, drawn))
}

fn effective_size(valid: &[(usize, f64)]) -> f64 {
    let (sum, squares) = valid.iter().fold((0.0, 0.0), |(s, q), (_, w)| (s + w, q + w * w));
    if squares > 0.0 { sum * sum / squares } else { 0.0 }
}

/// `n` rows drawn from weighted candidates by systematic resampling (one uniform offset, evenly
/// spaced points).
fn systematic(valid: &[(usize, f64)], n: usize, total: f64, rng: &mut SeededRng) -> Vec<usize> {
    let mut rows = Vec::with_capacity(n);
    if n == 0 || valid.is_empty() {
        return rows;
    }
    let step = total / n as f64;
    let mut point = rng.random::<f64>() * step;
    let (mut index, mut cumulative) = (0usize, 0.0);
    for _ in 0..n {
        while index + 1 < valid.len() && cumulative + valid[index].1 <= point {
            cumulative += valid[index].1;
            index += 1;
        }
        rows.push(valid[index].0);
        point += step;
    }
    rows
}

/// Counts for `shares` of `n` rows that add up to `n` (largest remainder; ties to the first).
fn largest_remainder(shares: &[f64], n: usize) -> Vec<usize> {
    let total: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / total * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut left = n - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// The rows `rows` of `table`, in that order.
fn take_rows(table: &Table, rows: &[usize]) -> Table {
    fn pick<T: Clone>(values: &[T], rows: &[usize]) -> Vec<T> {
        rows.iter().map(|&r| values[r].clone()).collect()
    }
    let columns = table
        .columns()
        .iter()
        .map(|column| {
            let data = match &column.data {
                ColumnData::Float(v) => ColumnData::Float(pick(v, rows)),
                ColumnData::Int(v) => ColumnData::Int(pick(v, rows)),
                ColumnData::Bool(v) => ColumnData::Bool(pick(v, rows)),
                ColumnData::Text(v) => ColumnData::Text(pick(v, rows)),
                ColumnData::Date(v) => ColumnData::Date(pick(v, rows)),
                ColumnData::DateTime(v) => ColumnData::DateTime(pick(v, rows)),
                ColumnData::Category(c, v) => ColumnData::Category(Arc::clone(c), pick(v, rows)),
            };
            Column { name: column.name.clone(), data, format: column.format.clone() }
        })
        .collect();
    Table::try_new(columns).expect("invariant: picked columns have equal lengths")
}

/// Generated columns (identifiers, free text, fake personal data) drawn afresh for the block's
/// rows, from the same streams as plain sampling: keys stay unique and follow the row numbers.
fn regenerate(model: &ModelFile, table: Table, block_start: u64, seed: u64, block: u64) -> Result<Table> {
    let n_rows = table.n_rows();
    let mut columns = table.into_columns();
    for (index, transform) in model_transforms(model).iter().enumerate() {
        if matches!(transform, TransformState::Identifier(_) | TransformState::FreeText(_) | TransformState::Fake(_)) {
            let mut rng = stream_rng(seed, mix64(block, 0x1000 + index as u64));
            columns[index] = transform.generate(block_start, n_rows, &mut rng);
        }
    }
    Table::try_new(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebalance_specs_parse() {
        assert_eq!(Rebalance::parse("eth=uniform").expect("parses").shares, Shares::Uniform);
        let given = Rebalance::parse("churn=yes:0.5").expect("parses");
        assert_eq!(given.shares, Shares::Given(vec![("yes".into(), 0.5)]));
        assert!(Rebalance::parse("churn=yes:0.7,no:0.6").is_err());
        assert!(Rebalance::parse("churn=yes").is_err());
        let over = Rebalance::parse_oversample("fraud=true:10x").expect("parses");
        assert_eq!(over.shares, Shares::Multiply(vec![("true".into(), 10.0)]));
        assert!(Rebalance::parse_oversample("fraud=true:0x").is_err());
    }

    #[test]
    fn largest_remainder_is_exact() {
        assert_eq!(largest_remainder(&[0.5, 0.5], 3), vec![2, 1]);
        assert_eq!(largest_remainder(&[0.2, 0.3, 0.5], 10), vec![2, 3, 5]);
        assert_eq!(largest_remainder(&[1.0, 1.0, 1.0], 16384).iter().sum::<usize>(), 16384);
    }

    #[test]
    fn intervals_intersect_and_complement() {
        assert_eq!(intersect(&[(0.0, 0.5)], &[(0.25, 1.0)]), vec![(0.25, 0.5)]);
        assert_eq!(complement(&[(0.25, 0.5)]), vec![(0.0, 0.25), (0.5, 1.0)]);
        assert_eq!(complement(&[]), vec![(0.0, 1.0)]);
    }
}
