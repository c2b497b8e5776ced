//! Curriculum frameworks from CSV: a small RFC 4180 reader and the row checks, reporting every bad row
//! by line and column so a ministry's spreadsheet can be fixed in one pass; and the
//! `framework/subject/level/outcome` keys that name an outcome in alignments and caches.

use std::collections::HashSet;

use haven_proto::learning::OutcomeRef;

/// The columns a framework CSV has, in this order.
pub const CSV_HEADER: [&str; 7] = [
    "subject_code",
    "level_code",
    "outcome_code",
    "lang",
    "subject_label",
    "level_label",
    "outcome_label",
];

/// The code of the example framework shipped with Haven.
pub const EXAMPLE_FRAMEWORK_CODE: &str = "HAVEN-COMMON";
/// A small common framework (Maths, Science, Literacy, social-emotional learning; English and French).
pub const EXAMPLE_FRAMEWORK_CSV: &str = include_str!("../curricula/haven-common.csv");

const MAX_CODE: usize = 64;
const MAX_LABEL: usize = 500;
pub(crate) const MAX_ROWS: usize = 20_000;

/// The key of an outcome (of a level, with an empty `outcome`), as alignments store it.
pub(crate) fn outcome_key(framework: &str, subject: &str, level: &str, outcome: &str) -> String {
    format!("{framework}/{subject}/{level}/{outcome}")
}

/// The outcome a key names, if it is one.
pub(crate) fn outcome_ref(key: &str) -> Option<OutcomeRef> {
    let mut parts = key.splitn(4, '/');
    Some(OutcomeRef {
        framework_code: parts.next()?.to_owned(),
        subject_code: parts.next()?.to_owned(),
        level_code: parts.next()?.to_owned(),
        outcome_code: parts.next()?.to_owned(),
    })
}

/// One good row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurriculumRow {
    pub(crate) subject_code: String,
    pub(crate) level_code: String,
    pub(crate) outcome_code: String,
    pub(crate) lang: String,
    pub(crate) subject_label: String,
    pub(crate) level_label: String,
    pub(crate) outcome_label: String,
}

/// One bad row: line (the header is line 1), column and what is wrong. Never echoes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) line: u32,
    pub(crate) column: String,
    pub(crate) description: String,
}

impl RowError {
    fn new(line: u32, column: &str, description: impl Into<String>) -> Self {
        RowError {
            line,
            column: column.to_owned(),
            description: description.into(),
        }
    }
}

/// Splits CSV text into records of fields, each with the line it starts on. Quoted fields may hold
/// commas, doubled quotes and line breaks.
fn records(text: &str) -> Result<Vec<(u32, Vec<String>)>, RowError> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line: u32 = 1;
    let mut start_line: u32 = 1;
    let mut in_quotes = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                let record = std::mem::take(&mut fields);
                if !(record.len() == 1 && record[0].is_empty()) {
                    out.push((start_line, record));
                }
                line += 1;
                start_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(RowError::new(
            start_line,
            "",
            "a quoted field is never closed",
        ));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start_line, fields));
    }
    Ok(out)
}

fn code(errors: &mut Vec<RowError>, line: u32, column: &str, value: &str) {
    if value.is_empty() {
        errors.push(RowError::new(line, column, "is required"));
    } else if value.chars().count() > MAX_CODE
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        errors.push(RowError::new(
            line,
            column,
            format!("must be 1 to {MAX_CODE} letters, digits, '.', '-' or '_'"),
        ));
    }
}

fn label(errors: &mut Vec<RowError>, line: u32, column: &str, value: &str) {
    if value.trim().is_empty() {
        errors.push(RowError::new(line, column, "is required"));
    } else if value.chars().count() > MAX_LABEL {
        errors.push(RowError::new(
            line,
            column,
            format!("must be at most {MAX_LABEL} characters"),
        ));
    } else if value.chars().any(char::is_control) {
        errors.push(RowError::new(
            line,
            column,
            "must not contain control characters",
        ));
    }
}

/// A BCP 47 tag as far as labels need: `en`, `fr`, `ar`, `pt-BR`, `zh-Hant`.
pub(crate) fn is_language_tag(value: &str) -> bool {
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Checks framework and subject/level/outcome codes as the CSV does (for RPC input).
pub(crate) fn is_code(value: &str) -> bool {
    let mut errors = Vec::new();
    code(&mut errors, 0, "", value);
    errors.is_empty()
}

/// Parses and checks a framework CSV. Returns the good rows and every error; callers write nothing
/// when there is any error.
pub(crate) fn parse(text: &str) -> (Vec<CurriculumRow>, Vec<RowError>) {
    let records = match records(text) {
        Ok(records) => records,
        Err(error) => return (Vec::new(), vec![error]),
    };
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut iter = records.into_iter();
    match iter.next() {
        Some((_, header)) if header.iter().map(|h| h.trim()).eq(CSV_HEADER) => {}
        _ => {
            errors.push(RowError::new(
                1,
                "",
                format!("the header must be {}", CSV_HEADER.join(",")),
            ));
            return (rows, errors);
        }
    }
    let mut seen = HashSet::new();
    for (count, (line, fields)) in iter.enumerate() {
        if count >= MAX_ROWS {
            errors.push(RowError::new(line, "", format!("at most {MAX_ROWS} rows")));
            break;
        }
        if fields.len() != CSV_HEADER.len() {
            errors.push(RowError::new(
                line,
                "",
                format!("has {} fields, not {}", fields.len(), CSV_HEADER.len()),
            ));
            continue;
        }
        let before = errors.len();
        let f: Vec<&str> = fields.iter().map(|s| s.trim()).collect();
        for (i, column) in CSV_HEADER.iter().enumerate().take(3) {
            code(&mut errors, line, column, f[i]);
        }
        if !is_language_tag(f[3]) {
            errors.push(RowError::new(
                line,
                "lang",
                "must be a language tag such as en or pt-BR",
            ));
        }
        for (i, column) in CSV_HEADER.iter().enumerate().skip(4) {
            label(&mut errors, line, column, f[i]);
        }
        if errors.len() > before {
            continue;
        }
        if !seen.insert([f[0], f[1], f[2], f[3]].map(str::to_owned)) {
            errors.push(RowError::new(
                line,
                "outcome_code",
                "repeats an earlier row's codes and language",
            ));
            continue;
        }
        rows.push(CurriculumRow {
            subject_code: f[0].to_owned(),
            level_code: f[1].to_owned(),
            outcome_code: f[2].to_owned(),
            lang: f[3].to_owned(),
            subject_label: f[4].to_owned(),
            level_label: f[5].to_owned(),
            outcome_label: f[6].to_owned(),
        });
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_framework_parses_without_errors() {
        let (rows, errors) = parse(EXAMPLE_FRAMEWORK_CSV);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 20);
        assert!(
            rows.iter()
                .any(|r| r.lang == "fr" && r.subject_label == "Mathématiques")
        );
        assert!(rows.iter().any(|r| r.outcome_label.contains("10,000")));
    }

    #[test]
    fn quoted_fields_keep_commas_and_quotes_and_line_numbers_survive_quoted_line_breaks() {
        let text = "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\r\n\
                    M,G1,O1,en,\"Maths, basic\",\"Grade \"\"one\"\"\",Counts\r\n\
                    M,G1,O2,en,Maths,Grade 1,\"two\nlines\"\n\
                    M,G1,O3,en,Maths,Grade 1,\n";
        let (rows, errors) = parse(text);
        assert_eq!(rows[0].subject_label, "Maths, basic");
        assert_eq!(rows[0].level_label, "Grade \"one\"");
        // A label may not hold a line break, and the row after it is still counted right.
        let found: Vec<(u32, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(found, vec![(3, "outcome_label"), (5, "outcome_label")]);
    }

    #[test]
    fn every_bad_row_is_reported_by_line_and_column() {
        let text = "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\n\
                    MATH,G5,M5.1,en,Maths,Grade 5,Fractions\n\
                    MATH,G5,,en,Maths,Grade 5,Fractions\n\
                    MATH,G 5,M5.2,english,Maths,Grade 5,\n\
                    MATH,G5\n\
                    MATH,G5,M5.1,en,Maths,Grade 5,Fractions again\n";
        let (_, errors) = parse(text);
        let found: Vec<(u32, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(
            found,
            vec![
                (3, "outcome_code"),
                (4, "level_code"),
                (4, "lang"),
                (4, "outcome_label"),
                (5, ""),
                (6, "outcome_code"),
            ]
        );
    }

    #[test]
    fn a_wrong_header_or_an_open_quote_is_reported_on_its_line() {
        let (_, errors) = parse("subject,level\nA,B\n");
        assert_eq!(errors[0].line, 1);
        let text = "subject_code,level_code,outcome_code,lang,subject_label,level_label,outcome_label\n\
                    M,G1,O1,en,\"never closed,x,y\n";
        let (_, errors) = parse(text);
        assert_eq!(errors[0].line, 2);
    }
}
