//! Clients of the firm (companies and households) and their contacts: listing with search,
//! filters, sort and export; creation, edition and archiving; the client's page with its
//! contacts and extranet accesses; the extranet's "Mon entreprise" page.

pub mod company;
pub mod contacts;
pub mod store;
pub mod ui;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::is_unique_violation;
use crate::domain::format::fr_phone;
use crate::domain::text::like_pattern;
use crate::domain::time::{fr_date, fr_datetime};
use crate::domain::{ClientId, ClientKind, Email, Role, parse_phone, parse_postcode, parse_siret};
use crate::features::audit;
use crate::http::{Actor, AppError, AppResult, Ctx, StaffActor, render};
use store::{ClientData, ClientFilter, ClientRow};
use ui::{FieldErrors, FormData, Opt, Pager, parse_id, url_with};

pub const PER_PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bo/clients", get(list))
        .route("/bo/clients/export.csv", get(export_csv))
        .route("/bo/clients/nouveau", get(new_page).post(create))
        .route("/bo/clients/{id}", get(detail))
        .route("/bo/clients/{id}/modifier", get(edit_page).post(update))
        .route("/bo/clients/{id}/archiver", post(archive))
        .route("/bo/clients/{id}/contacts/nouveau", get(contacts::new_page).post(contacts::create))
        .route("/bo/contacts/{id}/modifier", get(contacts::edit_page).post(contacts::update))
        .route("/bo/contacts/{id}/archiver", post(contacts::archive))
        .route("/espace/entreprise", get(company::page))
}

/// Office staff and the admin maintain clients and contacts; technicians only read them.
pub fn can_edit(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Office)
}

pub fn require_editor(actor: &Actor) -> AppResult<()> {
    if can_edit(actor) { Ok(()) } else { Err(AppError::Forbidden) }
}

pub fn kind_label(code: &str) -> String {
    ClientKind::parse(code).map(|k| k.label().to_string()).unwrap_or_else(|| code.to_string())
}

/// `732 829 320 00074`: a SIRET as it is printed on French documents.
pub fn fr_siret(siret: &str) -> String {
    if siret.len() == 14 && siret.bytes().all(|b| b.is_ascii_digit()) {
        format!("{} {} {} {}", &siret[0..3], &siret[3..6], &siret[6..9], &siret[9..])
    } else {
        siret.to_string()
    }
}

/// `44000 Nantes`.
pub fn postcode_city(postcode: &str, city: &str) -> String {
    format!("{postcode} {city}").trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// Listing

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    archives: String,
    #[serde(default)]
    tri: String,
    #[serde(default)]
    sens: String,
    #[serde(default)]
    page: String,
}

impl ListQuery {
    fn sort(&self) -> &'static str {
        match self.tri.as_str() {
            "nom" => "nom",
            "ville" => "ville",
            _ => "code",
        }
    }

    fn desc(&self) -> bool {
        self.sens == "desc"
    }

    fn kind(&self) -> String {
        ClientKind::parse(&self.kind).map(|k| k.code().to_string()).unwrap_or_default()
    }

    fn archived(&self) -> bool {
        self.archives == "1"
    }

    fn filter(&self) -> ClientFilter {
        let q = self.q.trim();
        ClientFilter {
            pattern: if q.is_empty() { String::new() } else { like_pattern(q) },
            kind: self.kind(),
            archived: self.archived(),
            sort: self.sort(),
            desc: self.desc(),
        }
    }

    /// The listing URL with these criteria, changing sort and page.
    fn url(&self, path: &str, sort: &str, desc: bool, page: i64) -> String {
        let kind = self.kind();
        let page = if page > 1 { page.to_string() } else { String::new() };
        url_with(
            path,
            &[
                ("q", self.q.trim()),
                ("type", &kind),
                ("archives", if self.archived() { "1" } else { "" }),
                ("tri", if sort == "code" { "" } else { sort }),
                ("sens", if desc { "desc" } else { "" }),
                ("page", &page),
            ],
        )
    }
}

pub struct SortCol {
    pub label: &'static str,
    pub url: String,
    pub aria: &'static str,
    pub arrow: &'static str,
}

fn sort_cols(q: &ListQuery) -> Vec<SortCol> {
    [("code", "Code"), ("nom", "Nom"), ("ville", "Ville")]
        .into_iter()
        .map(|(key, label)| {
            let current = q.sort() == key;
            let desc_next = current && !q.desc();
            SortCol {
                label,
                url: q.url("/bo/clients", key, desc_next, 1),
                aria: match (current, q.desc()) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                arrow: match (current, q.desc()) {
                    (false, _) => "",
                    (true, false) => "▲",
                    (true, true) => "▼",
                },
            }
        })
        .collect()
}

pub struct ClientItem {
    pub id: ClientId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub place: String,
    pub phone: String,
    pub email: String,
    pub contacts: i64,
}

#[derive(Template)]
#[template(path = "bo/clients/list.html")]
struct ListPage {
    ctx: Ctx,
    q: String,
    kinds: Vec<Opt>,
    archived: bool,
    cols: Vec<SortCol>,
    rows: Vec<ClientItem>,
    pager: Pager,
    export_url: String,
    filtered: bool,
    can_edit: bool,
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let filter = q.filter();
    let page = Pager::requested(&q.page);
    let (mut rows, total) =
        store::list(&state.db, actor.tenant_id, &filter, Some((PER_PAGE, Pager::offset(page, PER_PAGE)))).await?;
    let pager = Pager::new(page, PER_PAGE, total, |n| q.url("/bo/clients", q.sort(), q.desc(), n));
    if pager.page != page {
        // Asked past the last page: show the last one.
        rows = store::list(&state.db, actor.tenant_id, &filter, Some((PER_PAGE, Pager::offset(pager.page, PER_PAGE))))
            .await?
            .0;
    }
    let kind = q.kind();
    let mut kinds = vec![Opt::new("", "Tous les types", &kind)];
    kinds.extend(ClientKind::ALL.into_iter().map(|k| Opt::new(k.code(), k.label(), &kind)));
    let page = ListPage {
        ctx: ctx.with_nav("clients"),
        q: q.q.trim().to_string(),
        kinds,
        archived: q.archived(),
        cols: sort_cols(&q),
        rows: rows
            .into_iter()
            .map(|r| ClientItem {
                id: r.id,
                code: r.code,
                name: r.name,
                kind: kind_label(&r.kind),
                place: postcode_city(&r.postcode, &r.city),
                phone: fr_phone(&r.phone),
                email: r.billing_email,
                contacts: r.contacts,
            })
            .collect(),
        pager,
        export_url: q.url("/bo/clients/export.csv", q.sort(), q.desc(), 1),
        filtered: !q.q.trim().is_empty() || !kind.is_empty(),
        can_edit: can_edit(&actor),
    };
    Ok(render(&page)?.into_response())
}

fn csv_field(s: &str) -> String {
    // Spreadsheets run cells starting with these characters as formulas: neutralise them.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([';', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// The listing as a CSV file for Excel (semicolons, UTF-8 with BOM), with the same criteria.
async fn export_csv(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let (rows, _) = store::list(&state.db, actor.tenant_id, &q.filter(), None).await?;
    let mut out = String::from(
        "\u{feff}Code;Nom;Type;SIRET;Adresse;Code postal;Ville;Téléphone;E-mail de facturation;Contacts actifs;Archivé\r\n",
    );
    for r in rows {
        let line = [
            csv_field(&r.code),
            csv_field(&r.name),
            csv_field(&kind_label(&r.kind)),
            csv_field(&r.siret),
            csv_field(&r.address_line1),
            csv_field(&r.postcode),
            csv_field(&r.city),
            csv_field(&fr_phone(&r.phone)),
            csv_field(&r.billing_email),
            r.contacts.to_string(),
            if r.archived { "oui".into() } else { "non".into() },
        ]
        .join(";");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"clients.csv\""),
        ],
        out,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Creation and edition

/// The form of a client, as typed, with the French messages of its wrong fields.
fn read_form(data: &FormData) -> ClientData {
    ClientData {
        code: data.get("code"),
        name: data.get("name"),
        kind: data.get("kind"),
        siret: data.get("siret"),
        address_line1: data.get("address_line1"),
        address_line2: data.get("address_line2"),
        postcode: data.get("postcode"),
        city: data.get("city"),
        billing_address: data.text("billing_address"),
        billing_email: data.get("billing_email"),
        phone: data.get("phone"),
        notes: data.text("notes"),
    }
}

/// Checks the typed form; returns the values to store (code upper-cased, phone in E.164…).
fn validate(typed: &ClientData, code_required: bool) -> Result<ClientData, FieldErrors> {
    let mut e = FieldErrors::default();
    let code = typed.code.trim().to_uppercase();
    if code.is_empty() {
        if code_required {
            e.add("code", "Le code client est obligatoire.");
        }
    } else if code.chars().count() > 20
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        e.add("code", "Le code client ne peut contenir que des lettres sans accent, des chiffres, « - », « _ » ou « . » (20 caractères au plus).");
    }
    if typed.name.is_empty() {
        e.add("name", "Le nom du client est obligatoire.");
    }
    e.max_len("name", "Le nom", &typed.name, 200);
    let kind = match ClientKind::parse(&typed.kind) {
        Some(k) => k.code().to_string(),
        None => {
            e.add("kind", "Choisissez le type de client.");
            String::new()
        }
    };
    let siret = e.check("siret", parse_siret(&typed.siret));
    let postcode = e.check("postcode", parse_postcode(&typed.postcode));
    let billing_email = if typed.billing_email.is_empty() {
        String::new()
    } else {
        e.check("billing_email", Email::parse(&typed.billing_email).map(|m| m.as_str().to_string()))
    };
    let phone = e.check("phone", parse_phone(&typed.phone));
    e.max_len("address_line1", "L'adresse", &typed.address_line1, 200);
    e.max_len("address_line2", "Le complément d'adresse", &typed.address_line2, 200);
    e.max_len("city", "La ville", &typed.city, 100);
    e.max_len("billing_address", "L'adresse de facturation", &typed.billing_address, 1000);
    e.max_len("notes", "Les notes", &typed.notes, 10_000);
    if !e.is_empty() {
        return Err(e);
    }
    Ok(ClientData {
        code,
        name: typed.name.clone(),
        kind,
        siret,
        address_line1: typed.address_line1.clone(),
        address_line2: typed.address_line2.clone(),
        postcode,
        city: typed.city.clone(),
        billing_address: typed.billing_address.clone(),
        billing_email,
        phone,
        notes: typed.notes.clone(),
    })
}

#[derive(Template)]
#[template(path = "bo/clients/form.html")]
struct FormPage {
    ctx: Ctx,
    title: String,
    action: String,
    cancel: String,
    is_new: bool,
    form: ClientData,
    kinds: Vec<Opt>,
    errors: FieldErrors,
}

fn form_page(ctx: Ctx, existing: Option<&ClientRow>, form: ClientData, errors: FieldErrors) -> FormPage {
    let mut kinds = vec![Opt::new("", "— Choisir —", &form.kind)];
    kinds.extend(ClientKind::ALL.into_iter().map(|k| Opt::new(k.code(), k.label(), &form.kind)));
    let (title, action, cancel) = match existing {
        Some(c) => (
            format!("Modifier le client {} — {}", c.code, c.name),
            format!("/bo/clients/{}/modifier", c.id),
            format!("/bo/clients/{}", c.id),
        ),
        None => ("Nouveau client".to_string(), "/bo/clients/nouveau".to_string(), "/bo/clients".to_string()),
    };
    FormPage { ctx: ctx.with_nav("clients"), title, action, cancel, is_new: existing.is_none(), form, kinds, errors }
}

fn invalid(page: FormPage) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

fn duplicate_code(code: &str) -> FieldErrors {
    let mut e = FieldErrors::default();
    e.add("code", format!("Le code {code} est déjà utilisé par un autre client : choisissez-en un autre ou laissez le champ vide pour obtenir le code suivant."));
    e
}

async fn new_page(ctx: Ctx, StaffActor(actor): StaffActor) -> AppResult<Response> {
    require_editor(&actor)?;
    let form = ClientData {
        code: String::new(),
        name: String::new(),
        kind: String::new(),
        siret: String::new(),
        address_line1: String::new(),
        address_line2: String::new(),
        postcode: String::new(),
        city: String::new(),
        billing_address: String::new(),
        billing_email: String::new(),
        phone: String::new(),
        notes: String::new(),
    };
    Ok(render(&form_page(ctx, None, form, FieldErrors::default()))?.into_response())
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require_editor(&actor)?;
    let typed = read_form(&FormData(raw));
    let mut data = match validate(&typed, false) {
        Ok(d) => d,
        Err(errors) => return invalid(form_page(ctx, None, typed, errors)),
    };
    let chosen = !data.code.is_empty();
    // An automatic code can collide with a concurrent creation: retry with the next one.
    for _ in 0..5 {
        let mut tx = state.db.begin().await?;
        if chosen {
            if store::code_taken(&mut tx, actor.tenant_id, &data.code, None).await? {
                let errors = duplicate_code(&data.code);
                return invalid(form_page(ctx, None, typed, errors));
            }
        } else {
            data.code = store::next_code(&mut tx, actor.tenant_id).await?;
        }
        let id = match store::insert(&mut tx, actor.tenant_id, &data).await {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                if chosen {
                    let errors = duplicate_code(&data.code);
                    return invalid(form_page(ctx, None, typed, errors));
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        audit::record(
            &mut tx,
            &actor,
            "create",
            "client",
            Some(id.0),
            &format!("Client {} {} créé ({})", data.code, data.name, kind_label(&data.kind)),
        )
        .await?;
        tx.commit().await?;
        return Ok(Redirect::to(&format!("/bo/clients/{id}?msg=cree")).into_response());
    }
    Err(AppError::Unavailable)
}

async fn load(state: &AppState, actor: &Actor, raw_id: &str) -> AppResult<ClientRow> {
    let id = parse_id(raw_id)?;
    store::client(&state.db, actor.tenant_id, id).await?.ok_or(AppError::NotFound)
}

async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let client = load(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let mut form = ClientData::from(&client);
    form.phone = fr_phone(&form.phone);
    Ok(render(&form_page(ctx, Some(&client), form, FieldErrors::default()))?.into_response())
}

/// The labels of the fields that differ, for the audit summary.
fn changed_fields(before: &ClientData, after: &ClientData) -> String {
    let pairs: [(&str, bool); 11] = [
        ("code", before.code != after.code),
        ("nom", before.name != after.name),
        ("type", before.kind != after.kind),
        ("SIRET", before.siret != after.siret),
        ("adresse", before.address_line1 != after.address_line1 || before.address_line2 != after.address_line2),
        ("code postal", before.postcode != after.postcode),
        ("ville", before.city != after.city),
        ("adresse de facturation", before.billing_address != after.billing_address),
        ("e-mail de facturation", before.billing_email != after.billing_email),
        ("téléphone", before.phone != after.phone),
        ("notes", before.notes != after.notes),
    ];
    pairs.iter().filter(|(_, changed)| *changed).map(|(l, _)| *l).collect::<Vec<_>>().join(", ")
}

async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let client = load(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let typed = read_form(&FormData(raw));
    let data = match validate(&typed, true) {
        Ok(d) => d,
        Err(errors) => return invalid(form_page(ctx, Some(&client), typed, errors)),
    };
    let before = ClientData::from(&client);
    let changes = changed_fields(&before, &data);
    if changes.is_empty() {
        return Ok(Redirect::to(&format!("/bo/clients/{}?msg=enregistre", client.id)).into_response());
    }
    let mut tx = state.db.begin().await?;
    if store::code_taken(&mut tx, actor.tenant_id, &data.code, Some(client.id)).await? {
        return invalid(form_page(ctx, Some(&client), typed, duplicate_code(&data.code)));
    }
    match store::update(&mut tx, actor.tenant_id, client.id, &data).await {
        Ok(0) => return Err(AppError::NotFound),
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            return invalid(form_page(ctx, Some(&client), typed, duplicate_code(&data.code)));
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(
        &mut tx,
        &actor,
        "update",
        "client",
        Some(client.id.0),
        &format!("Client {} {} modifié ({changes})", data.code, data.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/bo/clients/{}?msg=enregistre", client.id)).into_response())
}

/// `archiver=1` archives, `archiver=0` restores; without the field the state is switched.
async fn archive(
    State(state): State<AppState>,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let client = load(&state, &actor, &id).await?;
    require_editor(&actor)?;
    let data = FormData(raw);
    let archived = match data.get("archiver").as_str() {
        "1" => true,
        "0" => false,
        _ => !client.archived,
    };
    if archived != client.archived {
        let mut tx = state.db.begin().await?;
        if store::set_archived(&mut tx, actor.tenant_id, client.id, archived).await? == 0 {
            return Err(AppError::NotFound);
        }
        let (action, what) = if archived { ("archive", "archivé") } else { ("unarchive", "réactivé") };
        audit::record(
            &mut tx,
            &actor,
            action,
            "client",
            Some(client.id.0),
            &format!("Client {} {} {what}", client.code, client.name),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("/bo/clients/{}?msg=enregistre", client.id)).into_response())
}

// ---------------------------------------------------------------------------------------------
// The client's page

pub struct ClientView {
    pub id: ClientId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub siret: String,
    pub address: Vec<String>,
    pub billing_address: Vec<String>,
    pub billing_email: String,
    pub phone: String,
    pub phone_link: String,
    pub notes: String,
    pub archived: bool,
    pub created: String,
    pub updated: String,
}

impl ClientView {
    pub fn from_row(c: &ClientRow) -> ClientView {
        let address = [c.address_line1.clone(), c.address_line2.clone(), postcode_city(&c.postcode, &c.city)]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect();
        ClientView {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            kind: kind_label(&c.kind),
            siret: fr_siret(&c.siret),
            address,
            billing_address: c
                .billing_address
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            billing_email: c.billing_email.clone(),
            phone: fr_phone(&c.phone),
            phone_link: c.phone.clone(),
            notes: c.notes.clone(),
            archived: c.archived,
            created: fr_date(c.created_at),
            updated: fr_datetime(c.updated_at),
        }
    }
}

pub struct ContactView {
    pub id: i64,
    pub name: String,
    pub job_title: String,
    pub email: String,
    pub email_alt: String,
    pub phone: String,
    pub phone_link: String,
    pub mobile: String,
    pub mobile_link: String,
    pub archived: bool,
    pub has_access: bool,
}

impl ContactView {
    pub fn from_row(c: &store::ContactRow, has_access: bool) -> ContactView {
        ContactView {
            id: c.id.0,
            name: c.full_name(),
            job_title: c.job_title.clone(),
            email: c.email.clone(),
            email_alt: c.email_alt.clone(),
            phone: fr_phone(&c.phone),
            phone_link: c.phone.clone(),
            mobile: fr_phone(&c.mobile),
            mobile_link: c.mobile.clone(),
            archived: c.archived,
            has_access,
        }
    }
}

pub struct AccessView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub last_login: String,
}

pub struct HistoryItem {
    pub when: String,
    pub who: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "bo/clients/detail.html")]
struct DetailPage {
    ctx: Ctx,
    c: ClientView,
    contacts: Vec<ContactView>,
    archived_contacts: Vec<ContactView>,
    accesses: Vec<AccessView>,
    history: Vec<HistoryItem>,
    can_edit: bool,
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    StaffActor(actor): StaffActor,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let client = load(&state, &actor, &id).await?;
    let users = store::users_of(&state.db, actor.tenant_id, client.id).await?;
    let contacts = store::contacts_of(&state.db, actor.tenant_id, client.id, true).await?;
    let (archived, active): (Vec<_>, Vec<_>) = contacts
        .iter()
        .map(|c| ContactView::from_row(c, users.iter().any(|u| u.contact_id == Some(c.id))))
        .partition(|c| c.archived);
    let accesses = users
        .into_iter()
        .map(|u| {
            let (status, status_class) = match (u.active, u.must_change_password) {
                (false, _) => ("Désactivé", "off"),
                (true, true) => ("En attente de première connexion", "warn"),
                (true, false) => ("Actif", "ok"),
            };
            AccessView {
                id: u.id.0,
                name: u.full_name,
                email: u.email,
                role: Role::parse(&u.role).map(|r| r.label().to_string()).unwrap_or(u.role),
                status,
                status_class,
                last_login: u.last_login_at.map(fr_datetime).unwrap_or_else(|| "jamais".into()),
            }
        })
        .collect();
    let history = store::history(&state.db, actor.tenant_id, client.id)
        .await?
        .into_iter()
        .map(|h| HistoryItem { when: fr_datetime(h.created_at), who: h.actor_label, summary: h.summary })
        .collect();
    let page = DetailPage {
        ctx: ctx.with_nav("clients"),
        c: ClientView::from_row(&client),
        contacts: active,
        archived_contacts: archived,
        accesses,
        history,
        can_edit: can_edit(&actor),
    };
    Ok(render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> ClientData {
        ClientData {
            code: " c010 ".into(),
            name: "Maisons du Littoral".into(),
            kind: "builder".into(),
            siret: "732 829 320 00074".into(),
            address_line1: "1 rue Kervégan".into(),
            address_line2: String::new(),
            postcode: "44000".into(),
            city: "Nantes".into(),
            billing_address: String::new(),
            billing_email: "Compta@Littoral.test".into(),
            phone: "02 40 00 00 01".into(),
            notes: String::new(),
        }
    }

    #[test]
    fn valid_forms_are_normalised() {
        let d = validate(&typed(), false).unwrap();
        assert_eq!(d.code, "C010");
        assert_eq!(d.siret, "73282932000074");
        assert_eq!(d.billing_email, "compta@littoral.test");
        assert_eq!(d.phone, "+33240000001");
    }

    #[test]
    fn wrong_fields_get_french_messages() {
        let mut t = typed();
        t.siret = "73282932000075".into();
        t.postcode = "440".into();
        t.kind = "spaceship".into();
        t.code = "C 01".into();
        let e = validate(&t, false).unwrap_err();
        assert!(e.get("siret").unwrap().contains("SIRET"));
        assert!(e.get("postcode").unwrap().contains("5 chiffres"));
        assert!(e.get("kind").is_some());
        assert!(e.get("code").is_some());
        assert_eq!(fr_siret("73282932000074"), "732 829 320 00074");
        assert_eq!(csv_field("=SOMME(A1)"), "'=SOMME(A1)");
        assert_eq!(csv_field("a;b"), "\"a;b\"");
    }
}
