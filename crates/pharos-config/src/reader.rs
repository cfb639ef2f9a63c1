//! A reader over one TOML table that type-checks each key it is asked for, reports what is
//! wrong at the value's span, and at the end flags every key nobody asked for.

use crate::problems::Problems;
use std::ops::Range;
use std::time::Duration;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Expands `${NAME}` references from the environment (or whatever lookup the caller passes).
pub type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// What an unset `${NAME}` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingEnv {
    /// An error: the configuration is about to be used (`serve`, `check`).
    Error,
    /// A warning: only the file is checked, or only what needs no secret is used
    /// (`config validate`, `export`). The value reads as empty.
    Warn,
}

pub(crate) struct Context<'s, 'e> {
    pub(crate) problems: Problems<'s>,
    pub(crate) env: EnvLookup<'e>,
    pub(crate) missing_env: MissingEnv,
}

/// No duration in a configuration may exceed this: time maths stays far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(10 * 366 * 86_400);

pub(crate) struct TableReader<'a, 'i> {
    table: &'a DeTable<'i>,
    pub(crate) span: Range<usize>,
    /// How the table is named in messages, e.g. "monitor `smtp`" or "[server]".
    pub(crate) name: String,
    asked: Vec<&'static str>,
}

impl<'a, 'i> TableReader<'a, 'i> {
    pub(crate) fn new(table: &'a DeTable<'i>, span: Range<usize>, name: impl Into<String>) -> Self {
        Self {
            table,
            span,
            name: name.into(),
            asked: Vec::new(),
        }
    }

    pub(crate) fn rename(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    pub(crate) fn value(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.asked.push(key);
        self.table.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    fn wrong_type(
        &self,
        cx: &mut Context<'_, '_>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        wanted: &str,
    ) {
        cx.problems.report(
            value.span(),
            format!(
                "`{key}` in {} must be {wanted}, found {}",
                self.name,
                value.get_ref().type_str()
            ),
        );
    }

    pub(crate) fn missing(&self, cx: &mut Context<'_, '_>, key: &str) {
        cx.problems.report(
            self.span.clone(),
            format!("{} is missing `{key}`", self.name),
        );
    }

    /// A string, with `${NAME}` references expanded.
    pub(crate) fn string(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<(String, Range<usize>)> {
        let value = self.value(key)?;
        match value.get_ref().as_str() {
            Some(text) => expand_env(cx, text, value.span()).map(|text| (text, value.span())),
            None => {
                self.wrong_type(cx, key, value, "a string");
                None
            }
        }
    }

    /// A string shown to people (a title, a name, a message): control characters other than
    /// newline and tab are refused, so pages and feeds stay valid whatever is configured.
    pub(crate) fn text(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<(String, Range<usize>)> {
        let (text, span) = self.string(cx, key)?;
        if has_control_characters(&text) {
            cx.problems.report(
                span,
                format!("`{key}` in {} holds control characters; only text, newlines and tabs are allowed", self.name),
            );
            return None;
        }
        Some((text, span))
    }

    /// Like `text`, and the key must be there.
    pub(crate) fn required_text(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<(String, Range<usize>)> {
        if !self.has(key) {
            return self.required_string(cx, key);
        }
        self.text(cx, key)
    }

    pub(crate) fn required_string(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<(String, Range<usize>)> {
        if !self.has(key) {
            self.asked.push(key);
            self.missing(cx, key);
            return None;
        }
        self.string(cx, key)
    }

    pub(crate) fn duration(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<Duration> {
        let (text, span) = self.string(cx, key)?;
        match humantime::parse_duration(&text) {
            Ok(duration) if duration > MAX_DURATION => {
                cx.problems.report(
                    span,
                    format!("`{key}` in {}: `{text}` is longer than 10 years", self.name),
                );
                None
            }
            Ok(duration) => Some(duration),
            Err(error) => {
                cx.problems.report(span, format!("`{key}` in {}: `{text}` is not a duration ({error}); write e.g. \"30s\", \"5m\"", self.name));
                None
            }
        }
    }

    pub(crate) fn integer(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
        range: Range<i64>,
    ) -> Option<i64> {
        let value = self.value(key)?;
        let Some(integer) = value.get_ref().as_integer() else {
            self.wrong_type(cx, key, value, "an integer");
            return None;
        };
        match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(number) if range.contains(&number) => Some(number),
            _ => {
                cx.problems.report(
                    value.span(),
                    format!(
                        "`{key}` in {} must be from {} to {}",
                        self.name,
                        range.start,
                        range.end - 1
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, cx: &mut Context<'_, '_>, key: &'static str) -> Option<bool> {
        let value = self.value(key)?;
        let boolean = value.get_ref().as_bool();
        if boolean.is_none() {
            self.wrong_type(cx, key, value, "true or false");
        }
        boolean
    }

    /// An array of strings (a lone string is taken as a one-element array).
    pub(crate) fn strings(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let value = self.value(key)?;
        if let Some(text) = value.get_ref().as_str() {
            return expand_env(cx, text, value.span()).map(|text| vec![(text, value.span())]);
        }
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(cx, key, value, "an array of strings");
            return None;
        };
        let mut strings = Vec::new();
        for item in array.iter() {
            match item.get_ref().as_str() {
                Some(text) => strings
                    .extend(expand_env(cx, text, item.span()).map(|text| (text, item.span()))),
                None => self.wrong_type(cx, key, item, "an array of strings"),
            }
        }
        Some(strings)
    }

    /// An array whose items may be integers or strings (e.g. `[200, "3xx"]`).
    pub(crate) fn scalars(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let value = self.value(key)?;
        let items: Vec<&Spanned<DeValue<'_>>> = match value.get_ref().as_array() {
            Some(array) => array.iter().collect(),
            None => vec![value],
        };
        let mut scalars = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(text) => scalars.push((text.to_string(), item.span())),
                DeValue::Integer(integer) => {
                    scalars.push((integer.as_str().to_owned(), item.span()))
                }
                _ => self.wrong_type(cx, key, item, "an array of numbers or strings"),
            }
        }
        Some(scalars)
    }

    pub(crate) fn table(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
        name: &str,
    ) -> Option<TableReader<'a, 'i>> {
        let value = self.value(key)?;
        match value.get_ref().as_table() {
            Some(table) => Some(TableReader::new(table, value.span(), name)),
            None => {
                self.wrong_type(cx, key, value, "a table");
                None
            }
        }
    }

    /// A table of free-form string values, such as HTTP headers.
    pub(crate) fn string_map(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
    ) -> Vec<(String, String, Range<usize>)> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(cx, key, value, "a table of strings");
            return Vec::new();
        };
        let mut entries = Vec::new();
        for (name, item) in table.iter() {
            match item.get_ref().as_str() {
                Some(text) => {
                    if let Some(text) = expand_env(cx, text, item.span()) {
                        entries.push((name.get_ref().to_string(), text, item.span()));
                    }
                }
                None => self.wrong_type(cx, name.get_ref(), item, "a string"),
            }
        }
        entries
    }

    /// An array of tables (`[[monitors]]`), each with a reader of its own.
    pub(crate) fn tables(
        &mut self,
        cx: &mut Context<'_, '_>,
        key: &'static str,
        name: &str,
    ) -> Vec<TableReader<'a, 'i>> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(cx, key, value, "an array of tables, written [[{key}]]");
            return Vec::new();
        };
        let mut readers = Vec::new();
        for (index, item) in array.iter().enumerate() {
            match item.get_ref().as_table() {
                Some(table) => readers.push(TableReader::new(
                    table,
                    item.span(),
                    format!("{name} #{}", index + 1),
                )),
                None => self.wrong_type(cx, key, item, "a table"),
            }
        }
        readers
    }

    /// Reports every key of the table that no one asked for.
    pub(crate) fn finish(self, cx: &mut Context<'_, '_>) {
        for (key, _) in self.table.iter() {
            let name = key.get_ref();
            if !self.asked.iter().any(|asked| asked == name) {
                let hint = closest(name, &self.asked)
                    .map(|known| format!("; did you mean `{known}`?"))
                    .unwrap_or_default();
                cx.problems.report(
                    key.span(),
                    format!("unknown key `{name}` in {}{hint}", self.name),
                );
            }
        }
    }
}

/// Whether `text` holds a control character other than newline and tab.
pub fn has_control_characters(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn expand_env(cx: &mut Context<'_, '_>, text: &str, span: Range<usize>) -> Option<String> {
    if !text.contains("${") {
        return Some(text.to_owned());
    }
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    let mut unset = Vec::new();
    while let Some(start) = rest.find("${") {
        expanded.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            cx.problems
                .report(span.clone(), "unclosed `${` in string; write ${NAME}");
            return None;
        };
        let name = &after[..end];
        match (cx.env)(name) {
            Some(value) => expanded.push_str(&value),
            None => unset.push(name.to_owned()),
        }
        rest = &after[end + 1..];
    }
    expanded.push_str(rest);
    if unset.is_empty() {
        return Some(expanded);
    }
    for name in unset {
        let message = format!("environment variable `{name}` is not set");
        match cx.missing_env {
            MissingEnv::Error => cx.problems.report(span.clone(), message),
            MissingEnv::Warn => cx.problems.warn(span.clone(), message),
        }
    }
    cx.problems.unresolved(span);
    Some(String::new())
}

/// The known key closest to a misspelt one, if any is close enough to suggest.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}
