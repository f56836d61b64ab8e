//! The steps a channel's settings share when they are read: whether the channel is configured
//! at all, an API URL, a default language, a word out of a few, a list of media hosts, and
//! the settings error that names its variable. Each channel's file keeps its own variables,
//! defaults and checks.

use super::{ConfigError, Source};
use crate::core::message::Lang;

/// A settings error that knows which variable an operator has to change; it becomes a
/// [`ConfigError`] in its own words.
pub trait SettingsError: std::fmt::Display {
    /// The variable an operator has to change.
    fn variable(&self) -> &'static str;
}

impl<Error: SettingsError> From<Error> for ConfigError {
    fn from(error: Error) -> ConfigError {
        ConfigError::new(error.variable(), error.to_string())
    }
}

/// Whether none of a channel's variables is set: the channel is simply not used.
pub fn none_set(source: &dyn Source, variables: &[&str]) -> bool {
    variables.iter().all(|variable| source.get(variable).is_none())
}

/// An API URL, without a trailing slash, if `variable` is set.
pub fn api_url(source: &dyn Source, variable: &str) -> Option<String> {
    source.get(variable).map(|url| url.trim_end_matches('/').to_owned())
}

/// The language `variable` names (`en`, `ru`, `zh`), or `default` when it is not set; what it
/// holds when no language reads.
pub fn language(source: &dyn Source, variable: &str, default: Lang) -> Result<Lang, String> {
    match source.get(variable) {
        None => Ok(default),
        Some(code) => Lang::from_code(&code).ok_or(code),
    }
}

/// The value of the word `variable` holds, one of `words` in any case, or `default` when it is
/// not set; what it holds when it is none of them.
pub fn one_of<T: Copy>(
    source: &dyn Source,
    variable: &str,
    words: &[(&str, T)],
    default: T,
) -> Result<T, String> {
    let Some(given) = source.get(variable) else { return Ok(default) };
    let found = words.iter().find(|(word, _)| given.eq_ignore_ascii_case(word));
    found.map(|(_, value)| *value).ok_or(given)
}

/// `on` or `off`, in any case, or `default` when `variable` is not set.
pub fn on_off(source: &dyn Source, variable: &str, default: bool) -> Result<bool, String> {
    one_of(source, variable, &[("on", true), ("off", false)], default)
}

/// The host names a comma-separated `variable` lists (`SWITCHBOARD_*_MEDIA_HOSTS`), trimmed and
/// lowercased, if it is set.
pub fn host_list(source: &dyn Source, variable: &str) -> Option<Vec<String>> {
    let raw = source.get(variable)?;
    Some(raw.split(',').map(|host| host.trim().to_ascii_lowercase()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn words_read_in_any_case_and_anything_else_comes_back() {
        let source = HashMap::from([("MODE", "WebHook"), ("LIMIT", "sometimes"), ("LANG", "xx")]);
        let modes = [("longpoll", 1), ("webhook", 2)];
        assert_eq!(one_of(&source, "MODE", &modes, 1), Ok(2));
        assert_eq!(one_of(&source, "UNSET", &modes, 1), Ok(1));
        assert_eq!(on_off(&source, "LIMIT", true), Err("sometimes".to_owned()));
        assert_eq!(language(&source, "LANG", Lang::Ru), Err("xx".to_owned()));
        assert_eq!(language(&source, "UNSET", Lang::Ru), Ok(Lang::Ru));
    }
}
