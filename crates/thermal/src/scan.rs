//! The streaming scan: quick-xml events in, [`ThermalStudy`] out.
//!
//! Element names are kept on a stack (in one byte buffer). A few elements open a *block*
//! (`donnees_generales`, a building in any part of the file, the operation's address…); the text of
//! each leaf element is matched against the path from its innermost block, so blocks are found by
//! name whatever their depth. Building blocks are joined by their `Index` when they close.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::codes::{self, EndUse, EnergyTable, UsageTable};
use crate::text::{self, Num};
use crate::{Building, BuildingType, Format, ParseError, ThermalStudy};

/// Deeper nesting than any schema needs is treated as hostile.
const MAX_DEPTH: usize = 256;
/// Longest text kept for one element (the values read are short).
const MAX_TEXT: usize = 16 * 1024;
/// Buildings kept; more is not a real study and would only cost memory.
const MAX_BUILDINGS: usize = 1000;
/// Per-energy outputs kept per building block.
const MAX_PER_ENERGY: usize = 256;
/// Usage codes kept per building block.
const MAX_ZONE_USAGES: usize = 64;
const MAX_WARNINGS: usize = 50;
/// Unreadable values kept per building block (and unreadable building indexes).
const MAX_PROBLEMS: usize = 20;

pub(crate) fn parse(bytes: &[u8]) -> Result<ThermalStudy, ParseError> {
    let transcoded = utf16_to_utf8(bytes);
    let input = match &transcoded {
        Some(s) => s.as_bytes(),
        None => bytes,
    };
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let Some(first) = input.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(ParseError::Empty);
    };
    let start = &input[first..];
    if start[0] != b'<' {
        return Err(ParseError::NotXml { looks_like: sniff(start) });
    }
    Scanner::new(input, declares_latin(start)).run()
}

/// Transcodes a UTF-16 file (with a BOM, or starting with `<` on two bytes) to UTF-8.
fn utf16_to_utf8(bytes: &[u8]) -> Option<String> {
    let (little_endian, body) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        [b'<', 0, b'?' | b'!' | b'a'..=b'z' | b'A'..=b'Z', 0, ..] => (true, bytes),
        [0, b'<', 0, b'?' | b'!' | b'a'..=b'z' | b'A'..=b'Z', ..] => (false, bytes),
        _ => return None,
    };
    let units = body.chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if little_endian { u16::from_le_bytes(pair) } else { u16::from_be_bytes(pair) }
    });
    Some(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect())
}

/// Names a few common non-XML uploads.
fn sniff(start: &[u8]) -> Option<&'static str> {
    Some(match start {
        [b'%', b'P', b'D', b'F', ..] => "un document PDF",
        [b'P', b'K', 3, 4, ..] => "une archive ZIP ou un document Office (xlsx, docx…)",
        [0xD0, 0xCF, 0x11, 0xE0, ..] => "un ancien document Office (xls, doc…)",
        [b'R', b'a', b'r', b'!', ..] | [b'7', b'z', 0xBC, 0xAF, ..] => "une archive compressée",
        [0x89, b'P', b'N', b'G', ..] | [0xFF, 0xD8, 0xFF, ..] | [b'G', b'I', b'F', b'8', ..] => "une image",
        [b'{' | b'[', ..] => "des données JSON",
        _ if start.iter().take(512).any(|&b| b == 0) => "un fichier binaire",
        _ => return None,
    })
}

/// True when the XML declaration names a Latin encoding (ISO-8859-1/15, Windows-1252).
fn declares_latin(start: &[u8]) -> bool {
    let head = &start[..start.len().min(256)];
    if !head.starts_with(b"<?xml") {
        return false;
    }
    let end = head.windows(2).position(|w| w == b"?>").unwrap_or(head.len());
    let decl = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let Some(at) = decl.find("encoding") else {
        return false;
    };
    let value: String = decl[at + "encoding".len()..]
        .trim_start_matches([' ', '=', '"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    matches!(
        value.as_str(),
        "iso-8859-1"
            | "iso8859-1"
            | "iso_8859-1"
            | "latin1"
            | "latin-1"
            | "iso-8859-15"
            | "iso8859-15"
            | "windows-1252"
            | "cp1252"
    )
}

fn line_of(src: &[u8], pos: u64) -> u64 {
    let end = usize::try_from(pos).unwrap_or(usize::MAX).min(src.len());
    src[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// One open element.
struct Frame {
    name_start: usize,
    name_end: usize,
    opens_block: bool,
    has_child: bool,
    nil: bool,
}

/// The part of the file a building block comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `Datas_Comp/batiment_collection/batiment`.
    DatasComp,
    /// E+C- `RSEnv/data_comp/batiment`.
    EnvData,
    /// `Entree_Projet/Batiment_Collection/Batiment`.
    Entree,
    SortieB,
    SortieC,
    /// `RSEnv/entree_projet/batiment`.
    EnvEntree,
    /// `RSEnv/sortie_projet/batiment`.
    EnvSortie,
}

impl Source {
    fn ordinal_slot(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActorRole {
    /// `BET`: the consultancy, and in RT2012 its software too.
    Bet,
    /// E+C- `bureau_etude_acv`: the life-cycle analysis consultancy, a fallback.
    AcvBet,
    /// `logiciel`.
    Software,
}

enum Kind {
    General { prio: u8 },
    Actor { prio: u8, role: ActorRole, rank: u8 },
    Address { prio: u8 },
    Project { prio: u8 },
    Building(Source),
}

#[derive(Default)]
struct ActorAcc {
    name: Option<String>,
    software_name: Option<String>,
    software_version: Option<String>,
    software_editor: Option<String>,
}

#[derive(Default)]
struct AddressAcc {
    lines: Vec<String>,
    name: Option<String>,
    housenumber: Option<String>,
    street: Option<String>,
    label: Option<String>,
    postcode: Option<String>,
    citycode: Option<String>,
    city: Option<String>,
}

/// A value that could not be read.
#[derive(Debug, Clone)]
struct Problem {
    field: &'static str,
    raw: String,
    pos: u64,
    not_computed: bool,
}

#[derive(Default)]
enum Cell {
    #[default]
    Missing,
    Value(f64),
    Problem(Problem),
}

/// What one building block holds.
#[derive(Default)]
struct BuildingPart {
    index: Option<u32>,
    name: Option<String>,
    shab: Cell,
    sref: Cell,
    bbio: Cell,
    cep: Cell,
    cep_nr: Cell,
    ic_construction: Cell,
    ic_energie: Cell,
    shab_sum: Option<f64>,
    usage_principal: Option<u32>,
    zone_usages: Vec<u32>,
    dwellings: Option<u32>,
    heating_code: Option<i64>,
    dhw_code: Option<i64>,
    per_energy: Vec<PerEnergy>,
    problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy)]
struct PerEnergy {
    end_use: EndUse,
    label: &'static str,
    aggregate: bool,
    primary: bool,
    value: f64,
}

enum Data {
    None,
    Actor(ActorAcc),
    Address(AddressAcc),
    Building(Box<BuildingPart>),
}

struct Block {
    kind: Kind,
    depth: usize,
    data: Data,
}

/// The best value offered so far, lowest priority number first; and the first unreadable one.
struct Slot<T> {
    best: Option<(u8, T)>,
    problem: Option<(u8, Problem)>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { best: None, problem: None }
    }
}

impl<T> Slot<T> {
    fn offer(&mut self, prio: u8, value: T) {
        if self.best.as_ref().is_none_or(|(p, _)| prio < *p) {
            self.best = Some((prio, value));
        }
    }

    fn offer_opt(&mut self, prio: u8, value: Option<T>) {
        if let Some(v) = value {
            self.offer(prio, v);
        }
    }

    fn offer_problem(&mut self, prio: u8, problem: Problem) {
        if self.problem.as_ref().is_none_or(|(p, _)| prio < *p) {
            self.problem = Some((prio, problem));
        }
    }

    fn value(&self) -> Option<&T> {
        self.best.as_ref().map(|(_, v)| v)
    }

    fn take(self) -> (Option<T>, Option<Problem>) {
        match self.best {
            Some((_, v)) => (Some(v), None),
            None => (None, self.problem.map(|(_, p)| p)),
        }
    }
}

impl Slot<f64> {
    fn offer_cell(&mut self, prio: u8, cell: Cell) {
        match cell {
            Cell::Missing => {}
            Cell::Value(v) => self.offer(prio, v),
            Cell::Problem(p) => self.offer_problem(prio, p),
        }
    }
}

/// One building joined across blocks.
#[derive(Default)]
struct BuildingAcc {
    name: Slot<String>,
    shab: Slot<f64>,
    sref: Slot<f64>,
    bbio: Slot<f64>,
    cep: Slot<f64>,
    cep_nr: Slot<f64>,
    ic_construction: Slot<f64>,
    ic_energie: Slot<f64>,
    /// Usage code and whether it comes from the E+C- RSEnv (always the RT2012 list).
    usage_principal: Slot<(u32, bool)>,
    zone_usages: Slot<Vec<u32>>,
    dwellings: Slot<u32>,
    heating_code: Slot<(EnergyTable, i64)>,
    dhw_code: Slot<(EnergyTable, i64)>,
    per_energy: Vec<PerEnergy>,
    problems: Vec<Problem>,
}

#[derive(Default)]
struct Acc {
    operation_name: Slot<String>,
    address: Slot<String>,
    postcode: Slot<String>,
    citycode: Slot<String>,
    city: Slot<String>,
    permit_number: Slot<String>,
    owner_name: Slot<String>,
    bet_name: Slot<String>,
    software: Slot<String>,
    engine_version: Slot<String>,
    buildings: BTreeMap<u32, BuildingAcc>,
    ordinals: [u32; 7],
    too_many_buildings: bool,
    /// Parts of a thermal study seen (Datas_Comp, Entree_Projet, Sortie_Projet, RSEnv).
    sections: bool,
    re2020_marks: u32,
    ec_marks: u32,
    projet_version: Option<String>,
    bad_indexes: Vec<(String, u64)>,
}

struct Scanner<'a> {
    src: &'a [u8],
    latin: bool,
    bad_utf8: bool,
    unknown_entities: Vec<String>,
    names: Vec<u8>,
    frames: Vec<Frame>,
    blocks: Vec<Block>,
    text: String,
    root: Option<String>,
    root_closed: bool,
    acc: Acc,
}

/// The path from a block (exclusive) to the current leaf (inclusive).
struct Rel<'s> {
    names: &'s [u8],
    frames: &'s [Frame],
}

impl Rel<'_> {
    fn len(&self) -> usize {
        self.frames.len()
    }

    /// Name `back` steps up from the leaf (0 = the leaf).
    fn up(&self, back: usize) -> &[u8] {
        match self.frames.len().checked_sub(back + 1).and_then(|i| self.frames.get(i)) {
            Some(f) => self.names.get(f.name_start..f.name_end).unwrap_or_default(),
            None => b"",
        }
    }

    fn is(&self, path: &[&[u8]]) -> bool {
        self.len() == path.len() && self.ends(path)
    }

    fn ends(&self, path: &[&[u8]]) -> bool {
        self.len() >= path.len() && path.iter().rev().enumerate().all(|(back, name)| self.up(back) == *name)
    }
}

impl<'a> Scanner<'a> {
    fn new(src: &'a [u8], latin: bool) -> Self {
        Scanner {
            src,
            latin,
            bad_utf8: false,
            unknown_entities: Vec::new(),
            names: Vec::new(),
            frames: Vec::new(),
            blocks: Vec::new(),
            text: String::new(),
            root: None,
            root_closed: false,
            acc: Acc::default(),
        }
    }

    fn run(mut self) -> Result<ThermalStudy, ParseError> {
        let src = self.src;
        let mut reader = Reader::from_reader(src);
        {
            let config = reader.config_mut();
            config.trim_text(false);
            config.check_end_names = true;
            config.check_comments = false;
            config.allow_dangling_amp = true;
            config.expand_empty_elements = false;
        }
        loop {
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(err) => return Err(self.xml_error(err, reader.error_position())),
            };
            let pos = reader.buffer_position();
            match event {
                Event::Start(e) => self.start(&e, pos)?,
                Event::Empty(e) => {
                    self.start(&e, pos)?;
                    self.end(pos);
                }
                Event::End(_) => self.end(pos),
                Event::Text(t) => {
                    let chunk = text::decode(&t, self.latin, &mut self.bad_utf8);
                    self.push_text(&chunk);
                }
                Event::CData(t) => {
                    let chunk = text::decode(&t, self.latin, &mut self.bad_utf8);
                    self.push_text(&chunk);
                }
                Event::GeneralRef(r) => self.general_ref(&r),
                Event::DocType(d) => {
                    let html = d.iter().skip_while(|b| b.is_ascii_whitespace()).take(4).copied().collect::<Vec<u8>>();
                    if html.eq_ignore_ascii_case(b"html") {
                        return Err(ParseError::NotXml { looks_like: Some("une page web (HTML)") });
                    }
                    return Err(ParseError::DtdForbidden);
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !self.frames.is_empty() {
            return Err(ParseError::Truncated);
        }
        self.finish()
    }

    fn xml_error(&self, err: XmlError, pos: u64) -> ParseError {
        let dtd_here = || {
            let at = usize::try_from(pos).unwrap_or(usize::MAX).min(self.src.len());
            let rest = &self.src[at..];
            let rest = &rest[..rest.len().min(16)];
            [&b"<!DOCTYPE"[..], b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST"]
                .iter()
                .any(|m| rest.len() >= m.len() && rest[..m.len()].eq_ignore_ascii_case(m))
        };
        let malformed =
            |detail: &str| ParseError::Malformed { line: line_of(self.src, pos), detail: detail.to_owned() };
        match err {
            XmlError::Syntax(SyntaxError::UnclosedDoctype) => ParseError::DtdForbidden,
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) if dtd_here() => ParseError::DtdForbidden,
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) => malformed("balise « <! » inconnue"),
            XmlError::Syntax(_) => ParseError::Truncated,
            XmlError::IllFormed(IllFormedError::MissingDoctypeName) => ParseError::DtdForbidden,
            XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => malformed(&format!(
                "balise fermante </{}> alors que </{}> était attendue",
                text::excerpt(&found),
                text::excerpt(&expected)
            )),
            XmlError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
                malformed(&format!("balise fermante </{}> sans balise ouvrante", text::excerpt(&name)))
            }
            XmlError::IllFormed(IllFormedError::MissingEndTag(_)) => ParseError::Truncated,
            XmlError::IllFormed(IllFormedError::MissingDeclVersion(_) | IllFormedError::UnknownVersion) => {
                malformed("déclaration XML invalide")
            }
            XmlError::IllFormed(_) => malformed("syntaxe XML incorrecte"),
            XmlError::InvalidAttr(_) => malformed("attribut mal formé"),
            XmlError::Encoding(_) => malformed("caractères mal encodés"),
            XmlError::Escape(_) => malformed("référence de caractère invalide"),
            _ => malformed("syntaxe XML incorrecte"),
        }
    }

    fn push_text(&mut self, chunk: &str) {
        if self.frames.is_empty() || self.text.len() >= MAX_TEXT {
            return;
        }
        let room = MAX_TEXT - self.text.len();
        if chunk.len() <= room {
            self.text.push_str(chunk);
        } else {
            let mut cut = room;
            while !chunk.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&chunk[..cut]);
        }
    }

    fn general_ref(&mut self, r: &BytesRef<'_>) {
        let c = match &**r {
            b"amp" => Some('&'),
            b"lt" => Some('<'),
            b"gt" => Some('>'),
            b"quot" => Some('"'),
            b"apos" => Some('\''),
            [b'#', ..] => r.resolve_char_ref().ok().flatten(),
            _ => None,
        };
        match c {
            Some(c) => self.push_text(c.encode_utf8(&mut [0; 4])),
            None => {
                // Never expanded: entities can only be declared in a DTD, which is refused.
                if self.unknown_entities.len() < 5 {
                    let name = text::excerpt(&String::from_utf8_lossy(r));
                    if !self.unknown_entities.contains(&name) {
                        self.unknown_entities.push(name);
                    }
                }
            }
        }
    }

    fn name(&self, frame: &Frame) -> &[u8] {
        &self.names[frame.name_start..frame.name_end]
    }

    /// Name of the element `back` levels above the current one (0 = the current top).
    fn open(&self, back: usize) -> &[u8] {
        match self.frames.len().checked_sub(back + 1).and_then(|i| self.frames.get(i)) {
            Some(f) => self.name(f),
            None => b"",
        }
    }

    fn has_open(&self, name: &[u8]) -> bool {
        self.frames.iter().any(|f| self.name(f) == name)
    }

    fn start(&mut self, e: &BytesStart<'_>, pos: u64) -> Result<(), ParseError> {
        let local = e.local_name();
        let name = local.as_ref();
        if self.frames.len() >= MAX_DEPTH {
            return Err(ParseError::Malformed {
                line: line_of(self.src, pos),
                detail: "imbrication des éléments trop profonde".to_owned(),
            });
        }
        if self.frames.is_empty() {
            if self.root_closed {
                return Err(ParseError::Malformed {
                    line: line_of(self.src, pos),
                    detail: "plusieurs éléments racine".to_owned(),
                });
            }
            match name {
                b"dpe" => return Err(ParseError::Dpe),
                b"audit" => return Err(ParseError::EnergyAudit),
                b"html" | b"HTML" => return Err(ParseError::NotXml { looks_like: Some("une page web (HTML)") }),
                _ => {}
            }
            let root: String = String::from_utf8_lossy(name).chars().filter(|c| !c.is_control()).take(60).collect();
            self.root = Some(root);
        }
        if let Some(top) = self.frames.last_mut() {
            top.has_child = true;
        }

        let mut nil = false;
        let mut ref_attr = None;
        let mut version_attr = None;
        for attr in e.attributes().with_checks(false).flatten() {
            let key = attr.key.local_name();
            if !matches!(key.as_ref(), b"nil" | b"ref" | b"version") {
                continue;
            }
            let value = text::decode(&attr.value, self.latin, &mut self.bad_utf8);
            match key.as_ref() {
                b"nil" => nil = matches!(value.trim(), "true" | "1"),
                b"ref" => ref_attr = text::clean(&value),
                _ => version_attr = text::clean(&value),
            }
        }

        self.mark_format(name, version_attr);
        let kind = self.block_kind(name, ref_attr.as_deref());

        let name_start = self.names.len();
        self.names.extend_from_slice(name);
        let opens_block = kind.is_some();
        if let Some(kind) = kind {
            let data = match &kind {
                Kind::Actor { .. } => Data::Actor(ActorAcc::default()),
                Kind::Address { .. } => Data::Address(AddressAcc::default()),
                Kind::Building(_) => Data::Building(Box::default()),
                Kind::General { .. } | Kind::Project { .. } => Data::None,
            };
            self.blocks.push(Block { kind, depth: self.frames.len(), data });
        }
        self.frames.push(Frame { name_start, name_end: self.names.len(), opens_block, has_child: false, nil });
        self.text.clear();
        Ok(())
    }

    /// Notes what tells RE2020 and E+C- files apart (both have the root `projet`).
    fn mark_format(&mut self, name: &[u8], version_attr: Option<String>) {
        match name {
            b"Datas_Comp" | b"Entree_Projet" | b"Sortie_Projet" | b"RSEnv" => self.acc.sections = true,
            _ => {}
        }
        match name {
            b"indicateur_perf_env" | b"ic_construction" => self.acc.re2020_marks += 1,
            b"indicateurs_performance_collection" | b"data_comp" => self.acc.ec_marks += 1,
            b"Datas_Comp" if self.open(0) == b"RSET" && self.frames.len() > 1 => self.acc.ec_marks += 1,
            b"Datas_Comp" if self.open(0) == b"projet" => self.acc.re2020_marks += 1,
            b"postcode" | b"citycode" if self.open(0) == b"adresse" => self.acc.re2020_marks += 1,
            b"projet" if self.frames.is_empty() => self.acc.projet_version = version_attr,
            _ => {}
        }
    }

    fn section_prio(&self) -> u8 {
        self.blocks
            .iter()
            .rev()
            .find_map(|b| match b.kind {
                Kind::General { prio } => Some(prio),
                _ => None,
            })
            .unwrap_or(2)
    }

    fn block_kind(&self, name: &[u8], ref_attr: Option<&str>) -> Option<Kind> {
        let parent = self.open(0);
        // RE2020 `ref`: 1 = energy, 2 = environment, 3 = both.
        let rank = match ref_attr {
            Some("1" | "3") => 0,
            None => 1,
            Some(_) => 2,
        };
        Some(match (name, parent) {
            (b"donnees_generales", _) => Kind::General { prio: u8::from(self.has_open(b"data_comp")) },
            (b"BET", b"donnees_generales") => Kind::Actor { prio: self.section_prio(), role: ActorRole::Bet, rank },
            (b"bureau_etude_acv", b"donnees_generales") => {
                Kind::Actor { prio: self.section_prio(), role: ActorRole::AcvBet, rank: 5 }
            }
            (b"logiciel", b"donnees_generales") => {
                Kind::Actor { prio: self.section_prio(), role: ActorRole::Software, rank }
            }
            (b"adresse", b"operation") if self.open(1) == b"donnees_generales" => {
                Kind::Address { prio: self.section_prio() }
            }
            (b"batiment", b"batiment_collection") => Kind::Building(Source::DatasComp),
            (b"batiment", b"data_comp") => Kind::Building(Source::EnvData),
            (b"batiment", b"entree_projet") => Kind::Building(Source::EnvEntree),
            (b"batiment", b"sortie_projet") => Kind::Building(Source::EnvSortie),
            (b"Batiment", b"Batiment_Collection") => Kind::Building(Source::Entree),
            (b"Sortie_Batiment_B", _) => Kind::Building(Source::SortieB),
            (b"Sortie_Batiment_C", _) => Kind::Building(Source::SortieC),
            (b"Entree_Projet", _) => Kind::Project { prio: 0 },
            (b"Sortie_Projet", _) => Kind::Project { prio: 1 },
            _ => return None,
        })
    }

    fn end(&mut self, pos: u64) {
        if let Some(top) = self.frames.last()
            && !top.has_child
        {
            self.leaf(pos);
        }
        let Some(frame) = self.frames.pop() else {
            return;
        };
        self.names.truncate(frame.name_start);
        if frame.opens_block
            && let Some(block) = self.blocks.pop()
        {
            self.close_block(block);
        }
        if self.frames.is_empty() {
            self.root_closed = true;
        }
        self.text.clear();
    }

    /// A leaf element closes: route its text to the innermost block.
    fn leaf(&mut self, pos: u64) {
        let Scanner { names, frames, blocks, text: raw_text, acc, .. } = self;
        let Some(block) = blocks.last_mut() else {
            return;
        };
        let Some(top) = frames.last() else {
            return;
        };
        let raw: &str = if top.nil { "" } else { raw_text };
        let Some(after_block) = frames.get(block.depth + 1..) else {
            return;
        };
        let rel = Rel { names, frames: after_block };
        if rel.len() == 0 {
            return;
        }
        let problem =
            |field: &'static str, not_computed: bool| Problem { field, raw: text::excerpt(raw), pos, not_computed };
        let cell = |field: &'static str| match text::parse_num(raw) {
            Num::Empty => Cell::Missing,
            Num::Value(v) => Cell::Value(v),
            Num::NotComputed => Cell::Problem(problem(field, true)),
            Num::Bad => Cell::Problem(problem(field, false)),
        };
        let count = |field: &'static str, problems: &mut Vec<Problem>| match text::parse_count(raw) {
            Num::Value(v) => Some(v as u32),
            Num::Empty => None,
            Num::NotComputed => {
                push_problem(problems, problem(field, true));
                None
            }
            Num::Bad => {
                push_problem(problems, problem(field, false));
                None
            }
        };
        let code = |field: &'static str, problems: &mut Vec<Problem>| match text::parse_num(raw) {
            Num::Value(v) if v.fract() == 0.0 && v.abs() < 1e9 => Some(v as i64),
            Num::Empty => None,
            Num::NotComputed => {
                push_problem(problems, problem(field, true));
                None
            }
            _ => {
                push_problem(problems, problem(field, false));
                None
            }
        };

        match (&block.kind, &mut block.data) {
            (Kind::General { prio }, _) => {
                let prio = *prio;
                if rel.is(&[b"operation", b"nom"]) || rel.is(&[b"operation", b"name"]) {
                    acc.operation_name.offer_opt(prio, text::clean(raw));
                } else if rel.is(&[b"operation", b"num_permis"]) {
                    acc.permit_number.offer_opt(prio, permit(raw));
                } else if rel.is(&[b"maitre_ouvrage", b"nom"]) {
                    acc.owner_name.offer_opt(prio, text::clean(raw));
                }
            }
            (Kind::Actor { .. }, Data::Actor(actor)) => {
                let value = text::clean(raw);
                match rel.up(0) {
                    _ if rel.len() != 1 => {}
                    b"nom" => actor.name = value,
                    b"nom_logiciel" => actor.software_name = value,
                    b"version_logiciel" | b"version" => actor.software_version = value,
                    b"editeur_logiciel" | b"editeur" => actor.software_editor = value,
                    _ => {}
                }
            }
            (Kind::Address { .. }, Data::Address(address)) => {
                let value = text::clean(raw);
                match rel.up(0) {
                    _ if rel.len() != 1 => {}
                    b"ligne" => {
                        if let Some(line) = value
                            && address.lines.len() < 3
                        {
                            address.lines.push(line);
                        }
                    }
                    b"name" => address.name = value,
                    b"housenumber" => address.housenumber = value,
                    b"street" => address.street = value,
                    b"label" => address.label = value,
                    b"postcode" | b"code_postal" => address.postcode = value,
                    b"citycode" => address.citycode = value,
                    b"city" | b"ville" => address.city = value,
                    _ => {}
                }
            }
            (Kind::Project { prio }, _) => {
                if rel.is(&[b"Version"]) {
                    acc.engine_version.offer_opt(*prio, text::clean(raw));
                } else if rel.is(&[b"Name"]) && *prio == 0 {
                    // The engine project name: a last resort for the operation name.
                    acc.operation_name.offer_opt(5, text::clean(raw));
                }
            }
            (Kind::Building(source), Data::Building(part)) => {
                let part = &mut **part;
                let leaf = rel.up(0);
                if rel.len() == 1 && (leaf == b"Index" || leaf == b"index") {
                    match text::parse_count(raw) {
                        Num::Value(v) => part.index = Some(v as u32),
                        Num::Empty => {}
                        _ => {
                            if acc.bad_indexes.len() < MAX_PROBLEMS {
                                acc.bad_indexes.push((text::excerpt(raw), pos));
                            }
                        }
                    }
                    return;
                }
                match source {
                    Source::DatasComp => match leaf {
                        _ if rel.len() != 1 => {}
                        b"O_SHAB" => part.shab = cell("SHAB"),
                        b"O_SREF" => part.sref = cell("SREF"),
                        b"usage_principal" => part.usage_principal = count("usage", &mut part.problems),
                        b"description" => part.name = text::clean(raw),
                        _ => {}
                    },
                    Source::EnvData => {
                        if rel.is(&[b"usage_principal"]) {
                            part.usage_principal = count("usage", &mut part.problems);
                        } else if rel.is(&[b"shab"]) {
                            part.shab = cell("SHAB");
                        } else if rel.is(&[b"donnees_techniques", b"vecteur_energie_principal_ch"]) {
                            part.heating_code = code("énergie de chauffage", &mut part.problems);
                        } else if rel.is(&[b"donnees_techniques", b"vecteur_energie_principal_ecs"]) {
                            part.dhw_code = code("énergie d'eau chaude sanitaire", &mut part.problems);
                        }
                    }
                    Source::Entree => {
                        if rel.is(&[b"Name"]) {
                            part.name = text::clean(raw);
                        } else if rel.ends(&[b"Zone", b"NB_logement"]) {
                            if let Some(n) = count("nombre de logements", &mut part.problems) {
                                part.dwellings = Some(part.dwellings.unwrap_or(0).saturating_add(n));
                            }
                        } else if rel.ends(&[b"Zone", b"Usage"]) {
                            if let Some(u) = count("usage", &mut part.problems)
                                && part.zone_usages.len() < MAX_ZONE_USAGES
                            {
                                part.zone_usages.push(u);
                            }
                        } else if rel.ends(&[b"Groupe", b"SHAB"]) {
                            match cell("SHAB") {
                                Cell::Value(v) => {
                                    let before = part.shab_sum.unwrap_or(0.0);
                                    let sum = before + v;
                                    // Absurd surfaces can add up past f64: the total is then unknown
                                    // (left non-finite, dropped at the merge), not infinite.
                                    if before.is_finite() && !sum.is_finite() {
                                        push_problem(&mut part.problems, problem("SHAB", false));
                                    }
                                    part.shab_sum = Some(sum);
                                }
                                Cell::Problem(p) => push_problem(&mut part.problems, p),
                                Cell::Missing => {}
                            }
                        }
                    }
                    Source::SortieB => match leaf {
                        _ if rel.len() != 1 => {}
                        b"O_Bbio_pts_annuel" => part.bbio = cell("Bbio"),
                        b"O_SREF" => part.sref = cell("SREF"),
                        _ => {}
                    },
                    Source::SortieC => match leaf {
                        _ if rel.len() != 1 => {}
                        b"O_Cep_annuel" => part.cep = cell("Cep"),
                        b"O_Cep_nr_annuel" => part.cep_nr = cell("Cep,nr"),
                        b"O_SREF" => part.sref = cell("SREF"),
                        b"vecteur_energie_principal_ch" => {
                            part.heating_code = code("énergie de chauffage", &mut part.problems)
                        }
                        b"vecteur_energie_principal_ecs" => {
                            part.dhw_code = code("énergie d'eau chaude sanitaire", &mut part.problems)
                        }
                        other => {
                            if let Some((end_use, label, aggregate, primary)) =
                                std::str::from_utf8(other).ok().and_then(codes::per_energy_output)
                                && let Num::Value(value) = text::parse_num(raw)
                                && part.per_energy.len() < MAX_PER_ENERGY
                            {
                                part.per_energy.push(PerEnergy { end_use, label, aggregate, primary, value });
                            }
                        }
                    },
                    Source::EnvEntree => {
                        if rel.is(&[b"nom"]) {
                            part.name = text::clean(raw);
                        } else if rel.is(&[b"sref"]) {
                            part.sref = cell("SREF");
                        } else if rel.is(&[b"zone", b"nb_logement"]) {
                            if let Some(n) = count("nombre de logements", &mut part.problems) {
                                part.dwellings = Some(part.dwellings.unwrap_or(0).saturating_add(n));
                            }
                        } else if rel.is(&[b"zone", b"usage"])
                            && let Some(u) = count("usage", &mut part.problems)
                            && part.zone_usages.len() < MAX_ZONE_USAGES
                        {
                            part.zone_usages.push(u);
                        }
                    }
                    Source::EnvSortie => {
                        if rel.is(&[b"indicateur_perf_env", b"ic_construction"]) {
                            part.ic_construction = cell("Ic construction");
                        } else if rel.is(&[b"indicateur_perf_env", b"ic_energie"]) {
                            part.ic_energie = cell("Ic énergie");
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn close_block(&mut self, block: Block) {
        let acc = &mut self.acc;
        match (block.kind, block.data) {
            (Kind::Actor { prio, role, rank }, Data::Actor(actor)) => {
                let prio = prio * 10 + rank;
                match role {
                    ActorRole::Bet | ActorRole::AcvBet => {
                        acc.bet_name.offer_opt(prio, actor.name);
                        acc.software.offer_opt(
                            prio,
                            software(actor.software_name, actor.software_version, actor.software_editor),
                        );
                    }
                    ActorRole::Software => {
                        acc.software
                            .offer_opt(prio, software(actor.name, actor.software_version, actor.software_editor));
                    }
                }
            }
            (Kind::Address { prio }, Data::Address(address)) => {
                let street = address
                    .name
                    .or_else(|| match (address.housenumber, address.street) {
                        (Some(n), Some(s)) => Some(format!("{n} {s}")),
                        (None, Some(s)) => Some(s),
                        _ => None,
                    })
                    .or_else(|| (!address.lines.is_empty()).then(|| address.lines.join(", ")))
                    .or(address.label);
                acc.address.offer_opt(prio, street);
                acc.postcode.offer_opt(prio, address.postcode.map(|p| p.replace(' ', "")));
                acc.citycode.offer_opt(prio, address.citycode.map(|p| p.replace(' ', "")));
                acc.city.offer_opt(prio, address.city);
            }
            (Kind::Building(source), Data::Building(part)) => {
                let ordinal = &mut acc.ordinals[source.ordinal_slot()];
                *ordinal = ordinal.saturating_add(1);
                let index = part.index.unwrap_or(*ordinal);
                if !acc.buildings.contains_key(&index) && acc.buildings.len() >= MAX_BUILDINGS {
                    acc.too_many_buildings = true;
                    return;
                }
                merge(acc.buildings.entry(index).or_default(), source, *part);
            }
            _ => {}
        }
    }

    fn finish(self) -> Result<ThermalStudy, ParseError> {
        let Some(root) = self.root else {
            // Markup (declaration, comments) but no element: the document was cut short.
            return Err(ParseError::Truncated);
        };
        let acc = self.acc;
        let mut warnings = Warnings::default();
        if !acc.sections {
            return Err(ParseError::NotThermalStudy { root });
        }
        let format = match root.as_str() {
            "RSET" => Format::Rt2012Rset,
            "projet" => decide_projet(&acc, &mut warnings),
            other => {
                warnings.push(format!(
                    "Élément racine inattendu <{other}> : le fichier a été lu comme une étude thermique."
                ));
                if acc.projet_version.is_none() && acc.ec_marks == 0 && acc.re2020_marks == 0 {
                    Format::Rt2012Rset
                } else {
                    decide_projet(&acc, &mut warnings)
                }
            }
        };
        if self.bad_utf8 {
            warnings.push(
                "Le fichier contient des caractères qui ne sont pas en UTF-8 : ils ont été lus en Windows-1252 (accents à vérifier)."
                    .to_owned(),
            );
        }
        if !self.unknown_entities.is_empty() {
            let list: Vec<String> = self.unknown_entities.iter().map(|n| format!("&{n};")).collect();
            warnings.push(format!("Références d'entités inconnues ignorées : {}.", list.join(", ")));
        }
        for (raw, pos) in &acc.bad_indexes {
            warnings.push(format!(
                "Index de bâtiment illisible « {raw} » (ligne {}) : le bloc a été rattaché selon son ordre dans le fichier.",
                line_of(self.src, *pos)
            ));
        }
        if acc.too_many_buildings {
            warnings.push(format!("Plus de {MAX_BUILDINGS} bâtiments : les suivants ont été ignorés."));
        }

        let usage_table = if format == Format::Re2020Rsee { UsageTable::Re2020 } else { UsageTable::Rt };
        let mut buildings = Vec::with_capacity(acc.buildings.len());
        let mut types: Vec<&'static str> = Vec::new();
        let mut dwellings: Option<u32> = None;
        let mut heating: Vec<(&'static str, f64)> = Vec::new();
        let mut dhw: Vec<(&'static str, f64)> = Vec::new();
        for (index, b) in acc.buildings {
            let src = self.src;
            let mut notes: Vec<String> = Vec::new();
            // Usage: `usage_principal` first, else the zones (collective housing wins over houses).
            let usage = match b.usage_principal.value() {
                Some(&(code, from_env)) => Some((code, if from_env { UsageTable::Rt } else { usage_table })),
                None => b.zone_usages.value().and_then(|zones| {
                    let pick = if zones.contains(&2) {
                        Some(2)
                    } else if zones.contains(&1) {
                        Some(1)
                    } else {
                        zones.first().copied()
                    };
                    pick.map(|c| (c, usage_table))
                }),
            };
            if let Some((code, table)) = usage {
                match codes::usage_code(code, table) {
                    Some(t) => types.push(t),
                    None => {
                        notes.push(format!(
                            "Bâtiment {index} : code d'usage {code} non reconnu, type « autre » retenu."
                        ));
                        types.push("autre");
                    }
                }
            }
            if let Some(&n) = b.dwellings.value() {
                dwellings = Some(dwellings.unwrap_or(0).saturating_add(n));
            }

            let report = |p: Option<Problem>, notes: &mut Vec<String>| {
                if let Some(p) = p {
                    notes.push(problem_warning(index, &p, src));
                }
            };
            let (shab, p) = b.shab.take();
            report(p, &mut notes);
            let (sref, p) = b.sref.take();
            report(p, &mut notes);
            let weight = shab.or(sref).filter(|s| *s > 0.0).unwrap_or(1.0);
            for (code_slot, end_use, sums, what) in [
                (&b.heating_code, EndUse::Heating, &mut heating, "énergie de chauffage"),
                (&b.dhw_code, EndUse::HotWater, &mut dhw, "énergie d'eau chaude sanitaire"),
            ] {
                let (label, unknown) = main_energy(code_slot.value().copied(), &b.per_energy, end_use);
                match label {
                    Some(label) => match sums.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, w)) => *w += weight,
                        None => sums.push((label, weight)),
                    },
                    None => {
                        if let Some(code) = unknown {
                            notes.push(format!("Bâtiment {index} : code {code} de l'{what} non reconnu."));
                        }
                    }
                }
            }
            for p in b.problems {
                report(Some(p), &mut notes);
            }
            let mut num = |slot: Slot<f64>| {
                let (v, p) = slot.take();
                report(p, &mut notes);
                v
            };
            let bbio = num(b.bbio);
            let cep = num(b.cep);
            let cep_nr = num(b.cep_nr);
            let ic_construction = num(b.ic_construction);
            let ic_energie = num(b.ic_energie);
            for note in notes {
                warnings.push(note);
            }
            buildings.push(Building {
                index,
                name: b.name.take().0,
                shab,
                sref,
                bbio,
                cep,
                cep_nr,
                ic_construction,
                ic_energie,
            });
        }

        let building_type = if types.is_empty() {
            if !buildings.is_empty() {
                warnings.push("Usage du bâtiment introuvable : type de bâtiment inconnu.".to_owned());
            }
            BuildingType::Other("inconnu".to_owned())
        } else if types.contains(&"logement_collectif") {
            BuildingType::LogementCollectif
        } else if types.contains(&"maison_individuelle") {
            BuildingType::MaisonIndividuelle
        } else if types.iter().all(|t| *t == types[0]) {
            BuildingType::Other(types[0].to_owned())
        } else {
            BuildingType::Other("mixte".to_owned())
        };

        let pick = |sums: &[(&'static str, f64)]| {
            sums.iter().fold(None::<(&'static str, f64)>, |best, &(l, w)| match best {
                Some((_, bw)) if bw >= w => best,
                _ => Some((l, w)),
            })
        };
        let heating_energy = pick(&heating).map(|(l, _)| l.to_owned());
        let dhw_energy = pick(&dhw).map(|(l, _)| l.to_owned());
        if buildings.is_empty() {
            warnings.push("Aucun bâtiment n'a été trouvé dans l'étude.".to_owned());
        } else {
            if heating_energy.is_none() {
                warnings.push("Énergie principale de chauffage introuvable dans l'étude.".to_owned());
            }
            if dhw_energy.is_none() {
                warnings.push("Énergie principale d'eau chaude sanitaire introuvable dans l'étude.".to_owned());
            }
        }

        Ok(ThermalStudy {
            format,
            engine_version: acc.engine_version.take().0,
            operation_name: acc.operation_name.take().0,
            address: acc.address.take().0,
            postcode: acc.postcode.take().0,
            citycode: acc.citycode.take().0,
            city: acc.city.take().0,
            permit_number: acc.permit_number.take().0,
            owner_name: acc.owner_name.take().0,
            bet_name: acc.bet_name.take().0,
            software: acc.software.take().0,
            building_type,
            dwellings,
            buildings,
            heating_energy,
            dhw_energy,
            warnings: warnings.into_vec(),
        })
    }
}

fn push_problem(problems: &mut Vec<Problem>, problem: Problem) {
    if problems.len() < MAX_PROBLEMS {
        problems.push(problem);
    }
}

/// Joins a building block into its building, with per-source priorities.
fn merge(b: &mut BuildingAcc, source: Source, part: BuildingPart) {
    let name_prio = match source {
        Source::Entree => 0,
        Source::EnvEntree => 1,
        _ => 2,
    };
    b.name.offer_opt(name_prio, part.name);
    match source {
        Source::DatasComp => {
            b.shab.offer_cell(0, part.shab);
            b.sref.offer_cell(0, part.sref);
            b.usage_principal.offer_opt(0, part.usage_principal.map(|u| (u, false)));
        }
        Source::EnvData => {
            b.shab.offer_cell(1, part.shab);
            b.usage_principal.offer_opt(1, part.usage_principal.map(|u| (u, true)));
            b.heating_code.offer_opt(1, part.heating_code.map(|c| (EnergyTable::Ec, c)));
            b.dhw_code.offer_opt(1, part.dhw_code.map(|c| (EnergyTable::Ec, c)));
        }
        Source::Entree => {
            b.shab.offer_opt(2, part.shab_sum.filter(|sum| sum.is_finite()));
            b.dwellings.offer_opt(0, part.dwellings);
            if !part.zone_usages.is_empty() {
                b.zone_usages.offer(0, part.zone_usages);
            }
        }
        Source::SortieB => {
            b.bbio.offer_cell(0, part.bbio);
            b.sref.offer_cell(2, part.sref);
        }
        Source::SortieC => {
            b.cep.offer_cell(0, part.cep);
            b.cep_nr.offer_cell(0, part.cep_nr);
            b.sref.offer_cell(1, part.sref);
            b.heating_code.offer_opt(0, part.heating_code.map(|c| (EnergyTable::Re2020, c)));
            b.dhw_code.offer_opt(0, part.dhw_code.map(|c| (EnergyTable::Re2020, c)));
            let room = MAX_PER_ENERGY.saturating_sub(b.per_energy.len());
            b.per_energy.extend(part.per_energy.into_iter().take(room));
        }
        Source::EnvEntree => {
            b.sref.offer_cell(3, part.sref);
            b.dwellings.offer_opt(1, part.dwellings);
            if !part.zone_usages.is_empty() {
                b.zone_usages.offer(1, part.zone_usages);
            }
        }
        Source::EnvSortie => {
            b.ic_construction.offer_cell(0, part.ic_construction);
            b.ic_energie.offer_cell(0, part.ic_energie);
        }
    }
    let room = MAX_PROBLEMS.saturating_sub(b.problems.len());
    b.problems.extend(part.problems.into_iter().take(room));
}

/// Main energy of one building for one end use: the declared code when it is known, else the
/// energy with the largest imported final energy (then primary energy) in the per-energy outputs.
/// Also returns an unknown declared code, to report when nothing else tells the energy.
fn main_energy(
    code: Option<(EnergyTable, i64)>,
    per_energy: &[PerEnergy],
    end_use: EndUse,
) -> (Option<&'static str>, Option<i64>) {
    let mut unknown = None;
    if let Some((table, c)) = code {
        match codes::energy_code(c, table) {
            Ok(Some(label)) => return (Some(label), None),
            Ok(None) => {}
            Err(()) => unknown = Some(c),
        }
    }
    for primary in [false, true] {
        let relevant: Vec<&PerEnergy> =
            per_energy.iter().filter(|p| p.end_use == end_use && p.primary == primary && p.value > 0.0).collect();
        let detailed_wood = relevant.iter().any(|p| !p.aggregate && p.label.starts_with("Bois"));
        let mut sums: Vec<(&'static str, f64)> = Vec::new();
        for p in relevant.iter().filter(|p| !(p.aggregate && detailed_wood)) {
            match sums.iter_mut().find(|(l, _)| *l == p.label) {
                Some((_, v)) => *v += p.value,
                None => sums.push((p.label, p.value)),
            }
        }
        let best = sums.iter().fold(None::<(&'static str, f64)>, |best, &(l, v)| match best {
            Some((_, bv)) if bv >= v => best,
            _ => Some((l, v)),
        });
        if let Some((label, _)) = best {
            return (Some(label), unknown);
        }
    }
    (None, unknown)
}

/// RE2020 or E+C- for a `projet` root: the engine version first (`2022.E1…` vs `8.1…`), then the
/// `projet@version` attribute, then the elements only one of the two formats has.
fn decide_projet(acc: &Acc, warnings: &mut Warnings) -> Format {
    fn leading_number(v: &str) -> Option<u32> {
        let digits: String = v.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    }
    let by_version = |v: &str| match leading_number(v) {
        Some(n) if n >= 2020 => Some(Format::Re2020Rsee),
        Some(n) if n < 100 => Some(Format::EcRsee),
        _ => None,
    };
    if let Some(format) = acc.engine_version.value().and_then(|v| by_version(v)) {
        return format;
    }
    if let Some(v) = &acc.projet_version {
        if v.to_ascii_uppercase().contains("RE2020") {
            return Format::Re2020Rsee;
        }
        if let Some(format) = by_version(v) {
            return format;
        }
    }
    if acc.ec_marks > acc.re2020_marks {
        Format::EcRsee
    } else {
        if acc.re2020_marks == 0 {
            warnings.push("Version du RSEE non reconnue : le fichier a été lu comme un RSEE RE2020.".to_owned());
        }
        Format::Re2020Rsee
    }
}

fn permit(raw: &str) -> Option<String> {
    let value = text::clean(raw)?;
    let placeholder = value.eq_ignore_ascii_case("en cours")
        || value.eq_ignore_ascii_case("encours")
        || value.chars().all(|c| matches!(c, '-' | '_' | '.' | '0' | 'x' | 'X' | ' '));
    (!placeholder).then_some(value)
}

fn software(name: Option<String>, version: Option<String>, editor: Option<String>) -> Option<String> {
    match (name.or(editor), version) {
        (Some(n), Some(v)) if !n.contains(&v) => Some(format!("{n} {v}")),
        (Some(n), _) => Some(n),
        (None, _) => None,
    }
}

fn problem_warning(index: u32, p: &Problem, src: &[u8]) -> String {
    if p.not_computed {
        format!("Bâtiment {index} : {} non calculé dans le fichier (valeur « {} »), laissé vide.", p.field, p.raw)
    } else {
        format!(
            "Bâtiment {index} : valeur illisible « {} » pour {} (ligne {}), laissée vide.",
            p.raw,
            p.field,
            line_of(src, p.pos)
        )
    }
}

/// Deduplicated, capped list of warnings.
#[derive(Default)]
struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    fn push(&mut self, warning: String) {
        if self.list.contains(&warning) {
            return;
        }
        if self.list.len() >= MAX_WARNINGS {
            self.dropped += 1;
        } else {
            self.list.push(warning);
        }
    }

    fn into_vec(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list.push(format!("… et {} autres avertissements.", self.dropped));
        }
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(xml: &str) -> Result<ThermalStudy, ParseError> {
        parse(xml.as_bytes())
    }

    #[test]
    fn blocks_are_found_at_any_depth_and_joined_by_index() {
        let xml = r#"<RSET><wrapper><Datas_Comp><donnees_generales><operation><name>Op</name></operation>
            </donnees_generales></Datas_Comp></wrapper>
            <deeper><still><Sortie_Projet><Sortie_Batiment_B_Collection>
              <Sortie_Batiment_B><O_Bbio_pts_annuel>40</O_Bbio_pts_annuel><Index>2</Index></Sortie_Batiment_B>
              <Sortie_Batiment_B><Index>1</Index><O_Bbio_pts_annuel>30</O_Bbio_pts_annuel></Sortie_Batiment_B>
            </Sortie_Batiment_B_Collection></Sortie_Projet></still></deeper></RSET>"#;
        let study = parse_str(xml).unwrap();
        assert_eq!(study.operation_name.as_deref(), Some("Op"));
        let bbio: Vec<(u32, Option<f64>)> = study.buildings.iter().map(|b| (b.index, b.bbio)).collect();
        assert_eq!(bbio, vec![(1, Some(30.0)), (2, Some(40.0))]);
    }

    #[test]
    fn zone_values_do_not_leak_into_building_values() {
        let xml = r#"<RSET><Sortie_Projet><Sortie_Batiment_C_Collection><Sortie_Batiment_C><Index>1</Index>
            <Sortie_Zone_C_Collection><Sortie_Zone_C><Index>7</Index><O_Cep_annuel>999</O_Cep_annuel></Sortie_Zone_C>
            </Sortie_Zone_C_Collection><O_Cep_annuel>48.7</O_Cep_annuel></Sortie_Batiment_C>
            </Sortie_Batiment_C_Collection></Sortie_Projet></RSET>"#;
        let study = parse_str(xml).unwrap();
        assert_eq!(study.buildings.len(), 1);
        assert_eq!(study.buildings[0].index, 1);
        assert_eq!(study.buildings[0].cep, Some(48.7));
    }

    #[test]
    fn entities_are_resolved_only_when_predefined_or_numeric() {
        let xml = "<RSET><Datas_Comp><donnees_generales><maitre_ouvrage><nom>A &amp; B &#233;&#x20AC; &custom;</nom>\
            </maitre_ouvrage></donnees_generales></Datas_Comp></RSET>";
        let study = parse_str(xml).unwrap();
        assert_eq!(study.owner_name.as_deref(), Some("A & B é€"));
        assert!(study.warnings.iter().any(|w| w.contains("&custom;")), "{:?}", study.warnings);
    }

    #[test]
    fn energy_falls_back_on_per_energy_outputs() {
        let per = [
            PerEnergy { end_use: EndUse::Heating, label: "Gaz", aggregate: false, primary: false, value: 30.0 },
            PerEnergy {
                end_use: EndUse::Heating, label: "Électricité", aggregate: false, primary: false, value: 5.0
            },
            PerEnergy {
                end_use: EndUse::HotWater, label: "Électricité", aggregate: false, primary: true, value: 9.0
            },
            PerEnergy { end_use: EndUse::Heating, label: "Bois", aggregate: true, primary: false, value: 50.0 },
            PerEnergy {
                end_use: EndUse::Heating,
                label: "Bois granulés",
                aggregate: false,
                primary: false,
                value: 20.0,
            },
        ];
        // Detailed wood outputs replace the aggregate: gas (30) beats pellets (20).
        assert_eq!(main_energy(None, &per, EndUse::Heating), (Some("Gaz"), None));
        assert_eq!(main_energy(None, &per, EndUse::HotWater), (Some("Électricité"), None));
        assert_eq!(main_energy(Some((EnergyTable::Ec, 7)), &per, EndUse::Heating), (Some("Réseau de chaleur"), None));
        assert_eq!(main_energy(Some((EnergyTable::Re2020, 4)), &[], EndUse::Heating), (None, Some(4)));
    }

    #[test]
    fn permit_placeholders_mean_no_permit() {
        assert_eq!(permit(" EN COURS "), None);
        assert_eq!(permit("en cours"), None);
        assert_eq!(permit("-"), None);
        assert_eq!(permit(" PC 069 383 23 00001 "), Some("PC 069 383 23 00001".to_owned()));
    }

    #[test]
    fn utf16_files_are_transcoded() {
        let xml = "<RSET><Datas_Comp><donnees_generales><operation><name>Opération</name></operation>\
            </donnees_generales></Datas_Comp></RSET>";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&bytes).unwrap().operation_name.as_deref(), Some("Opération"));
        let be: Vec<u8> = xml.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(parse(&be).unwrap().operation_name.as_deref(), Some("Opération"));
    }

    #[test]
    fn latin_files_are_decoded() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><RSET><Datas_Comp><donnees_generales>\
            <operation><name>Op\xe9ration</name></operation></donnees_generales></Datas_Comp></RSET>"
            .to_vec();
        let study = parse(&bytes).unwrap();
        assert_eq!(study.operation_name.as_deref(), Some("Opération"));
        assert!(study.warnings.iter().all(|w| !w.contains("UTF-8")));
        // Declared UTF-8 (or nothing) but Latin bytes: read anyway, with a warning.
        bytes.drain(..b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".len());
        let study = parse(&bytes).unwrap();
        assert_eq!(study.operation_name.as_deref(), Some("Opération"));
        assert!(study.warnings.iter().any(|w| w.contains("UTF-8")));
    }

    #[test]
    fn common_uploads_that_are_not_xml_are_named() {
        assert_eq!(parse(b"%PDF-1.7 ...").unwrap_err(), ParseError::NotXml { looks_like: Some("un document PDF") });
        assert!(matches!(parse(b"PK\x03\x04rest"), Err(ParseError::NotXml { looks_like: Some(_) })));
        assert_eq!(parse(b"hello").unwrap_err(), ParseError::NotXml { looks_like: None });
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(parse(b" \n\t").unwrap_err(), ParseError::Empty);
        assert!(matches!(
            parse(b"<!DOCTYPE html><html><body></body></html>"),
            Err(ParseError::NotXml { looks_like: Some(_) })
        ));
    }

    #[test]
    fn too_deep_nesting_is_refused() {
        let xml = "<a>".repeat(MAX_DEPTH + 1);
        assert!(matches!(parse(xml.as_bytes()), Err(ParseError::Malformed { .. })));
    }

    #[test]
    fn warnings_are_capped() {
        let mut w = Warnings::default();
        for i in 0..(MAX_WARNINGS + 7) {
            w.push(format!("w{i}"));
        }
        w.push("w0".to_owned());
        let list = w.into_vec();
        assert_eq!(list.len(), MAX_WARNINGS + 1);
        assert_eq!(list.last().unwrap(), "… et 7 autres avertissements.");
    }
}
