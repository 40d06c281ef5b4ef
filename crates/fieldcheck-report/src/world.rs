//! The fonts found on disk and the Typst `World` a report is compiled in: one main source, one
//! JSON data file and the report's images, all in memory; nothing is read from disk but fonts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use crate::ReportError;

/// Where the server looks for fonts unless `report_font_dirs` says otherwise: Debian's
/// `fonts-noto-cjk` installs `NotoSansCJK-*.ttc` under `/usr/share/fonts/opentype/noto/`.
pub const DEFAULT_FONT_DIRS: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];

/// The family the reports prefer (Simplified Chinese forms); any other CJK family found is
/// used when it is missing.
const PREFERRED_FAMILY: &str = "Noto Sans CJK SC";

/// Characters a font must have to set a Chinese report.
const CJK_PROBE: [char; 4] = ['整', '改', '通', '报'];

/// Deepest folder nesting searched under a font dir.
const MAX_DEPTH: usize = 6;

/// One face of a font file, read when a report first uses it.
struct Slot {
    path: PathBuf,
    index: u32,
    font: OnceLock<Option<Font>>,
}

impl Slot {
    fn get(&self) -> Option<Font> {
        self.font
            .get_or_init(|| {
                let data = std::fs::read(&self.path).ok()?;
                Font::new(Bytes::new(data), self.index)
            })
            .clone()
    }
}

/// The CJK fonts found in the font dirs (every face of a collection such as
/// `NotoSansCJK-Regular.ttc`). Load once and keep: finding them reads every font file.
pub struct Fonts {
    book: LazyHash<FontBook>,
    slots: Vec<Slot>,
    family: String,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fonts")
            .field("family", &self.family)
            .field("faces", &self.slots.len())
            .finish()
    }
}

fn font_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if depth < MAX_DEPTH {
                font_files(&path, depth + 1, out);
            }
            continue;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("ttf" | "otf" | "ttc" | "otc")) {
            out.push(path);
        }
    }
}

impl Fonts {
    /// Finds every CJK face under `dirs` (searched recursively). None found is
    /// [`ReportError::NoCjkFont`], which says what to install.
    pub fn load<P: AsRef<Path>>(dirs: &[P]) -> Result<Fonts, ReportError> {
        let mut files = Vec::new();
        for d in dirs {
            font_files(d.as_ref(), 0, &mut files);
        }
        files.sort();
        let mut book = FontBook::new();
        let mut slots = Vec::new();
        for path in files {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            for font in Font::iter(Bytes::new(data)) {
                let info = font.info();
                if !CJK_PROBE.iter().all(|c| info.coverage.contains(*c as u32)) {
                    continue;
                }
                book.push(info.clone());
                slots.push(Slot {
                    path: path.clone(),
                    index: font.index(),
                    font: OnceLock::new(),
                });
            }
        }
        let family = book
            .families()
            .map(|(f, _)| f.to_owned())
            .find(|f| f.eq_ignore_ascii_case(PREFERRED_FAMILY))
            .or_else(|| book.families().map(|(f, _)| f.to_owned()).next())
            .ok_or_else(|| ReportError::NoCjkFont {
                searched: dirs
                    .iter()
                    .map(|d| d.as_ref().display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(Fonts {
            book: LazyHash::new(book),
            slots,
            family,
        })
    }

    /// The font dirs of [`DEFAULT_FONT_DIRS`].
    pub fn load_default() -> Result<Fonts, ReportError> {
        Fonts::load(DEFAULT_FONT_DIRS)
    }

    /// How many faces were found.
    pub fn slots_len(&self) -> usize {
        self.slots.len()
    }

    /// The family the reports are set in (`Noto Sans CJK SC` when installed).
    pub fn family(&self) -> &str {
        &self.family
    }
}

fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::default()))
}

/// A file id of the report's virtual project. The ids are interned for the life of the
/// process (at most 2^16 of them), so reports use a fixed, small set of names: `/main.typ`,
/// `/data.json` and `/img/<n>` for the n-th image of a report.
pub(crate) fn file_id(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).expect("a fixed, valid virtual path");
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

/// One report's compilation: its template, its data and its images.
pub(crate) struct ReportWorld<'a> {
    fonts: &'a Fonts,
    main: Source,
    files: HashMap<FileId, Bytes>,
}

impl<'a> ReportWorld<'a> {
    pub(crate) fn new(
        fonts: &'a Fonts,
        template: &str,
        data: Vec<u8>,
        images: Vec<Vec<u8>>,
    ) -> ReportWorld<'a> {
        let mut files = HashMap::new();
        files.insert(file_id("/data.json"), Bytes::new(data));
        for (i, img) in images.into_iter().enumerate() {
            files.insert(file_id(&image_path(i)), Bytes::new(img));
        }
        ReportWorld {
            fonts,
            main: Source::new(file_id("/main.typ"), template.to_owned()),
            files,
        }
    }
}

/// The virtual path of a report's n-th image (no extension: Typst tells JPEG from PNG by its
/// bytes).
pub(crate) fn image_path(i: usize) -> String {
    format!("/img/{i}")
}

impl World for ReportWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.fonts.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotSource)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main.id() {
            return Ok(Bytes::from_string(self.main.text().to_owned()));
        }
        self.files
            .get(&id)
            .cloned()
            .ok_or(FileError::Other(Some("not part of the report".into())))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.slots.get(index)?.get()
    }

    /// Reports print the dates they are given; Typst's `datetime.today()` is not used.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}
