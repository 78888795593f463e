//! Reports and invoices the firm delivers. The office publishes a PDF on a site as a report or
//! an invoice (`POST /bo/chantiers/{id}/publier`; an invoice may carry its Factur-X XML twin);
//! like every document it goes through [`upload::deposit`], which calls [`announce`] in its
//! transaction: the client's users are notified (invoices only those allowed to see them), and
//! an invoice is e-mailed at once to the client's billing contact with the PDF attached. The
//! client finds them under Mes rapports / Mes factures, "nouveau" until one of its users opens
//! them. The integrator API publishes through the same path (`api::documents`).

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use bytes::Bytes;

use super::pages::{SiteFormState, site_page};
use super::store::{self, DocumentFilter, DocumentSort, Published};
use super::types;
use super::upload::{self as deposits, Deposit, Depositor};
use crate::app::AppState;
use crate::db::Tx;
use crate::domain::time::fr_datetime;
use crate::domain::{DocumentId, FileId, Permission, Role, TenantId};
use crate::features::files::multipart::read_form;
use crate::features::files::upload::{self, CheckedUpload};
use crate::features::files::{FileKind, fr_size};
use crate::features::notifications::{self, Audience, Event};
use crate::features::sites::store::SiteRow;
use crate::features::sites::{Area, list as site_list};
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};

pub fn routes() -> Router<AppState> {
    Router::new().route("/bo/chantiers/{id}/publier", post(publish))
}

/// Who may publish: the firm's admin and office (technicians write intervention reports, which
/// the office checks before the client sees them).
pub fn can_publish(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office)
}

/// A report or invoice of the site, as the publishing section lists it.
pub struct PublishedItem {
    pub title: String,
    pub kind: &'static str,
    pub date: String,
    /// "Ouvert par le client le …" or "Pas encore ouvert par le client".
    pub seen: String,
    pub is_new: bool,
    pub url: String,
    pub has_twin: bool,
}

/// The publishing section of a site's documents page (back office, admin and office).
pub struct SitePanel {
    pub shown: bool,
    pub action: String,
    pub limit: String,
    /// What the form held when it comes back with errors.
    pub publish_as: String,
    pub title: String,
    pub errors: Vec<String>,
    pub items: Vec<PublishedItem>,
}

impl SitePanel {
    fn hidden() -> SitePanel {
        SitePanel {
            shown: false,
            action: String::new(),
            limit: String::new(),
            publish_as: String::new(),
            title: String::new(),
            errors: Vec::new(),
            items: Vec::new(),
        }
    }
}

pub async fn site_panel(
    state: &AppState,
    actor: &Actor,
    area: Area,
    site: &SiteRow,
    csrf: &str,
) -> AppResult<SitePanel> {
    if !area.is_bo() || !can_publish(actor) {
        return Ok(SitePanel::hidden());
    }
    let filter = DocumentFilter { site: Some(site.id), sort: DocumentSort::Newest, ..DocumentFilter::default() };
    let (rows, _) = store::search(&state.db, actor, &filter, 500, 0).await?;
    let items = rows
        .iter()
        .filter(|r| !r.published_as.is_empty())
        .map(|r| PublishedItem {
            title: r.title.clone(),
            kind: if r.published_as == Published::Invoice.code() { "Facture" } else { "Rapport" },
            date: fr_datetime(r.published_at.unwrap_or(r.created_at)),
            seen: match r.first_seen_at {
                Some(at) => format!("Ouvert par le client le {}", fr_datetime(at)),
                None => "Pas encore ouvert par le client".to_string(),
            },
            is_new: r.first_seen_at.is_none(),
            url: format!("/bo/documents/{}", r.id),
            has_twin: r.twin_file_id.is_some(),
        })
        .collect();
    Ok(SitePanel {
        shown: true,
        action: format!("/bo/chantiers/{}/publier?_csrf={csrf}", site.id),
        limit: fr_size(state.config.max_upload_bytes as i64),
        publish_as: String::new(),
        title: String::new(),
        errors: Vec::new(),
        items,
    })
}

/// What was published, for [`announce`].
pub struct Announcement<'a> {
    pub tenant: TenantId,
    pub site: &'a SiteRow,
    pub document_id: DocumentId,
    pub file_id: FileId,
    pub title: &'a str,
    pub published: Published,
}

/// Called in the transaction that publishes a report or an invoice: the client's users are
/// notified (their notifications and digests), invoices only those who may see invoices; an
/// invoice also goes at once to the client's billing e-mail, its PDF attached.
pub async fn announce(tx: &mut Tx, state: &AppState, a: Announcement<'_>) -> Result<(), sqlx::Error> {
    let site = a.site;
    let id = a.document_id;
    let (kind, permission, title) = match a.published {
        Published::No => return Ok(()),
        Published::Report => ("new_report", None, format!("Nouveau rapport sur « {} » : {}", site.name, a.title)),
        Published::Invoice => (
            "new_invoice",
            Some(Permission::SeeInvoices),
            format!("Nouvelle facture sur « {} » : {}", site.name, a.title),
        ),
    };
    let event = Event {
        tenant_id: a.tenant,
        client_id: Some(site.client_id),
        kind,
        event_key: format!("document:{id}"),
        title,
        link: format!("/espace/documents/{id}"),
        site_label: site.name.clone(),
    };
    notifications::notify(tx, &event, Audience::ClientUsers { client: site.client_id, permission }).await?;
    if a.published == Published::Invoice {
        let link = format!("{}/espace/documents/{id}", state.config.base_url.trim_end_matches('/'));
        notifications::mail_invoice_to_billing_contact(
            tx,
            a.tenant,
            site.client_id,
            invoice_number(a.title),
            &link,
            Some(a.file_id),
        )
        .await?;
    }
    Ok(())
}

/// The invoice's number as the mail's subject shows it ("Nouvelle facture F2026-0042"): the
/// title without a leading "Facture" / "Facture n°".
fn invoice_number(title: &str) -> &str {
    let t = title.trim();
    let rest = match t.get(..7) {
        Some(head) if head.eq_ignore_ascii_case("facture") && !t[7..].starts_with(char::is_alphanumeric) => &t[7..],
        _ => return t,
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("n°").or_else(|| rest.strip_prefix("N°")).unwrap_or(rest);
    let rest = rest.trim_start_matches([' ', ':', '-', '\u{a0}']);
    if rest.is_empty() { t } else { rest }
}

// ---------------------------------------------------------------------------------------------
// The publishing form

/// Longest title kept, in characters.
const MAX_TITLE_CHARS: usize = 200;

/// What the form sent.
struct PublishForm {
    publish_as: String,
    title: String,
    file: Option<(String, Bytes)>,
    xml: Option<(String, Bytes)>,
}

async fn publish(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    if !can_publish(&actor) {
        return Err(AppError::Forbidden);
    }
    let site = site_list::load(&state, &actor, &id).await?;
    let max = state.config.max_upload_bytes;
    let read = read_form(
        multipart,
        max,
        "Le formulaire de publication n'a pas été reçu correctement : choisissez le fichier puis renvoyez-le.",
    )
    .await;
    let mut form = PublishForm {
        publish_as: read.text("publish_as").to_string(),
        title: read.text("title").to_string(),
        file: None,
        xml: None,
    };
    for part in read.files {
        match part.field.as_str() {
            "xml" => form.xml = Some((part.name, part.bytes)),
            _ => form.file = Some((part.name, part.bytes)),
        }
    }
    let (mut errors, mut status) = (read.errors, read.status);
    let published = match Published::parse(&form.publish_as) {
        Some(p @ (Published::Report | Published::Invoice)) => Some(p),
        _ => {
            errors.push("Choisissez ce que vous publiez : un rapport ou une facture.".into());
            None
        }
    };
    if form.title.is_empty() {
        errors.push("Indiquez le titre du document publié (par exemple « Facture F2026-0042 »).".into());
    } else if form.title.chars().count() > MAX_TITLE_CHARS {
        errors.push(format!("Le titre ne doit pas dépasser {MAX_TITLE_CHARS} caractères."));
    }
    let mut pdf: Option<CheckedUpload> = None;
    match form.file.take() {
        None if status != StatusCode::PAYLOAD_TOO_LARGE => {
            errors.push("Choisissez le fichier PDF du rapport ou de la facture.".into())
        }
        None => {}
        Some((name, bytes)) => match upload::check(&name, bytes, max) {
            Ok(c) if c.kind == FileKind::Pdf => pdf = Some(c),
            Ok(c) => errors.push(format!(
                "Le fichier « {} » n'est pas un PDF : un rapport ou une facture se publie en PDF.",
                c.name
            )),
            Err(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    status = StatusCode::PAYLOAD_TOO_LARGE;
                }
                errors.push(e.to_string());
            }
        },
    }
    let mut twin: Option<CheckedUpload> = None;
    if let Some((name, bytes)) = form.xml.take() {
        if published == Some(Published::Report) {
            errors.push(
                "Le fichier XML Factur-X ne s'ajoute qu'à une facture : retirez-le pour publier un rapport.".into(),
            );
        } else {
            match upload::check(&name, bytes, max) {
                Ok(c) if c.kind == FileKind::Xml => twin = Some(c),
                Ok(c) => errors.push(format!(
                    "Le fichier « {} » n'est pas un fichier XML : joignez le XML Factur-X (CII) de la facture, ou rien.",
                    c.name
                )),
                Err(e) => {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        status = StatusCode::PAYLOAD_TOO_LARGE;
                    }
                    errors.push(e.to_string());
                }
            }
        }
    }
    if errors.is_empty()
        && let (Some(published), Some(pdf)) = (published, pdf)
    {
        let document_type = if published == Published::Invoice { types::INVOICE } else { types::REPORT };
        let d = Deposit { document_type, title: Some(&form.title), published, requirement_id: None, twin };
        match deposits::deposit(&state, &Depositor::user(&actor), &site, d, pdf).await {
            Ok(_) => {
                return Ok(Redirect::to(&format!("/bo/chantiers/{}/documents?msg=publie", site.id)).into_response());
            }
            Err(e) if e.is_refusal() => {
                status = e.status();
                errors.push(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let empty = SiteFormState { chosen_type: String::new(), added: Vec::new(), errors: Vec::new() };
    let mut page = site_page(&state, ctx, &actor, Area::Bo, site, None, empty).await?;
    page.publish.errors = errors;
    page.publish.publish_as = form.publish_as;
    page.publish.title = form.title;
    Ok((status, render(&page)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::invoice_number;

    #[test]
    fn the_invoice_number_is_the_title_without_the_word_facture() {
        assert_eq!(invoice_number("Facture F2026-0042"), "F2026-0042");
        assert_eq!(invoice_number("facture n° F2026-0043"), "F2026-0043");
        assert_eq!(invoice_number("FACTURE : 12"), "12");
        assert_eq!(invoice_number("F2026-0044"), "F2026-0044");
        assert_eq!(invoice_number("Facture"), "Facture");
        assert_eq!(invoice_number("Factures de mars"), "Factures de mars");
    }
}
