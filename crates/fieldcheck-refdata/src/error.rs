use std::fmt;

/// Where in a file something went wrong, as the person who edits the file would look for it:
/// the file name, the sheet (XLSX), the row number as Excel shows it (1-based, header = row 1
/// when it is the first row) and the column as it is titled in the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: String,
    pub sheet: Option<String>,
    pub row: Option<u64>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            ..Location::default()
        }
    }

    pub(crate) fn with_sheet(mut self, sheet: impl Into<String>) -> Self {
        self.sheet = Some(sheet.into());
        self
    }

    pub(crate) fn with_row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    pub(crate) fn with_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(sheet) = &self.sheet {
            write!(f, " sheet \"{sheet}\"")?;
        }
        if let Some(row) = self.row {
            write!(f, " row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        Ok(())
    }
}

/// Every error says where (file, sheet, row, column) and what was expected. Callers switch on
/// [`RefDataError::code`], never on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefDataError {
    #[error("{at}: {message}")]
    UnsupportedFormat { at: Box<Location>, message: String },
    #[error("{at}: {message}")]
    UnknownKind { at: Box<Location>, message: String },
    #[error("{at}: {message}")]
    MissingColumn {
        at: Box<Location>,
        /// The canonical names of the missing columns.
        columns: Vec<String>,
        message: String,
    },
    #[error("{at}: {message}")]
    UnknownColumn {
        at: Box<Location>,
        /// The unknown column titles as written in the file.
        columns: Vec<String>,
        message: String,
    },
    #[error("{at}: {message}")]
    DuplicateColumn { at: Box<Location>, message: String },
    #[error("{at}: {message}")]
    BadValue { at: Box<Location>, message: String },
    #[error("{at}: {message}")]
    Parse { at: Box<Location>, message: String },
    #[error("{at}: {message}")]
    Empty { at: Box<Location>, message: String },
    #[error("{at}: {source}")]
    Io {
        at: Box<Location>,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: {message}")]
    Write { at: Box<Location>, message: String },
}

impl RefDataError {
    /// A stable code for UIs and APIs.
    pub fn code(&self) -> &'static str {
        match self {
            RefDataError::UnsupportedFormat { .. } => "refdata_unsupported_format",
            RefDataError::UnknownKind { .. } => "refdata_unknown_kind",
            RefDataError::MissingColumn { .. } => "refdata_missing_column",
            RefDataError::UnknownColumn { .. } => "refdata_unknown_column",
            RefDataError::DuplicateColumn { .. } => "refdata_duplicate_column",
            RefDataError::BadValue { .. } => "refdata_bad_value",
            RefDataError::Parse { .. } => "refdata_parse",
            RefDataError::Empty { .. } => "refdata_empty",
            RefDataError::Io { .. } => "refdata_io",
            RefDataError::Write { .. } => "refdata_write",
        }
    }

    pub fn location(&self) -> &Location {
        match self {
            RefDataError::UnsupportedFormat { at, .. }
            | RefDataError::UnknownKind { at, .. }
            | RefDataError::MissingColumn { at, .. }
            | RefDataError::UnknownColumn { at, .. }
            | RefDataError::DuplicateColumn { at, .. }
            | RefDataError::BadValue { at, .. }
            | RefDataError::Parse { at, .. }
            | RefDataError::Empty { at, .. }
            | RefDataError::Io { at, .. }
            | RefDataError::Write { at, .. } => at.as_ref(),
        }
    }
}
