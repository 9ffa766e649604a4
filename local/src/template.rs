//! Reads `template.yaml`: the routes API Gateway would serve, and the
//! resources `provision` creates locally. CloudFormation's short-form tags
//! (`!Ref`, `!GetAtt`, `!Sub`) arrive as tagged YAML values.

use std::path::Path;

use serde_yaml_ng::Value;
use serde_yaml_ng::value::TaggedValue;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("template.yaml: {0}")]
    Shape(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The logical id of the function serving it.
    pub function: String,
    pub method: String,
    pub path: String,
    /// False when the event says `Auth: {Authorizer: NONE}`.
    pub authorized: bool,
    /// Metered by a usage plan: the event's `Auth.ApiKeyRequired`, else
    /// the API's.
    pub metered: bool,
}

#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// An intrinsic function or a literal, as the template wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Literal(String),
    Ref(String),
    GetAtt(String, String),
    Sub(String),
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        Ok(Self { root: serde_yaml_ng::from_str(text)? })
    }

    /// The workspace's own template, for tests and `toolbox-local`.
    pub fn workspace() -> Result<Self, TemplateError> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
    }

    pub fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    pub fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources().filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
    }

    pub fn routes(&self) -> Vec<Route> {
        let api_default = self
            .resources_of_type("AWS::Serverless::Api")
            .find_map(|(_, api)| api.get("Properties")?.get("Auth")?.get("ApiKeyRequired")?.as_bool())
            .unwrap_or(false);
        let mut routes = Vec::new();
        for (function, resource) in self.resources_of_type("AWS::Serverless::Function") {
            let events = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for event in events.into_iter().flat_map(|m| m.values()) {
                if event.get("Type").and_then(Value::as_str) != Some("Api") {
                    continue;
                }
                let Some(props) = event.get("Properties") else { continue };
                let text = |name: &str| props.get(name).and_then(Value::as_str).map(str::to_owned);
                let (Some(path), Some(method)) = (text("Path"), text("Method")) else { continue };
                let auth = props.get("Auth");
                let authorizer = auth.and_then(|a| a.get("Authorizer")).and_then(Value::as_str);
                let metered =
                    auth.and_then(|a| a.get("ApiKeyRequired")).and_then(Value::as_bool).unwrap_or(api_default);
                routes.push(Route {
                    function: function.to_owned(),
                    method: method.to_ascii_uppercase(),
                    path,
                    authorized: authorizer != Some("NONE"),
                    metered,
                });
            }
        }
        routes
    }

    /// A template parameter's default value.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        let default = self.root.get("Parameters")?.get(name)?.get("Default")?;
        match expr(default)? {
            Expr::Literal(text) => Some(text),
            _ => None,
        }
    }

    /// The environment every function gets (`Globals.Function.Environment`).
    pub fn global_environment(&self) -> Vec<(String, Expr)> {
        variables(self.root.get("Globals").and_then(|g| g.get("Function")))
    }

    /// `Globals.Function.LoggingConfig`.
    pub fn global_logging(&self) -> Option<&Value> {
        self.root.get("Globals")?.get("Function")?.get("LoggingConfig")
    }

    /// The variables a function sets itself, beside the `Globals`.
    pub fn function_environment(&self, logical: &str) -> Vec<(String, Expr)> {
        variables(self.root.get("Resources").and_then(|r| r.get(logical)).and_then(|f| f.get("Properties")))
    }
}

/// `Environment.Variables` of a function's (or the globals') properties.
fn variables(properties: Option<&Value>) -> Vec<(String, Expr)> {
    properties
        .and_then(|p| p.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flat_map(|m| m.iter())
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), expr(v)?)))
        .collect()
}

pub fn expr(value: &Value) -> Option<Expr> {
    match value {
        Value::String(s) => Some(Expr::Literal(s.clone())),
        Value::Number(n) => Some(Expr::Literal(n.to_string())),
        Value::Bool(b) => Some(Expr::Literal(b.to_string())),
        Value::Tagged(tagged) => tagged_expr(tagged),
        _ => None,
    }
}

fn tagged_expr(tagged: &TaggedValue) -> Option<Expr> {
    let text = tagged.value.as_str()?;
    if tagged.tag == "Ref" {
        Some(Expr::Ref(text.to_owned()))
    } else if tagged.tag == "GetAtt" {
        let (resource, attribute) = text.split_once('.')?;
        Some(Expr::GetAtt(resource.to_owned(), attribute.to_owned()))
    } else if tagged.tag == "Sub" {
        Some(Expr::Sub(text.to_owned()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_their_auth_come_from_the_template() {
        let template = Template::workspace().unwrap();
        let routes = template.routes();
        let login = routes.iter().find(|r| r.path == "/api/v1/auth/login").unwrap();
        assert_eq!((login.function.as_str(), login.method.as_str(), login.authorized), ("AuthFunction", "POST", false));
        assert!(!login.metered);
        let me = routes.iter().find(|r| r.path == "/api/v1/auth/me").unwrap();
        assert!(me.authorized && me.metered);
    }

    #[test]
    fn intrinsics_are_read() {
        let template = Template::workspace().unwrap();
        let env = template.global_environment();
        assert!(env.contains(&("TABLE_NAME".into(), Expr::Ref("Table".into()))));
        assert!(env.iter().any(|(k, v)| k == "JWT_ISSUER" && matches!(v, Expr::Sub(_))));
    }
}
