//! `POST /content/generate`'s body, parsed: a value of these types is a
//! request the pipeline can run.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::fields::{Locale, Objective, Subject, Topic};
use crate::json::{WholeNumber, present};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// Sections to teach from, with a short quiz.
    Lesson,
    /// Questions only.
    Quiz,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    #[default]
    Medium,
    Hard,
}

/// A bounded whole number, parsed: `1..=12` for a grade, `1..=50` questions.
macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "WholeNumber", into = "u8")]
        pub struct $name(u8);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .minimum(Some($min))
                    .maximum(Some($max))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl $name {
            pub fn get(self) -> u8 {
                self.0
            }
        }

        impl TryFrom<WholeNumber> for $name {
            type Error = String;
            fn try_from(WholeNumber(value): WholeNumber) -> Result<Self, String> {
                if ($min..=$max).contains(&value) {
                    Ok(Self(value as u8))
                } else {
                    Err(format!("must be a whole number from {} to {}", $min, $max))
                }
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                value.0
            }
        }
    };
}

bounded!(
    /// A school grade, 1 to 12.
    GradeLevel,
    1,
    12
);
bounded!(
    /// How many quiz questions, 1 to 50.
    QuestionCount,
    1,
    50
);

/// Lessons carry a short quiz unless asked for more.
const DEFAULT_QUESTIONS: u8 = 5;
const MAX_OBJECTIVES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    #[serde(rename = "type")]
    pub kind: ContentKind,
    pub subject: Subject,
    pub grade_level: GradeLevel,
    pub topic: Topic,
    /// What the content must teach; each appears among its objectives.
    #[serde(default, deserialize_with = "objectives", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_items = 10)]
    pub learning_objectives: Option<Vec<Objective>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub difficulty: Option<Difficulty>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub num_questions: Option<QuestionCount>,
    /// A BCP 47 tag; `en` when left out.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub language: Option<Locale>,
}

impl GenerateRequest {
    pub fn objectives(&self) -> &[Objective] {
        self.learning_objectives.as_deref().unwrap_or_default()
    }

    pub fn difficulty(&self) -> Difficulty {
        self.difficulty.unwrap_or_default()
    }

    pub fn questions(&self) -> usize {
        usize::from(self.num_questions.map_or(DEFAULT_QUESTIONS, QuestionCount::get))
    }

    pub fn language(&self) -> &str {
        self.language.as_ref().map_or("en", Locale::as_str)
    }
}

/// `learning_objectives`, held to the schema's `maxItems` while parsing.
fn objectives<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<Objective>>, D::Error> {
    let objectives = Vec::<Objective>::deserialize(deserializer)?;
    if objectives.len() > MAX_OBJECTIVES {
        return Err(serde::de::Error::custom(format!("at most {MAX_OBJECTIVES} objectives")));
    }
    Ok(Some(objectives))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn defaults_fill_what_was_left_out() {
        let req: GenerateRequest =
            parse(br#"{"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis"}"#).unwrap();
        assert_eq!((req.questions(), req.difficulty(), req.language()), (5, Difficulty::Medium, "en"));
        assert!(req.objectives().is_empty());
        // JSON Schema's integers include 7.0.
        let req: GenerateRequest =
            parse(br#"{"type": "quiz", "subject": "Maths", "grade_level": 7.0, "topic": "Fractions"}"#).unwrap();
        assert_eq!(req.grade_level.get(), 7);
    }

    #[test]
    fn out_of_range_numbers_are_named() {
        for (body, field) in [
            (&br#"{"type": "quiz", "subject": "M", "grade_level": 13, "topic": "T"}"#[..], "grade_level"),
            (br#"{"type": "quiz", "subject": "M", "grade_level": 0, "topic": "T"}"#, "grade_level"),
            (
                br#"{"type": "quiz", "subject": "M", "grade_level": 3, "topic": "T", "num_questions": 51}"#,
                "num_questions",
            ),
            (br#"{"type": "essay", "subject": "M", "grade_level": 3, "topic": "T"}"#, "type"),
            (
                br#"{"type": "quiz", "subject": "M", "grade_level": 3, "topic": "T", "learning_objectives": ["a","b","c","d","e","f","g","h","i","j","k"]}"#,
                "learning_objectives",
            ),
        ] {
            match parse::<GenerateRequest>(body) {
                Err(crate::error::Error::Invalid(details)) => assert_eq!(details[0].field, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
