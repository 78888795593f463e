//! The PDF side: loading the original, the signature stamp, the evidence pages, the
//! signature field and dictionary, and the final ByteRange/Contents patch.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::{Cursor, Write as _};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use lopdf::xref::XrefType;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};

use crate::text::{Face, pdf_literal, pdf_text_string, text_width, to_winansi, wrap};
use crate::{Anchor, Evidence, SealInput, SignError, SigningIdentity, Stamp, StampPage, cades};

/// A4 portrait, in points.
const A4: (f32, f32) = (595.276, 841.89);
/// The box the signature image is fitted into, keeping its ratio.
const STAMP_BOX: (f32, f32) = (180.0, 70.0);
const STAMP_MARGIN: f32 = 36.0;
const CAPTION_SIZE: f32 = 7.0;
/// Ten digits each, so the real offsets always fit in the placeholder's width.
const BYTE_RANGE_PLACEHOLDER: &[u8] = b"[0 9999999999 9999999999 9999999999]";
/// Room reserved for the CMS beyond the certificates themselves.
const CMS_OVERHEAD: usize = 4096;
const CMS_MIN_CAPACITY: usize = 16 * 1024;
/// A canvas signature is a few hundred pixels wide; this bounds memory, not quality.
const MAX_IMAGE_PIXELS: u64 = 4096 * 4096;

/// The number of pages of a PDF that opens, for upload checks.
pub fn page_count(pdf: &[u8]) -> Result<u32, SignError> {
    std::panic::catch_unwind(|| {
        let (_, pages) = load(pdf)?;
        u32::try_from(pages.len()).map_err(|_| SignError::UnreadablePdf)
    })
    .unwrap_or(Err(SignError::UnreadablePdf))
}

/// Seals `input.original`: stamp, evidence page(s), then a PAdES signature with `identity`.
///
/// The changes are appended to the original as an incremental update, so its bytes, and any
/// signature it already carries, stay intact. A file whose cross-reference data had to be
/// repaired, that was encrypted (with an empty user password), or to which an update would not
/// read back, is rewritten whole instead.
pub fn seal(input: &SealInput, identity: &SigningIdentity) -> Result<Vec<u8>, SignError> {
    // lopdf reads arbitrary uploads: a panic in it must come out as a refusal, not a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| seal_unguarded(input, identity)))
        .unwrap_or(Err(SignError::UnreadablePdf))
}

fn seal_unguarded(input: &SealInput, identity: &SigningIdentity) -> Result<Vec<u8>, SignError> {
    let (mut doc, pages) = load(input.original)?;
    let count = u32::try_from(pages.len()).map_err(|_| SignError::UnreadablePdf)?;
    let previous_xref = appendable(&doc, input.original);
    // New objects take numbers no revision used, freed ones included.
    if let Ok(size) = doc.trailer.get(b"Size").and_then(Object::as_i64)
        && let Ok(last) = u32::try_from(size - 1)
    {
        doc.max_id = doc.max_id.max(last);
    }
    if doc.max_id > u32::MAX - 1_000 {
        return Err(SignError::UnreadablePdf);
    }
    let first_new_id = doc.max_id + 1;
    let catalog_id = doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(|_| SignError::UnreadablePdf)?;
    let catalog = doc.get_dictionary(catalog_id).map_err(|_| SignError::UnreadablePdf)?;
    let mut changed: Vec<ObjectId> = vec![catalog_id];
    changed.extend(catalog.get(b"Pages").and_then(Object::as_reference));
    changed.extend(catalog.get(b"AcroForm").and_then(Object::as_reference));

    let helvetica = doc.add_object(font_dictionary(b"Helvetica"));
    let helvetica_bold = doc.add_object(font_dictionary(b"Helvetica-Bold"));

    if let Some(stamp) = &input.stamp {
        let number = match stamp.page {
            StampPage::Last => count,
            StampPage::Number(number) => number,
        };
        let page_id = *pages.get(&number).ok_or(SignError::PageOutOfRange { page: number, count })?;
        let image = decode_png(stamp.png)?;
        stamp_page(&mut doc, page_id, &image, stamp, helvetica)?;
        changed.push(page_id);
    }

    let evidence_pages = add_evidence_pages(&mut doc, &input.evidence, identity, (helvetica, helvetica_bold))?;
    let capacity = CMS_MIN_CAPACITY.max(identity.chain().iter().map(Vec::len).sum::<usize>() + CMS_OVERHEAD);
    // Random rather than zeros: the saved file is searched for it, and an original may already
    // hold a zeroed /Contents of the same size (left by another signing tool, or planted).
    let mut contents_placeholder = vec![0u8; capacity];
    rand::fill(&mut contents_placeholder[..]);
    add_signature(&mut doc, catalog_id, evidence_pages[0], input, &contents_placeholder)?;

    // The sealed file must open as the original did, with the evidence pages added.
    let pages_after = pages.len() + evidence_pages.len();
    let opens = |out: &[u8]| load(out).is_ok_and(|(_, pages)| pages.len() == pages_after);
    let appended = match previous_xref {
        Some(previous) => {
            changed.extend(doc.objects.keys().filter(|id| id.0 >= first_new_id));
            Some(append_update(input.original, &doc, &changed, previous)?)
        }
        None => None,
    };
    // lopdf reads some damaged cross-reference data without a word (object numbers shifted in a
    // cross-reference stream…): an update appended to it would not open, the file is saved whole.
    let mut out = match appended {
        Some(out) if opens(&out) => out,
        _ => {
            prepare_for_save(&mut doc);
            let mut out = Vec::with_capacity(input.original.len() + 64 * 1024);
            doc.save_to(&mut out).map_err(|e| SignError::internal("save", e))?;
            if !opens(&out) {
                return Err(SignError::UnreadablePdf);
            }
            out
        }
    };
    sign_placeholders(&mut out, &contents_placeholder, identity)?;
    Ok(out)
}

/// Where the original's last cross-reference section starts and whether it is a stream,
/// when an update can be appended to it: read as written (not repaired), not encrypted.
fn appendable(doc: &Document, original: &[u8]) -> Option<PreviousXref> {
    // lopdf counts offsets from the header: with bytes before it, appended offsets would not agree.
    if doc.xref_recovery.is_some() || doc.was_encrypted() || doc.xref_start == 0 || !original.starts_with(b"%PDF-") {
        return None;
    }
    let section = original.get(doc.xref_start..)?;
    if section.starts_with(b"xref") {
        return Some(PreviousXref { offset: doc.xref_start, stream: false });
    }
    // "N G obj" then a dictionary of /Type /XRef.
    let head = &section[..section.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let mut words = text.split_ascii_whitespace();
    let numbered = words.next()?.parse::<u32>().is_ok() && words.next()?.parse::<u16>().is_ok();
    (numbered && text.contains("/XRef")).then_some(PreviousXref { offset: doc.xref_start, stream: true })
}

#[derive(Clone, Copy)]
struct PreviousXref {
    offset: usize,
    stream: bool,
}

/// The original bytes, then the `changed` objects and a cross-reference section of the
/// original's kind (table or stream) chained to its last one with /Prev.
fn append_update(
    original: &[u8],
    doc: &Document,
    changed: &[ObjectId],
    previous: PreviousXref,
) -> Result<Vec<u8>, SignError> {
    let mut out = Vec::with_capacity(original.len() + 64 * 1024);
    out.extend_from_slice(original);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets: BTreeMap<u32, (usize, u16)> = BTreeMap::new();
    for id in changed {
        if offsets.contains_key(&id.0) {
            continue;
        }
        let object = doc.get_object(*id).map_err(|_| SignError::internal("update", "missing object"))?;
        offsets.insert(id.0, (out.len(), id.1));
        let _ = writeln!(out, "{} {} obj", id.0, id.1);
        lopdf::Writer::write_object(&mut out, object).map_err(|e| SignError::internal("update", e))?;
        out.extend_from_slice(b"\nendobj\n");
    }

    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = doc.trailer.get(key) {
            trailer.set(key.to_vec(), value.clone());
        }
    }
    trailer.set("Prev", previous.offset as i64);
    let xref_offset = out.len();
    if previous.stream {
        let xref_id = doc.max_id + 1;
        offsets.insert(xref_id, (xref_offset, 0));
        let mut data = Vec::with_capacity(offsets.len() * 7);
        for (&_, &(offset, generation)) in &offsets {
            let offset = u32::try_from(offset).map_err(|_| SignError::internal("update", "file over 4 GiB"))?;
            data.push(1);
            data.extend_from_slice(&offset.to_be_bytes());
            data.extend_from_slice(&generation.to_be_bytes());
        }
        trailer.set("Type", Object::Name(b"XRef".to_vec()));
        trailer.set("Size", i64::from(xref_id) + 1);
        trailer.set("W", vec![Object::Integer(1), Object::Integer(4), Object::Integer(2)]);
        let index: Vec<Object> = runs(&offsets)
            .into_iter()
            .flat_map(|(start, count)| [Object::Integer(i64::from(start)), Object::Integer(count as i64)])
            .collect();
        trailer.set("Index", index);
        let _ = writeln!(out, "{xref_id} 0 obj");
        lopdf::Writer::write_object(&mut out, &Object::Stream(Stream::new(trailer, data)))
            .map_err(|e| SignError::internal("update", e))?;
        out.extend_from_slice(b"\nendobj\n");
    } else {
        out.extend_from_slice(b"xref\n");
        for (start, count) in runs(&offsets) {
            let _ = writeln!(out, "{start} {count}");
            for id in start..start + count {
                let (offset, generation) = offsets[&id];
                // Each entry is exactly 20 bytes, its end of line included.
                let _ = write!(out, "{offset:010} {generation:05} n\r\n");
            }
        }
        trailer.set("Size", i64::from(doc.max_id) + 1);
        out.extend_from_slice(b"trailer\n");
        lopdf::Writer::write_object(&mut out, &Object::Dictionary(trailer))
            .map_err(|e| SignError::internal("update", e))?;
        out.extend_from_slice(b"\n");
    }
    let _ = write!(out, "startxref\n{xref_offset}\n%%EOF\n");
    Ok(out)
}

/// Consecutive object numbers as (first, count) runs.
fn runs(offsets: &BTreeMap<u32, (usize, u16)>) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &id in offsets.keys() {
        match runs.last_mut() {
            Some((start, count)) if *start + *count == id => *count += 1,
            _ => runs.push((id, 1)),
        }
    }
    runs
}

/// A drawn-looking signature (a blue wave on a transparent background), as a canvas would
/// send it, for tests and the benchmark.
pub fn sample_signature_png(width: u32, height: u32) -> Vec<u8> {
    let (width, height) = (width.max(60), height.max(60));
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    for x in 20..width - 20 {
        let y = (height as f32 / 2.0 + (x as f32 / 25.0).sin() * (height as f32 / 4.0)) as u32;
        for dy in 0..4 {
            let at = (((y + dy).min(height - 1) * width + x) * 4) as usize;
            pixels[at..at + 4].copy_from_slice(&[15, 25, 90, 255]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&pixels);
    }
    out
}

/// A plain n-page A4 PDF with a line of text per page (for tests and the benchmark).
pub fn sample_pdf(pages: u32, title: &str) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(font_dictionary(b"Helvetica"));
    let mut kids = Vec::new();
    for number in 1..=pages {
        let line = to_winansi(&format!("{title} – page {number} / {pages}"));
        let body = to_winansi("Lorem ipsum dolor sit amet, consectetur adipiscing elit.");
        let content = format!(
            "BT /F1 18 Tf 1 0 0 1 72 760 Tm {} Tj ET\nBT /F1 11 Tf 1 0 0 1 72 730 Tm {} Tj ET\n",
            pdf_literal(&line),
            pdf_literal(&body)
        );
        let content_id = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
        let mut fonts = Dictionary::new();
        fonts.set("F1", font);
        let mut resources = Dictionary::new();
        resources.set("Font", fonts);
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", pages_id);
        page.set("MediaBox", rect(0.0, 0.0, A4.0, A4.1));
        page.set("Resources", resources);
        page.set("Contents", content_id);
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let mut pages_dict = Dictionary::new();
    pages_dict.set("Type", Object::Name(b"Pages".to_vec()));
    pages_dict.set("Count", i64::from(pages));
    pages_dict.set("Kids", kids);
    doc.objects.insert(pages_id, Object::Dictionary(pages_dict));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", pages_id);
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = doc.save_to(&mut out);
    out
}

/// Opens the PDF and lists its pages; refuses what a reader could not show.
fn load(bytes: &[u8]) -> Result<(Document, BTreeMap<u32, ObjectId>), SignError> {
    // A PDF header within the first KiB, as readers require; anything else is not a PDF.
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(SignError::UnreadablePdf);
    }
    // Acrobat wants %%EOF within the last KiB too; a cut-off upload fails here, where a
    // tolerant parser would rebuild a partial document from what is left.
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err(SignError::UnreadablePdf);
    }
    let doc = Document::load_mem(bytes).map_err(|error| match error {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) | lopdf::Error::UnsupportedSecurityHandler(_) => {
            SignError::PasswordProtected
        }
        _ => SignError::UnreadablePdf,
    })?;
    // lopdf opens files whose user password is empty by itself; /Encrypt left means one is needed.
    if doc.trailer.has(b"Encrypt") {
        return Err(SignError::PasswordProtected);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(SignError::NoPages);
    }
    // A page reached twice means a loop or a shared node in the page tree: lopdf walks it up to a
    // limit of its own, readers refuse it, and a sealed copy would not open again.
    if pages.values().collect::<HashSet<_>>().len() != pages.len() {
        return Err(SignError::UnreadablePdf);
    }
    // A page tree that announces more pages than it leads to has lost some.
    let announced = doc
        .catalog()
        .and_then(|catalog| catalog.get(b"Pages"))
        .and_then(Object::as_reference)
        .and_then(|root| doc.get_dictionary(root))
        .and_then(|root| root.get(b"Count"))
        .and_then(Object::as_i64);
    if announced.is_ok_and(|count| count != pages.len() as i64) {
        return Err(SignError::UnreadablePdf);
    }
    for page_id in pages.values() {
        let page = doc.get_dictionary(*page_id).map_err(|_| SignError::UnreadablePdf)?;
        // Each content stream must be there: a truncated file loses them first. A cross-reference
        // or object stream is no content, and lopdf drops it when a sealed copy is saved whole.
        for content in content_refs(&doc, page) {
            match doc.get_object(content) {
                Ok(Object::Stream(stream))
                    if !matches!(stream.dict.get_type(), Ok(b"XRef" | b"ObjStm" | b"Linearized")) => {}
                _ => return Err(SignError::UnreadablePdf),
            }
        }
    }
    Ok((doc, pages))
}

/// The references a page's /Contents names (one stream or an array of them).
fn content_refs(doc: &Document, page: &Dictionary) -> Vec<ObjectId> {
    let Ok(contents) = page.get(b"Contents") else {
        return Vec::new();
    };
    let contents = match contents {
        Object::Reference(id) => match doc.get_object(*id) {
            Ok(Object::Array(items)) => items.clone(),
            _ => vec![contents.clone()],
        },
        Object::Array(items) => items.clone(),
        _ => Vec::new(),
    };
    contents.iter().filter_map(|item| item.as_reference().ok()).collect()
}

fn font_dictionary(base_font: &[u8]) -> Dictionary {
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("BaseFont", Object::Name(base_font.to_vec()));
    font.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
    font
}

fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<Object> {
    vec![Object::Real(x0), Object::Real(y0), Object::Real(x1), Object::Real(y1)]
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>, SignError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), Compression::fast());
    encoder.write_all(bytes).map_err(|e| SignError::internal("deflate", e))?;
    encoder.finish().map_err(|e| SignError::internal("deflate", e))
}

fn flate_stream(mut dict: Dictionary, content: &[u8]) -> Result<Stream, SignError> {
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    Ok(Stream::new(dict, deflate(content)?).with_compression(false))
}

/// A decoded PNG: colour samples, and an alpha channel when some pixel is not opaque.
struct Image {
    width: u32,
    height: u32,
    gray: bool,
    color: Vec<u8>,
    alpha: Option<Vec<u8>>,
}

fn decode_png(bytes: &[u8]) -> Result<Image, SignError> {
    let limits = png::Limits { bytes: 64 * 1024 * 1024 };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|error| match error {
        png::DecodingError::LimitsExceeded => SignError::ImageTooLarge,
        _ => SignError::InvalidImage,
    })?;
    let (width, height) = reader.info().size();
    if width == 0 || height == 0 {
        return Err(SignError::InvalidImage);
    }
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(SignError::ImageTooLarge);
    }
    let size = reader.output_buffer_size().ok_or(SignError::ImageTooLarge)?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(|_| SignError::InvalidImage)?;
    let pixels = &buffer[..frame.line_size * frame.height as usize];
    let row = frame.line_size;
    let (channels, gray, has_alpha) = match frame.color_type {
        png::ColorType::Rgba => (4, false, true),
        png::ColorType::Rgb => (3, false, false),
        png::ColorType::GrayscaleAlpha => (2, true, true),
        png::ColorType::Grayscale => (1, true, false),
        png::ColorType::Indexed => return Err(SignError::InvalidImage),
    };
    let color_channels = if gray { 1 } else { 3 };
    let pixel_count = (width * height) as usize;
    let mut color = Vec::with_capacity(pixel_count * color_channels);
    let mut alpha = Vec::with_capacity(if has_alpha { pixel_count } else { 0 });
    for y in 0..height as usize {
        let line = &pixels[y * row..y * row + width as usize * channels];
        for pixel in line.chunks_exact(channels) {
            color.extend_from_slice(&pixel[..color_channels]);
            if has_alpha {
                alpha.push(pixel[channels - 1]);
            }
        }
    }
    let alpha = (has_alpha && alpha.iter().any(|&a| a != 255)).then_some(alpha);
    Ok(Image { width, height, gray, color, alpha })
}

/// An inheritable page attribute: the page's own, or the nearest ancestor's.
fn inherited(doc: &Document, page_id: ObjectId, key: &[u8]) -> Option<Object> {
    let mut current = doc.get_dictionary(page_id).ok()?;
    for _ in 0..64 {
        if let Ok(value) = current.get(key) {
            return Some(value.clone());
        }
        let parent = current.get(b"Parent").and_then(Object::as_reference).ok()?;
        current = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, object)| object)
}

/// A page box as (x0, y0, x1, y1), normalised so x0 < x1 and y0 < y1.
fn page_box(doc: &Document, page_id: ObjectId, key: &[u8]) -> Option<(f32, f32, f32, f32)> {
    let object = inherited(doc, page_id, key)?;
    let values = resolve(doc, &object)?.as_array().ok()?;
    let numbers: Vec<f32> = values.iter().filter_map(|v| resolve(doc, v).and_then(|v| v.as_float().ok())).collect();
    let [a, b, c, d] = numbers[..] else {
        return None;
    };
    let bounds = (a.min(c), b.min(d), a.max(c), b.max(d));
    (bounds.2 - bounds.0 > 1.0 && bounds.3 - bounds.1 > 1.0).then_some(bounds)
}

/// The part of the page a reader shows (CropBox within MediaBox) and the page's /Rotate.
fn visible_area(doc: &Document, page_id: ObjectId) -> ((f32, f32, f32, f32), i64) {
    let media = page_box(doc, page_id, b"MediaBox").unwrap_or((0.0, 0.0, A4.0, A4.1));
    let area = match page_box(doc, page_id, b"CropBox") {
        Some(crop) => {
            let clipped = (crop.0.max(media.0), crop.1.max(media.1), crop.2.min(media.2), crop.3.min(media.3));
            if clipped.2 - clipped.0 > 1.0 && clipped.3 - clipped.1 > 1.0 { clipped } else { media }
        }
        None => media,
    };
    let rotate =
        inherited(doc, page_id, b"Rotate").and_then(|r| resolve(doc, &r).and_then(|r| r.as_i64().ok())).unwrap_or(0);
    let rotate = ((rotate % 360 + 360) % 360) / 90 * 90;
    (area, rotate)
}

/// A resource name not yet used in `dict`.
fn free_name(dict: &Dictionary, prefix: &str) -> Vec<u8> {
    (1..)
        .map(|n| format!("{prefix}{n}").into_bytes())
        .find(|name| !dict.has(name))
        .unwrap_or_else(|| prefix.as_bytes().to_vec())
}

/// A sub-dictionary of a resources dictionary, resolved and copied so adding to it leaves
/// other pages sharing the original untouched.
fn resource_category(doc: &Document, resources: &Dictionary, key: &[u8]) -> Dictionary {
    resources
        .get(key)
        .ok()
        .and_then(|object| resolve(doc, object))
        .and_then(|object| object.as_dict().ok())
        .cloned()
        .unwrap_or_default()
}

/// Draws the signature image and its caption on the page, in the page's displayed
/// orientation, on top of the existing content.
fn stamp_page(
    doc: &mut Document,
    page_id: ObjectId,
    image: &Image,
    stamp: &Stamp,
    font: ObjectId,
) -> Result<(), SignError> {
    let ((x0, y0, x1, y1), rotate) = visible_area(doc, page_id);
    let (box_w, box_h) = (x1 - x0, y1 - y0);
    // Width and height as displayed, and the matrix from displayed to user space.
    let (shown_w, shown_h, matrix) = match rotate {
        90 => (box_h, box_w, [0.0, 1.0, -1.0, 0.0, x1, y0]),
        180 => (box_w, box_h, [-1.0, 0.0, 0.0, -1.0, x1, y1]),
        270 => (box_h, box_w, [0.0, -1.0, 1.0, 0.0, x0, y1]),
        _ => (box_w, box_h, [1.0, 0.0, 0.0, 1.0, x0, y0]),
    };

    // Small pages shrink the margin and the box rather than push the stamp off the page.
    let margin = STAMP_MARGIN.min(shown_w * 0.05).min(shown_h * 0.05);
    let max_w = STAMP_BOX.0.min(shown_w - 2.0 * margin);
    let caption_lines: Vec<Vec<u8>> = if stamp.caption.trim().is_empty() {
        Vec::new()
    } else {
        wrap(stamp.caption.trim(), Face::Regular, CAPTION_SIZE, max_w.max(60.0)).into_iter().take(4).collect()
    };
    let leading = CAPTION_SIZE * 1.25;
    let caption_h = caption_lines.len() as f32 * leading;
    let max_h = STAMP_BOX.1.min(shown_h - 2.0 * margin - caption_h).max(10.0);
    let scale = (max_w / image.width as f32).min(max_h / image.height as f32);
    let (image_w, image_h) = (image.width as f32 * scale, image.height as f32 * scale);
    let caption_w = caption_lines.iter().map(|l| text_width(l, Face::Regular, CAPTION_SIZE)).fold(0.0, f32::max);
    let block_w = image_w.max(caption_w);
    let block_h = image_h + caption_h + if caption_lines.is_empty() { 0.0 } else { 2.0 };
    let left = match stamp.anchor {
        Anchor::BottomLeft | Anchor::TopLeft => margin,
        Anchor::BottomCenter => (shown_w - block_w) / 2.0,
        Anchor::BottomRight | Anchor::TopRight => shown_w - margin - block_w,
    };
    let bottom = match stamp.anchor {
        Anchor::TopLeft | Anchor::TopRight => shown_h - margin - block_h,
        _ => margin,
    };

    let image_id = add_image(doc, image)?;
    let page = doc.get_dictionary(page_id).map_err(|_| SignError::UnreadablePdf)?;
    let mut resources = inherited(doc, page_id, b"Resources")
        .and_then(|r| resolve(doc, &r).and_then(|r| r.as_dict().ok()).cloned())
        .unwrap_or_default();
    let mut xobjects = resource_category(doc, &resources, b"XObject");
    let mut fonts = resource_category(doc, &resources, b"Font");
    let image_name = free_name(&xobjects, "OuvrageSignature");
    let font_name = free_name(&fonts, "OuvrageHelvetica");
    xobjects.set(image_name.clone(), image_id);
    fonts.set(font_name.clone(), font);
    resources.set("XObject", xobjects);
    resources.set("Font", fonts);
    let existing = content_refs(doc, page);

    // The page's own content runs inside q … Q so whatever graphics state it leaves behind
    // does not move or hide the stamp.
    let mut content = String::new();
    let name = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let [a, b, c, d, e, f] = matrix;
    let _ = writeln!(content, "Q q {a} {b} {c} {d} {e:.3} {f:.3} cm");
    let image_x = left + (block_w - image_w) / 2.0;
    let image_y = bottom + block_h - image_h;
    let _ =
        writeln!(content, "q {image_w:.3} 0 0 {image_h:.3} {image_x:.3} {image_y:.3} cm /{} Do Q", name(&image_name));
    for (index, line) in caption_lines.iter().enumerate() {
        let width = text_width(line, Face::Regular, CAPTION_SIZE);
        let x = left + (block_w - width) / 2.0;
        let y = bottom + caption_h - (index as f32 + 1.0) * leading + (leading - CAPTION_SIZE) + 1.0;
        let _ = writeln!(
            content,
            "BT /{} {CAPTION_SIZE} Tf 0.15 g 1 0 0 1 {x:.3} {y:.3} Tm {} Tj ET",
            name(&font_name),
            pdf_literal(line)
        );
    }
    content.push_str("Q\n");

    let open = doc.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let stamp_content = doc.add_object(flate_stream(Dictionary::new(), content.as_bytes())?);
    let mut contents: Vec<Object> = vec![Object::Reference(open)];
    contents.extend(existing.into_iter().map(Object::Reference));
    contents.push(Object::Reference(stamp_content));
    let page = doc.get_dictionary_mut(page_id).map_err(|_| SignError::UnreadablePdf)?;
    page.set("Contents", contents);
    page.set("Resources", resources);
    Ok(())
}

/// The image as an XObject, its transparency as a soft mask.
fn add_image(doc: &mut Document, image: &Image) -> Result<ObjectId, SignError> {
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"XObject".to_vec()));
    dict.set("Subtype", Object::Name(b"Image".to_vec()));
    dict.set("Width", i64::from(image.width));
    dict.set("Height", i64::from(image.height));
    dict.set("BitsPerComponent", 8);
    let space: &[u8] = if image.gray { b"DeviceGray" } else { b"DeviceRGB" };
    dict.set("ColorSpace", Object::Name(space.to_vec()));
    if let Some(alpha) = &image.alpha {
        let mut mask = Dictionary::new();
        mask.set("Type", Object::Name(b"XObject".to_vec()));
        mask.set("Subtype", Object::Name(b"Image".to_vec()));
        mask.set("Width", i64::from(image.width));
        mask.set("Height", i64::from(image.height));
        mask.set("BitsPerComponent", 8);
        mask.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
        let mask_id = doc.add_object(flate_stream(mask, alpha)?);
        dict.set("SMask", mask_id);
    }
    Ok(doc.add_object(flate_stream(dict, &image.color)?))
}

/// One line of text on an evidence page.
struct TextRun {
    face: Face,
    size: f32,
    gray: f32,
    x: f32,
    y: f32,
    bytes: Vec<u8>,
}

/// Appends the evidence page(s) (more than one only when the lines do not fit) and returns
/// their ids.
fn add_evidence_pages(
    doc: &mut Document,
    evidence: &Evidence,
    identity: &SigningIdentity,
    fonts: (ObjectId, ObjectId),
) -> Result<Vec<ObjectId>, SignError> {
    const MARGIN: f32 = 56.7;
    const LABEL_WIDTH: f32 = 150.0;
    const GUTTER: f32 = 12.0;
    // 9 pt fits a SHA-256 in hex on one line of the value column.
    const SIZE: f32 = 9.0;
    const LEADING: f32 = 12.5;
    const TITLE_SIZE: f32 = 16.0;
    const FOOTER_SIZE: f32 = 7.5;
    let text_w = A4.0 - 2.0 * MARGIN;
    let value_x = MARGIN + LABEL_WIDTH + GUTTER;
    let value_w = text_w - LABEL_WIDTH - GUTTER;

    let footer = format!(
        "Document scellé par signature électronique (PAdES) ; certificat « {} », empreinte SHA-256 {}. \
         Toute modification ultérieure du fichier invalide la signature.",
        identity.subject(),
        identity.certificate_sha256()
    );
    let footer_lines = wrap(&footer, Face::Regular, FOOTER_SIZE, text_w);
    let footer_top = MARGIN + footer_lines.len() as f32 * FOOTER_SIZE * 1.3 + 12.0;

    let title = if evidence.title.trim().is_empty() { "Attestation de signature" } else { evidence.title.trim() };
    let mut pages: Vec<Vec<TextRun>> = Vec::new();
    let mut runs: Vec<TextRun> = Vec::new();
    let mut y = 0.0;
    let start_page = |runs: &mut Vec<TextRun>, pages: &mut Vec<Vec<TextRun>>, y: &mut f32| {
        if !runs.is_empty() {
            pages.push(std::mem::take(runs));
        }
        let heading = if pages.is_empty() { title.to_string() } else { format!("{title} (suite)") };
        *y = A4.1 - MARGIN - TITLE_SIZE;
        for line in wrap(&heading, Face::Bold, TITLE_SIZE, text_w) {
            runs.push(TextRun { face: Face::Bold, size: TITLE_SIZE, gray: 0.0, x: MARGIN, y: *y, bytes: line });
            *y -= TITLE_SIZE * 1.3;
        }
        *y -= 14.0;
    };
    start_page(&mut runs, &mut pages, &mut y);
    for (label, value) in &evidence.lines {
        let label_lines = wrap(label.trim(), Face::Bold, SIZE, LABEL_WIDTH);
        let value_lines = wrap(value.trim(), Face::Regular, SIZE, value_w);
        let height = label_lines.len().max(value_lines.len()) as f32 * LEADING;
        if y - height < footer_top && runs.len() > 1 {
            start_page(&mut runs, &mut pages, &mut y);
        }
        for (index, line) in label_lines.into_iter().enumerate() {
            let line_y = y - index as f32 * LEADING;
            runs.push(TextRun { face: Face::Bold, size: SIZE, gray: 0.3, x: MARGIN, y: line_y, bytes: line });
        }
        for (index, line) in value_lines.into_iter().enumerate() {
            let line_y = y - index as f32 * LEADING;
            runs.push(TextRun { face: Face::Regular, size: SIZE, gray: 0.0, x: value_x, y: line_y, bytes: line });
        }
        y -= height + 5.0;
    }
    pages.push(runs);

    let root_pages = doc
        .catalog()
        .and_then(|catalog| catalog.get(b"Pages"))
        .and_then(Object::as_reference)
        .map_err(|_| SignError::UnreadablePdf)?;
    let total = pages.len();
    let mut ids = Vec::new();
    for (index, runs) in pages.into_iter().enumerate() {
        let mut content = String::new();
        for run in &runs {
            let font = if run.face == Face::Bold { "F2" } else { "F1" };
            let _ = writeln!(
                content,
                "BT /{font} {} Tf {} g 1 0 0 1 {:.2} {:.2} Tm {} Tj ET",
                run.size,
                run.gray,
                run.x,
                run.y,
                pdf_literal(&run.bytes)
            );
        }
        let _ = writeln!(
            content,
            "q 0.6 G 0.5 w {MARGIN} {:.2} m {:.2} {:.2} l S Q",
            footer_top - 6.0,
            A4.0 - MARGIN,
            footer_top - 6.0
        );
        let mut footer_y = footer_top - 6.0 - FOOTER_SIZE * 1.3 - 2.0;
        let mut footer_runs = footer_lines.clone();
        if total > 1 {
            footer_runs.push(to_winansi(&format!("Page d'attestation {} / {total}", index + 1)));
        }
        for line in footer_runs {
            let _ = writeln!(
                content,
                "BT /F1 {FOOTER_SIZE} Tf 0.35 g 1 0 0 1 {MARGIN} {footer_y:.2} Tm {} Tj ET",
                pdf_literal(&line)
            );
            footer_y -= FOOTER_SIZE * 1.3;
        }
        let content_id = doc.add_object(flate_stream(Dictionary::new(), content.as_bytes())?);
        let mut font_resources = Dictionary::new();
        font_resources.set("F1", fonts.0);
        font_resources.set("F2", fonts.1);
        let mut resources = Dictionary::new();
        resources.set("Font", font_resources);
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", root_pages);
        // Set rather than inherited: the page tree's own defaults are the original's.
        page.set("MediaBox", rect(0.0, 0.0, A4.0, A4.1));
        page.set("CropBox", rect(0.0, 0.0, A4.0, A4.1));
        page.set("Rotate", 0);
        page.set("Resources", resources);
        page.set("Contents", content_id);
        ids.push(doc.add_object(page));
    }

    // The pages lopdf finds, which `load` checked against /Count when the tree has one; a tree
    // without it gets the right total rather than the new pages alone.
    let count = doc.get_pages().len() as i64;
    let root = doc.get_dictionary_mut(root_pages).map_err(|_| SignError::UnreadablePdf)?;
    root.set("Count", count + ids.len() as i64);
    let mut kids = match root.get(b"Kids") {
        Ok(Object::Array(kids)) => kids.clone(),
        Ok(Object::Reference(kids_id)) => {
            let kids_id = *kids_id;
            doc.get_object(kids_id).and_then(Object::as_array).cloned().map_err(|_| SignError::UnreadablePdf)?
        }
        _ => return Err(SignError::UnreadablePdf),
    };
    kids.extend(ids.iter().map(|id| Object::Reference(*id)));
    let root = doc.get_dictionary_mut(root_pages).map_err(|_| SignError::UnreadablePdf)?;
    root.set("Kids", kids);
    Ok(ids)
}

/// "D:YYYYMMDDHHmmSS+00'00'" for Unix seconds, in UTC.
fn pdf_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("D:{year:04}{month:02}{day:02}{:02}{:02}{:02}+00'00'", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

/// The signature dictionary with its placeholders, an invisible signature widget on the
/// evidence page and the AcroForm that lists it.
fn add_signature(
    doc: &mut Document,
    catalog_id: ObjectId,
    evidence_page: ObjectId,
    input: &SealInput,
    contents_placeholder: &[u8],
) -> Result<(), SignError> {
    let mut signature = Dictionary::new();
    signature.set("Type", Object::Name(b"Sig".to_vec()));
    signature.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    signature.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    let text = |value: &str| Object::String(pdf_text_string(value), StringFormat::Hexadecimal);
    if !input.signer_name.trim().is_empty() {
        signature.set("Name", text(input.signer_name.trim()));
    }
    signature.set("M", Object::String(pdf_date(input.signing_time_unix).into_bytes(), StringFormat::Literal));
    if !input.reason.trim().is_empty() {
        signature.set("Reason", text(input.reason.trim()));
    }
    if !input.location.trim().is_empty() {
        signature.set("Location", text(input.location.trim()));
    }
    // Both are rewritten in place after saving; ByteRange comes right before Contents so the
    // two are found together.
    let placeholder = vec![
        Object::Integer(0),
        Object::Integer(9_999_999_999),
        Object::Integer(9_999_999_999),
        Object::Integer(9_999_999_999),
    ];
    signature.set("ByteRange", placeholder);
    signature.set("Contents", Object::String(contents_placeholder.to_vec(), StringFormat::Hexadecimal));
    let signature_id = doc.add_object(signature);

    let (mut form, form_id) = match doc.get_dictionary(catalog_id).and_then(|c| c.get(b"AcroForm")) {
        Ok(Object::Reference(id)) => (doc.get_dictionary(*id).cloned().unwrap_or_default(), Some(*id)),
        Ok(Object::Dictionary(form)) => (form.clone(), None),
        _ => (Dictionary::new(), None),
    };
    let mut fields = form
        .get(b"Fields")
        .ok()
        .and_then(|fields| resolve(doc, fields))
        .and_then(|fields| fields.as_array().ok())
        .cloned()
        .unwrap_or_default();
    let taken: HashSet<Vec<u8>> = fields
        .iter()
        .filter_map(|field| resolve(doc, field).and_then(|f| f.as_dict().ok()))
        .filter_map(|field| field.get(b"T").and_then(Object::as_str).ok().map(<[u8]>::to_vec))
        .collect();
    let field_name = (1..)
        .map(|n| format!("Signature{n}").into_bytes())
        .find(|name| !taken.contains(name))
        .unwrap_or_else(|| b"Signature".to_vec());

    // An empty appearance: some validators want one even on an invisible widget.
    let mut appearance = Dictionary::new();
    appearance.set("Type", Object::Name(b"XObject".to_vec()));
    appearance.set("Subtype", Object::Name(b"Form".to_vec()));
    appearance.set("BBox", rect(0.0, 0.0, 0.0, 0.0));
    let appearance_id = doc.add_object(Stream::new(appearance, Vec::new()));
    let mut normal = Dictionary::new();
    normal.set("N", appearance_id);

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", Object::String(field_name, StringFormat::Literal));
    widget.set("V", signature_id);
    widget.set("Rect", rect(0.0, 0.0, 0.0, 0.0));
    // Print + Locked.
    widget.set("F", 132);
    widget.set("P", evidence_page);
    widget.set("AP", normal);
    let widget_id = doc.add_object(widget);

    let page = doc.get_dictionary_mut(evidence_page).map_err(|_| SignError::UnreadablePdf)?;
    page.set("Annots", vec![Object::Reference(widget_id)]);

    fields.push(Object::Reference(widget_id));
    form.set("Fields", fields);
    form.set("SigFlags", 3);
    match form_id {
        Some(id) => {
            doc.objects.insert(id, Object::Dictionary(form));
        }
        None => {
            let catalog = doc.get_dictionary_mut(catalog_id).map_err(|_| SignError::UnreadablePdf)?;
            catalog.set("AcroForm", form);
        }
    }

    // PAdES on PDF 1.7 declares the ETSI extension (ISO 32000-2 has it built in). An
    // appended update cannot change the header: the catalog's /Version says it.
    let catalog = doc.get_dictionary(catalog_id).map_err(|_| SignError::UnreadablePdf)?;
    let catalog_version =
        catalog.get(b"Version").and_then(Object::as_name).map(|v| String::from_utf8_lossy(v).into_owned());
    let version = match catalog_version {
        Ok(declared) if declared > doc.version => declared,
        _ => doc.version.clone(),
    };
    let mut extensions = catalog
        .get(b"Extensions")
        .ok()
        .and_then(|object| resolve(doc, object))
        .and_then(|object| object.as_dict().ok())
        .cloned()
        .unwrap_or_default();
    // Usage rights (Reader extensions) are void once the file changes; Acrobat would warn.
    let permissions = catalog
        .get(b"Perms")
        .ok()
        .and_then(|object| resolve(doc, object))
        .and_then(|object| object.as_dict().ok())
        .cloned()
        .map(|mut permissions| {
            permissions.remove(b"UR3");
            permissions
        });
    let catalog = doc.get_dictionary_mut(catalog_id).map_err(|_| SignError::UnreadablePdf)?;
    if version.as_str() < "2.0" {
        if version.as_str() < "1.7" {
            catalog.set("Version", Object::Name(b"1.7".to_vec()));
        }
        let mut esic = Dictionary::new();
        esic.set("BaseVersion", Object::Name(b"1.7".to_vec()));
        esic.set("ExtensionLevel", 2);
        extensions.set("ESIC", esic);
        catalog.set("Extensions", extensions);
    }
    match permissions {
        Some(permissions) if permissions.is_empty() => {
            catalog.remove(b"Perms");
        }
        Some(permissions) => catalog.set("Perms", permissions),
        None => {}
    }
    if doc.version.as_str() < "1.7" {
        doc.version = "1.7".to_string();
    }
    Ok(())
}

/// A classic cross-reference table, and a trailer with only what still holds once every
/// object is rewritten (no /Prev, /XRefStm or xref-stream keys from the original).
fn prepare_for_save(doc: &mut Document) {
    doc.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = doc.trailer.get(key) {
            trailer.set(key.to_vec(), value.clone());
        }
    }
    doc.trailer = trailer;
}

/// Finds the placeholders in the saved file, writes the real ByteRange, and fills /Contents
/// with the CMS signature over everything else.
fn sign_placeholders(out: &mut [u8], contents_placeholder: &[u8], identity: &SigningIdentity) -> Result<(), SignError> {
    let capacity = contents_placeholder.len();
    // As lopdf writes a hexadecimal string.
    let mut contents_marker = Vec::with_capacity(capacity * 2 + 2);
    contents_marker.push(b'<');
    for byte in contents_placeholder {
        let _ = write!(contents_marker, "{byte:02X}");
    }
    contents_marker.push(b'>');
    let contents_start =
        find_unique(out, &contents_marker).ok_or_else(|| SignError::internal("placeholder", "Contents"))?;
    let contents_end = contents_start + contents_marker.len();
    // ByteRange is written right before Contents in the signature dictionary, and looked for only
    // there: the original may hold the same array anywhere else.
    let window = contents_start.saturating_sub(64);
    let byte_range_start = find(&out[window..contents_start], BYTE_RANGE_PLACEHOLDER, 0)
        .map(|at| window + at)
        .ok_or_else(|| SignError::internal("placeholder", "ByteRange"))?;

    let byte_range = format!("[0 {contents_start} {contents_end} {}", out.len() - contents_end);
    let width = BYTE_RANGE_PLACEHOLDER.len();
    if byte_range.len() + 1 > width {
        return Err(SignError::internal("placeholder", "ByteRange width"));
    }
    let mut padded = byte_range.into_bytes();
    padded.resize(width - 1, b' ');
    padded.push(b']');
    out[byte_range_start..byte_range_start + width].copy_from_slice(&padded);

    let mut hasher = Sha256::new();
    hasher.update(&out[..contents_start]);
    hasher.update(&out[contents_end..]);
    let cms = cades::signed_data(&hasher.finalize(), identity)?;
    if cms.len() > capacity {
        return Err(SignError::internal("cms", "signature larger than its placeholder"));
    }
    let mut hex = String::with_capacity(cms.len() * 2);
    for byte in &cms {
        let _ = write!(hex, "{byte:02X}");
    }
    let contents = &mut out[contents_start + 1..contents_end - 1];
    contents[..hex.len()].copy_from_slice(hex.as_bytes());
    // The rest of the placeholder is padding, zeros as readers expect.
    contents[hex.len()..].fill(b'0');
    Ok(())
}

/// The position of `needle` in `haystack` if it occurs exactly once.
fn find_unique(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = find(haystack, needle, 0)?;
    find(haystack, needle, first + 1).is_none().then_some(first)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut start = from;
    while start + needle.len() <= haystack.len() {
        let offset = haystack[start..=haystack.len() - needle.len()].iter().position(|&b| b == first)?;
        let at = start + offset;
        if &haystack[at + 1..at + needle.len()] == rest {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_are_utc() {
        assert_eq!(pdf_date(0), "D:19700101000000+00'00'");
        // 2026-11-23 14:05:09 UTC.
        assert_eq!(pdf_date(1_795_442_709), "D:20261123140509+00'00'");
        assert_eq!(pdf_date(951_782_400), "D:20000229000000+00'00'");
    }

    #[test]
    fn find_unique_refuses_repeats() {
        assert_eq!(find_unique(b"abcXYZdef", b"XYZ"), Some(3));
        assert_eq!(find_unique(b"XYZabcXYZ", b"XYZ"), None);
        assert_eq!(find_unique(b"abc", b"XYZ"), None);
    }
}
