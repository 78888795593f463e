//! Justificatifs à signer: a PDF staff put up for signature on a site, signed by the client
//! either on paper (download, sign by hand, upload the scan) or on screen (a drawn signature,
//! sealed by the firm: stamp, evidence page and PAdES signature with the firm's certificate).
//!
//! - [`identity`]: the firm's signing certificate (generated on first need, or an uploaded
//!   PKCS#12) and its settings page.
//! - [`store`]: the requests and their append-only evidence log.
//! - [`staff`]: putting a document up for signature, cancelling, the back-office list and page.
//! - [`client`]: the extranet list, the original's download and the paper path.
//! - [`electronic`]: the on-screen signature and the sealing.

pub mod client;
pub mod electronic;
pub mod identity;
pub mod staff;
pub mod store;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use chrono_tz::Europe::Paris;

use crate::app::AppState;
use crate::domain::time::fr_datetime;
use crate::domain::{Permission, Role};
use crate::features::files::kind::FileKind;
use crate::features::sites::Area;
use crate::features::sites::store::SiteRow;
use crate::http::{Actor, AppResult};
use store::{RequestRow, StatusFilter};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/parametres/signature", get(identity::page).post(identity::upload))
        .route("/bo/chantiers/{id}/signatures", get(staff::new_page).post(staff::create))
        .route("/bo/signatures", get(staff::list))
        .route("/bo/signatures/{id}", get(staff::detail))
        .route("/bo/signatures/{id}/annuler", post(staff::cancel))
        .route("/espace/signatures", get(client::list))
        .route("/espace/signatures/{id}", get(electronic::page))
        .route("/espace/signatures/{id}/original", get(client::original))
        .route("/espace/signatures/{id}/papier", post(client::paper))
        .route("/espace/signatures/{id}/signer", post(electronic::sign))
}

/// Where a request stands (`signature_requests.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Signed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Pending, Status::Signed, Status::Cancelled];

    pub fn code(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Signed => "signed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "À signer",
            Status::Signed => "Signé",
            Status::Cancelled => "Annulé",
        }
    }
}

/// Where the drawn signature goes on its page (`signature_requests.anchor`).
pub const ANCHORS: [(&str, &str, ouvrage_pdfsign::Anchor); 5] = [
    ("bottom_right", "En bas à droite", ouvrage_pdfsign::Anchor::BottomRight),
    ("bottom_left", "En bas à gauche", ouvrage_pdfsign::Anchor::BottomLeft),
    ("bottom_center", "En bas au centre", ouvrage_pdfsign::Anchor::BottomCenter),
    ("top_right", "En haut à droite", ouvrage_pdfsign::Anchor::TopRight),
    ("top_left", "En haut à gauche", ouvrage_pdfsign::Anchor::TopLeft),
];

pub fn anchor_of(code: &str) -> Option<ouvrage_pdfsign::Anchor> {
    ANCHORS.iter().find(|(c, _, _)| *c == code).map(|(_, _, a)| *a)
}

pub fn anchor_label(code: &str) -> &'static str {
    ANCHORS.iter().find(|(c, _, _)| *c == code).map(|(_, l, _)| *l).unwrap_or("En bas à droite")
}

/// How a request was signed (`signature_requests.method`).
pub fn method_label(code: &str) -> &'static str {
    match code {
        "electronic" => "signature électronique",
        "paper" => "signature papier (scan)",
        _ => "",
    }
}

/// The steps the evidence log records (`signature_evidence.event`).
pub fn event_label(code: &str) -> &'static str {
    match code {
        "requested" => "Mis à signer",
        "shown" => "Affiché pour signature",
        "downloaded" => "Original téléchargé",
        "signed" => "Signé électroniquement",
        "paper_signed" => "Signé sur papier (scan déposé)",
        "cancelled" => "Annulé",
        _ => "Autre",
    }
}

/// Who may put documents up for signature and cancel them: the firm's admin and office.
pub fn can_manage(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office)
}

/// Whether the client user is the signer the request names (any user of the client when it
/// names nobody). Visibility is the company's; signing is the signer's.
pub fn in_signer_scope(actor: &Actor, req: &RequestRow) -> bool {
    !actor.is_staff()
        && actor.client_id == Some(req.client_id)
        && req.signer_user_id.is_none_or(|named| named == actor.user_id)
}

/// Whether the user may sign this request on screen: in the signer scope and allowed by their
/// profile ("Peut signer électroniquement").
pub fn may_sign_electronically(actor: &Actor, req: &RequestRow) -> bool {
    in_signer_scope(actor, req) && actor.can(Permission::SignElectronically)
}

/// The browser's user agent as sent, kept short enough for the evidence log.
pub fn user_agent(headers: &HeaderMap) -> String {
    let ua = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ua.chars().take(400).collect()
}

/// `23/11/2026 à 14:05:32 (heure de Paris, UTC+01:00)`: the evidence page states the offset, so
/// the time is unambiguous on both sides of a DST change.
pub fn paris_timestamp(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.with_timezone(&Paris).format("%d/%m/%Y à %H:%M:%S (heure de Paris, UTC%:z)").to_string())
        .unwrap_or_default()
}

/// A request as lists show it, on either face.
pub struct RequestItem {
    pub id: i64,
    pub title: String,
    pub site: String,
    pub site_url: String,
    pub client: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub signer: String,
    pub created: String,
    pub signed: String,
    pub signed_by: String,
    pub method: &'static str,
    pub original_url: String,
    pub signed_url: String,
    pub url: String,
    pub pending: bool,
    /// Extranet: the user may sign it (paper; on screen when `can_sign_on_screen`).
    pub can_sign: bool,
    pub can_sign_on_screen: bool,
    pub paper_action: String,
    pub error: String,
}

impl RequestItem {
    pub fn of(req: &RequestRow, actor: &Actor, csrf: &str) -> RequestItem {
        let status = Status::parse(&req.status).unwrap_or(Status::Pending);
        let bo = actor.is_staff();
        let docs = if bo { "/bo/documents" } else { "/espace/documents" };
        let area = if bo { Area::Bo } else { Area::Espace };
        let pending = status == Status::Pending;
        RequestItem {
            id: req.id,
            title: req.title.clone(),
            site: req.site_name.clone(),
            site_url: format!("{}/{}", area.base(), req.site_id),
            client: req.client_name.clone(),
            status: status.label(),
            status_code: status.code(),
            signer: match &req.signer_name {
                Some(name) => name.clone(),
                None => "Tout utilisateur habilité du client".to_string(),
            },
            created: fr_datetime(req.created_at),
            signed: req.signed_at.filter(|_| status == Status::Signed).map(fr_datetime).unwrap_or_default(),
            signed_by: if status == Status::Signed {
                req.signed_by_name.clone().unwrap_or_default()
            } else {
                String::new()
            },
            method: method_label(&req.method),
            original_url: if bo {
                format!("{docs}/{}/fichier", req.document_id)
            } else {
                format!("/espace/signatures/{}/original", req.id)
            },
            signed_url: req.signed_document_id.map(|d| format!("{docs}/{d}/fichier")).unwrap_or_default(),
            url: if bo { format!("/bo/signatures/{}", req.id) } else { format!("/espace/signatures/{}", req.id) },
            pending,
            can_sign: pending && in_signer_scope(actor, req),
            can_sign_on_screen: pending && may_sign_electronically(actor, req),
            paper_action: format!("/espace/signatures/{}/papier?_csrf={csrf}", req.id),
            error: String::new(),
        }
    }
}

/// The signatures section of a site's documents page: the site's requests and, in the back
/// office, the form that puts a document up for signature.
pub struct SitePanel {
    pub items: Vec<RequestItem>,
    pub form: Option<staff::RequestForm>,
    pub list_url: &'static str,
}

pub async fn site_panel(
    state: &AppState,
    actor: &Actor,
    area: Area,
    site: &SiteRow,
    csrf: &str,
) -> AppResult<SitePanel> {
    let filter = if area.is_bo() { StatusFilter::All } else { StatusFilter::Open };
    let rows = store::list(&state.db, actor, Some(site.id), filter).await?;
    let items = rows.iter().map(|r| RequestItem::of(r, actor, csrf)).collect();
    let form = if area.is_bo() && can_manage(actor) {
        Some(staff::RequestForm::blank(state, actor, site, csrf).await?)
    } else {
        None
    };
    Ok(SitePanel { items, form, list_url: if area.is_bo() { "/bo/signatures" } else { "/espace/signatures" } })
}

/// Whether stored content is a PDF (the only thing that can be put up for signature).
pub fn is_pdf(content_type: &str) -> bool {
    FileKind::from_content_type(content_type) == Some(FileKind::Pdf)
}
