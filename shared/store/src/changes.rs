//! What an update does to one item, named by typed [`Field`]s: the fields it
//! sets, the counters it moves, the fields it removes, and the condition it
//! is made on. A function crate writes these instead of update expressions;
//! `Changes::render` is the one place that turns them into DynamoDB's.

use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use domain::record::Field;

use crate::db::{DbError, number, value};

/// A number a counter holds or moves by.
pub trait Number: ToString {}
impl Number for i32 {}
impl Number for i64 {}
impl Number for u64 {}
impl Number for u32 {}
impl Number for u8 {}
impl Number for f64 {}

/// The changes an update makes to an item of type `R`.
pub struct Changes<R> {
    set: Vec<(Cow<'static, str>, AttributeValue)>,
    add: Vec<(Cow<'static, str>, AttributeValue)>,
    remove: Vec<Cow<'static, str>>,
    condition: Option<Condition<R>>,
    unwritable: Option<DbError>,
    of: PhantomData<fn(R)>,
}

impl<R> Default for Changes<R> {
    fn default() -> Self {
        Self {
            set: Vec::new(),
            add: Vec::new(),
            remove: Vec::new(),
            condition: None,
            unwritable: None,
            of: PhantomData,
        }
    }
}

impl<R> Changes<R> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `field` to `value` (`None` writes a null, as serde does).
    pub fn set<V: Serialize + ?Sized>(mut self, field: Field<R, V>, value_of: &V) -> Self {
        match value(value_of) {
            Ok(attribute) => self.set.push((field.into_name(), attribute)),
            Err(err) => self.unwritable = self.unwritable.or(Some(err)),
        }
        self
    }

    /// Moves the counter `field` by `by` (DynamoDB's `ADD`): a counter not
    /// there yet starts from zero, and concurrent moves all count.
    pub fn add<N: Number + ?Sized>(mut self, field: Field<R, N>, by: impl Number) -> Self {
        self.add.push((field.into_name(), number(by)));
        self
    }

    /// Removes `field` from the item.
    pub fn remove<V: ?Sized>(mut self, field: Field<R, V>) -> Self {
        self.remove.push(field.into_name());
        self
    }

    /// Makes the update only where `condition` holds (and with any condition
    /// given before): else it fails with [`DbError::ConditionFailed`].
    pub fn when(mut self, condition: Condition<R>) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(before) => before.and(condition),
            None => condition,
        });
        self
    }

    /// The update and condition expressions, with the names and values they
    /// refer to. Every attribute goes by a placeholder, so reserved words
    /// (`status`, `error`, `count`) need no care.
    pub(crate) fn render(self) -> Result<Rendered, DbError> {
        if let Some(err) = self.unwritable {
            return Err(err);
        }
        let mut out = Rendered::default();
        let mut clauses = Vec::new();
        let set: Vec<String> =
            self.set.into_iter().map(|(field, value)| format!("{} = {}", out.name(field), out.value(value))).collect();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        let add: Vec<String> =
            self.add.into_iter().map(|(field, by)| format!("{} {}", out.name(field), out.value(by))).collect();
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        let remove: Vec<String> = self.remove.into_iter().map(|field| out.name(field)).collect();
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        out.update = clauses.join(" ");
        out.condition = self.condition.map(|condition| condition.node.render(&mut out)).transpose()?;
        Ok(out)
    }
}

/// A condition on an item of type `R`, as [`Changes::when`] takes it.
pub struct Condition<R> {
    node: Node,
    of: PhantomData<fn(R)>,
}

enum Node {
    Exists,
    Absent(Cow<'static, str>),
    Compare(Cow<'static, str>, &'static str, Result<AttributeValue, DbError>),
    Contains(Cow<'static, str>, Result<AttributeValue, DbError>),
    All(Box<Node>, Box<Node>),
    Any(Box<Node>, Box<Node>),
}

impl<R> Condition<R> {
    fn of(node: Node) -> Self {
        Self { node, of: PhantomData }
    }

    /// The item is there.
    pub fn exists() -> Self {
        Self::of(Node::Exists)
    }

    /// The item is there and not soft deleted.
    pub fn live() -> Self {
        Self::exists().and(Self::of(Node::Absent(Cow::Borrowed("deleted_at"))))
    }

    /// The item has no `field` (or is not there at all).
    pub fn absent<V: ?Sized>(field: Field<R, V>) -> Self {
        Self::of(Node::Absent(field.into_name()))
    }

    pub fn equals<V: Serialize + ?Sized>(field: Field<R, V>, to: &V) -> Self {
        Self::of(Node::Compare(field.into_name(), "=", value(to)))
    }

    pub fn below<V: Serialize + ?Sized>(field: Field<R, V>, bound: &V) -> Self {
        Self::of(Node::Compare(field.into_name(), "<", value(bound)))
    }

    pub fn above<V: Serialize + ?Sized>(field: Field<R, V>, bound: &V) -> Self {
        Self::of(Node::Compare(field.into_name(), ">", value(bound)))
    }

    /// The list (or string) `field` holds `element`.
    pub fn contains<V: Serialize>(field: Field<R, Vec<V>>, element: &V) -> Self {
        Self::of(Node::Contains(field.into_name(), value(element)))
    }

    pub fn and(self, other: Self) -> Self {
        Self::of(Node::All(Box::new(self.node), Box::new(other.node)))
    }

    pub fn or(self, other: Self) -> Self {
        Self::of(Node::Any(Box::new(self.node), Box::new(other.node)))
    }
}

impl Node {
    fn render(self, out: &mut Rendered) -> Result<String, DbError> {
        Ok(match self {
            Node::Exists => "attribute_exists(pk)".to_owned(),
            Node::Absent(field) => format!("attribute_not_exists({})", out.name(field)),
            Node::Compare(field, op, value) => {
                let field = out.name(field);
                format!("{field} {op} {}", out.value(value?))
            }
            Node::Contains(field, value) => {
                let field = out.name(field);
                format!("contains({field}, {})", out.value(value?))
            }
            Node::All(a, b) => format!("({} AND {})", a.render(out)?, b.render(out)?),
            Node::Any(a, b) => format!("({} OR {})", a.render(out)?, b.render(out)?),
        })
    }
}

impl<R> Condition<R> {
    /// The condition alone, as a query's filter takes it.
    pub(crate) fn render(self) -> Result<Rendered, DbError> {
        let mut out = Rendered::default();
        out.condition = Some(self.node.render(&mut out)?);
        Ok(out)
    }
}

/// [`Changes`] as DynamoDB takes them.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    pub update: String,
    pub condition: Option<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Rendered {
    /// Expressions written out by hand, with the names and values they use.
    pub(crate) fn written(
        update: &str,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Self {
        Self {
            update: update.to_owned(),
            condition: condition.map(str::to_owned),
            names: names.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            values: values.into_iter().map(|(a, b)| (a.to_string(), b)).collect(),
        }
    }

    fn name(&mut self, field: Cow<'static, str>) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, name)| **name == field) {
            return placeholder.clone();
        }
        let placeholder = format!("#f{}", self.names.len());
        self.names.insert(placeholder.clone(), field.into_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Job;
    const STATUS: Field<Job, str> = Field::new("status");
    const LEASE: Field<Job, i64> = Field::new("lease_until");
    const ATTEMPTS: Field<Job, u32> = Field::new("attempts");
    const ERROR: Field<Job, str> = Field::new("error");

    fn names(rendered: &Rendered) -> Vec<(&str, &str)> {
        let mut names: Vec<_> = rendered.names.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        names.sort();
        names
    }

    #[test]
    fn sets_adds_and_removes_render_as_one_expression_with_every_name_a_placeholder() {
        let rendered = Changes::<Job>::new()
            .set(STATUS, "running")
            .add(ATTEMPTS, 1)
            .remove(ERROR)
            .when(Condition::equals(STATUS, "queued").or(Condition::below(LEASE, &100)))
            .when(Condition::live())
            .render()
            .unwrap();
        assert_eq!(rendered.update, "SET #f0 = :v0 ADD #f1 :v1 REMOVE #f2");
        assert_eq!(
            rendered.condition.as_deref(),
            Some("((#f0 = :v2 OR #f3 < :v3) AND (attribute_exists(pk) AND attribute_not_exists(#f4)))")
        );
        assert_eq!(
            names(&rendered),
            [("#f0", "status"), ("#f1", "attempts"), ("#f2", "error"), ("#f3", "lease_until"), ("#f4", "deleted_at")]
        );
        assert_eq!(rendered.values[":v0"], AttributeValue::S("running".into()));
        assert_eq!(rendered.values[":v1"], AttributeValue::N("1".into()));
        assert_eq!(rendered.values[":v2"], AttributeValue::S("queued".into()));
        assert_eq!(rendered.values[":v3"], AttributeValue::N("100".into()));
    }

    #[test]
    fn a_named_field_and_a_negative_move_render_like_any_other() {
        let bucket: Field<Job, u64> = Field::named(format!("h{}", 42));
        let rendered = Changes::<Job>::new().add(bucket, -1_i64).render().unwrap();
        assert_eq!(rendered.update, "ADD #f0 :v0");
        assert_eq!(names(&rendered), [("#f0", "h42")]);
        assert_eq!(rendered.values[":v0"], AttributeValue::N("-1".into()));
        assert_eq!(rendered.condition, None);
    }
}
