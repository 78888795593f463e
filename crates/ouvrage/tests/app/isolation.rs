//! The isolation matrix: every route × every kind of actor × objects of another client of the
//! same firm and of another firm. A forged id answers 404 (or 403 where the whole area is
//! closed to the role), the body shows nothing of the other party, and nothing of theirs
//! changes. The table below must list every route the application registers: a test scans the
//! feature sources and fails when a route is missing from it.

use std::collections::BTreeSet;

use ouvrage::db::Db;
use ouvrage::features::files::FileStore;
use ouvrage::on_db;

use crate::support::*;

/// Who may use a route on their own objects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in user.
    Anyone,
    /// The firm's staff (admin, office, technician).
    Staff,
    /// Admin and office.
    Office,
    /// The firm's admin.
    Admin,
    /// Extranet users (client admin and client user).
    Client,
    /// A client's administrator.
    ClientAdmin,
}

struct Case {
    method: &'static str,
    /// Placeholders: {client} {contact} {user} {file} {request} (a contact request) {credreq} (a
    /// credential request), replaced by the ids of the object set under test.
    path: &'static str,
    /// Form fields sent with POSTs (placeholders allowed), on top of the CSRF token.
    form: &'static [(&'static str, &'static str)],
    access: Access,
    /// The ids are list filters in the query string: a foreign id may answer the (empty) list,
    /// the same as an unknown id, as long as nothing of the other party shows.
    filter: bool,
    /// A multipart form (uploads): sent as a browser sends it, the CSRF token in the query
    /// string and a thermal study as the file, so that a refusal comes from scoping.
    multipart: bool,
}

const fn get(path: &'static str, access: Access) -> Case {
    Case { method: "GET", path, form: &[], access, filter: false, multipart: false }
}

const fn filter(path: &'static str, access: Access) -> Case {
    Case { method: "GET", path, form: &[], access, filter: true, multipart: false }
}

const fn post(path: &'static str, form: &'static [(&'static str, &'static str)], access: Access) -> Case {
    Case { method: "POST", path, form, access, filter: false, multipart: false }
}

const fn upload(path: &'static str, form: &'static [(&'static str, &'static str)], access: Access) -> Case {
    Case { method: "POST", path, form, access, filter: false, multipart: true }
}

/// Fields that would satisfy most forms, so that a refusal comes from scoping, not validation.
const FORM: &[(&str, &str)] = &[
    ("name", "Pirate SARL"),
    ("code", "PIR01"),
    ("kind", "builder"),
    ("last_name", "Pirate"),
    ("first_name", "Jean"),
    ("full_name", "Jean Pirate"),
    ("email", "pirate@exemple.fr"),
    ("role", "client_user"),
    ("legal_name", "Pirate SARL"),
    ("active", "on"),
    ("postcode", "44000"),
    ("city", "Nantes"),
    ("phase", "works"),
    ("status", "to_schedule"),
];

/// The same fields plus ids of the object set under test in form fields: routes that read ids
/// from their form must refuse foreign ones.
const FORM_IDS: &[(&str, &str)] = &[
    ("name", "Pirate SARL"),
    ("last_name", "Pirate"),
    ("full_name", "Jean Pirate"),
    ("email", "pirate@exemple.fr"),
    ("role", "client_user"),
    ("kind", "construction"),
    ("postcode", "44000"),
    ("city", "Nantes"),
    ("phase", "works"),
    ("status", "to_schedule"),
    ("client_id", "{client}"),
    ("contact_id", "{contact}"),
    ("site_manager_id", "{contact}"),
    ("parent_id", "{site}"),
];

const CASES: &[Case] = &[
    get("/", Access::Public),
    get("/login", Access::Public),
    get("/mot-de-passe-oublie", Access::Public),
    get("/healthz", Access::Public),
    get("/static/app.css", Access::Public),
    get("/mot-de-passe/changer", Access::Anyone),
    get("/bo", Access::Staff),
    get("/bo/chantiers", Access::Staff),
    get("/bo/planning", Access::Staff),
    get("/bo/documents", Access::Staff),
    get("/bo/facturation", Access::Staff),
    get("/bo/messagerie", Access::Staff),
    get("/espace", Access::Client),
    get("/espace/chantiers", Access::Client),
    get("/espace/actions", Access::Client),
    get("/espace/messagerie", Access::Client),
    // Messaging: conversations per site or general, ids in paths, query strings and form fields.
    filter("/espace/messagerie?chantier={site}", Access::Client),
    get("/espace/messagerie?non-lus=1", Access::Client),
    filter("/espace/messagerie/nouveau?chantier={site}", Access::Client),
    upload(
        "/espace/messagerie/nouveau",
        &[("sujet", "Piratage"), ("message", "Bonjour"), ("chantier", "{site}")],
        Access::Client,
    ),
    get("/espace/messagerie/{thread}", Access::Client),
    upload("/espace/messagerie/{thread}/repondre", &[("message", "Réponse pirate")], Access::Client),
    filter("/bo/messagerie?client={client}&chantier={site}", Access::Staff),
    get("/bo/messagerie/{thread}", Access::Staff),
    upload("/bo/messagerie/{thread}/repondre", &[("message", "Réponse pirate")], Access::Staff),
    post("/bo/messagerie/{thread}/affecter", &[("agent", "{user}")], Access::Office),
    post("/bo/messagerie/{thread}/statut", &[("statut", "closed")], Access::Office),
    // Clients and contacts.
    get("/bo/clients", Access::Staff),
    get("/bo/clients?q=secret", Access::Staff),
    get("/bo/clients/export.csv", Access::Staff),
    get("/bo/clients/nouveau", Access::Office),
    post("/bo/clients/nouveau", FORM, Access::Office),
    get("/bo/clients/{client}", Access::Staff),
    get("/bo/clients/{client}/modifier", Access::Office),
    post("/bo/clients/{client}/modifier", FORM, Access::Office),
    post("/bo/clients/{client}/archiver", &[("archiver", "1")], Access::Office),
    get("/bo/clients/{client}/contacts/nouveau", Access::Office),
    post("/bo/clients/{client}/contacts/nouveau", FORM, Access::Office),
    get("/bo/contacts/{contact}/modifier", Access::Office),
    post("/bo/contacts/{contact}/modifier", FORM, Access::Office),
    post("/bo/contacts/{contact}/archiver", &[("archiver", "1")], Access::Office),
    get("/espace/entreprise", Access::Client),
    // Users: ids also travel in query strings and form fields.
    get("/bo/utilisateurs", Access::Office),
    filter("/bo/utilisateurs?client={client}", Access::Office),
    get("/bo/utilisateurs/nouveau?client={client}&contact={contact}", Access::Office),
    post("/bo/utilisateurs/nouveau", FORM_IDS, Access::Office),
    get("/bo/utilisateurs/{user}/modifier", Access::Office),
    post("/bo/utilisateurs/{user}/modifier", FORM_IDS, Access::Office),
    post("/bo/utilisateurs/{user}/mot-de-passe-temporaire", &[], Access::Office),
    // Firm settings and audit log.
    get("/bo/parametres", Access::Admin),
    post("/bo/parametres", FORM, Access::Admin),
    get("/bo/parametres/journal", Access::Admin),
    filter("/bo/parametres/journal?utilisateur={user}", Access::Admin),
    post("/bo/parametres/logo", &[], Access::Admin),
    get("/logo", Access::Anyone),
    // Personal data and the client admin's company.
    get("/espace/profil", Access::Client),
    post("/espace/profil", FORM, Access::Client),
    get("/bo/profil", Access::Staff),
    post("/bo/profil", FORM, Access::Staff),
    get("/espace/entreprise/modifier", Access::ClientAdmin),
    post("/espace/entreprise/modifier", FORM, Access::ClientAdmin),
    get("/espace/entreprise/contacts/{contact}/acces", Access::ClientAdmin),
    post("/espace/entreprise/contacts/{contact}/acces", FORM, Access::ClientAdmin),
    get("/espace/entreprise/acces/{user}", Access::ClientAdmin),
    post("/espace/entreprise/acces/{user}", FORM, Access::ClientAdmin),
    post("/espace/entreprise/acces/{user}/renvoyer", &[], Access::ClientAdmin),
    post("/espace/entreprise/acces/{user}/revoquer", &[], Access::ClientAdmin),
    // Contact requests and credential requests.
    get("/demande-identifiants", Access::Public),
    get("/espace/entreprise/demandes", Access::ClientAdmin),
    get("/espace/entreprise/demandes/nouveau-contact", Access::ClientAdmin),
    post("/espace/entreprise/demandes/nouveau-contact", FORM, Access::ClientAdmin),
    get("/espace/entreprise/demandes/{request}", Access::ClientAdmin),
    get("/espace/entreprise/contacts/{contact}/demande-modification", Access::ClientAdmin),
    post("/espace/entreprise/contacts/{contact}/demande-modification", FORM, Access::ClientAdmin),
    get("/espace/entreprise/contacts/{contact}/demande-suppression", Access::ClientAdmin),
    post("/espace/entreprise/contacts/{contact}/demande-suppression", &[("reason", "départ")], Access::ClientAdmin),
    get("/bo/demandes", Access::Office),
    get("/bo/demandes?statut=toutes", Access::Office),
    get("/bo/demandes/contacts/{request}", Access::Office),
    post("/bo/demandes/contacts/{request}/valider", FORM, Access::Office),
    post("/bo/demandes/contacts/{request}/refuser", &[("reason", "non")], Access::Office),
    get("/bo/demandes/identifiants/{credreq}", Access::Office),
    post("/bo/demandes/identifiants/{credreq}/rattacher", &[("client_id", "{client}")], Access::Office),
    post("/bo/demandes/identifiants/{credreq}/creer-client", FORM, Access::Office),
    post("/bo/demandes/identifiants/{credreq}/creer-acces", FORM, Access::Office),
    post("/bo/demandes/identifiants/{credreq}/refuser", &[("reason", "non")], Access::Office),
    // Sites (chantiers, résidences, logements).
    filter("/bo/chantiers?client={client}", Access::Staff),
    filter("/bo/chantiers?conducteur={contact}&residence={site}", Access::Staff),
    get("/bo/chantiers?cp=44", Access::Staff),
    get("/bo/chantiers/nouveau", Access::Office),
    get("/bo/chantiers/nouveau?client={client}", Access::Office),
    post("/bo/chantiers/nouveau", FORM_IDS, Access::Office),
    get("/bo/chantiers/{site}", Access::Staff),
    get("/bo/chantiers/{site}/modifier", Access::Office),
    post("/bo/chantiers/{site}/modifier", FORM_IDS, Access::Office),
    post("/bo/chantiers/{site}/archiver", &[("archiver", "1")], Access::Office),
    filter("/espace/chantiers?conducteur={contact}&residence={site}", Access::Client),
    get("/espace/chantiers?cp=44", Access::Client),
    get("/espace/chantiers/nouveau", Access::Client),
    post("/espace/chantiers/nouveau", FORM_IDS, Access::Client),
    get("/espace/chantiers/{site}", Access::Client),
    get("/espace/chantiers/{site}/modifier", Access::Client),
    post("/espace/chantiers/{site}/modifier", FORM_IDS, Access::Client),
    // Thermal studies: dropped on the new-chantier page, or a new version on a site (multipart).
    upload("/bo/chantiers/nouveau/etude?client={client}", &[], Access::Office),
    upload("/espace/chantiers/nouveau/etude", &[], Access::Client),
    upload("/bo/chantiers/{site}/etude", &[], Access::Office),
    upload("/espace/chantiers/{site}/etude", &[], Access::Client),
    // Excel export of ticked rows or of every result (a foreign id is simply not exported).
    filter("/bo/chantiers/export.xlsx?ids={site}", Access::Staff),
    get("/bo/chantiers/export.xlsx?tout=1&cp=44", Access::Staff),
    filter("/espace/chantiers/export.xlsx?ids={site}", Access::Client),
    filter("/espace/chantiers/export.xlsx?tout=1&client={client}", Access::Client),
    get("/espace/chantiers/export.xlsx?tout=1", Access::Client),
    // Integrators' API tokens (the API itself has its own matrix below: its actors are tokens).
    get("/bo/clients/{client}/integrations", Access::Admin),
    post("/bo/clients/{client}/integrations", &[("name", "Logiciel pirate")], Access::Admin),
    post("/bo/clients/{client}/integrations/{token}/revoquer", &[], Access::Admin),
    // Notifications.
    get("/espace/notifications", Access::Client),
    get("/espace/notifications?non-lues=1", Access::Client),
    get("/bo/notifications", Access::Staff),
    post("/notifications/{notification}/lu", &[], Access::Anyone),
    post("/notifications/tout-lu", &[], Access::Anyone),
    // Files.
    get("/bo/clients/{client}/fichiers", Access::Staff),
    post("/bo/clients/{client}/fichiers", &[], Access::Staff),
    get("/fichiers/{file}", Access::Anyone),
    // Documents: a site's documents and their upload, lists across sites, a document's page,
    // its download and preview, the selection as a .zip.
    get("/bo/chantiers/{site}/documents", Access::Staff),
    upload("/bo/chantiers/{site}/documents", &[("type", "plan")], Access::Staff),
    get("/espace/chantiers/{site}/documents", Access::Client),
    upload("/espace/chantiers/{site}/documents", &[("type", "plan")], Access::Client),
    get("/bo/documents", Access::Staff),
    filter("/bo/documents?client={client}", Access::Staff),
    filter("/bo/documents?chantier={site}&q=secret", Access::Staff),
    get("/espace/documents", Access::Client),
    filter("/espace/documents?chantier={site}", Access::Client),
    get("/espace/documents/rapports?nouveaux=1", Access::Client),
    get("/bo/documents/{document}", Access::Staff),
    get("/espace/documents/{document}", Access::Client),
    get("/bo/documents/{document}/fichier", Access::Staff),
    get("/espace/documents/{document}/fichier?apercu=1", Access::Client),
    get("/bo/documents/archive.zip?ids={document}", Access::Staff),
    // Reports and invoices published by the firm.
    upload("/bo/chantiers/{site}/publier", &[("publish_as", "report"), ("title", "Rapport pirate")], Access::Office),
    get("/espace/documents/factures", Access::ClientAdmin),
    // Expected documents and data: the firm's services and their templates, a site's
    // requirements (validate, refuse, data), the queue of what to validate.
    get("/bo/parametres/prestations", Access::Staff),
    post("/bo/parametres/prestations", &[("libelle", "Prestation pirate")], Access::Office),
    post(
        "/bo/parametres/prestations/{service}/attendus",
        &[("libelle", "Attendu pirate"), ("nature", "document"), ("type", "plan"), ("moment", "before")],
        Access::Office,
    ),
    post("/bo/parametres/prestations/{service}/archiver", &[], Access::Office),
    post("/bo/parametres/prestations/{service}/attendus/{template}/archiver", &[], Access::Office),
    get("/bo/documents/a-valider", Access::Staff),
    post("/bo/chantiers/{site}/prestations", &[("prestation", "{service}")], Access::Office),
    post("/bo/chantiers/{site}/attendus/{req}/valider", &[], Access::Office),
    post("/bo/chantiers/{site}/attendus/{req}/refuser", &[("motif", "pirate")], Access::Office),
    post("/bo/chantiers/{site}/attendus/{req}/donnee", &[("valeur", "42")], Access::Office),
    post("/espace/chantiers/{site}/attendus/{req}/donnee", &[("valeur", "42")], Access::Client),
    // Intervention requests, their answers, the planning.
    get("/espace/actions/intervention", Access::Client),
    filter("/espace/actions/intervention?chantier={site}", Access::Client),
    post(
        "/espace/actions/intervention",
        &[("chantier", "{site}"), ("prestation", "1"), ("date1", "2031-01-15"), ("commentaire", "pirate")],
        Access::Client,
    ),
    get("/bo/demandes-intervention", Access::Staff),
    filter("/bo/demandes-intervention?client={client}", Access::Staff),
    get("/bo/demandes-intervention/{ireq}", Access::Staff),
    post(
        "/bo/demandes-intervention/{ireq}/planifier",
        &[("jour", "2031-01-15"), ("debut", "08:00"), ("fin", "10:00")],
        Access::Office,
    ),
    post(
        "/bo/demandes-intervention/{ireq}/proposer",
        &[("jour", "2031-01-16"), ("debut", "08:00"), ("fin", "10:00")],
        Access::Office,
    ),
    post("/bo/demandes-intervention/{ireq}/refuser", &[("motif", "non")], Access::Office),
    get("/bo/planning?du=2031-01-14&au=2031-01-27", Access::Staff),
    post("/bo/interventions/{intervention}/statut", &[("statut", "cancelled")], Access::Office),
    // Help pages (Tutoriels) of the extranet.
    get("/espace/aide", Access::Client),
    get("/espace/aide/documents", Access::Client),
    // Justificatifs à signer: the firm's certificate, requests, the client's signature pages.
    get("/bo/parametres/signature", Access::Admin),
    upload("/bo/parametres/signature", &[("password", "secret")], Access::Admin),
    get("/bo/chantiers/{site}/signatures", Access::Office),
    upload("/bo/chantiers/{site}/signatures", &[("title", "Signature pirate"), ("signer", "")], Access::Office),
    get("/bo/signatures", Access::Staff),
    get("/bo/signatures?statut=pending", Access::Staff),
    get("/bo/signatures/{signature}", Access::Staff),
    post("/bo/signatures/{signature}/annuler", &[], Access::Office),
    get("/espace/signatures", Access::Client),
    get("/espace/signatures/{signature}", Access::ClientAdmin),
    get("/espace/signatures/{signature}/original", Access::Client),
    upload("/espace/signatures/{signature}/papier", &[], Access::Client),
    post(
        "/espace/signatures/{signature}/signer",
        &[("signature", "data:image/png;base64,AAAA"), ("confirm", "1")],
        Access::Client,
    ),
    get("/espace/documents/archive.zip?ids={document}", Access::Client),
    get("/fichiers/{file}?apercu=1", Access::Anyone),
];

/// Routes deliberately outside the matrix, with the reason.
const NOT_IN_MATRIX: &[(&str, &str)] = &[
    ("/login", "POST: the login form itself, covered by the auth tests"),
    ("/demande-identifiants", "POST: public, no id; covered by the requests tests (rate limit, honeypot, timing)"),
    ("/logout", "POST: ends the caller's own session only"),
    ("/mot-de-passe-oublie", "POST: answers the same whoever asks (auth tests)"),
    ("/reinitialiser/{token}", "a secret token, not an id: covered by the password tests"),
    ("/metrics", "loopback or bearer token only (schema tests)"),
    ("/desabonnement/{token}", "an HMAC-signed token, not a guessable id: forged tokens answer 404 (digests tests)"),
    ("/static/{name}", "public assets"),
    ("/espace/aide/{topic}", "static help texts, no object behind a topic: `/espace/aide/documents` is in the matrix"),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Admin,
    Office,
    Technician,
    ClientAdmin,
    ClientUser,
    OtherClientUser,
    OtherTenantAdmin,
    OtherTenantClient,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Admin,
    Who::Office,
    Who::Technician,
    Who::ClientAdmin,
    Who::ClientUser,
    Who::OtherClientUser,
    Who::OtherTenantAdmin,
    Who::OtherTenantClient,
];

impl Who {
    fn email(self) -> Option<&'static str> {
        Some(match self {
            Who::Anonymous => return None,
            Who::Admin => "admin@demo.test",
            Who::Office => "bureau@demo.test",
            Who::Technician => "technicien@demo.test",
            Who::ClientAdmin => "client.admin@demo.test",
            Who::ClientUser => "client@demo.test",
            Who::OtherClientUser => "autre.client@demo.test",
            Who::OtherTenantAdmin => "admin@beta.test",
            Who::OtherTenantClient => "client@beta.test",
        })
    }

    fn may(self, access: Access) -> bool {
        use Who::*;
        match access {
            Access::Public => true,
            Access::Anyone => self != Anonymous,
            Access::Staff => matches!(self, Admin | Office | Technician | OtherTenantAdmin),
            Access::Office => matches!(self, Admin | Office | OtherTenantAdmin),
            Access::Admin => matches!(self, Admin | OtherTenantAdmin),
            Access::Client => matches!(self, ClientAdmin | ClientUser | OtherClientUser | OtherTenantClient),
            Access::ClientAdmin => matches!(self, ClientAdmin),
        }
    }
}

/// One client with a contact, an extranet user and a file: what an id can point at.
#[derive(Clone, Debug)]
struct ObjectSet {
    label: &'static str,
    client: i64,
    contact: i64,
    user: i64,
    file: i64,
    request: i64,
    credreq: i64,
    notification: i64,
    site: i64,
    /// An integrator's API token of the client (its id, for the back-office token pages).
    token: i64,
    /// A conversation of the client about its site.
    thread: i64,
    /// A report published on the client's site (its file is `file`).
    document: i64,
    /// A justificatif of the client's site waiting for its signature (the document above).
    signature: i64,
    /// An intervention request on the client's site (its thread is `thread`), and an
    /// intervention planned there.
    ireq: i64,
    intervention: i64,
    /// A requirement of the client's site (received, waiting for the firm), and a service of
    /// the client's firm with one of its templates.
    req: i64,
    service: i64,
    template: i64,
    /// Strings only this set's pages show: none may appear on a page served to an outsider.
    markers: Vec<String>,
}

struct World {
    /// Demo firm, client C001.
    c001: ObjectSet,
    /// Demo firm, client C002.
    c002: ObjectSet,
    /// Another firm's client.
    beta: ObjectSet,
    beta_tenant: i64,
}

impl World {
    /// The object sets `who` must not reach.
    fn foreign_to(&self, who: Who) -> Vec<&ObjectSet> {
        use Who::*;
        match who {
            Anonymous => vec![&self.c001, &self.c002, &self.beta],
            Admin | Office | Technician => vec![&self.beta],
            ClientAdmin | ClientUser => vec![&self.c002, &self.beta],
            OtherClientUser => vec![&self.c001, &self.beta],
            OtherTenantAdmin | OtherTenantClient => vec![&self.c001, &self.c002],
        }
    }

    /// The object set `who` may reach with ids (the positive control).
    fn own(&self, who: Who) -> Option<&ObjectSet> {
        use Who::*;
        match who {
            Anonymous => None,
            Admin | Office | Technician | ClientAdmin | ClientUser => Some(&self.c001),
            OtherClientUser => Some(&self.c002),
            OtherTenantAdmin | OtherTenantClient => Some(&self.beta),
        }
    }
}

fn fill(template: &str, set: &ObjectSet) -> String {
    template
        .replace("{client}", &set.client.to_string())
        .replace("{contact}", &set.contact.to_string())
        .replace("{user}", &set.user.to_string())
        .replace("{file}", &set.file.to_string())
        .replace("{request}", &set.request.to_string())
        .replace("{credreq}", &set.credreq.to_string())
        .replace("{notification}", &set.notification.to_string())
        .replace("{site}", &set.site.to_string())
        .replace("{token}", &set.token.to_string())
        .replace("{thread}", &set.thread.to_string())
        .replace("{document}", &set.document.to_string())
        .replace("{signature}", &set.signature.to_string())
        .replace("{ireq}", &set.ireq.to_string())
        .replace("{intervention}", &set.intervention.to_string())
        .replace("{req}", &set.req.to_string())
        .replace("{service}", &set.service.to_string())
        .replace("{template}", &set.template.to_string())
}

fn has_ids(path: &str) -> bool {
    [
        "{client}",
        "{contact}",
        "{user}",
        "{file}",
        "{request}",
        "{credreq}",
        "{notification}",
        "{site}",
        "{token}",
        "{thread}",
        "{document}",
        "{signature}",
        "{ireq}",
        "{intervention}",
        "{req}",
        "{service}",
        "{template}",
    ]
    .iter()
    .any(|p| path.contains(p))
}

/// Whether the case carries ids anywhere: in its path or in its form fields.
fn case_has_ids(case: &Case) -> bool {
    has_ids(case.path) || case.form.iter().any(|(_, v)| has_ids(v))
}

async fn scalar(db: &Db, sql: &'static str, bind: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sql).bind(bind).fetch_one(p).await).unwrap()
}

async fn demo_set(app: &TestApp, store: &FileStore, code: &'static str, user_email: &str) -> ObjectSet {
    let client = scalar(&app.db, "SELECT id FROM clients WHERE code = $1", code).await;
    let (name,): (String,) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT name FROM clients WHERE id = $1").bind(client).fetch_one(p).await)
            .unwrap();
    let contact = on_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM contacts WHERE client_id = $1 ORDER BY id DESC LIMIT 1"
    )
    .bind(client)
    .fetch_one(p)
    .await)
    .unwrap();
    let user = scalar(&app.db, "SELECT id FROM users WHERE email = $1", user_email).await;
    let tenant = scalar(&app.db, "SELECT id FROM tenants WHERE slug = $1", "demo").await;
    let file_name = format!("rapport-{code}-confidentiel.pdf");
    let file = insert_file(&app.db, store, tenant, client, &file_name).await;
    let request_name = format!("Demande-Secrète-{code}");
    let request = insert_contact_request(&app.db, tenant, client, user, &request_name).await;
    let credreq = credential_request(&app.db, tenant, "Société Demandeuse Démo").await;
    let notification_title = format!("Notification-Secrète-{code}");
    let notification = insert_notification(&app.db, tenant, client, user, &notification_title).await;
    let site_name = format!("Chantier-Secret-{code}");
    let site = insert_site(&app.db, tenant, client, &site_name).await;
    let token = api_token(&app.db, tenant, client, &format!("ouv_matrix_{code}_0123456789abcdef"), false).await;
    let thread_subject = format!("Conversation-Secrète-{code}");
    let thread = insert_thread(&app.db, tenant, client, site, user, &thread_subject).await;
    let document_title = format!("Document-Secret-{code}");
    let document = insert_document(&app.db, tenant, client, site, file, &document_title).await;
    let signature_title = format!("Signature-Secrète-{code}");
    let signature = insert_signature(&app.db, tenant, client, site, document, &signature_title).await;
    let ireq_comment = format!("Demande-Secrète-Intervention-{code}");
    let (ireq, intervention) = insert_intervention(&app.db, tenant, client, site, thread, &ireq_comment).await;
    let req_label = format!("Attendu-Secret-{code}");
    let (req, service, template) = insert_requirement(&app.db, tenant, client, site, &req_label).await;
    ObjectSet {
        label: code,
        client,
        contact,
        user,
        file,
        request,
        credreq,
        notification,
        site,
        token,
        thread,
        document,
        signature,
        ireq,
        intervention,
        req,
        service,
        template,
        markers: vec![
            req_label,
            ireq_comment,
            signature_title,
            document_title,
            name,
            file_name,
            request_name,
            "Société Demandeuse Démo".into(),
            notification_title,
            site_name,
            thread_subject,
            format!("Message-Secret-{code}"),
        ],
    }
}

/// A conversation of `client` about `site`, with one message from `author`. `subject` ends with
/// the set's label, which also names the message ("Message-Secret-C001").
async fn insert_thread(db: &Db, tenant: i64, client: i64, site: i64, author: i64, subject: &str) -> i64 {
    let label = subject.rsplit('-').next().unwrap();
    let thread = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO threads (tenant_id, client_id, site_id, subject, subject_key, status, created_by, created_at,
                              last_message_id, last_message_at)
         VALUES ($1, $2, $3, $4, lower($4), 'open', $5, 0, 0, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(subject)
    .bind(author)
    .fetch_one(p)
    .await)
    .unwrap();
    let message = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO messages (tenant_id, thread_id, author_id, from_staff, body, created_at)
         VALUES ($1, $2, $3, FALSE, $4, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(thread)
    .bind(author)
    .bind(format!("Message-Secret-{label}"))
    .fetch_one(p)
    .await)
    .unwrap();
    on_db!(db, |p| sqlx::query("UPDATE threads SET last_message_id = $1 WHERE id = $2")
        .bind(message)
        .bind(thread)
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    thread
}

/// A requirement of `site` named `label`, received and waiting for the firm; with the firm's
/// first service and one of its templates.
async fn insert_requirement(db: &Db, tenant: i64, client: i64, site: i64, label: &str) -> (i64, i64, i64) {
    let (service, template): (i64, i64) = on_db!(db, |p| sqlx::query_as(
        "SELECT service_id, id FROM requirement_templates WHERE tenant_id = $1 ORDER BY id LIMIT 1"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
    .unwrap();
    let req = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO site_requirements (tenant_id, client_id, site_id, label, kind, stage, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'data', 'before', 'received', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(label)
    .fetch_one(p)
    .await)
    .unwrap();
    (req, service, template)
}

/// A pending intervention request on `site` (with `comment`), and an intervention planned there.
async fn insert_intervention(db: &Db, tenant: i64, client: i64, site: i64, thread: i64, comment: &str) -> (i64, i64) {
    let service: i64 = on_db!(db, |p| sqlx::query_scalar("SELECT MIN(id) FROM services WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(p)
        .await)
    .unwrap();
    let ireq = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO intervention_requests (tenant_id, client_id, site_id, service_id, preferred_day_1, comment, thread_id,
                                            status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, '2031-01-15', $5, $6, 'pending', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(service)
    .bind(comment)
    .bind(thread)
    .fetch_one(p)
    .await)
    .unwrap();
    let intervention = on_db!(db, |p| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO interventions (tenant_id, client_id, site_id, service_id, status, day, window_start, window_end,
                                    created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'planned', '2031-01-20', '08:00', '10:00', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(service)
    .fetch_one(p)
    .await
    })
    .unwrap();
    (ireq, intervention)
}

/// A justificatif to sign on `site`, for any user of the client allowed to sign.
async fn insert_signature(db: &Db, tenant: i64, client: i64, site: i64, document: i64, title: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO signature_requests (tenant_id, client_id, site_id, document_id, title, status, original_sha256,
                                         created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', '', 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(document)
    .bind(title)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// A report published on `site`, not yet opened by the client.
async fn insert_document(db: &Db, tenant: i64, client: i64, site: i64, file: i64, title: &str) -> i64 {
    let id = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO documents (tenant_id, client_id, site_id, file_id, document_type, title, created_at, name_key,
                                published_as, published_at)
         VALUES ($1, $2, $3, $4, 'report', $5, 0, lower($5), 'report', 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(site)
    .bind(file)
    .bind(title)
    .fetch_one(p)
    .await)
    .unwrap();
    on_db!(db, |p| sqlx::query("UPDATE documents SET lineage_id = id WHERE id = $1")
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    id
}

async fn insert_site(db: &Db, tenant: i64, client: i64, name: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO sites (tenant_id, client_id, kind, name, postcode, city, name_key, search_key, created_at, updated_at)
         VALUES ($1, $2, 'construction', $3, '44000', 'Nantes', lower($3), lower($3), 0, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(name)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn insert_notification(db: &Db, tenant: i64, client: i64, user: i64, title: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO notifications (tenant_id, user_id, client_id, kind, event_key, title, link, created_at)
         VALUES ($1, $2, $3, 'new_document', $4, $4, '/espace/documents', 0) RETURNING id"
    )
    .bind(tenant)
    .bind(user)
    .bind(client)
    .bind(title)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn insert_contact_request(db: &Db, tenant: i64, client: i64, by: i64, last_name: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO contact_requests (tenant_id, client_id, requested_by, kind, last_name, status, created_at)
         VALUES ($1, $2, $3, 'create', $4, 'pending', 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(by)
    .bind(last_name)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// The firm's pending credential request named `company` (created once per firm).
async fn credential_request(db: &Db, tenant: i64, company: &str) -> i64 {
    let existing: Option<i64> =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM credential_requests WHERE tenant_id = $1 AND company = $2")
            .bind(tenant)
            .bind(company)
            .fetch_optional(p)
            .await)
        .unwrap();
    if let Some(id) = existing {
        return id;
    }
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO credential_requests (tenant_id, company, full_name, email, phone, status, created_at)
         VALUES ($1, $2, 'Jean Demandeur', 'demandeur@exemple.fr', '+33612345678', 'pending', 0) RETURNING id"
    )
    .bind(tenant)
    .bind(company)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn insert_file(db: &Db, store: &FileStore, tenant: i64, client: i64, name: &str) -> i64 {
    let bytes = format!("%PDF-1.4\n% {name}\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n");
    let sha = store.put(bytes::Bytes::from(bytes.clone().into_bytes())).await.unwrap();
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO files (tenant_id, client_id, sha256, size_bytes, content_type, original_name, created_at)
         VALUES ($1, $2, $3, $4, 'application/pdf', $5, 0) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(&sha)
    .bind(bytes.len() as i64)
    .bind(name)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// A second firm, with its own client, contact, users and file.
async fn beta_firm(app: &TestApp, store: &FileStore) -> (i64, ObjectSet) {
    let hash = ouvrage::features::auth::password::hash("demo-ouvrage".into()).await.unwrap();
    let db = &app.db;
    let tenant = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('beta', 'Bêta Diagnostics', 0) RETURNING id"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let client = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO clients (tenant_id, code, name, kind, search_key, created_at, updated_at)
         VALUES ($1, 'X001', 'Constructions Secrètes Bêta', 'builder', 'x001 constructions secretes beta', 0, 0) RETURNING id"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)
    .unwrap();
    let contact = on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO contacts (tenant_id, client_id, first_name, last_name, email, search_key, created_at, updated_at)
         VALUES ($1, $2, 'Bérénice', 'Confidentielle-Bêta', 'berenice@beta-client.test', 'berenice confidentielle beta', 0, 0)
         RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .fetch_one(p)
    .await)
    .unwrap();
    for (email, role, client_id) in
        [("admin@beta.test", "admin", None), ("client@beta.test", "client_user", Some(client))]
    {
        on_db!(db, |p| sqlx::query(
            "INSERT INTO users (tenant_id, client_id, email, full_name, role, password_hash, search_key, created_at, updated_at)
             VALUES ($1, $2, $3, 'Utilisateur Bêta', $4, $5, '', 0, 0)"
        )
        .bind(tenant)
        .bind(client_id)
        .bind(email)
        .bind(role)
        .bind(&hash)
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
    }
    let user = scalar(db, "SELECT id FROM users WHERE email = $1", "client@beta.test").await;
    let file = insert_file(db, store, tenant, client, "plan-secret-beta.pdf").await;
    let request = insert_contact_request(db, tenant, client, user, "Demande-Secrète-Bêta").await;
    let credreq = credential_request(db, tenant, "Société Demandeuse Bêta").await;
    let notification = insert_notification(db, tenant, client, user, "Notification-Secrète-Bêta").await;
    let site = insert_site(db, tenant, client, "Chantier-Secret-Bêta").await;
    let token = api_token(db, tenant, client, "ouv_matrix_beta_0123456789abcdef", false).await;
    let thread = insert_thread(db, tenant, client, site, user, "Conversation-Secrète-beta").await;
    let document = insert_document(db, tenant, client, site, file, "Document-Secret-beta").await;
    let signature = insert_signature(db, tenant, client, site, document, "Signature-Secrète-beta").await;
    let mut tx = db.begin().await.unwrap();
    ouvrage::features::documents::types::seed_tenant(&mut tx, ouvrage::domain::TenantId(tenant)).await.unwrap();
    tx.commit().await.unwrap();
    let (ireq, intervention) =
        insert_intervention(db, tenant, client, site, thread, "Demande-Secrète-Intervention-beta").await;
    let (req, service, template) = insert_requirement(db, tenant, client, site, "Attendu-Secret-beta").await;
    let set = ObjectSet {
        label: "beta",
        client,
        contact,
        user,
        file,
        request,
        credreq,
        notification,
        site,
        token,
        thread,
        document,
        signature,
        ireq,
        intervention,
        req,
        service,
        template,
        markers: vec![
            "Attendu-Secret-beta".into(),
            "Demande-Secrète-Intervention-beta".into(),
            "Signature-Secrète-beta".into(),
            "Document-Secret-beta".into(),
            "Conversation-Secrète-beta".into(),
            "Message-Secret-beta".into(),
            "Chantier-Secret-Bêta".into(),
            "Constructions Secrètes Bêta".into(),
            "Confidentielle-Bêta".into(),
            "plan-secret-beta.pdf".into(),
            "client@beta.test".into(),
            "Demande-Secrète-Bêta".into(),
            "Société Demandeuse Bêta".into(),
            "Notification-Secrète-Bêta".into(),
        ],
    };
    (tenant, set)
}

/// Everything stored about an object set's client, to prove no request changed it.
async fn snapshot(db: &Db, set: &ObjectSet) -> String {
    let rows: Vec<(String,)> = on_db!(db, |p| sqlx::query_as(
        "SELECT 'client ' || id || ' ' || name || ' ' || code || ' ' || siret || ' ' || archived FROM clients WHERE id = $1
         UNION ALL SELECT 'contact ' || id || ' ' || last_name || ' ' || email || ' ' || archived FROM contacts WHERE client_id = $1
         UNION ALL SELECT 'user ' || id || ' ' || email || ' ' || role || ' ' || active || ' ' || password_hash FROM users WHERE client_id = $1
         UNION ALL SELECT 'file ' || id || ' ' || original_name FROM files WHERE client_id = $1
         UNION ALL SELECT 'request ' || id || ' ' || status || ' ' || last_name FROM contact_requests WHERE client_id = $1
         UNION ALL SELECT 'credreq ' || id || ' ' || status || ' ' || COALESCE(client_id, 0) FROM credential_requests WHERE id = $2
         UNION ALL SELECT 'notification ' || id || ' ' || COALESCE(read_at, 0) FROM notifications WHERE id = $3
         UNION ALL SELECT 'site ' || id || ' ' || name || ' ' || status || ' ' || archived || ' ' || updated_at FROM sites WHERE client_id = $1
         UNION ALL SELECT 'token ' || id || ' ' || name || ' ' || COALESCE(revoked_at, 0) FROM api_tokens WHERE client_id = $1
         UNION ALL SELECT 'study ' || id || ' ' || site_id FROM thermal_studies WHERE client_id = $1
         UNION ALL SELECT 'thread ' || id || ' ' || status || ' ' || COALESCE(assigned_to, 0) || ' ' || last_message_id FROM threads WHERE client_id = $1
         UNION ALL SELECT 'message ' || m.id || ' ' || m.body FROM messages m JOIN threads t ON t.id = m.thread_id WHERE t.client_id = $1
         UNION ALL SELECT 'req ' || id || ' ' || status || ' ' || refusal_reason || ' ' || data_value FROM site_requirements WHERE client_id = $1
         UNION ALL SELECT 'service ' || id || ' ' || archived FROM services WHERE tenant_id = (SELECT tenant_id FROM clients WHERE id = $1)
         UNION ALL SELECT 'template ' || id || ' ' || archived FROM requirement_templates WHERE tenant_id = (SELECT tenant_id FROM clients WHERE id = $1)
         UNION ALL SELECT 'ireq ' || id || ' ' || status || ' ' || COALESCE(intervention_id, 0) FROM intervention_requests WHERE client_id = $1
         UNION ALL SELECT 'intervention ' || id || ' ' || status || ' ' || day FROM interventions WHERE client_id = $1
         UNION ALL SELECT 'signature ' || id || ' ' || status || ' ' || method || ' ' || COALESCE(signed_document_id, 0) FROM signature_requests WHERE client_id = $1
         UNION ALL SELECT 'document ' || id || ' ' || title || ' ' || version || ' ' || is_current || ' ' || COALESCE(first_seen_at, 0) FROM documents WHERE client_id = $1
         ORDER BY 1"
    )
    .bind(set.client)
    .bind(set.credreq)
    .bind(set.notification)
    .fetch_all(p)
    .await)
    .unwrap();
    rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
}

async fn setup() -> (TestApp, World) {
    let app = TestApp::spawn().await;
    let store = FileStore::from_config(&app.config.storage).unwrap();
    let c001 = demo_set(&app, &store, "C001", "client@demo.test").await;
    let c002 = demo_set(&app, &store, "C002", "autre.client@demo.test").await;
    let (beta_tenant, beta) = beta_firm(&app, &store).await;
    (app, World { c001, c002, beta, beta_tenant })
}

async fn browser_for(app: &TestApp, who: Who) -> Browser {
    match who.email() {
        None => {
            let b = app.client();
            let _ = b.get("/login").await;
            b
        }
        Some(email) => app.login(email).await,
    }
}

#[tokio::test]
async fn no_route_leaks_or_changes_another_clients_or_another_firms_objects() {
    let (app, world) = setup().await;
    assert!(world.beta_tenant > 0);
    let before: Vec<String> =
        futures::future::join_all([&world.c001, &world.c002, &world.beta].map(|s| snapshot(&app.db, s))).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for who in EVERYONE {
        let b = browser_for(&app, who).await;
        let token_page = if who == Who::Anonymous { "/login" } else { "/mot-de-passe/changer" };
        for case in CASES {
            // Without ids, a POST by a role allowed to use the route acts on its own objects
            // (the feature tests cover that); only refused roles are tried here.
            if case.method == "POST" && !case_has_ids(case) && who.may(case.access) {
                continue;
            }
            let targets: Vec<Option<&ObjectSet>> =
                if case_has_ids(case) { world.foreign_to(who).into_iter().map(Some).collect() } else { vec![None] };
            for target in targets {
                let path = target.map(|t| fill(case.path, t)).unwrap_or_else(|| case.path.to_string());
                let resp = if case.method == "GET" {
                    b.get(&path).await
                } else if case.multipart {
                    let token = b.csrf(token_page).await;
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let mut form = reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(unique_study(checked))
                            .file_name("etude.xml")
                            .mime_str("application/xml")
                            .unwrap(),
                    );
                    for (k, v) in case.form {
                        form = form.text(*k, target.map(|t| fill(v, t)).unwrap_or_else(|| v.to_string()));
                    }
                    b.http.post(b.url(&format!("{path}{sep}_csrf={token}"))).multipart(form).send().await.unwrap()
                } else {
                    let fields: Vec<(String, String)> = case
                        .form
                        .iter()
                        .map(|(k, v)| (k.to_string(), target.map(|t| fill(v, t)).unwrap_or_else(|| v.to_string())))
                        .collect();
                    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    b.submit(token_page, &path, &refs).await
                };
                let status = resp.status().as_u16();
                let to = location(&resp);
                let body = resp.text().await.unwrap_or_default();
                checked += 1;
                let what = format!("{who:?} {} {path}", case.method);
                // Nothing of anybody else's on the page.
                for foreign in world.foreign_to(who) {
                    if let Some(m) = foreign.markers.iter().find(|m| body.contains(m.as_str())) {
                        failures.push(format!("{what}: shows «{m}» of {}", foreign.label));
                    }
                }
                if let Some(target) = target {
                    // Ids only in form fields may also be refused as invalid input (422).
                    let refused = matches!(status, 403 | 404)
                        || (status == 422 && !has_ids(case.path))
                        || (case.filter && status == 200 && who.may(case.access))
                        || (who == Who::Anonymous && status == 303 && to.starts_with("/login"));
                    if !refused {
                        failures.push(format!("{what}: answered {status} for an object of {}", target.label));
                    }
                } else if !who.may(case.access) && !matches!(status, 403 | 404 | 303 | 401) {
                    failures.push(format!("{what}: answered {status} to a role that may not use it"));
                }
            }
        }
    }
    let after: Vec<String> =
        futures::future::join_all([&world.c001, &world.c002, &world.beta].map(|s| snapshot(&app.db, s))).await;
    for ((b, a), set) in before.iter().zip(&after).zip(["C001", "C002", "beta"]) {
        if b != a {
            failures.push(format!("the objects of {set} changed:\nbefore:\n{b}\nafter:\n{a}"));
        }
    }
    assert!(checked > 100, "the matrix ran {checked} requests");
    assert!(failures.is_empty(), "{} leaks:\n{}", failures.len(), failures.join("\n"));
    app.stop().await;
}

#[tokio::test]
async fn each_role_reaches_its_own_objects() {
    // The positive control: the ids the matrix forges are real, and the pages do answer their
    // owners, so a 404 above means a refusal, not a broken route.
    let (app, world) = setup().await;
    let mut failures = Vec::new();
    for who in EVERYONE {
        let Some(own) = world.own(who) else { continue };
        let b = browser_for(&app, who).await;
        for case in CASES.iter().filter(|c| c.method == "GET" && who.may(c.access)) {
            let path = fill(case.path, own);
            let status = b.get(&path).await.status().as_u16();
            // Public pages send logged-in users home.
            if !(status == 200 || (case.access == Access::Public && status == 303)) {
                failures.push(format!("{who:?} GET {path}: {status}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    app.stop().await;
}

/// Every `.route("…")` registered by a feature, and every section path.
fn registered_routes() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for marker in [".route(\"", "path: \""] {
                    for (i, _) in text.match_indices(marker) {
                        let rest = &text[i + marker.len()..];
                        if let Some(end) = rest.find('"') {
                            found.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_registered_route_is_in_the_matrix() {
    let covered: BTreeSet<String> = CASES
        .iter()
        .map(|c| c.path.split('?').next().unwrap().to_string())
        .map(|p| {
            p.replace("{client}", "{id}")
                .replace("{contact}", "{id}")
                .replace("{user}", "{id}")
                .replace("{file}", "{id}")
                .replace("{request}", "{id}")
                .replace("{credreq}", "{id}")
                .replace("{notification}", "{id}")
                .replace("{site}", "{id}")
                .replace("{token}", "{token_id}")
                .replace("{thread}", "{id}")
                .replace("{document}", "{id}")
                .replace("{signature}", "{id}")
                .replace("{ireq}", "{id}")
                .replace("{intervention}", "{id}")
        })
        .chain(
            API_CASES
                .iter()
                .map(|c| c.path.split('?').next().unwrap().replace("{site}", "{id}").replace("{document}", "{id}")),
        )
        .chain(NOT_IN_MATRIX.iter().map(|(p, _)| p.to_string()))
        .collect();
    let registered = registered_routes();
    assert!(registered.contains("/login") && registered.contains("/bo"), "scan found {registered:?}");
    let missing: Vec<_> = registered.iter().filter(|r| !covered.contains(r.as_str())).collect();
    assert!(missing.is_empty(), "routes missing from the isolation matrix: {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// The integrator API: its actors are tokens, each confined to one client of one firm.

/// An API route; `{site}` is replaced by a site id of the object set under test.
struct ApiCase {
    method: &'static str,
    path: &'static str,
    /// For POSTs: multipart text fields sent beside a thermal study (placeholders allowed).
    fields: &'static [(&'static str, &'static str)],
    /// Needs no token (the OpenAPI document).
    public: bool,
}

const API_CASES: &[ApiCase] = &[
    ApiCase { method: "GET", path: "/api/v1/openapi.json", fields: &[], public: true },
    ApiCase { method: "GET", path: "/api/v1/sites", fields: &[], public: false },
    ApiCase { method: "GET", path: "/api/v1/sites?q=secret", fields: &[], public: false },
    ApiCase { method: "GET", path: "/api/v1/sites/{site}", fields: &[], public: false },
    ApiCase { method: "POST", path: "/api/v1/thermal-studies", fields: &[("site_id", "{site}")], public: false },
    ApiCase { method: "GET", path: "/api/v1/sites/{site}/documents", fields: &[], public: false },
    ApiCase { method: "POST", path: "/api/v1/sites/{site}/documents", fields: &[("type", "plan")], public: false },
    ApiCase {
        method: "POST",
        path: "/api/v1/sites/{site}/documents",
        fields: &[("type", "report"), ("publish_as", "report")],
        public: false,
    },
    ApiCase { method: "GET", path: "/api/v1/documents/{document}", fields: &[], public: false },
    ApiCase { method: "GET", path: "/api/v1/documents/{document}/content", fields: &[], public: false },
];

/// A token actor: the token of a client, a revoked one, or none.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Integrator {
    None,
    Revoked,
    Garbage,
    /// The token of the set's client.
    Of(&'static str),
}

/// Inserts a token for `client` the way the application stores it (SHA-256 of the secret).
async fn api_token(db: &Db, tenant: i64, client: i64, secret: &str, revoked: bool) -> i64 {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
    on_db!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO api_tokens (tenant_id, client_id, name, prefix, token_hash, created_at, revoked_at)
         VALUES ($1, $2, 'Logiciel thermique', $3, $4, 0, $5) RETURNING id"
    )
    .bind(tenant)
    .bind(client)
    .bind(&secret[..12])
    .bind(&hash)
    .bind(revoked.then_some(1_i64))
    .fetch_one(p)
    .await)
    .unwrap()
}

/// The RT2012 sample made unique (its hash differs for each request), so that a refusal never
/// comes from "already imported".
fn unique_study(n: usize) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/thermal/synthetic/SYNTHETIC_RT2012_RSET-8100_maison_individuelle.xml");
    let xml = std::fs::read_to_string(path).expect("RT2012 sample");
    xml.replace("Maison individuelle EXEMPLE (fictif)", &format!("Maison Intrusion {n}")).into_bytes()
}

#[tokio::test]
async fn api_tokens_reach_only_their_own_clients_objects() {
    let (app, world) = setup().await;
    let demo_tenant: i64 = on_db!(&app.db, |p| sqlx::query_scalar("SELECT tenant_id FROM clients WHERE id = $1")
        .bind(world.c001.client)
        .fetch_one(p)
        .await)
    .unwrap();
    let sets = [("C001", &world.c001), ("C002", &world.c002), ("beta", &world.beta)];
    for (label, set) in sets {
        let tenant = if label == "beta" { world.beta_tenant } else { demo_tenant };
        api_token(&app.db, tenant, set.client, &format!("ouv_isolation_token_{label}_0123456789abcdef"), false).await;
    }
    api_token(&app.db, demo_tenant, world.c001.client, "ouv_isolation_revoked_0123456789abcdef", true).await;
    let before: Vec<String> =
        futures::future::join_all([&world.c001, &world.c002, &world.beta].map(|s| snapshot(&app.db, s))).await;
    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut n = 0;
    let integrators = [
        Integrator::None,
        Integrator::Revoked,
        Integrator::Garbage,
        Integrator::Of("C001"),
        Integrator::Of("C002"),
        Integrator::Of("beta"),
    ];
    for who in integrators {
        let secret = match who {
            Integrator::None => None,
            Integrator::Revoked => Some("ouv_isolation_revoked_0123456789abcdef".to_string()),
            Integrator::Garbage => Some("ouv_nothing_like_a_token".to_string()),
            Integrator::Of(label) => Some(format!("ouv_isolation_token_{label}_0123456789abcdef")),
        };
        let own = match who {
            Integrator::Of(label) => sets.iter().find(|(l, _)| *l == label).map(|(_, s)| *s),
            _ => None,
        };
        let foreign: Vec<&ObjectSet> =
            sets.iter().map(|(_, s)| *s).filter(|s| own.is_none_or(|o| o.label != s.label)).collect();
        for case in API_CASES {
            let targets: Vec<Option<&ObjectSet>> = if has_ids(case.path) || case.fields.iter().any(|(_, v)| has_ids(v))
            {
                foreign.iter().copied().map(Some).collect()
            } else {
                vec![None]
            };
            for target in targets {
                n += 1;
                let path = target.map(|t| fill(case.path, t)).unwrap_or_else(|| case.path.to_string());
                let mut req = if case.method == "GET" {
                    http.get(app.url(&path))
                } else {
                    let mut form = reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(unique_study(n))
                            .file_name("etude.xml")
                            .mime_str("application/xml")
                            .unwrap(),
                    );
                    for (k, v) in case.fields {
                        form = form.text(*k, target.map(|t| fill(v, t)).unwrap_or_else(|| v.to_string()));
                    }
                    http.post(app.url(&path)).multipart(form)
                };
                if let Some(s) = &secret {
                    req = req.bearer_auth(s);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                let what = format!("{who:?} {} {path}", case.method);
                for f in &foreign {
                    if let Some(m) = f.markers.iter().find(|m| body.contains(m.as_str())) {
                        failures.push(format!("{what}: shows «{m}» of {}", f.label));
                    }
                }
                if let Some(t) = target {
                    let refused = if own.is_some() { status == 404 } else { status == 401 };
                    if !refused {
                        failures.push(format!("{what}: answered {status} for an object of {}", t.label));
                    }
                } else if !case.public && own.is_none() && status != 401 {
                    failures.push(format!("{what}: answered {status} without a valid token"));
                } else if (case.public || own.is_some()) && status != 200 {
                    failures.push(format!("{what}: answered {status} to its rightful user"));
                }
            }
        }
        // The positive control: each token reaches its own client's site.
        if let (Some(own), Some(s)) = (own, &secret) {
            let path = format!("/api/v1/sites/{}", own.site);
            let status = http.get(app.url(&path)).bearer_auth(s).send().await.unwrap().status().as_u16();
            if status != 200 {
                failures.push(format!("{who:?} GET {path}: {status} for its own site"));
            }
        }
    }
    let after: Vec<String> =
        futures::future::join_all([&world.c001, &world.c002, &world.beta].map(|s| snapshot(&app.db, s))).await;
    for ((b, a), set) in before.iter().zip(&after).zip(["C001", "C002", "beta"]) {
        if b != a {
            failures.push(format!("the objects of {set} changed:\nbefore:\n{b}\nafter:\n{a}"));
        }
    }
    assert!(n > 20, "the API matrix ran {n} requests");
    assert!(failures.is_empty(), "{} leaks:\n{}", failures.len(), failures.join("\n"));
    app.stop().await;
}
