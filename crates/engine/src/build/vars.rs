//! The variables a build step sees: build arguments (declared before `FROM` or in the
//! stage, `--build-arg` over their defaults), the stage's `ENV`, and the predefined ones
//! (proxy settings, BuildKit's platform arguments). `ENV` wins over an `ARG` of the same
//! name, as in Docker.

use std::collections::{BTreeMap, BTreeSet};

use lindocker_dockerfile::expand::Vars;

/// Proxy settings Docker passes to `RUN` when given with `--build-arg`, without an `ARG`
/// declaring them, and leaves out of the history.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// BuildKit's automatic platform arguments for `platform` (`linux/amd64[/v2]`): usable in
/// `FROM` lines, and in a stage once an `ARG NAME` declares them.
pub fn platform_args(os: &str, arch: &str, variant: Option<&str>) -> Vec<(String, String)> {
    let platform = match variant {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    };
    let variant = variant.unwrap_or_default().to_owned();
    let mut out = Vec::new();
    for side in ["TARGET", "BUILD"] {
        out.push((format!("{side}PLATFORM"), platform.clone()));
        out.push((format!("{side}OS"), os.to_owned()));
        out.push((format!("{side}ARCH"), arch.to_owned()));
        out.push((format!("{side}VARIANT"), variant.clone()));
    }
    out
}

/// Build arguments as given, and which of them some `ARG` consumed.
#[derive(Debug, Clone, Default)]
pub struct BuildArgs {
    given: BTreeMap<String, String>,
    consumed: BTreeSet<String>,
}

impl BuildArgs {
    /// `--build-arg` values.
    pub fn new(given: BTreeMap<String, String>) -> BuildArgs {
        BuildArgs { given, consumed: BTreeSet::new() }
    }

    /// The value given for `name`, marking it consumed.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let value = self.given.get(name).cloned();
        if value.is_some() {
            self.consumed.insert(name.to_owned());
        }
        value
    }

    /// The proxy settings given (always consumed).
    pub fn proxies(&self) -> Vec<(String, String)> {
        PROXY_ARGS.iter().filter_map(|n| self.given.get(*n).map(|v| ((*n).to_owned(), v.clone()))).collect()
    }

    /// The names given that no `ARG` took (proxy settings excepted), sorted.
    pub fn unconsumed(&self) -> Vec<String> {
        self.given
            .keys()
            .filter(|k| !self.consumed.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// The variables in scope at one step of a stage.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `KEY=VALUE` of the image config's `Env`, in order.
    pub env: Vec<String>,
    /// The stage's build arguments with a value, in declaration order.
    pub args: Vec<(String, String)>,
}

impl Scope {
    /// Declares `ARG name[=default]` (the default already expanded): the build argument
    /// given wins, then the default, then the value of a global `ARG` of that name.
    pub fn declare(&mut self, name: &str, value: Option<String>) {
        self.args.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.args.push((name.to_owned(), value));
        }
    }

    fn env_value(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
    }

    /// The arguments `RUN` gets in its environment: those no `ENV` shadows.
    pub fn run_args(&self) -> Vec<(String, String)> {
        self.args.iter().filter(|(n, _)| self.env_value(n).is_none()).cloned().collect()
    }

    /// Sets `name=value` in the environment (replacing an earlier value).
    pub fn set_env(&mut self, name: &str, value: &str) {
        let prefix = format!("{name}=");
        match self.env.iter_mut().find(|kv| kv.starts_with(&prefix) || kv.as_str() == name) {
            Some(kv) => *kv = format!("{name}={value}"),
            None => self.env.push(format!("{name}={value}")),
        }
    }
}

impl Vars for Scope {
    fn get(&self, name: &str) -> Option<&str> {
        self.env_value(name).or_else(|| self.args.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str()))
    }
}

/// Variables from a list of pairs (the global scope of `FROM` lines).
#[derive(Debug, Clone, Default)]
pub struct Pairs(pub Vec<(String, String)>);

impl Vars for Pairs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_shadows_an_arg_and_run_gets_the_rest() {
        let mut scope = Scope { env: vec!["PATH=/bin".into(), "A=env".into()], args: vec![] };
        scope.declare("A", Some("arg".into()));
        scope.declare("B", Some("b".into()));
        assert_eq!(scope.get("A"), Some("env"));
        assert_eq!(scope.get("B"), Some("b"));
        assert_eq!(scope.run_args(), vec![("B".to_owned(), "b".to_owned())]);
        scope.set_env("A", "new");
        assert_eq!(scope.env, vec!["PATH=/bin".to_owned(), "A=new".to_owned()]);
    }

    #[test]
    fn unconsumed_build_args_are_reported_but_not_proxies() {
        let given = [("X", "1"), ("HTTP_PROXY", "p"), ("Y", "2")];
        let mut args = BuildArgs::new(given.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        assert_eq!(args.take("Y"), Some("2".into()));
        assert_eq!(args.unconsumed(), vec!["X".to_owned()]);
        assert_eq!(args.proxies(), vec![("HTTP_PROXY".to_owned(), "p".to_owned())]);
    }

    #[test]
    fn platform_args_name_both_sides() {
        let args = platform_args("linux", "amd64", None);
        assert!(args.contains(&("TARGETPLATFORM".into(), "linux/amd64".into())));
        assert!(args.contains(&("BUILDARCH".into(), "amd64".into())));
    }
}
