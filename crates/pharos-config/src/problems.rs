//! Configuration problems, each located at file:line:col, collected so all are reported at once.

use std::fmt;
use std::ops::Range;

/// One thing wrong with a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every problem found in a configuration file, in the order they appear in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Collects problems and turns byte spans into line and column numbers.
pub(crate) struct Problems<'s> {
    file: &'s str,
    line_starts: Vec<usize>,
    found: Vec<(usize, Problem)>,
    warnings: Vec<(usize, Problem)>,
    /// Spans of values that name an unset environment variable: that is their one problem,
    /// so nothing else is reported at them.
    unresolved: Vec<Range<usize>>,
}

impl<'s> Problems<'s> {
    pub(crate) fn new(file: &'s str, source: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Self {
            file,
            line_starts,
            found: Vec::new(),
            warnings: Vec::new(),
            unresolved: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, span: Range<usize>, message: impl Into<String>) {
        if self.is_unresolved(&span) {
            return;
        }
        let problem = self.locate(&span, message);
        self.found.push((span.start, problem));
    }

    /// A problem that does not stop the configuration from loading.
    pub(crate) fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        let problem = self.locate(&span, message);
        self.warnings.push((span.start, problem));
    }

    /// Marks a value as naming an unset variable (already reported); later problems at it are
    /// consequences and are not reported.
    pub(crate) fn unresolved(&mut self, span: Range<usize>) {
        self.unresolved.push(span);
    }

    fn is_unresolved(&self, span: &Range<usize>) -> bool {
        self.unresolved
            .iter()
            .any(|value| value.start <= span.start && span.end <= value.end)
    }

    fn locate(&self, span: &Range<usize>, message: impl Into<String>) -> Problem {
        let offset = span.start;
        let line_index = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let column = offset - self.line_starts[line_index] + 1;
        Problem {
            file: self.file.to_owned(),
            line: line_index + 1,
            column,
            message: message.into(),
        }
    }

    /// The value with its warnings, or every problem found.
    pub(crate) fn into_result<T>(mut self, value: T) -> Result<(T, Vec<Problem>), ConfigErrors> {
        if self.found.is_empty() {
            self.warnings.sort_by_key(|(offset, _)| *offset);
            self.warnings.dedup_by(|a, b| a.1 == b.1);
            let warnings = self
                .warnings
                .into_iter()
                .map(|(_, problem)| problem)
                .collect();
            return Ok((value, warnings));
        }
        self.found.sort_by_key(|(offset, _)| *offset);
        self.found.dedup_by(|a, b| a.1 == b.1);
        Err(ConfigErrors {
            problems: self.found.into_iter().map(|(_, problem)| problem).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_one_based_lines_and_columns() {
        let source = "a = 1\nbb = 2\n";
        let mut problems = Problems::new("f.toml", source);
        problems.report(7..8, "second line, second column");
        problems.report(0..1, "first");
        let errors = problems.into_result(()).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "f.toml:1:1: first\nf.toml:2:2: second line, second column"
        );
    }
}
