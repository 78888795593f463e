//! The data generator: a believable French firm at scale, deterministic from a seed, written
//! with multi-row inserts inside transactions (row-by-row would take minutes).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::exec_tx;

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
        let medium =
            Sizes { clients: 2_000, users: 10_000, sites: 50_000, dwellings: 20_000, files: 250_000, audit: 100_000 };
        match self {
            Scale::Tiny => Sizes { clients: 20, users: 100, sites: 500, dwellings: 200, files: 500, audit: 500 },
            Scale::Medium => medium,
            Scale::Large => Sizes {
                clients: medium.clients * 10,
                users: medium.users * 10,
                sites: medium.sites * 10,
                dwellings: medium.dwellings * 10,
                files: medium.files * 10,
                audit: medium.audit * 10,
            },
        }
    }
}

/// Row counts of the generated firm. Documents, messages and notifications join the generator
/// with the capabilities that create their tables.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub clients: usize,
    pub users: usize,
    /// All sites, dwellings included.
    pub sites: usize,
    /// Dwellings of residences, 40 per residence.
    pub dwellings: usize,
    pub files: usize,
    pub audit: usize,
}

/// What the load scenarios need to know about the generated data.
pub struct Generated {
    pub staff_emails: Vec<String>,
    pub client_user_emails: Vec<String>,
    pub cities: Vec<&'static str>,
    /// Each client's sites (index = client id - 1) with their postcode, for pages and filters
    /// on the client's own sites.
    pub sites_by_client: Vec<Vec<(i64, &'static str)>>,
    pub rows: std::collections::BTreeMap<&'static str, usize>,
    pub seconds: f64,
}

pub const PASSWORD: &str = "bench-ouvrage-2026";
const SEED: u64 = 20_261_123;
const BATCH: usize = 500;

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
const FILE_NAMES: &[&str] =
    &["plan-masse", "permis-de-construire", "attestation-rt", "photo-facade", "notice", "rapport"];

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

#[derive(Clone)]
enum Value {
    I(i64),
    OptI(Option<i64>),
    S(String),
    OptS(Option<String>),
    B(bool),
}

#[allow(clippy::too_many_arguments)]
fn site_row(
    id: i64,
    client: i64,
    kind: &str,
    parent: Option<i64>,
    name: &str,
    number: &str,
    street: &str,
    postcode: &str,
    city: &str,
    manager: Option<i64>,
    phase: &str,
    status: &str,
    expected: Option<String>,
    actual: Option<String>,
    now: i64,
) -> Vec<Value> {
    vec![
        Value::I(id),
        Value::I(1),
        Value::I(client),
        s(kind),
        Value::OptI(parent),
        s(name),
        s(number),
        s(street),
        s(postcode),
        s(format!("{}{:03}", &postcode[..2], 100 + (id % 300))),
        s(city),
        Value::OptI(manager),
        s(if kind == "dwelling" { "collective" } else { "individual" }),
        s(phase),
        s(status),
        Value::OptS(expected),
        Value::OptS(actual),
        s(search_key(&[name])),
        s(search_key(&[city])),
        s(search_key(&[name, number, street, postcode, city])),
        Value::I(now),
        Value::I(now),
    ]
}

fn s(v: impl Into<String>) -> Value {
    Value::S(v.into())
}

/// Generates the firm into an empty, migrated database.
pub async fn generate(
    db: &Db,
    scale: Scale,
    sample_files: &crate::features::files::FileStore,
) -> anyhow::Result<Generated> {
    let started = Instant::now();
    let sizes = scale.sizes();
    let mut rng = StdRng::seed_from_u64(SEED);
    let now = now_ms();
    let hash = crate::features::auth::password::hash(PASSWORD.to_string()).await?;
    let mut tx = db.begin().await?;
    exec_tx!(&mut tx, |c| {
        sqlx::query(
        "INSERT INTO tenants (id, slug, legal_name, siren, siret, vat_number, address_line1, postcode, city, created_at)
         VALUES (1, 'bench', 'Diagnostics Bench Atlantique', '552100554', '55210055400013', 'FR96552100554',
                 '1 rue du Banc d''Essai', '44000', 'Nantes', $1)"
    )
    .bind(now)
    .execute(c)
    .await
    })?;

    // Clients, ids 1..=N.
    let mut clients = Vec::with_capacity(sizes.clients);
    // Only cities that have clients: a search for them always finds some.
    let mut cities = std::collections::BTreeSet::new();
    for i in 1..=sizes.clients {
        let (brand, kind) = *pick(&mut rng, BRANDS);
        let name = format!("{brand} {} {i}", pick(&mut rng, QUALIFIERS));
        let (city, postcode) = *pick(&mut rng, CITIES);
        cities.insert(city);
        let code = format!("C{i:05}");
        clients.push(vec![
            Value::I(i as i64),
            Value::I(1),
            s(code.clone()),
            s(name.clone()),
            s(kind),
            s(format!("{} {}", rng.gen_range(1..200), pick(&mut rng, STREETS))),
            s(postcode),
            s(city),
            s(format!("compta@client{i}.bench.test")),
            s(search_key(&[&code, &name, city, postcode])),
            Value::I(now),
            Value::I(now),
        ]);
    }
    insert_batched(
        &mut tx,
        "INSERT INTO clients (id, tenant_id, code, name, kind, address_line1, postcode, city, billing_email, search_key, created_at, updated_at) ",
        12,
        &clients,
    )
    .await?;

    // Staff: 1 admin, then office and technicians; the rest are client users, each with a contact.
    let staff_count = (sizes.users / 500).clamp(5, 200);
    let mut users = Vec::with_capacity(sizes.users);
    let mut contacts = Vec::with_capacity(sizes.users);
    let mut staff_emails = Vec::new();
    let mut contacts_by_client: Vec<Vec<i64>> = vec![Vec::new(); sizes.clients];
    let mut client_user_emails = Vec::new();
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
            let email = format!("user{i}@client{client}.bench.test");
            client_user_emails.push(email.clone());
            let role = if (i - staff_count - 1) < sizes.clients { "client_admin" } else { "client_user" };
            contacts.push(vec![
                Value::I(i as i64),
                Value::I(1),
                Value::I(client),
                s(first),
                s(last),
                s(*pick(&mut rng, FUNCTIONS)),
                s(email.clone()),
                s(format!("+336{:08}", rng.gen_range(0..100_000_000))),
                s(search_key(&[first, last, &email])),
                Value::I(now),
                Value::I(now),
            ]);
            (role, Some(client), email)
        };
        users.push(vec![
            Value::I(i as i64),
            Value::I(1),
            Value::OptI(client),
            Value::OptI(client.map(|_| i as i64)),
            s(email.clone()),
            s(full.clone()),
            s(role),
            s(if role == "client_user" { "" } else { "sign invoices" }),
            s(hash.clone()),
            Value::B(true),
            s(search_key(&[&full, &email])),
            Value::I(now),
            Value::I(now),
        ]);
    }
    insert_batched(
        &mut tx,
        "INSERT INTO contacts (id, tenant_id, client_id, first_name, last_name, job_title, email, mobile, search_key, created_at, updated_at) ",
        11,
        &contacts,
    )
    .await?;
    insert_batched(
        &mut tx,
        "INSERT INTO users (id, tenant_id, client_id, contact_id, email, full_name, role, permissions, password_hash, active, search_key, created_at, updated_at) ",
        13,
        &users,
    )
    .await?;

    // Sites: chantiers and premises, and residences of 40 dwellings each.
    let residences = sizes.dwellings / 40;
    let mut sites = Vec::with_capacity(sizes.sites);
    let mut sites_by_client: Vec<Vec<(i64, &'static str)>> = vec![Vec::new(); sizes.clients];
    let today = chrono::Utc::now().date_naive();
    let mut next_id = 1i64;
    let others = sizes.sites.saturating_sub(sizes.dwellings + residences);
    for n in 0..(others + residences) {
        let id = next_id;
        next_id += 1;
        // Every client gets at least one site, so every session has pages to open.
        let client = if n < sizes.clients { n as i64 + 1 } else { rng.gen_range(1..=sizes.clients) as i64 };
        let is_residence = n < residences;
        let (city, postcode) = *pick(&mut rng, CITIES);
        let street = *pick(&mut rng, STREETS);
        let number = rng.gen_range(1..150).to_string();
        let name = if is_residence {
            format!("Résidence {} {}", pick(&mut rng, LAST), n + 1)
        } else {
            format!("{} {} — lot {}", if rng.gen_bool(0.8) { "Maison" } else { "Locaux" }, pick(&mut rng, LAST), n + 1)
        };
        let manager = contacts_by_client[client as usize - 1].first().copied();
        let offset = rng.gen_range(-120..120);
        let expected = (today + chrono::Duration::days(offset)).format("%Y-%m-%d").to_string();
        let done = offset < 0 && rng.gen_bool(0.7);
        sites_by_client[client as usize - 1].push((id, postcode));
        sites.push(site_row(
            id,
            client,
            if is_residence {
                "residence"
            } else if name.starts_with("Locaux") {
                "premises"
            } else {
                "construction"
            },
            None,
            &name,
            &number,
            street,
            postcode,
            city,
            manager,
            if offset > 30 { "works" } else { "handover" },
            if done { "done" } else { "scheduled" },
            Some(expected.clone()),
            done.then_some(expected),
            now,
        ));
        if is_residence {
            for d in 1..=40 {
                let dwelling = next_id;
                next_id += 1;
                sites.push(site_row(
                    dwelling,
                    client,
                    "dwelling",
                    Some(id),
                    &format!("Logement {d} — {name}"),
                    &number,
                    street,
                    postcode,
                    city,
                    None,
                    "handover",
                    "to_schedule",
                    None,
                    None,
                    now,
                ));
            }
        }
    }
    insert_batched(
        &mut tx,
        "INSERT INTO sites (id, tenant_id, client_id, kind, parent_id, name, street_number, street, postcode, city_code, city, \
         site_manager_contact_id, operation_type, phase, status, expected_date, actual_date, name_key, city_key, search_key, \
         created_at, updated_at) ",
        22,
        &sites,
    )
    .await?;

    // Files: metadata at scale, pointing at a small sample of real stored PDFs.
    let mut samples = Vec::new();
    for n in 0..8 {
        let bytes = sample_pdf(n);
        let len = bytes.len() as i64;
        samples.push((sample_files.put(bytes::Bytes::from(bytes)).await?, len));
    }
    let mut files = Vec::with_capacity(sizes.files);
    for i in 1..=sizes.files {
        let (sha, len) = pick(&mut rng, &samples).clone();
        let client = rng.gen_range(1..=sizes.clients) as i64;
        files.push(vec![
            Value::I(1),
            Value::I(client),
            s(sha),
            Value::I(len),
            s("application/pdf"),
            s(format!("{}-{i}.pdf", pick(&mut rng, FILE_NAMES))),
            Value::I(now - rng.gen_range(0..365) * crate::domain::time::DAY_MS),
        ]);
    }
    insert_batched(
        &mut tx,
        "INSERT INTO files (tenant_id, client_id, sha256, size_bytes, content_type, original_name, created_at) ",
        7,
        &files,
    )
    .await?;

    let mut audit = Vec::with_capacity(sizes.audit);
    for i in 0..sizes.audit {
        let client = rng.gen_range(1..=sizes.clients) as i64;
        audit.push(vec![
            Value::I(1),
            Value::OptI(Some(1)),
            s("staff1@bench.test"),
            s("update"),
            s("client"),
            Value::OptI(Some(client)),
            s(format!("Client C{client:05} modifié")),
            Value::I(now - (sizes.audit - i) as i64 * 60_000),
        ]);
    }
    insert_batched(
        &mut tx,
        "INSERT INTO audit_log (tenant_id, user_id, actor_label, action, entity, entity_id, summary, created_at) ",
        8,
        &audit,
    )
    .await?;
    tx.commit().await?;
    if db.engine() == crate::db::Engine::Postgres {
        // Explicit ids were inserted: move the identity sequences past them.
        for table in ["tenants", "clients", "contacts", "users", "sites"] {
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
        rows: [
            ("clients", sizes.clients),
            ("users", sizes.users),
            ("contacts", contacts.len()),
            ("files", sizes.files),
            ("sites", sites.len()),
            ("audit_log", sizes.audit),
        ]
        .into_iter()
        .collect(),
        seconds: started.elapsed().as_secs_f64(),
    })
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
