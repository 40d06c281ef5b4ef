//! The format-neutral middle: CSV and XLSX both become a [`RawTable`] of trimmed strings with
//! Excel row numbers, and every kind is read from and written to that one shape.

use std::collections::HashMap;

use crate::error::{Location, RefDataError};

/// How a column is written to XLSX (CSV writes everything as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColType {
    Text,
    Number,
    Bool,
}

/// One column of a kind's table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The canonical (English) title, written on export.
    pub name: &'static str,
    /// The Chinese title accepted on import.
    pub zh: &'static str,
    /// Further titles accepted on import.
    pub aliases: &'static [&'static str],
    /// A required column must be present in the header; its cells may still be blank where
    /// the kind allows it (see the README).
    pub required: bool,
    pub(crate) ty: ColType,
}

impl Column {
    pub(crate) const fn text(name: &'static str, zh: &'static str) -> Column {
        Column {
            name,
            zh,
            aliases: &[],
            required: false,
            ty: ColType::Text,
        }
    }

    pub(crate) const fn number(name: &'static str, zh: &'static str) -> Column {
        Column {
            ty: ColType::Number,
            ..Column::text(name, zh)
        }
    }

    pub(crate) const fn boolean(name: &'static str, zh: &'static str) -> Column {
        Column {
            ty: ColType::Bool,
            ..Column::text(name, zh)
        }
    }

    pub(crate) const fn req(self) -> Column {
        Column {
            required: true,
            ..self
        }
    }

    pub(crate) const fn aka(self, aliases: &'static [&'static str]) -> Column {
        Column { aliases, ..self }
    }

    fn matches(&self, normalized_title: &str) -> bool {
        normalize(self.name) == normalized_title
            || normalize(self.zh) == normalized_title
            || self
                .aliases
                .iter()
                .any(|a| normalize(a) == normalized_title)
    }
}

/// Titles are compared without case, surrounding space, or the difference between `_`, `-` and
/// a space, so `Name ZH`, `name-zh` and `name_zh` are the same column.
fn normalize(title: &str) -> String {
    title
        .trim()
        .trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Rows as read from a CSV file or one sheet: blank rows are already dropped, every cell is
/// trimmed, and each row keeps the number Excel shows for it.
pub(crate) struct RawTable {
    pub at: Location,
    pub rows: Vec<(u64, Vec<String>)>,
}

impl RawTable {
    pub fn push(&mut self, row: u64, cells: Vec<String>) {
        if cells.iter().any(|c| !c.is_empty()) {
            self.rows.push((row, cells));
        }
    }
}

/// A table whose header was matched against a kind's columns.
pub(crate) struct Table<'a> {
    pub at: Location,
    columns: &'static [Column],
    /// For each schema column: its position in the file and its title as written there.
    found: Vec<Option<(usize, String)>>,
    rows: &'a [(u64, Vec<String>)],
}

impl<'a> Table<'a> {
    /// Matches the first row against `columns`. `None` when the table has no rows at all.
    pub fn new(
        raw: &'a RawTable,
        columns: &'static [Column],
    ) -> Result<Option<Table<'a>>, RefDataError> {
        let Some(((header_row, header), rows)) = raw.rows.split_first() else {
            return Ok(None);
        };
        let at = raw.at.clone().with_row(*header_row);
        let mut found: Vec<Option<(usize, String)>> = vec![None; columns.len()];
        let mut unknown = Vec::new();
        for (pos, title) in header.iter().enumerate() {
            if title.is_empty() {
                continue;
            }
            let norm = normalize(title);
            match columns.iter().position(|c| c.matches(&norm)) {
                None => unknown.push(title.clone()),
                Some(i) => {
                    if let Some((_, first)) = &found[i] {
                        return Err(RefDataError::DuplicateColumn {
                            at: Box::new(at),
                            message: format!(
                                "columns \"{first}\" and \"{title}\" are both the column \"{}\"; keep one",
                                columns[i].name
                            ),
                        });
                    }
                    found[i] = Some((pos, title.clone()));
                }
            }
        }
        if !unknown.is_empty() {
            let list = quote_list(&unknown);
            return Err(RefDataError::UnknownColumn {
                at: Box::new(at),
                message: format!(
                    "unknown column{} {list} (expected columns: {})",
                    plural(unknown.len()),
                    accepted_titles(columns)
                ),
                columns: unknown,
            });
        }
        let missing: Vec<String> = columns
            .iter()
            .zip(&found)
            .filter(|(c, f)| c.required && f.is_none())
            .map(|(c, _)| c.name.to_string())
            .collect();
        if !missing.is_empty() {
            let list = columns
                .iter()
                .zip(&found)
                .filter(|(c, f)| c.required && f.is_none())
                .map(|(c, _)| format!("\"{}\" ({})", c.name, c.zh))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(RefDataError::MissingColumn {
                at: Box::new(at),
                message: format!("missing required column{} {list}", plural(missing.len())),
                columns: missing,
            });
        }
        // A value under a blank title would be silently dropped; say so instead.
        for (row, cells) in rows {
            for (pos, cell) in cells.iter().enumerate() {
                let untitled = header.get(pos).is_none_or(|t| t.is_empty());
                if untitled && !cell.is_empty() {
                    return Err(RefDataError::UnknownColumn {
                        at: Box::new(raw.at.clone().with_row(*row)),
                        message: format!(
                            "the value \"{}\" in column {} has no column title in the header row",
                            truncate(cell),
                            column_letter(pos)
                        ),
                        columns: vec![column_letter(pos)],
                    });
                }
            }
        }
        Ok(Some(Table {
            at: raw.at.clone(),
            columns,
            found,
            rows,
        }))
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |(n, cells)| Row {
            table: self,
            row: *n,
            cells,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == key)
    }
}

pub(crate) struct Row<'t> {
    table: &'t Table<'t>,
    pub row: u64,
    cells: &'t [String],
}

impl<'t> Row<'t> {
    /// The cell under `key`, or "" when the column is absent or the row is short.
    pub fn get(&self, key: &str) -> &'t str {
        self.table
            .index(key)
            .and_then(|i| self.table.found[i].as_ref())
            .and_then(|(pos, _)| self.cells.get(*pos))
            .map_or("", String::as_str)
    }

    pub fn opt(&self, key: &str) -> Option<String> {
        let v = self.get(key);
        (!v.is_empty()).then(|| v.to_string())
    }

    pub fn required(&self, key: &str) -> Result<&'t str, RefDataError> {
        let v = self.get(key);
        if v.is_empty() {
            return Err(self.bad(key, "a value is required here"));
        }
        Ok(v)
    }

    /// The location of this row (no column).
    pub fn at(&self) -> Location {
        self.table.at.clone().with_row(self.row)
    }

    /// A bad-value error pointing at this row and `key`'s column, titled as in the file.
    pub fn bad(&self, key: &str, message: impl Into<String>) -> RefDataError {
        let title = self
            .table
            .index(key)
            .and_then(|i| self.table.found[i].as_ref())
            .map_or(key.to_string(), |(_, t)| t.clone());
        RefDataError::BadValue {
            at: Box::new(self.at().with_column(title)),
            message: message.into(),
        }
    }

    /// Parses a non-blank cell with `parse`; blank gives `None`.
    pub fn parse_opt<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, RefDataError> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(None);
        }
        parse(v).map(Some).map_err(|m| self.bad(key, m))
    }

    pub fn parse_req<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, RefDataError> {
        let v = self.required(key)?;
        parse(v).map_err(|m| self.bad(key, m))
    }
}

/// Values that a kind writes into one row; CSV renders them as text, XLSX as typed cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Number(f64),
    Bool(bool),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    pub fn opt(s: &Option<String>) -> Cell {
        s.as_ref().map_or(Cell::Empty, |s| Cell::text(s.clone()))
    }

    pub fn to_csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

pub(crate) struct OutTable {
    pub columns: &'static [Column],
    pub rows: Vec<Vec<Cell>>,
}

/// Tracks ids already seen in a table so a repeated id is reported with both rows.
pub(crate) struct Seen(HashMap<String, u64>);

impl Seen {
    pub fn new() -> Self {
        Seen(HashMap::new())
    }

    pub fn check(&mut self, row: &Row<'_>, key: &str, id: &str) -> Result<(), RefDataError> {
        if let Some(first) = self.0.get(id) {
            return Err(row.bad(
                key,
                format!("\"{id}\" appears again (first on row {first})"),
            ));
        }
        self.0.insert(id.to_string(), row.row);
        Ok(())
    }
}

pub(crate) fn accepted_titles(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("{}|{}", c.name, c.zh))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Excel's letters for a 0-based column position: 0 → A, 26 → AA.
pub(crate) fn column_letter(pos: usize) -> String {
    let mut n = pos + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Long cell values are cut in messages so a stray paragraph doesn't drown the error.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}
