//! Connections: `osiris_connections.yaml`, `${ENV}` substitution, default aliases and secrets.
//!
//! Lookup order for the file: `--connections FILE`, else `$OSIRIS_CONNECTIONS`, else
//! `osiris_connections.yaml` in the current directory, then in the pipeline's directory.
//! Shape: `connections: {<family>: {<alias>: {<fields>…, default: true?}}}`.
//! An omitted `connection:` uses the family's alias marked `default: true`, else one named `default`.

// A `Diagnostic` is the error here: it is built once, on the failure path, and carries the
// file, position, step and hint the user needs, so it is returned by value rather than boxed.
#![allow(clippy::result_large_err)]

pub mod secret;

pub use secret::{is_secret_field, url_password, Redactor, Secret};

use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::oml::Document;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The file name looked for in the current and the pipeline's directory.
pub const FILE_NAME: &str = "osiris_connections.yaml";

/// A loaded connections file (values not yet env-substituted).
#[derive(Debug, Clone, Default)]
pub struct ConnectionsFile {
    /// Where it was read from (None when no file exists).
    pub path: Option<PathBuf>,
    /// family → alias → fields.
    pub families: IndexMap<String, IndexMap<String, Map<String, Value>>>,
    /// The values are final: `${VAR}` is not substituted again (connections a host resolved and
    /// sent to a worker, whose environment has no say).
    resolved: bool,
}

/// A resolved connection as a host sends it to a worker (crate::remote): once, inside the
/// protocol, never on argv or in an environment.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTransfer {
    /// Family, e.g. `mysql`.
    pub family: String,
    /// Alias, e.g. `default`.
    pub alias: String,
    /// Whether a step that names no alias gets this one.
    #[serde(default)]
    pub default: bool,
    /// Non-secret fields.
    pub fields: Map<String, Value>,
    /// Secret fields, in clear.
    pub secrets: IndexMap<String, String>,
}

impl std::fmt::Debug for ConnectionTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionTransfer")
            .field("family", &self.family)
            .field("alias", &self.alias)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConnectionTransfer {
    /// The transfer form of `c`; `default` says whether it is its family's default alias.
    pub fn of(c: &ResolvedConnection, default: bool) -> Self {
        Self {
            family: c.family.clone(),
            alias: c.alias.clone(),
            default,
            fields: c.fields.clone(),
            secrets: c.secrets.iter().map(|(k, s)| (k.clone(), s.expose().to_string())).collect(),
        }
    }
}

/// A connection with env vars substituted; secret fields are held as [`Secret`].
#[derive(Clone)]
pub struct ResolvedConnection {
    /// Family, e.g. `mysql`.
    pub family: String,
    /// Alias, e.g. `default`.
    pub alias: String,
    /// Non-secret fields.
    pub fields: Map<String, Value>,
    /// Secret fields.
    pub secrets: IndexMap<String, Secret>,
}

impl std::fmt::Debug for ResolvedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedConnection")
            .field("family", &self.family)
            .field("alias", &self.alias)
            .field("fields", &self.fields)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ResolvedConnection {
    /// A non-secret string field.
    pub fn str_field(&self, name: &str) -> Option<String> {
        match self.fields.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// The non-secret fields read as `T` (what a health check or discovery needs of a
    /// connection alone); fields `T` does not name are ignored unless it denies them.
    pub fn fields_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(Value::Object(self.fields.clone()))
            .map_err(|e| format!("the {} connection cannot be used: {e}", self.family))
    }

    /// A secret field.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }

    /// Add every secret value to `redactor`: the secret fields, secret-named keys nested in other fields (`headers:
    /// {Authorization: …}`), passwords inside URLs, and each secret as HTTP Basic auth sends it
    /// with the connection's user name.
    pub fn register_secrets(&self, redactor: &mut Redactor) {
        for s in self.secrets.values() {
            redactor.add(s.expose());
        }
        for v in self.fields.values() {
            register_nested(v, false, redactor);
        }
        let user_of = |f: &&str| self.str_field(f).or_else(|| self.secret(f).map(|s| s.expose().to_string()));
        for user in ["user", "username", "auth_username", "pg_user"].iter().filter_map(user_of) {
            for s in self.secrets.values() {
                redactor.add_basic_auth(&user, s.expose());
            }
        }
    }
}

/// Add the secrets inside a field's value: strings and numbers under a secret-named key at any
/// depth (`secret` says the enclosing key was one) and passwords inside URLs.
fn register_nested(value: &Value, secret: bool, redactor: &mut Redactor) {
    match value {
        Value::String(s) => {
            if secret {
                redactor.add(s);
            }
            if let Some(pw) = secret::url_password(s) {
                redactor.add(pw);
            }
        }
        Value::Number(n) if secret => redactor.add(&n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| register_nested(v, secret, redactor)),
        Value::Object(map) => map.iter().for_each(|(k, v)| register_nested(v, secret || is_secret_field(k), redactor)),
        _ => {}
    }
}

/// Find the connections file by the documented lookup order.
pub fn locate(explicit: Option<&Path>, pipeline_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Ok(p) = std::env::var("OSIRIS_CONNECTIONS") {
        if !p.is_empty() {
            return Some(PathBuf::from(p));
        }
    }
    let cwd = PathBuf::from(FILE_NAME);
    if cwd.is_file() {
        return Some(cwd);
    }
    pipeline_dir.map(|d| d.join(FILE_NAME)).filter(|p| p.is_file())
}

impl ConnectionsFile {
    /// Load the file at `path`; a missing explicit file is an error.
    pub fn load(path: &Path) -> Result<Self, Diagnostic> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::error("connections_file_missing", "root", format!("cannot read connections file: {e}"))
                .with_file(&file)
        })?;
        let doc = Document::parse(&text).map_err(|e| {
            let d = Diagnostic::error("yaml_syntax", "root", format!("invalid YAML: {}", e.message)).with_file(&file);
            match (e.line, e.column) {
                (Some(l), Some(c)) => d.at(l, c),
                _ => d,
            }
        })?;
        let mut families = IndexMap::new();
        let conns = doc.value.get("connections").cloned().unwrap_or(Value::Null);
        match conns {
            Value::Null => {}
            Value::Object(fams) => {
                for (family, aliases) in fams {
                    let Value::Object(aliases) = aliases else {
                        return Err(Diagnostic::error(
                            "invalid_connections",
                            format!("connections.{family}"),
                            "each family must map aliases to fields",
                        )
                        .with_file(&file));
                    };
                    let mut out = IndexMap::new();
                    for (alias, fields) in aliases {
                        let Value::Object(fields) = fields else {
                            return Err(Diagnostic::error(
                                "invalid_connections",
                                format!("connections.{family}.{alias}"),
                                "an alias must be a mapping of fields",
                            )
                            .with_file(&file));
                        };
                        out.insert(alias, fields);
                    }
                    families.insert(family, out);
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    "invalid_connections",
                    "connections",
                    "`connections` must be a mapping of families",
                )
                .with_file(&file))
            }
        }
        Ok(Self { path: Some(path.to_path_buf()), families, resolved: false })
    }

    /// Load from the lookup order; no file at all gives an empty set.
    pub fn discover(explicit: Option<&Path>, pipeline_dir: Option<&Path>) -> Result<Self, Diagnostic> {
        match locate(explicit, pipeline_dir) {
            Some(p) => Self::load(&p),
            None => Ok(Self::default()),
        }
    }

    fn file_label(&self) -> String {
        self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| FILE_NAME.to_string())
    }

    /// The connections a host sent: resolve gives back exactly these values.
    pub fn from_transfers(transfers: impl IntoIterator<Item = ConnectionTransfer>) -> Self {
        let mut families: IndexMap<String, IndexMap<String, Map<String, Value>>> = IndexMap::new();
        for t in transfers {
            let mut fields = t.fields;
            fields.remove("default");
            if t.default {
                fields.insert("default".into(), Value::Bool(true));
            }
            for (k, v) in t.secrets {
                fields.insert(k, Value::String(v));
            }
            families.entry(t.family).or_default().insert(t.alias, fields);
        }
        Self { path: None, families, resolved: true }
    }

    /// The alias used when a step names none: `default: true`, else the alias `default`.
    pub fn default_alias(&self, family: &str) -> Option<&str> {
        let aliases = self.families.get(family)?;
        aliases
            .iter()
            .find(|(_, f)| f.get("default") == Some(&Value::Bool(true)))
            .map(|(a, _)| a.as_str())
            .or_else(|| aliases.get_key_value("default").map(|(a, _)| a.as_str()))
    }

    /// Resolve `family`/`alias` (None = the default alias), substituting `${ENV}` values.
    pub fn resolve(&self, family: &str, alias: Option<&str>) -> Result<ResolvedConnection, Diagnostic> {
        let file = self.file_label();
        let Some(aliases) = self.families.get(family) else {
            let msg = if self.path.is_none() {
                format!("no connections file found, but a `{family}` connection is needed")
            } else {
                format!("connection family `{family}` is not defined in {file}")
            };
            return Err(Diagnostic::error("missing_connection", "connection", msg).with_hint(format!(
                "add connections: {{{family}: {{default: {{...}}}}}} to {FILE_NAME} (or pass --connections FILE)"
            )));
        };
        let alias = match alias {
            Some(a) => a,
            None => self.default_alias(family).ok_or_else(|| {
                Diagnostic::error("missing_connection", "connection", format!("no default `{family}` connection in {file}"))
                    .with_hint(format!("mark one alias with `default: true` or name one with `connection: \"@{family}.<alias>\"`; aliases: {}", aliases.keys().cloned().collect::<Vec<_>>().join(", ")))
            })?,
        };
        let Some(raw) = aliases.get(alias) else {
            let mut d = Diagnostic::error(
                "missing_connection",
                "connection",
                format!("connection `@{family}.{alias}` is not defined in {file}"),
            );
            d = match did_you_mean(alias, aliases.keys().map(String::as_str)) {
                Some(s) => d.with_hint(format!("did you mean `@{family}.{s}`?")),
                None => d.with_hint(format!(
                    "available: {}",
                    aliases.keys().map(|a| format!("@{family}.{a}")).collect::<Vec<_>>().join(", ")
                )),
            };
            return Err(d);
        };
        let mut fields = Map::new();
        let mut secrets = IndexMap::new();
        for (name, value) in raw {
            if name == "default" {
                continue;
            }
            let substituted = if self.resolved { Ok(value.clone()) } else { substitute_env(value) };
            let value = substituted.map_err(|var| {
                Diagnostic::error(
                    "missing_env_var",
                    format!("connections.{family}.{alias}.{name}"),
                    format!("environment variable `{var}` is not set (needed by `{name}` of @{family}.{alias})"),
                )
                .with_file(&file)
                .with_hint(format!("export {var}=… or add it to .env"))
            })?;
            match (is_secret_field(name), &value) {
                (true, Value::String(s)) => {
                    secrets.insert(name.clone(), Secret::new(s.clone()));
                }
                // `password: 12345678` is a secret too, handed to clients as text.
                (true, Value::Number(n)) => {
                    secrets.insert(name.clone(), Secret::new(n.to_string()));
                }
                _ => {
                    fields.insert(name.clone(), value);
                }
            }
        }
        Ok(ResolvedConnection { family: family.to_string(), alias: alias.to_string(), fields, secrets })
    }

    /// A redactor seeded with the secrets of every connection that resolves, for outputs made
    /// outside a run (reports, AIOP exports, bundles): whatever a run could have leaked, these
    /// outputs scrub too.
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::default();
        for (family, aliases) in &self.families {
            for alias in aliases.keys() {
                if let Ok(c) = self.resolve(family, Some(alias)) {
                    c.register_secrets(&mut r);
                }
            }
        }
        r
    }

    /// Every alias with secrets masked and env references shown as written; for `connections list`.
    pub fn masked(&self) -> Value {
        let mut out = Map::new();
        for (family, aliases) in &self.families {
            let default = self.default_alias(family);
            let mut fam = Map::new();
            for (alias, fields) in aliases {
                let mut config = Map::new();
                let mut env_vars = Map::new();
                for (k, v) in fields {
                    if k == "default" {
                        continue;
                    }
                    for var in env_refs(v) {
                        let set = std::env::var(&var).map(|x| !x.is_empty()).unwrap_or(false);
                        env_vars.insert(var, Value::Bool(set));
                    }
                    config.insert(k.clone(), masked_value(v, is_secret_field(k)));
                }
                fam.insert(
                    alias.clone(),
                    serde_json::json!({"reference": format!("@{family}.{alias}"), "config": config, "env_vars": env_vars, "is_default": default == Some(alias.as_str())}),
                );
            }
            out.insert(family.clone(), Value::Object(fam));
        }
        Value::Object(out)
    }
}

/// A field's value as `connections list` shows it: `${VAR}` references as written, secrets
/// (under a secret-named key at any depth, strings or numbers) as `***`, URL passwords masked.
fn masked_value(value: &Value, secret: bool) -> Value {
    match value {
        Value::String(s) if s.starts_with("${") => value.clone(),
        Value::String(_) | Value::Number(_) if secret => Value::String("***".into()),
        Value::String(s) => match secret::url_password(s) {
            Some(pw) => Value::String(s.replace(pw, "***")),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| masked_value(v, secret)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), masked_value(v, secret || is_secret_field(k)))).collect())
        }
        other => other.clone(),
    }
}

/// `${VAR}`, compiled once: it is matched against every string value of the file.
fn env_regex() -> &'static regex::Regex {
    static RE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("static regex"));
    &RE
}

/// Names of `${VAR}` references inside a value.
fn env_refs(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => env_regex().captures_iter(s).map(|c| c[1].to_string()).collect(),
        Value::Array(items) => items.iter().flat_map(env_refs).collect(),
        Value::Object(map) => map.values().flat_map(env_refs).collect(),
        _ => Vec::new(),
    }
}

/// Replace `${VAR}` with the environment's value; an unset or empty variable is an error naming it.
/// `${VAR}` references in `v` (at any depth) replaced by the environment's values; the error
/// names the first variable that is unset or empty.
pub fn substitute_env(v: &Value) -> Result<Value, String> {
    match v {
        Value::Array(items) => return items.iter().map(substitute_env).collect::<Result<_, _>>().map(Value::Array),
        Value::Object(map) => {
            return map
                .iter()
                .map(|(k, v)| substitute_env(v).map(|v| (k.clone(), v)))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object)
        }
        _ => {}
    }
    let Value::String(s) = v else { return Ok(v.clone()) };
    let re = env_regex();
    let mut out = String::new();
    let mut last = 0;
    for c in re.captures_iter(s) {
        let m = c.get(0).expect("group 0");
        let val = std::env::var(&c[1]).ok().filter(|x| !x.is_empty()).ok_or_else(|| c[1].to_string())?;
        out.push_str(&s[last..m.start()]);
        out.push_str(&val);
        last = m.end();
    }
    out.push_str(&s[last..]);
    Ok(Value::String(out))
}

/// Split `@family.alias` into its parts.
pub fn parse_reference(r: &str) -> Option<(&str, &str)> {
    r.strip_prefix('@')?.split_once('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(yaml: &str) -> ConnectionsFile {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, yaml).unwrap();
        ConnectionsFile::load(&p).unwrap()
    }

    #[test]
    fn default_flag_wins_over_alias_named_default() {
        let f = file("connections:\n  mysql:\n    default: {host: a}\n    prod: {host: b, default: true}\n");
        assert_eq!(f.resolve("mysql", None).unwrap().alias, "prod");
        assert_eq!(f.resolve("mysql", Some("default")).unwrap().str_field("host").as_deref(), Some("a"));
    }

    #[test]
    fn env_values_are_substituted_and_secret_fields_wrapped() {
        std::env::set_var("OSIRIS_UNIT_PW", "pw-from-env");
        let f = file("connections:\n  mysql:\n    x: {host: h, password: \"${OSIRIS_UNIT_PW}\", default: true}\n");
        let c = f.resolve("mysql", None).unwrap();
        assert_eq!(c.secret("password").unwrap().expose(), "pw-from-env");
        assert!(!format!("{c:?}").contains("pw-from-env"));
        assert_eq!(f.masked()["mysql"]["x"]["config"]["password"], "${OSIRIS_UNIT_PW}");
    }

    #[test]
    fn missing_alias_and_env_var_are_named() {
        let f = file("connections:\n  mysql:\n    prod: {password: \"${OSIRIS_UNIT_UNSET_VAR}\"}\n");
        let e = f.resolve("mysql", Some("prd")).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `@mysql.prod`?"));
        let e = f.resolve("mysql", Some("prod")).unwrap_err();
        assert_eq!(e.kind, "missing_env_var");
        assert!(e.message.contains("OSIRIS_UNIT_UNSET_VAR"));
        assert_eq!(f.resolve("mysql", None).unwrap_err().kind, "missing_connection");
    }
}
