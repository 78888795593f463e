//! The data generator: a believable French firm at scale, deterministic from a seed, written
//! with multi-row inserts inside one transaction (row-by-row would take minutes), table by
//! table, in batches generated as they are written so that memory stays small at any scale.
//!
//! Beside the firm measured by most scenarios, a second firm holds the sites its office
//! exports in one go (`sites_export`), so that adding them changes nothing for the others.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::{Db, Tx};
use crate::demo::studies;
use crate::domain::TenantId;
use crate::domain::text::search_key;
use crate::domain::time::{DAY_MS, now_ms};
use crate::features::sites::duplicates::{address_key, owner_key, permit_key};
use crate::features::sites::studies::DOCUMENT_TYPE as STUDY_DOCUMENT;
use crate::{exec_tx, on_tx};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    Tiny,
    Medium,
    Large,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::Medium => "medium",
            Scale::Large => "large",
        }
    }

    pub fn sizes(self) -> Sizes {
        let medium = Sizes {
            clients: 2_000,
            users: 10_000,
            sites: 50_000,
            dwellings: 20_000,
            files: 250_000,
            notifications: 500_000,
            messages: 200_000,
            audit: 100_000,
            export_sites: 100_000,
            big_clients: 16,
            big_client_sites: 1_000,
        };
        match self {
            Scale::Tiny => Sizes {
                clients: 20,
                users: 100,
                sites: 500,
                dwellings: 200,
                files: 500,
                notifications: 1_000,
                messages: 1_000,
                audit: 500,
                export_sites: 1_000,
                big_clients: 2,
                big_client_sites: 50,
            },
            Scale::Medium => medium,
            Scale::Large => Sizes {
                clients: medium.clients * 10,
                users: medium.users * 10,
                sites: medium.sites * 10,
                dwellings: medium.dwellings * 10,
                files: medium.files * 10,
                notifications: medium.notifications * 10,
                messages: medium.messages * 10,
                audit: medium.audit * 10,
                // The export is measured on 100,000 sites at every scale but tiny.
                export_sites: medium.export_sites,
                big_clients: medium.big_clients,
                big_client_sites: medium.big_client_sites,
            },
        }
    }
}

/// Row counts of the generated firm.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub clients: usize,
    pub users: usize,
    /// All sites, dwellings included.
    pub sites: usize,
    /// Dwellings of residences, 40 per residence.
    pub dwellings: usize,
    /// Files, each the file of one document of a site.
    pub files: usize,
    pub notifications: usize,
    /// Messages, in conversations of five on average.
    pub messages: usize,
    pub audit: usize,
    /// Sites of the second firm (the `sites_export` scenario).
    pub export_sites: usize,
    /// Companies with many chantiers (`big_client_sites` each), whose users the client-page
    /// scenarios log in as: the dashboard's budget is at 1,000 sites per company.
    pub big_clients: usize,
    pub big_client_sites: usize,
}

/// What the load scenarios need to know about the generated data.
pub struct Generated {
    pub staff_emails: Vec<String>,
    pub client_user_emails: Vec<String>,
    pub cities: Vec<&'static str>,
    /// Each client's sites (index = client id - 1) with their postcode, for pages and filters
    /// on the client's own sites.
    pub sites_by_client: Vec<Vec<(i64, &'static str)>>,
    /// The office user of the second firm, who exports its sites.
    pub export_staff_email: String,
    /// How many sites that firm has.
    pub export_sites: usize,
    /// API tokens of integrators, each for one builder client of the main firm.
    pub api_secrets: Vec<String>,
    /// A site of each token's client, in the order of `api_secrets` (documents are sent there).
    pub api_sites: Vec<i64>,
    /// Clients 1..=big_clients own `Sizes::big_client_sites` chantiers each.
    pub big_clients: usize,
    pub rows: std::collections::BTreeMap<&'static str, usize>,
    pub seconds: f64,
}

pub const PASSWORD: &str = "bench-ouvrage-2026";
const SEED: u64 = 20_261_123;
const BATCH: usize = 500;
/// Distinct thermal studies kept in the store for the sites' "étude thermique" documents.
const STUDY_SAMPLES: usize = 96;
/// Where those studies are taken from in [`studies::sample`]: far from the indexes the
/// `thermal_import` scenario sends, so that no import is the same file as a kept study.
pub const KEPT_STUDIES_FROM: u64 = 50_000_000;
/// API tokens created for the `thermal_import` scenario.
const API_TOKENS: usize = 64;

const FIRST: &[&str] = &[
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Claire", "Sophie", "Nathalie", "Isabelle",
    "Hugo", "Lucas", "Thomas", "Nicolas", "Julien", "Maxime", "Antoine", "Pierre", "Mathieu", "Yann", "Karim",
    "Olivier",
];
const LAST: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard",
    "André", "Le Goff",
];
const CITIES: &[(&str, &str)] = &[
    ("Nantes", "44000"),
    ("Saint-Herblain", "44800"),
    ("Rezé", "44400"),
    ("Angers", "49000"),
    ("Cholet", "49300"),
    ("La Roche-sur-Yon", "85000"),
    ("Les Sables-d'Olonne", "85100"),
    ("Rennes", "35000"),
    ("Vannes", "56000"),
    ("Lorient", "56100"),
    ("Quimper", "29000"),
    ("Brest", "29200"),
    ("Le Mans", "72000"),
    ("Laval", "53000"),
    ("Tours", "37000"),
    ("Poitiers", "86000"),
    ("La Rochelle", "17000"),
    ("Niort", "79000"),
    ("Bordeaux", "33000"),
    ("Saint-Nazaire", "44600"),
];
const STREETS: &[&str] = &[
    "rue de la Gare",
    "avenue de la République",
    "rue Victor Hugo",
    "boulevard Jean Jaurès",
    "rue des Lilas",
    "impasse des Hortensias",
    "chemin du Moulin",
    "rue Pasteur",
    "allée des Chênes",
    "place du Marché",
];
const BRANDS: &[(&str, &str)] = &[
    ("Maisons", "builder"),
    ("Demeures", "builder"),
    ("Constructions", "builder"),
    ("Habitat", "landlord"),
    ("Logis", "landlord"),
    ("Syndic", "syndic"),
    ("Bureaux", "tertiary"),
    ("Ateliers", "industrial"),
];
const QUALIFIERS: &[&str] = &[
    "de l'Atlantique",
    "du Val de Loire",
    "de Bretagne",
    "Océane",
    "de l'Estuaire",
    "du Bocage",
    "des Marais",
    "Horizon",
    "Tradition",
    "Nouvelle Génération",
    "du Littoral",
    "de Vendée",
];
const FUNCTIONS: &[&str] =
    &["Conducteur de travaux", "Responsable administratif", "Chargé de patrimoine", "Assistante", "Gérant"];

/// Documents other than the thermal studies: (type code, title, file name stem).
const PLAN: (&str, &str, &str) = ("plan", "Plan de masse", "plan-masse");
const PERMIT: (&str, &str, &str) = ("permis", "Permis de construire", "permis-de-construire");
const PHOTO: (&str, &str, &str) = ("photo", "Reportage photo du chantier", "reportage-photo");
const CERTIFICATE: (&str, &str, &str) =
    ("attestation", "Attestation de prise en compte de la RE2020 à l'achèvement", "attestation-re2020");
const REPORT: (&str, &str, &str) = ("rapport", "Rapport de test d'étanchéité à l'air", "rapport-etancheite-air");

fn pick<'a, T>(rng: &mut StdRng, list: &'a [T]) -> &'a T {
    &list[rng.gen_range(0..list.len())]
}

/// Inserts `rows` with one multi-row INSERT per batch, all in the caller's transaction.
async fn insert_batched(
    tx: &mut Tx,
    head: &'static str,
    columns: usize,
    rows: &[Vec<Value>],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        macro_rules! build {
            ($db:ty) => {{
                let mut qb = sqlx::QueryBuilder::<$db>::new(head);
                qb.push_values(chunk, |mut b, row| {
                    debug_assert_eq!(row.len(), columns);
                    for v in row {
                        match v {
                            Value::I(i) => b.push_bind(*i),
                            Value::OptI(i) => b.push_bind(*i),
                            Value::S(s) => b.push_bind(s.clone()),
                            Value::OptS(s) => b.push_bind(s.clone()),
                            Value::B(x) => b.push_bind(*x),
                        };
                    }
                });
                qb
            }};
        }
        match tx {
            Tx::Sqlite(t) => {
                build!(sqlx::Sqlite).build().execute(&mut **t).await?;
            }
            Tx::Postgres(t) => {
                build!(sqlx::Postgres).build().execute(&mut **t).await?;
            }
        }
    }
    Ok(())
}

/// Rows of one table, written a batch at a time as they are generated.
struct Inserter {
    head: &'static str,
    columns: usize,
    rows: Vec<Vec<Value>>,
    written: usize,
}

impl Inserter {
    fn new(head: &'static str, columns: usize) -> Inserter {
        Inserter { head, columns, rows: Vec::with_capacity(BATCH), written: 0 }
    }

    async fn push(&mut self, tx: &mut Tx, row: Vec<Value>) -> Result<(), sqlx::Error> {
        self.rows.push(row);
        if self.rows.len() >= BATCH {
            self.flush(tx).await?;
        }
        Ok(())
    }

    /// Keeps `row` for the caller to write with [`Inserter::flush`] (rows of tables that point
    /// to each other are written in order: the pointed-to table first).
    fn hold(&mut self, row: Vec<Value>) {
        self.rows.push(row);
    }

    fn full(&self) -> bool {
        self.rows.len() >= BATCH
    }

    async fn flush(&mut self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        insert_batched(tx, self.head, self.columns, &self.rows).await?;
        self.written += self.rows.len();
        self.rows.clear();
        Ok(())
    }

    /// Writes what is left; returns how many rows were written in all.
    async fn finish(mut self, tx: &mut Tx) -> Result<usize, sqlx::Error> {
        self.flush(tx).await?;
        Ok(self.written)
    }
}

#[derive(Clone)]
enum Value {
    I(i64),
    OptI(Option<i64>),
    S(String),
    OptS(Option<String>),
    B(bool),
}

fn s(v: impl Into<String>) -> Value {
    Value::S(v.into())
}

const SITE_COLUMNS: &str = "INSERT INTO sites (id, tenant_id, client_id, kind, parent_id, name, street_number, street, \
     postcode, city_code, city, site_manager_contact_id, operation_type, phase, status, expected_date, actual_date, \
     permit_number, owner_name, name_key, city_key, search_key, created_at, updated_at, permit_key, address_key, \
     owner_key) ";

/// One site as the generator writes it.
struct NewSite<'a> {
    id: i64,
    tenant: i64,
    client: i64,
    kind: &'static str,
    parent: Option<i64>,
    name: &'a str,
    number: &'a str,
    street: &'a str,
    postcode: &'a str,
    city: &'a str,
    manager: Option<i64>,
    phase: &'a str,
    status: &'a str,
    expected: Option<String>,
    actual: Option<String>,
    permit: &'a str,
    owner: &'a str,
}

impl NewSite<'_> {
    fn row(self, now: i64) -> Vec<Value> {
        let city_code = format!("{}{:03}", &self.postcode[..2], 100 + (self.id % 300));
        vec![
            Value::I(self.id),
            Value::I(self.tenant),
            Value::I(self.client),
            s(self.kind),
            Value::OptI(self.parent),
            s(self.name),
            s(self.number),
            s(self.street),
            s(self.postcode),
            s(city_code),
            s(self.city),
            Value::OptI(self.manager),
            s(if self.kind == "construction" { "individual" } else { "collective" }),
            s(self.phase),
            s(self.status),
            Value::OptS(self.expected),
            Value::OptS(self.actual),
            s(self.permit),
            s(self.owner),
            s(search_key(&[self.name])),
            s(search_key(&[self.city])),
            s(search_key(&[self.name, self.number, self.street, self.postcode, self.city])),
            Value::I(now),
            Value::I(now),
            s(permit_key(self.permit)),
            s(address_key(self.number, self.street)),
            s(owner_key(self.owner)),
        ]
    }
}

/// What later tables need to know of a generated site.
struct SiteInfo {
    id: i64,
    client: i64,
    kind: &'static str,
    postcode: &'static str,
    name: String,
}

/// A firm's sites: chantiers and premises, and residences of 40 dwellings each. Client ids
/// are `first_client..first_client + clients`; every client gets at least one site.
#[allow(clippy::too_many_arguments)]
async fn generate_sites(
    tx: &mut Tx,
    rng: &mut StdRng,
    tenant: i64,
    first_client: i64,
    client_names: &[String],
    contacts_by_client: &[Vec<i64>],
    sites: usize,
    dwellings: usize,
    big: (usize, usize),
    next_id: &mut i64,
    now: i64,
) -> Result<Vec<SiteInfo>, sqlx::Error> {
    let clients = client_names.len();
    let residences = dwellings / 40;
    let today = chrono::Utc::now().date_naive();
    let mut out = Vec::with_capacity(sites.saturating_sub(dwellings));
    let mut rows = Inserter::new(SITE_COLUMNS, 27);
    let others = sites.saturating_sub(dwellings + residences);
    for n in 0..(others + residences) {
        let id = *next_id;
        *next_id += 1;
        // Residences first, then the big companies' chantiers, then one chantier for every
        // company, then the rest at random.
        let (big_clients, per_big) = big;
        let big_sites = big_clients * per_big;
        let m = n.wrapping_sub(residences);
        let c = if n < residences {
            n % clients
        } else if m < big_sites {
            m / per_big.max(1)
        } else if m - big_sites < clients {
            m - big_sites
        } else {
            rng.gen_range(0..clients)
        };
        let client = first_client + c as i64;
        let is_residence = n < residences;
        let (city, postcode) = *pick(rng, CITIES);
        let street = *pick(rng, STREETS);
        let number = rng.gen_range(1..150).to_string();
        let last = *pick(rng, LAST);
        let name = if is_residence {
            format!("Résidence {last} {}", n + 1)
        } else {
            format!("{} {last} — lot {}", if rng.gen_bool(0.8) { "Maison" } else { "Locaux" }, n + 1)
        };
        let kind = if is_residence {
            "residence"
        } else if name.starts_with("Locaux") {
            "premises"
        } else {
            "construction"
        };
        // Permits of the generated firm use the letters A to M; the studies the integrators
        // send use N to Z.
        let permit = if kind == "construction" && rng.gen_bool(0.92) {
            let code = format!("{}{:03}", &postcode[..2], 100 + (id % 300));
            studies::permit_number(
                &code,
                2020 + (id / 130_000 % 5) as i32,
                (b'A' + (id / 10_000 % 13) as u8) as char,
                id as usize,
            )
        } else {
            String::new()
        };
        let owner = match kind {
            "construction" => format!("M. et Mme {} {last}", pick(rng, FIRST)),
            _ => client_names[c].clone(),
        };
        let manager = contacts_by_client[c].first().copied();
        let offset = rng.gen_range(-120..120);
        let expected = (today + chrono::Duration::days(offset)).format("%Y-%m-%d").to_string();
        let done = offset < 0 && rng.gen_bool(0.7);
        let site = NewSite {
            id,
            tenant,
            client,
            kind,
            parent: None,
            name: &name,
            number: &number,
            street,
            postcode,
            city,
            manager,
            phase: if offset > 30 { "works" } else { "handover" },
            status: if done { "done" } else { "scheduled" },
            expected: Some(expected.clone()),
            actual: done.then_some(expected),
            permit: &permit,
            owner: &owner,
        };
        rows.push(tx, site.row(now)).await?;
        if is_residence {
            for d in 1..=40 {
                let dwelling = *next_id;
                *next_id += 1;
                let dwelling_name = format!("Logement {d} — {name}");
                let site = NewSite {
                    id: dwelling,
                    tenant,
                    client,
                    kind: "dwelling",
                    parent: Some(id),
                    name: &dwelling_name,
                    number: &number,
                    street,
                    postcode,
                    city,
                    manager: None,
                    phase: "handover",
                    status: "to_schedule",
                    expected: None,
                    actual: None,
                    permit: "",
                    owner: "",
                };
                rows.push(tx, site.row(now)).await?;
                if d <= 2 {
                    // A couple of dwellings per residence get documents of their own.
                    out.push(SiteInfo { id: dwelling, client, kind: "dwelling", postcode, name: dwelling_name });
                }
            }
        }
        out.push(SiteInfo { id, client, kind, postcode, name });
    }
    rows.finish(tx).await?;
    Ok(out)
}

/// Generates the firms into an empty, migrated database.
pub async fn generate(db: &Db, scale: Scale, store: &crate::features::files::FileStore) -> anyhow::Result<Generated> {
    let started = Instant::now();
    let sizes = scale.sizes();
    let mut rng = StdRng::seed_from_u64(SEED);
    let now = now_ms();
    let hash = crate::features::auth::password::hash(PASSWORD.to_string()).await?;
    let mut counts = std::collections::BTreeMap::new();
    let mut tx = db.begin().await?;
    exec_tx!(&mut tx, |c| {
        sqlx::query(
        "INSERT INTO tenants (id, slug, legal_name, siren, siret, vat_number, address_line1, postcode, city, created_at)
         VALUES (1, 'bench', 'Diagnostics Bench Atlantique', '552100554', '55210055400013', 'FR96552100554',
                 '1 rue du Banc d''Essai', '44000', 'Nantes', $1),
                (2, 'bench-export', 'Contrôles Export Atlantique', '552100562', '55210056200017', 'FR04552100562',
                 '2 rue du Banc d''Essai', '44000', 'Nantes', $1)"
    )
    .bind(now)
    .execute(c)
    .await
    })?;

    for tenant in [TenantId(1), TenantId(2)] {
        crate::features::documents::types::seed_tenant(&mut tx, tenant).await?;
    }

    // Clients, ids 1..=N.
    let mut clients = Vec::with_capacity(sizes.clients);
    let mut client_names = Vec::with_capacity(sizes.clients);
    let mut builders = Vec::new();
    // Only cities that have clients: a search for them always finds some.
    let mut cities = std::collections::BTreeSet::new();
    for i in 1..=sizes.clients {
        let (brand, kind) = *pick(&mut rng, BRANDS);
        let name = format!("{brand} {} {i}", pick(&mut rng, QUALIFIERS));
        let (city, postcode) = *pick(&mut rng, CITIES);
        cities.insert(city);
        let code = format!("C{i:05}");
        if kind == "builder" {
            builders.push(i as i64);
        }
        client_names.push(name.clone());
        clients.push(client_row(i as i64, 1, &code, &name, kind, &mut rng, postcode, city, now));
    }
    insert_batched(&mut tx, CLIENT_COLUMNS, 12, &clients).await?;
    counts.insert("clients", clients.len());
    drop(clients);

    // Staff: 1 admin, then office and technicians; the rest are client users, each with a contact.
    let staff_count = (sizes.users / 500).clamp(5, 200);
    let mut users = Inserter::new(USER_COLUMNS, 13);
    let mut contacts = Inserter::new(CONTACT_COLUMNS, 11);
    let mut staff_emails = Vec::new();
    let mut contacts_by_client: Vec<Vec<i64>> = vec![Vec::new(); sizes.clients];
    let mut client_user_emails = Vec::new();
    // (user id, client id) of every client user, for their notifications.
    let mut client_users: Vec<(i64, i64)> = Vec::new();
    for i in 1..=sizes.users {
        let first = *pick(&mut rng, FIRST);
        let last = *pick(&mut rng, LAST);
        let full = format!("{first} {last}");
        let (role, client, email) = if i <= staff_count {
            let role = if i == 1 {
                "admin"
            } else if i % 3 == 0 {
                "technician"
            } else {
                "office"
            };
            let email = format!("staff{i}@bench.test");
            staff_emails.push(email.clone());
            (role, None, email)
        } else {
            let client = ((i - staff_count - 1) % sizes.clients + 1) as i64;
            contacts_by_client[client as usize - 1].push(i as i64);
            client_users.push((i as i64, client));
            let email = format!("user{i}@client{client}.bench.test");
            client_user_emails.push(email.clone());
            let role = if (i - staff_count - 1) < sizes.clients { "client_admin" } else { "client_user" };
            contacts.hold(contact_row(i as i64, 1, client, first, last, &email, &mut rng, now));
            (role, Some(client), email)
        };
        users.hold(user_row(i as i64, 1, client, client.map(|_| i as i64), &email, &full, role, &hash, now));
        // Users point to their contacts: those first.
        if users.full() || contacts.full() {
            contacts.flush(&mut tx).await?;
            users.flush(&mut tx).await?;
        }
    }
    counts.insert("contacts", contacts.finish(&mut tx).await?);
    counts.insert("users", users.finish(&mut tx).await?);

    // Sites of the main firm.
    let mut next_site = 1i64;
    let sites = generate_sites(
        &mut tx,
        &mut rng,
        1,
        1,
        &client_names,
        &contacts_by_client,
        sizes.sites,
        sizes.dwellings,
        (sizes.big_clients, sizes.big_client_sites),
        &mut next_site,
        now,
    )
    .await?;
    counts.insert("sites", (next_site - 1) as usize);
    let mut sites_by_client: Vec<Vec<(i64, &'static str)>> = vec![Vec::new(); sizes.clients];
    let mut site_names_by_client: Vec<Vec<usize>> = vec![Vec::new(); sizes.clients];
    for (k, site) in sites.iter().enumerate() {
        site_names_by_client[site.client as usize - 1].push(k);
    }
    for site in sites.iter().filter(|s| s.kind != "dwelling") {
        sites_by_client[site.client as usize - 1].push((site.id, site.postcode));
    }

    // Files and their documents: the sites' thermal studies (real study files, a few dozen
    // distinct ones in the store) and their plans, permits, photos, certificates and reports
    // (a few real PDFs).
    let mut pdfs = Vec::new();
    for n in 0..8 {
        let bytes = sample_pdf(n);
        let len = bytes.len() as i64;
        pdfs.push((store.put(bytes::Bytes::from(bytes)).await?, len));
    }
    let mut kept = Vec::with_capacity(STUDY_SAMPLES);
    for k in 0..STUDY_SAMPLES as u64 {
        let spec = studies::sample(KEPT_STUDIES_FROM + k);
        let bytes = spec.render();
        let study = ouvrage_thermal::parse(&bytes)?;
        let len = bytes.len() as i64;
        let sha = store.put(bytes::Bytes::from(bytes)).await?;
        kept.push(KeptStudy { sha, len, name: spec.file_name(), extracted: serde_json::to_string(&study)?, study });
    }
    let (documents, thermal) =
        generate_documents(&mut tx, &mut rng, &sizes, &sites, &pdfs, &kept, staff_count, now).await?;
    counts.insert("files", documents);
    counts.insert("documents", documents);
    counts.insert("thermal_studies", thermal);

    // What the firm expects for each chantier, mostly validated, some missing, received or
    // refused; reports and invoices published, a few not yet opened; justificatifs to sign.
    let mut requirements = Inserter::new(
        "INSERT INTO site_requirements (tenant_id, client_id, site_id, label, kind, document_type, stage, status, \
         created_at, updated_at) ",
        10,
    );
    for site in sites.iter().filter(|s| s.kind != "dwelling") {
        for (label, doc_type) in
            [("Étude thermique", "thermal_study"), ("Plans", "plan"), ("Permis de construire", "building_permit")]
        {
            let status = match rng.gen_range(0..10) {
                0..=5 => "validated",
                6 | 7 => "missing",
                8 => "received",
                _ => "refused",
            };
            let row = vec![
                Value::I(1),
                Value::I(site.client),
                Value::I(site.id),
                s(label),
                s("document"),
                s(doc_type),
                s("before"),
                s(status),
                Value::I(now),
                Value::I(now),
            ];
            requirements.push(&mut tx, row).await?;
        }
    }
    counts.insert("site_requirements", requirements.finish(&mut tx).await?);
    exec_tx!(&mut tx, |c| sqlx::query(
        "UPDATE documents SET published_as = document_type, published_at = created_at,
                              first_seen_at = CASE WHEN id % 7 = 0 THEN NULL ELSE created_at END
         WHERE tenant_id = 1 AND document_type IN ('report', 'invoice')"
    )
    .execute(c)
    .await)?;
    let mut signatures = 0;
    for client in 1..=sizes.big_clients as i64 {
        let first: Option<(i64, i64)> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT id, site_id FROM documents WHERE tenant_id = 1 AND client_id = $1 AND site_id IS NOT NULL
             ORDER BY id LIMIT 1"
        )
        .bind(client)
        .fetch_optional(c)
        .await)?;
        let Some((document, site)) = first else { continue };
        for k in 0..6 {
            exec_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO signature_requests (tenant_id, client_id, site_id, document_id, title, status,
                                                 original_sha256, created_at)
                 VALUES (1, $1, $2, $3, $4, $5, '', $6)"
            )
            .bind(client)
            .bind(site)
            .bind(document)
            .bind(format!("Procès-verbal de réception {k}"))
            .bind(if k < 4 { "pending" } else { "signed" })
            .bind(now)
            .execute(c)
            .await)?;
            signatures += 1;
        }
    }
    counts.insert("signature_requests", signatures);

    // Notifications: the history of the firm's users, read or not, already mailed or skipped
    // (none pending, so that the digest measure composes only its own).
    let notifications = generate_notifications(
        &mut tx,
        &mut rng,
        &sizes,
        &client_users,
        staff_count,
        &sites,
        &site_names_by_client,
        now,
    )
    .await?;
    counts.insert("notifications", notifications);

    let (threads, messages) =
        generate_messages(&mut tx, &mut rng, &sizes, &client_users, staff_count, &sites, &site_names_by_client, now)
            .await?;
    counts.insert("threads", threads);
    counts.insert("messages", messages);

    let mut audit = Inserter::new(
        "INSERT INTO audit_log (tenant_id, user_id, actor_label, action, entity, entity_id, summary, created_at) ",
        8,
    );
    for i in 0..sizes.audit {
        let client = rng.gen_range(1..=sizes.clients) as i64;
        let row = vec![
            Value::I(1),
            Value::OptI(Some(1)),
            s("staff1@bench.test"),
            s("update"),
            s("client"),
            Value::OptI(Some(client)),
            s(format!("Client C{client:05} modifié")),
            Value::I(now - (sizes.audit - i) as i64 * 60_000),
        ];
        audit.push(&mut tx, row).await?;
    }
    counts.insert("audit_log", audit.finish(&mut tx).await?);

    // Integrators' tokens, each for one builder of the main firm.
    let mut api_secrets = Vec::new();
    let mut api_sites = Vec::new();
    for (n, client) in builders.iter().take(API_TOKENS).enumerate() {
        api_sites.push(sites_by_client[*client as usize - 1].first().map(|s| s.0).unwrap_or(0));
        let secret = format!("ouv_bench{n:04}{}", "Q".repeat(34));
        exec_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO api_tokens (tenant_id, client_id, name, prefix, token_hash, created_at)
             VALUES (1, $1, $2, $3, $4, $5)"
        )
        .bind(client)
        .bind(format!("Logiciel thermique {n}"))
        .bind(&secret[..12])
        .bind(crate::features::files::storage::sha256_hex(secret.as_bytes()))
        .bind(now)
        .execute(c)
        .await)?;
        api_secrets.push(secret);
    }

    // The second firm: its office exports all its sites.
    let export_clients = (sizes.export_sites / 500).clamp(5, 200);
    let first_export_client = sizes.clients as i64 + 1;
    let mut export_names = Vec::new();
    let mut rows = Vec::new();
    for k in 0..export_clients {
        let id = first_export_client + k as i64;
        let (brand, kind) = *pick(&mut rng, &BRANDS[..3]);
        let name = format!("{brand} {} {}", pick(&mut rng, QUALIFIERS), k + 1);
        let (city, postcode) = *pick(&mut rng, CITIES);
        rows.push(client_row(id, 2, &format!("E{:04}", k + 1), &name, kind, &mut rng, postcode, city, now));
        export_names.push(name);
    }
    insert_batched(&mut tx, CLIENT_COLUMNS, 12, &rows).await?;
    let mut export_contacts: Vec<Vec<i64>> = vec![Vec::new(); export_clients];
    let mut rows = Vec::new();
    let mut contact_id = sizes.users as i64;
    for (k, list) in export_contacts.iter_mut().enumerate() {
        for _ in 0..3 {
            contact_id += 1;
            let (first, last) = (*pick(&mut rng, FIRST), *pick(&mut rng, LAST));
            let email = format!("contact{contact_id}@export.bench.test");
            rows.push(contact_row(contact_id, 2, first_export_client + k as i64, first, last, &email, &mut rng, now));
            list.push(contact_id);
        }
    }
    insert_batched(&mut tx, CONTACT_COLUMNS, 11, &rows).await?;
    let export_staff_email = "bureau@export.bench.test".to_string();
    let row =
        user_row(sizes.users as i64 + 1, 2, None, None, &export_staff_email, "Karine Export", "office", &hash, now);
    insert_batched(&mut tx, USER_COLUMNS, 13, &[row]).await?;
    let before = next_site;
    generate_sites(
        &mut tx,
        &mut rng,
        2,
        first_export_client,
        &export_names,
        &export_contacts,
        sizes.export_sites,
        sizes.export_sites * 2 / 5,
        (0, 0),
        &mut next_site,
        now,
    )
    .await?;
    let export_sites = (next_site - before) as usize;
    counts.insert("export_firm_sites", export_sites);
    tx.commit().await?;
    if db.engine() == crate::db::Engine::Postgres {
        // Explicit ids were inserted: move the identity sequences past them.
        for table in ["tenants", "clients", "contacts", "users", "sites", "files", "documents", "threads", "messages"] {
            let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))");
            crate::exec_db!(db, |p| sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(p).await)?;
        }
        crate::exec_db!(db, |p| sqlx::query("ANALYZE").execute(p).await)?;
    }
    Ok(Generated {
        staff_emails,
        client_user_emails,
        cities: cities.into_iter().collect(),
        sites_by_client,
        export_staff_email,
        export_sites,
        api_secrets,
        api_sites,
        big_clients: sizes.big_clients,
        rows: counts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

const CLIENT_COLUMNS: &str = "INSERT INTO clients (id, tenant_id, code, name, kind, address_line1, postcode, city, \
     billing_email, search_key, created_at, updated_at) ";
const CONTACT_COLUMNS: &str = "INSERT INTO contacts (id, tenant_id, client_id, first_name, last_name, job_title, \
     email, mobile, search_key, created_at, updated_at) ";
const USER_COLUMNS: &str = "INSERT INTO users (id, tenant_id, client_id, contact_id, email, full_name, role, \
     permissions, password_hash, active, search_key, created_at, updated_at) ";

#[allow(clippy::too_many_arguments)]
fn client_row(
    id: i64,
    tenant: i64,
    code: &str,
    name: &str,
    kind: &str,
    rng: &mut StdRng,
    postcode: &str,
    city: &str,
    now: i64,
) -> Vec<Value> {
    vec![
        Value::I(id),
        Value::I(tenant),
        s(code),
        s(name),
        s(kind),
        s(format!("{} {}", rng.gen_range(1..200), pick(rng, STREETS))),
        s(postcode),
        s(city),
        s(format!("compta@client{id}.bench.test")),
        s(search_key(&[code, name, city, postcode])),
        Value::I(now),
        Value::I(now),
    ]
}

#[allow(clippy::too_many_arguments)]
fn contact_row(
    id: i64,
    tenant: i64,
    client: i64,
    first: &str,
    last: &str,
    email: &str,
    rng: &mut StdRng,
    now: i64,
) -> Vec<Value> {
    vec![
        Value::I(id),
        Value::I(tenant),
        Value::I(client),
        s(first),
        s(last),
        s(*pick(rng, FUNCTIONS)),
        s(email),
        s(format!("+336{:08}", rng.gen_range(0..100_000_000))),
        s(search_key(&[first, last, email])),
        Value::I(now),
        Value::I(now),
    ]
}

#[allow(clippy::too_many_arguments)]
fn user_row(
    id: i64,
    tenant: i64,
    client: Option<i64>,
    contact: Option<i64>,
    email: &str,
    full: &str,
    role: &str,
    hash: &str,
    now: i64,
) -> Vec<Value> {
    vec![
        Value::I(id),
        Value::I(tenant),
        Value::OptI(client),
        Value::OptI(contact),
        s(email),
        s(full),
        s(role),
        s(if role == "client_user" { "" } else { "sign invoices" }),
        s(hash),
        Value::B(true),
        s(search_key(&[full, email])),
        Value::I(now),
        Value::I(now),
    ]
}

/// A thermal study kept in the store for the sites' documents.
struct KeptStudy {
    sha: String,
    len: i64,
    name: String,
    extracted: String,
    study: ouvrage_thermal::ThermalStudy,
}

/// The sites' documents, each with its file: first the thermal study of every chantier, then
/// plans, permits, photos, certificates and reports spread over all sites. Returns the number
/// of documents (one file each) and of thermal-study versions.
#[allow(clippy::too_many_arguments)]
async fn generate_documents(
    tx: &mut Tx,
    rng: &mut StdRng,
    sizes: &Sizes,
    sites: &[SiteInfo],
    pdfs: &[(String, i64)],
    kept: &[KeptStudy],
    staff_count: usize,
    now: i64,
) -> anyhow::Result<(usize, usize)> {
    let mut files = Inserter::new(
        "INSERT INTO files (id, tenant_id, client_id, sha256, size_bytes, content_type, original_name, uploaded_by, \
         created_at) ",
        9,
    );
    let mut documents = Inserter::new(
        "INSERT INTO documents (id, tenant_id, client_id, site_id, file_id, document_type, title, created_by, \
         created_at) ",
        9,
    );
    let mut versions = Inserter::new(
        "INSERT INTO thermal_studies (tenant_id, client_id, site_id, document_id, sha256, format, engine_version, \
         extracted, changes, source, created_by, created_at) ",
        12,
    );
    // Studies filed per client: a client never has the same study file twice.
    let mut studies_of_client: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let chantiers: Vec<&SiteInfo> = sites.iter().filter(|s| s.kind == "construction").collect();
    // The sites of the other documents, drawn first and taken in order (the documents' index
    // by site is then filled in order).
    let mut others: Vec<usize> =
        (0..sizes.files.saturating_sub(chantiers.len())).map(|_| rng.gen_range(0..sites.len())).collect();
    others.sort_unstable();
    let mut others = others.into_iter();
    for id in 1..=sizes.files as i64 {
        let created_at = now - rng.gen_range(0..365) * DAY_MS - rng.gen_range(0..DAY_MS);
        let staff = (rng.gen_range(0..4) > 0).then(|| rng.gen_range(1..=staff_count) as i64);
        let study = (id as usize <= chantiers.len())
            .then(|| {
                let site = chantiers[id as usize - 1];
                let n = studies_of_client.entry(site.client).or_default();
                *n += 1;
                (*n <= kept.len()).then(|| (site, &kept[*n - 1]))
            })
            .flatten();
        let (site, kind, title, file) = if let Some((site, k)) = study {
            let title = format!("Étude thermique ({})", k.study.format.label());
            (site, STUDY_DOCUMENT, title, (k.sha.clone(), k.len, "application/xml", k.name.clone()))
        } else {
            let site = &sites[others.next().unwrap_or_else(|| rng.gen_range(0..sites.len()))];
            let roll = rng.gen_range(0..20);
            let (code, title, stem) = match site.kind {
                "construction" => match roll {
                    0..=4 => PLAN,
                    5..=7 => PERMIT,
                    8..=12 => PHOTO,
                    13..=15 => CERTIFICATE,
                    _ => REPORT,
                },
                "dwelling" => match roll {
                    0..=9 => REPORT,
                    10..=15 => CERTIFICATE,
                    _ => PHOTO,
                },
                _ => match roll {
                    0..=3 => PLAN,
                    4..=9 => PHOTO,
                    10..=12 => CERTIFICATE,
                    _ => REPORT,
                },
            };
            let (sha, len) = pick(rng, pdfs).clone();
            (site, code, title.to_string(), (sha, len, "application/pdf", format!("{stem}-{id}.pdf")))
        };
        let (sha, len, content_type, name) = file;
        files.hold(vec![
            Value::I(id),
            Value::I(1),
            Value::I(site.client),
            s(sha.clone()),
            Value::I(len),
            s(content_type),
            s(name),
            Value::OptI(staff),
            Value::I(created_at),
        ]);
        documents.hold(vec![
            Value::I(id),
            Value::I(1),
            Value::I(site.client),
            Value::OptI(Some(site.id)),
            Value::I(id),
            s(kind),
            s(title),
            Value::OptI(staff),
            Value::I(created_at),
        ]);
        if let Some((site, k)) = study {
            versions.hold(vec![
                Value::I(1),
                Value::I(site.client),
                Value::I(site.id),
                Value::I(id),
                s(sha),
                s(k.study.format.as_str()),
                Value::OptS(k.study.engine_version.clone()),
                s(k.extracted.clone()),
                s("[]"),
                s(if staff.is_some() { "form" } else { "api" }),
                Value::OptI(staff),
                Value::I(created_at),
            ]);
        }
        // Documents point to files, versions to documents: written in that order.
        if files.full() || versions.full() {
            files.flush(tx).await?;
            documents.flush(tx).await?;
            versions.flush(tx).await?;
        }
    }
    let n = files.finish(tx).await?;
    documents.finish(tx).await?;
    Ok((n, versions.finish(tx).await?))
}

/// Kinds of notification a client user receives: (kind, title, link), and a staff member.
const CLIENT_NEWS: &[(&str, &str, &str)] = &[
    ("new_document", "Nouveau document : plan de masse", "/espace/documents"),
    ("new_document", "Nouveau document : reportage photo du chantier", "/espace/documents"),
    ("new_report", "Nouveau rapport disponible : test d'étanchéité à l'air", "/espace/documents"),
    ("new_report", "Nouveau rapport disponible : attestation RE2020 à l'achèvement", "/espace/documents"),
    ("new_message", "Nouveau message de votre chargé d'affaires", "/espace/messagerie"),
    ("new_invoice", "Nouvelle facture disponible", "/espace/factures"),
];
const STAFF_NEWS: &[(&str, &str, &str)] = &[
    ("contact_request", "Nouvelle demande de contact", "/bo/demandes"),
    ("credential_request", "Demande d'accès à l'extranet", "/bo/demandes"),
    ("client_details_updated", "Coordonnées d'un client modifiées", "/bo/clients"),
];

/// The users' notifications over the last year: most for client users, about their company's
/// sites; the older ones nearly all read, a good part of the last month's not yet.
#[allow(clippy::too_many_arguments)]
async fn generate_notifications(
    tx: &mut Tx,
    rng: &mut StdRng,
    sizes: &Sizes,
    client_users: &[(i64, i64)],
    staff_count: usize,
    sites: &[SiteInfo],
    sites_of_client: &[Vec<usize>],
    now: i64,
) -> Result<usize, sqlx::Error> {
    let mut rows = Inserter::new(
        "INSERT INTO notifications (tenant_id, user_id, client_id, site_label, kind, event_key, title, link, \
         created_at, read_at, digest_state) ",
        11,
    );
    // Recipients drawn first, then written user by user: the indexes, all led by the user, are
    // filled in order (five times quicker than in random order, for the same rows).
    let mut recipients: Vec<(i64, Option<i64>)> = (0..sizes.notifications)
        .map(|_| {
            if rng.gen_bool(0.95) || staff_count == 0 {
                let (user, client) = *pick(rng, client_users);
                (user, Some(client))
            } else {
                (rng.gen_range(1..=staff_count) as i64, None)
            }
        })
        .collect();
    recipients.sort_unstable();
    for (n, (user, client)) in recipients.into_iter().enumerate() {
        let age = rng.gen_range(0..365 * DAY_MS);
        let created_at = now - age;
        let read = if age > 30 * DAY_MS { rng.gen_bool(0.96) } else { rng.gen_bool(0.55) };
        let read_at = read.then(|| (created_at + rng.gen_range(0..3 * DAY_MS)).min(now));
        let digest_state = if rng.gen_bool(0.8) { "sent" } else { "skipped" };
        let row = if let Some(client) = client {
            let (kind, title, link) = *pick(rng, CLIENT_NEWS);
            let own = &sites_of_client[client as usize - 1];
            let site = if kind == "new_message" || own.is_empty() {
                String::new()
            } else {
                sites[own[rng.gen_range(0..own.len())]].name.clone()
            };
            vec![
                Value::I(1),
                Value::I(user),
                Value::OptI(Some(client)),
                s(site),
                s(kind),
                s(format!("{kind}:{n}")),
                s(title),
                s(link),
                Value::I(created_at),
                Value::OptI(read_at),
                s(digest_state),
            ]
        } else {
            let (kind, title, link) = *pick(rng, STAFF_NEWS);
            vec![
                Value::I(1),
                Value::I(user),
                Value::OptI(None),
                s(""),
                s(kind),
                s(format!("{kind}:{n}")),
                s(title),
                s(link),
                Value::I(created_at),
                Value::OptI(read_at),
                s(digest_state),
            ]
        };
        rows.push(tx, row).await?;
    }
    rows.finish(tx).await
}

const SUBJECTS: &[&str] = &[
    "Demande d'intervention",
    "Date du test d'étanchéité à l'air",
    "Documents manquants pour le chantier",
    "Question sur le rapport",
    "Facture : précision demandée",
    "Accès au chantier",
    "Report du rendez-vous",
];
const CLIENT_LINES: &[&str] = &[
    "Bonjour, pouvez-vous nous proposer une date pour le test ? Le chantier sera hors d'air fin du mois.",
    "Vous trouverez ci-joint le plan de masse et la notice thermique.",
    "Le conducteur de travaux sera sur place à partir de 8 h.",
    "Merci de nous confirmer la date d'intervention.",
];
const STAFF_LINES: &[&str] = &[
    "Bonjour, nous vous proposons le mardi matin, entre 8 h et 12 h. Cela vous convient-il ?",
    "Bien reçu, merci. Il nous manque encore l'étude thermique à jour.",
    "Le rapport est disponible dans votre espace.",
    "Intervention confirmée, le technicien vous appellera la veille.",
];

/// Conversations between the firm and its clients over the last year, about a site or general:
/// a client user opens each, the firm answers, a few go on; most are closed or answered, some
/// open. Each author has read up to their own last message; client users opened most answers.
#[allow(clippy::too_many_arguments)]
async fn generate_messages(
    tx: &mut Tx,
    rng: &mut StdRng,
    sizes: &Sizes,
    client_users: &[(i64, i64)],
    staff_count: usize,
    sites: &[SiteInfo],
    sites_of_client: &[Vec<usize>],
    now: i64,
) -> Result<(usize, usize), sqlx::Error> {
    if client_users.is_empty() || staff_count == 0 {
        return Ok((0, 0));
    }
    let mut threads = Inserter::new(
        "INSERT INTO threads (id, tenant_id, client_id, site_id, subject, subject_key, status, assigned_to, \
         created_by, created_at, last_message_id, last_message_at) ",
        12,
    );
    let mut messages =
        Inserter::new("INSERT INTO messages (id, tenant_id, thread_id, author_id, from_staff, body, created_at) ", 7);
    let mut reads =
        Inserter::new("INSERT INTO thread_reads (tenant_id, thread_id, user_id, last_message_id, read_at) ", 5);
    let mut next_message = 1_i64;
    let mut thread_id = 0_i64;
    let mut written = 0;
    while written < sizes.messages {
        thread_id += 1;
        let (author, client) = *pick(rng, client_users);
        let own = &sites_of_client[client as usize - 1];
        let site = (!own.is_empty() && rng.gen_bool(0.85)).then(|| sites[own[rng.gen_range(0..own.len())]].id);
        let subject = *pick(rng, SUBJECTS);
        let staff = rng.gen_range(1..=staff_count) as i64;
        let count = rng.gen_range(1..=9).min(sizes.messages - written);
        let mut at = now - rng.gen_range(0..365 * DAY_MS);
        let first = next_message;
        let mut last_client = None;
        for k in 0..count {
            let from_staff = k % 2 == 1;
            let (who, body) =
                if from_staff { (staff, *pick(rng, STAFF_LINES)) } else { (author, *pick(rng, CLIENT_LINES)) };
            if !from_staff {
                last_client = Some(next_message);
            }
            messages.hold(vec![
                Value::I(next_message),
                Value::I(1),
                Value::I(thread_id),
                Value::OptI(Some(who)),
                Value::B(from_staff),
                s(body),
                Value::I(at),
            ]);
            next_message += 1;
            at = (at + rng.gen_range(DAY_MS / 24..3 * DAY_MS)).min(now);
        }
        let last = next_message - 1;
        let status = if at < now - 30 * DAY_MS || rng.gen_bool(0.6) {
            "closed"
        } else if count % 2 == 0 {
            "answered"
        } else {
            "open"
        };
        threads.hold(vec![
            Value::I(thread_id),
            Value::I(1),
            Value::I(client),
            Value::OptI(site),
            s(subject),
            s(search_key(&[subject])),
            s(status),
            Value::OptI(Some(staff)),
            Value::OptI(Some(author)),
            Value::I(at - (last - first) * DAY_MS / 2),
            Value::I(last),
            Value::I(at),
        ]);
        // The author read up to the last message, or only up to theirs when an answer is new.
        let client_read = if status == "closed" || rng.gen_bool(0.7) { Some(last) } else { last_client };
        for (user, upto) in [(author, client_read), (staff, Some(last))] {
            if let Some(upto) = upto {
                reads.hold(vec![Value::I(1), Value::I(thread_id), Value::I(user), Value::I(upto), Value::I(at)]);
            }
        }
        written += count;
        // Threads first, then what points to them.
        if messages.full() || threads.full() || reads.full() {
            threads.flush(tx).await?;
            messages.flush(tx).await?;
            reads.flush(tx).await?;
        }
    }
    let thread_count = threads.finish(tx).await?;
    let message_count = messages.finish(tx).await?;
    reads.finish(tx).await?;
    Ok((thread_count, message_count))
}

/// A small, valid one-page PDF, different for each `n`.
fn sample_pdf(n: usize) -> Vec<u8> {
    let text = format!("Rapport d'essai n{n}");
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}
