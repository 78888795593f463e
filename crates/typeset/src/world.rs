//! The closed world typst compiles in: one template, one data file, the bundled fonts; no file
//! system, no packages, no network, no clock.

use std::sync::LazyLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// What every render shares, built once: the standard library, the parsed fonts and their
/// book, the templates' sources.
pub(crate) struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    invoice: Source,
    /// Printed instead of a character no bundled font has: PDF/A forbids the blank "notdef"
    /// glyph typst would otherwise draw.
    stand_in: char,
}

/// The ids of the template and of its data. File ids are interned for the process's life (and
/// limited to 65,535), so they are made once, never per render.
static INVOICE_TEMPLATE: LazyLock<FileId> = LazyLock::new(|| file_id("/invoice.typ"));
static INVOICE_DATA: LazyLock<FileId> = LazyLock::new(|| file_id("/invoice.json"));

fn file_id(path: &str) -> FileId {
    FileId::new(RootedPath::new(VirtualRoot::Project, VirtualPath::new(path).expect("valid virtual path")))
}

impl Shared {
    pub(crate) fn new() -> Shared {
        let fonts: Vec<Font> = typst_assets::fonts().flat_map(|data| Font::iter(Bytes::new(data))).collect();
        let stand_in = if covered(&fonts, '\u{25a1}') { '\u{25a1}' } else { '?' };
        Shared {
            stand_in,
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            invoice: Source::new(*INVOICE_TEMPLATE, include_str!("../templates/invoice.typ").to_string()),
        }
    }

    /// The text with each character that no bundled font can draw replaced by a white square.
    pub(crate) fn printable(&self, text: &str) -> Option<String> {
        let printable = |c: char| c.is_ascii() || covered(&self.fonts, c);
        if text.chars().all(printable) {
            return None;
        }
        Some(text.chars().map(|c| if printable(c) { c } else { self.stand_in }).collect())
    }

    /// The world of one invoice: its data as the template's `/invoice.json`.
    pub(crate) fn invoice_world(&self, data: Vec<u8>) -> DocumentWorld<'_> {
        DocumentWorld { shared: self, main: self.invoice.clone(), data_id: *INVOICE_DATA, data: Bytes::new(data) }
    }
}

fn covered(fonts: &[Font], c: char) -> bool {
    fonts.iter().any(|font| font.info().coverage.contains(u32::from(c)))
}

pub(crate) struct DocumentWorld<'a> {
    shared: &'a Shared,
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl World for DocumentWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.shared.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() { Ok(self.main.clone()) } else { Err(FileError::AccessDenied) }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else if id == self.main.id() {
            Ok(Bytes::from_string(self.main.text().to_string()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.fonts.get(index).cloned()
    }

    /// Documents carry their own dates; a template asking for today's gets an error rather
    /// than a value that changes the output from one day to the next.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}
