//! Document pages on both faces: a site's documents (with the upload form), the lists across
//! sites (Mes documents, Mes rapports, Mes factures; the firm's Documents), a document's page
//! with its preview and versions, and downloads.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::store::{self, DocumentFilter, DocumentRow, DocumentSort, Published};
use super::types::{self, DocumentType};
use super::{docs_base, published, requirements, signatures};
use crate::app::AppState;
use crate::domain::time::{fr_datetime, paris_day_start_ms};
use crate::domain::{ClientId, DocumentId, SiteId};
use crate::features::clients::ui::positive_id;
use crate::features::files::kind::{ACCEPT_ATTRIBUTE, ACCEPTED_FORMATS, FileKind};
use crate::features::files::{fr_size, serve_stored};
use crate::features::sites::model::parse_day;
use crate::features::sites::store::SiteRow;
use crate::features::sites::{Area, list as site_list};
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, StaffActor, render};

pub const PAGE_SIZE: i64 = 50;

/// A document as lists show it.
pub struct DocItem {
    pub id: DocumentId,
    pub title: String,
    pub file_name: String,
    pub type_label: String,
    pub site: String,
    pub site_url: String,
    pub client: String,
    pub version: i64,
    pub size: String,
    pub date: String,
    pub uploader: String,
    pub previewable: bool,
    /// Published and not yet opened by the client.
    pub is_new: bool,
    pub published: &'static str,
    pub url: String,
    pub download_url: String,
    pub preview_url: String,
}

impl DocItem {
    pub fn of(row: &DocumentRow, types: &[DocumentType], area: Area) -> DocItem {
        let base = docs_base(area);
        let kind = FileKind::from_content_type(&row.content_type);
        DocItem {
            id: row.id,
            title: row.title.clone(),
            file_name: row.original_name.clone(),
            type_label: types::label_of(types, &row.document_type).to_string(),
            site: row.site_name.clone().unwrap_or_else(|| "Général".into()),
            site_url: row.site_id.map(|s| format!("{}/{}", area.base(), s)).unwrap_or_default(),
            client: row.client_name.clone(),
            version: row.version,
            size: fr_size(row.size_bytes),
            date: fr_datetime(row.published_at.unwrap_or(row.created_at)),
            uploader: row.uploader.clone().unwrap_or_else(|| "—".into()),
            previewable: kind.is_some_and(FileKind::previewable),
            is_new: !row.published_as.is_empty() && row.first_seen_at.is_none(),
            published: match row.published_as.as_str() {
                "report" => "Rapport",
                "invoice" => "Facture",
                _ => "",
            },
            url: format!("{base}/{}", row.id),
            download_url: format!("{base}/{}/fichier", row.id),
            preview_url: format!("{base}/{}/fichier?apercu=1", row.id),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A site's documents

#[derive(Template)]
#[template(path = "documents/site.html")]
pub struct SiteDocumentsPage {
    pub ctx: Ctx,
    pub bo: bool,
    pub site_id: SiteId,
    pub site_name: String,
    pub client_name: String,
    pub site_url: String,
    pub docs: Vec<DocItem>,
    pub types: Vec<DocumentType>,
    pub can_upload: bool,
    pub upload_action: String,
    pub zip_action: String,
    pub accept: &'static str,
    pub formats: &'static str,
    pub limit: String,
    /// The type chosen in the form (kept when the form comes back with errors).
    pub chosen_type: String,
    pub added: Vec<String>,
    pub errors: Vec<String>,
    pub notice: &'static str,
    pub requirements: requirements::SitePanel,
    pub signatures: signatures::SitePanel,
    pub publish: published::SitePanel,
}

/// Who may add documents to a site: the firm's staff, and the client's users while the site is
/// not archived.
pub fn can_upload(actor: &Actor, site: &SiteRow) -> bool {
    actor.is_staff() || !site.archived
}

/// What the site's documents page says after a redirect (`?msg=`).
fn notice(msg: Option<&str>) -> &'static str {
    match msg {
        Some("depose") => "Documents déposés.",
        Some("valide") => "Élément validé.",
        Some("refuse") => "Élément refusé : le client voit le motif.",
        Some("donnee") => "Information enregistrée.",
        Some("prestation") => "Prestation ajoutée : ses documents et données attendus sont listés ci-dessous.",
        Some("signature") => "Document mis à signer.",
        Some("publie") => "Document publié : le client est prévenu.",
        _ => "",
    }
}

#[derive(Deserialize, Default)]
pub struct SiteQuery {
    msg: Option<String>,
}

pub struct SiteFormState {
    pub chosen_type: String,
    pub added: Vec<String>,
    pub errors: Vec<String>,
}

pub async fn site_page(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    site: SiteRow,
    msg: Option<&str>,
    form: SiteFormState,
) -> AppResult<SiteDocumentsPage> {
    let types = types::list(&state.db, actor.tenant_id).await?;
    let filter = DocumentFilter { site: Some(site.id), sort: DocumentSort::Type, ..DocumentFilter::default() };
    let (rows, _) = store::search(&state.db, actor, &filter, 500, 0).await?;
    let requirements = requirements::site_panel(state, actor, area, &site, &ctx.csrf).await?;
    let signatures = signatures::site_panel(state, actor, area, &site, &ctx.csrf).await?;
    let publish = published::site_panel(state, actor, area, &site, &ctx.csrf).await?;
    let base = area.base();
    Ok(SiteDocumentsPage {
        bo: area.is_bo(),
        site_id: site.id,
        site_url: format!("{base}/{}", site.id),
        upload_action: format!("{base}/{}/documents?_csrf={}", site.id, ctx.csrf),
        zip_action: format!("{}/archive.zip", docs_base(area)),
        ctx: ctx.with_nav("sites"),
        docs: rows.iter().map(|r| DocItem::of(r, &types, area)).collect(),
        can_upload: can_upload(actor, &site),
        chosen_type: form.chosen_type,
        types,
        accept: ACCEPT_ATTRIBUTE,
        formats: ACCEPTED_FORMATS,
        limit: fr_size(state.config.max_upload_bytes as i64),
        added: form.added,
        errors: form.errors,
        notice: notice(msg),
        site_name: site.name.clone(),
        client_name: site.client_name.clone(),
        requirements,
        signatures,
        publish,
    })
}

async fn site_documents(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    raw_id: &str,
    q: SiteQuery,
) -> AppResult<Response> {
    let site = site_list::load(state, actor, raw_id).await?;
    let form = SiteFormState { chosen_type: String::new(), added: Vec::new(), errors: Vec::new() };
    let page = site_page(state, ctx, actor, area, site, q.msg.as_deref(), form).await?;
    Ok(render(&page)?.into_response())
}

pub async fn bo_site_documents(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Query(q): Query<SiteQuery>,
) -> AppResult<Response> {
    site_documents(&state, ctx, &actor, Area::Bo, &id, q).await
}

pub async fn espace_site_documents(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    Query(q): Query<SiteQuery>,
) -> AppResult<Response> {
    site_documents(&state, ctx, &actor, Area::Espace, &id, q).await
}

// ---------------------------------------------------------------------------------------------
// Lists across sites

/// The list's criteria as typed in its form (`?q=&type=&chantier=&client=&du=&au=&tri=&nouveaux=1&page=`).
#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    doc_type: String,
    #[serde(default)]
    chantier: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
    #[serde(default)]
    tri: String,
    #[serde(default)]
    nouveaux: String,
    #[serde(default)]
    page: String,
}

/// Which list: every document, or what the firm published as reports or invoices.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shelf {
    All,
    Reports,
    Invoices,
}

impl Shelf {
    fn title(self, bo: bool) -> &'static str {
        match (self, bo) {
            (Shelf::All, true) => "Documents",
            (Shelf::All, false) => "Mes documents",
            (Shelf::Reports, _) => "Mes rapports",
            (Shelf::Invoices, _) => "Mes factures",
        }
    }

    fn path(self, area: Area) -> String {
        let base = docs_base(area);
        match self {
            Shelf::All => base.to_string(),
            Shelf::Reports => format!("{base}/rapports"),
            Shelf::Invoices => format!("{base}/factures"),
        }
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "documents/list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub bo: bool,
    pub title: &'static str,
    pub shelf_all: String,
    pub shelf_reports: String,
    pub shelf_invoices: String,
    pub shelf: &'static str,
    pub show_invoices: bool,
    pub action: String,
    pub zip_action: String,
    pub docs: Vec<DocItem>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub prev_url: String,
    pub next_url: String,
    pub types: Vec<DocumentType>,
    pub clients: Vec<Choice>,
    pub sorts: Vec<Choice>,
    pub q: String,
    pub doc_type: String,
    pub chantier: String,
    pub chantier_label: String,
    pub client: String,
    pub du: String,
    pub au: String,
    pub tri: String,
    pub nouveaux: bool,
    pub errors: Vec<String>,
    pub published_only: bool,
}

async fn list(
    state: &AppState,
    ctx: Ctx,
    actor: &Actor,
    area: Area,
    shelf: Shelf,
    q: ListQuery,
) -> AppResult<Response> {
    if shelf == Shelf::Invoices && store::hides_invoices(actor) {
        return Err(AppError::Forbidden);
    }
    let mut errors = Vec::new();
    let mut filter = DocumentFilter {
        text: Some(q.q.trim().to_string()).filter(|t| !t.is_empty()),
        document_type: Some(q.doc_type.trim().to_string()).filter(|t| !t.is_empty()),
        sort: DocumentSort::parse(&q.tri),
        published: match shelf {
            Shelf::All => None,
            Shelf::Reports => Some(Published::Report),
            Shelf::Invoices => Some(Published::Invoice),
        },
        only_new: q.nouveaux == "1",
        ..DocumentFilter::default()
    };
    let mut chantier_label = String::new();
    if !q.chantier.trim().is_empty() {
        // An unknown or foreign site filters to nothing rather than to everything.
        match site_list::load(state, actor, &q.chantier).await {
            Ok(site) => {
                chantier_label = site.name.clone();
                filter.site = Some(site.id);
            }
            Err(AppError::NotFound) => {
                filter.site = Some(SiteId(-1));
                errors.push("Ce chantier est introuvable.".to_string());
            }
            Err(e) => return Err(e),
        }
    }
    if area.is_bo()
        && let Some(c) = positive_id(&q.client)
    {
        filter.client = Some(ClientId(c));
    }
    for (raw, label, slot) in [(&q.du, "Du", &mut filter.from_ms), (&q.au, "Au", &mut filter.until_ms)] {
        match parse_day(raw) {
            Ok(Some(day)) => {
                let start = paris_day_start_ms(&day);
                *slot = if label == "Au" { start.map(|s| s + crate::domain::time::DAY_MS) } else { start };
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("{label} : {e}")),
        }
    }
    let page = positive_id(&q.page).unwrap_or(1).min(100_000);
    let (rows, total) = store::search(&state.db, actor, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    let types = types::list(&state.db, actor.tenant_id).await?;
    let clients = if area.is_bo() {
        crate::features::messaging::store::clients(&state.db, actor.tenant_id)
            .await?
            .into_iter()
            .map(|c| Choice { value: c.id.to_string(), label: c.label })
            .collect()
    } else {
        Vec::new()
    };
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let path = shelf.path(area);
    let query_without_page = {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &q.q),
            ("type", &q.doc_type),
            ("chantier", &q.chantier),
            ("client", &q.client),
            ("du", &q.du),
            ("au", &q.au),
            ("tri", &q.tri),
            ("nouveaux", &q.nouveaux),
        ] {
            if !v.trim().is_empty() {
                pairs.append_pair(k, v.trim());
            }
        }
        pairs.finish()
    };
    let page_url = |p: i64| {
        if query_without_page.is_empty() {
            format!("{path}?page={p}")
        } else {
            format!("{path}?{query_without_page}&page={p}")
        }
    };
    let view = ListPage {
        bo: area.is_bo(),
        title: shelf.title(area.is_bo()),
        shelf_all: Shelf::All.path(area),
        shelf_reports: Shelf::Reports.path(area),
        shelf_invoices: Shelf::Invoices.path(area),
        shelf: match shelf {
            Shelf::All => "all",
            Shelf::Reports => "reports",
            Shelf::Invoices => "invoices",
        },
        show_invoices: !store::hides_invoices(actor),
        action: path.clone(),
        zip_action: format!("{}/archive.zip", docs_base(area)),
        docs: rows.iter().map(|r| DocItem::of(r, &types, area)).collect(),
        total,
        page,
        pages,
        prev_url: page_url(page - 1),
        next_url: page_url(page + 1),
        types,
        clients,
        sorts: DocumentSort::ALL
            .into_iter()
            .map(|s| Choice { value: s.code().to_string(), label: s.label().to_string() })
            .collect(),
        q: q.q.clone(),
        doc_type: q.doc_type.clone(),
        chantier: q.chantier.trim().to_string(),
        chantier_label,
        client: q.client.clone(),
        du: q.du.clone(),
        au: q.au.clone(),
        tri: filter.sort.code().to_string(),
        nouveaux: filter.only_new,
        errors,
        published_only: shelf != Shelf::All,
        ctx: ctx.with_nav("documents"),
    };
    Ok(render(&view)?.into_response())
}

pub async fn bo_list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, Area::Bo, Shelf::All, q).await
}

pub async fn espace_list(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, Area::Espace, Shelf::All, q).await
}

pub async fn espace_reports(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, Area::Espace, Shelf::Reports, q).await
}

pub async fn espace_invoices(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    list(&state, ctx, &actor, Area::Espace, Shelf::Invoices, q).await
}

// ---------------------------------------------------------------------------------------------
// One document

#[derive(Template)]
#[template(path = "documents/detail.html")]
pub struct DetailPage {
    pub ctx: Ctx,
    pub bo: bool,
    pub doc: DocItem,
    pub is_image: bool,
    pub is_pdf: bool,
    pub twin_url: String,
    pub sha256: String,
    pub versions: Vec<DocItem>,
    pub current_url: String,
}

async fn document(state: &AppState, ctx: Ctx, actor: &Actor, area: Area, raw_id: &str) -> AppResult<Response> {
    let id = positive_id(raw_id).ok_or(AppError::NotFound)?;
    let row = store::find_visible(&state.db, actor, DocumentId(id)).await?.ok_or(AppError::NotFound)?;
    store::mark_seen(&state.db, actor, &row).await?;
    let types = types::list(&state.db, actor.tenant_id).await?;
    let versions = store::versions(&state.db, actor, row.lineage_id).await?;
    let current_url = versions
        .iter()
        .find(|v| v.is_current && v.id != row.id)
        .map(|v| format!("{}/{}", docs_base(area), v.id))
        .unwrap_or_default();
    let kind = FileKind::from_content_type(&row.content_type);
    let view = DetailPage {
        bo: area.is_bo(),
        doc: DocItem::of(&row, &types, area),
        is_image: matches!(kind, Some(FileKind::Jpeg | FileKind::Png)),
        is_pdf: kind == Some(FileKind::Pdf),
        twin_url: row.twin_file_id.map(|f| format!("/fichiers/{f}")).unwrap_or_default(),
        sha256: row.sha256.clone(),
        versions: versions.iter().map(|v| DocItem::of(v, &types, area)).collect(),
        current_url,
        ctx: ctx.with_nav("documents"),
    };
    Ok(render(&view)?.into_response())
}

pub async fn bo_document(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    document(&state, ctx, &actor, Area::Bo, &id).await
}

pub async fn espace_document(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    document(&state, ctx, &actor, Area::Espace, &id).await
}

#[derive(Deserialize, Default)]
pub struct DownloadQuery {
    #[serde(default)]
    apercu: String,
}

async fn download(state: &AppState, actor: &Actor, raw_id: &str, q: DownloadQuery) -> AppResult<Response> {
    let id = positive_id(raw_id).ok_or(AppError::NotFound)?;
    let row = store::find_visible(&state.db, actor, DocumentId(id)).await?.ok_or(AppError::NotFound)?;
    store::mark_seen(&state.db, actor, &row).await?;
    Ok(serve_stored(state, row.file_id, &row.sha256, &row.content_type, &row.original_name, q.apercu == "1").await)
}

pub async fn bo_download(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> AppResult<Response> {
    download(&state, &actor, &id, q).await
}

pub async fn espace_download(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> AppResult<Response> {
    download(&state, &actor, &id, q).await
}
