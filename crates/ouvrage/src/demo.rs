//! Demo data: a believable French testing firm with five client companies, their contacts,
//! one login per role, and several hundred sites. Loaded only into an empty database.
//!
//! The builders' chantiers are created the way a firm's are, from their thermal studies
//! ([`studies`] writes them): each study is read, prefills the site form, which the office
//! completes (INSEE code, planning, site manager) and the site checks validate, and is filed
//! on the new site as its "étude thermique" document with its indicators
//! ([`crate::features::sites::studies`]). Residences, dwellings and premises are entered
//! directly.

pub mod studies;

use bytes::Bytes;
use futures::StreamExt;
use ouvrage_thermal::ThermalStudy;

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, Email, Permission, Permissions, Role, TenantId, parse_phone};
use crate::features::audit::{self, AuditActor};
use crate::features::auth::password;
use crate::features::files::FileStore;
use crate::features::files::storage::sha256_hex;
use crate::features::files::upload::{self, CheckedUpload, StoredUpload};
use crate::features::sites::model::{self, OperationType, Phase, SiteData, SiteForm, SiteKind, SiteStatus};
use crate::features::sites::store;
use crate::features::sites::studies::{self as site_studies, Importer, Source, Target};
use crate::features::users::account::{NewUser, create_user};
use crate::{exec_tx, on_db, on_tx};
use studies::{COMMUNES, Dice, FAMILIES, FIRST_MEN, FIRST_WOMEN, RESIDENCES, Regulation, StudySpec};

pub const DEMO_PASSWORD: &str = "demo-ouvrage";

pub const DEMO_LOGINS: &[(&str, &str)] = &[
    ("admin@demo.test", "administrateur du prestataire"),
    ("bureau@demo.test", "bureau (secrétariat, planning)"),
    ("technicien@demo.test", "technicien"),
    ("client.admin@demo.test", "administrateur client de C001"),
    ("client@demo.test", "utilisateur client de C001"),
    ("autre.client@demo.test", "utilisateur client de C002"),
];

struct DemoClient {
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    siret: &'static str,
    address: &'static str,
    postcode: &'static str,
    city: &'static str,
    billing_email: &'static str,
    phone: &'static str,
    contacts: &'static [(&'static str, &'static str, &'static str, &'static str, &'static str)],
}

const CLIENTS: &[DemoClient] = &[
    DemoClient {
        code: "C001",
        name: "Maisons Horizon Atlantique",
        kind: "builder",
        siret: "73282932000074",
        address: "14 rue de la Fosse",
        postcode: "44000",
        city: "Nantes",
        billing_email: "compta@maisons-horizon.test",
        phone: "02 40 12 34 56",
        contacts: &[
            ("Claire", "Moreau", "Responsable administrative", "client.admin@demo.test", "06 12 34 56 78"),
            ("Julien", "Lefèvre", "Conducteur de travaux", "client@demo.test", "06 23 45 67 89"),
            ("Sophie", "Garnier", "Conductrice de travaux", "s.garnier@maisons-horizon.test", "06 34 56 78 90"),
        ],
    },
    DemoClient {
        code: "C002",
        name: "Demeures de l'Estuaire",
        kind: "builder",
        siret: "44306184100047",
        address: "3 quai Émile Cormerais",
        postcode: "44800",
        city: "Saint-Herblain",
        billing_email: "factures@demeures-estuaire.test",
        phone: "02 40 98 76 54",
        contacts: &[
            ("Thomas", "Bernard", "Conducteur de travaux", "autre.client@demo.test", "06 45 67 89 01"),
            ("Nadia", "Benali", "Assistante travaux", "n.benali@demeures-estuaire.test", "02 40 98 76 50"),
        ],
    },
    DemoClient {
        code: "C003",
        name: "Loire Habitat Social",
        kind: "landlord",
        siret: "55208131766522",
        address: "22 boulevard Gabriel Guist'hau",
        postcode: "44000",
        city: "Nantes",
        billing_email: "fournisseurs@loire-habitat.test",
        phone: "02 51 72 10 00",
        contacts: &[
            ("Marc", "Dubois", "Chargé de patrimoine", "m.dubois@loire-habitat.test", "06 56 78 90 12"),
            ("Isabelle", "Roux", "Gestionnaire technique", "i.roux@loire-habitat.test", "02 51 72 10 14"),
        ],
    },
    DemoClient {
        code: "C004",
        name: "Cabinet Syndic des Trois Rivières",
        kind: "syndic",
        siret: "",
        address: "8 place du Commerce",
        postcode: "49100",
        city: "Angers",
        billing_email: "syndic@trois-rivieres.test",
        phone: "02 41 20 30 40",
        contacts: &[(
            "Hélène",
            "Petit",
            "Gestionnaire de copropriétés",
            "h.petit@trois-rivieres.test",
            "06 67 89 01 23",
        )],
    },
    DemoClient {
        code: "C005",
        name: "Famille Martin",
        kind: "individual",
        siret: "",
        address: "5 impasse des Hortensias",
        postcode: "85000",
        city: "La Roche-sur-Yon",
        billing_email: "paul.martin@exemple.test",
        phone: "06 78 90 12 34",
        contacts: &[("Paul", "Martin", "Propriétaire", "paul.martin@exemple.test", "06 78 90 12 34")],
    },
];

pub async fn is_loaded(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 =
        on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE slug = 'demo'").fetch_one(p).await)?;
    Ok(n > 0)
}

/// Loads the demo firm when the database holds no firm at all; returns whether it did. The
/// chantiers' thermal studies go to `files`.
pub async fn load_if_empty(db: &Db, files: &FileStore) -> anyhow::Result<bool> {
    let tenants: i64 = on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(p).await)?;
    if tenants > 0 {
        return Ok(false);
    }
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let chantiers = plan_chantiers(today);
    // Hashing the password and reading the studies keep a core busy each.
    let (hash, read) = tokio::join!(
        password::hash(DEMO_PASSWORD.to_string()),
        read_studies(chantiers.iter().filter(|c| c.with_study))
    );
    let (hash, read) = (hash?, read?);
    // The bytes go to the store while the rows are written, in one transaction committed only
    // once the store has them all (as an upload's bytes are stored before its row).
    let (checked, studies): (Vec<CheckedUpload>, Vec<ThermalStudy>) = read.into_iter().unzip();
    let uploads: Vec<StoredUpload> = checked
        .iter()
        .map(|c| StoredUpload {
            kind: c.kind,
            name: c.name.clone(),
            sha256: sha256_hex(&c.bytes),
            size_bytes: c.bytes.len() as i64,
        })
        .collect();
    let storing = tokio::spawn(store_studies(files.clone(), checked));
    let mut tx = db.begin().await?;
    load(&mut tx, &hash, today, &chantiers, &uploads, &studies).await?;
    let stored = storing.await??;
    anyhow::ensure!(
        stored.iter().zip(&uploads).all(|(s, u)| s.sha256 == u.sha256),
        "études de démonstration mal stockées"
    );
    tx.commit().await?;
    Ok(true)
}

async fn load(
    tx: &mut Tx,
    hash: &str,
    today: chrono::NaiveDate,
    chantiers: &[Chantier],
    uploads: &[StoredUpload],
    studies: &[ThermalStudy],
) -> anyhow::Result<()> {
    let now = now_ms();
    let tenant: TenantId = on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO tenants (slug, legal_name, siren, siret, vat_number, address_line1, postcode, city, phone, email, created_at)
         VALUES ('demo', 'Mesures & Contrôles Atlantique', '552100554', '55210055400013', 'FR96552100554',
                 '27 rue du Moulin', '44300', 'Nantes', '+33240000000', 'contact@mca-demo.test', $1) RETURNING id"
    )
    .bind(now)
    .fetch_one(c)
    .await
    })?;
    crate::features::documents::types::seed_tenant(tx, tenant).await?;
    let who =
        || AuditActor {
            tenant_id: tenant, user_id: None, label: "données de démonstration".into(), ip: String::new()
        };
    let mut contact_ids: Vec<(&str, ClientId, ContactId, String)> = Vec::new();
    for c in CLIENTS {
        let client: ClientId = on_tx!(tx, |conn| {
            sqlx::query_scalar(
            "INSERT INTO clients (tenant_id, code, name, kind, siret, address_line1, postcode, city, billing_email, phone,
                                  search_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id"
        )
        .bind(tenant)
        .bind(c.code)
        .bind(c.name)
        .bind(c.kind)
        .bind(c.siret)
        .bind(c.address)
        .bind(c.postcode)
        .bind(c.city)
        .bind(c.billing_email)
        .bind(parse_phone(c.phone).unwrap_or_default())
        .bind(search_key(&[c.code, c.name, c.city, c.postcode]))
        .bind(now)
        .fetch_one(conn)
        .await
        })?;
        audit::record(tx, who(), "create", "client", Some(client.0), &format!("Client {} {} créé", c.code, c.name))
            .await?;
        for (first, last, title, email, phone) in c.contacts {
            let phone = parse_phone(phone).unwrap_or_default();
            let (phone_col, mobile_col) = if phone.starts_with("+336") || phone.starts_with("+337") {
                (String::new(), phone)
            } else {
                (phone, String::new())
            };
            let contact: ContactId = on_tx!(tx, |conn| {
                sqlx::query_scalar(
                "INSERT INTO contacts (tenant_id, client_id, first_name, last_name, job_title, email, phone, mobile, search_key,
                                       created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id"
            )
            .bind(tenant)
            .bind(client)
            .bind(first)
            .bind(last)
            .bind(title)
            .bind(email)
            .bind(&phone_col)
            .bind(&mobile_col)
            .bind(search_key(&[first, last, email, title]))
            .bind(now)
            .fetch_one(conn)
            .await
            })?;
            contact_ids.push((email, client, contact, format!("{first} {last}")));
        }
    }
    let staff = [
        ("admin@demo.test", "Élodie Carré", Role::Admin),
        ("bureau@demo.test", "Karine Lemoine", Role::Office),
        ("technicien@demo.test", "Yann Le Goff", Role::Technician),
    ];
    for (email, name, role) in staff {
        let id = create_user(
            tx,
            NewUser {
                tenant_id: tenant,
                client_id: None,
                contact_id: None,
                email: Email::parse(email).map_err(anyhow::Error::msg)?,
                full_name: name.into(),
                role,
                permissions: Permissions::default(),
                password_hash: hash.into(),
                temporary: false,
            },
        )
        .await?;
        audit::record(tx, who(), "create", "user", Some(id.0), &format!("Compte {email} créé ({})", role.label()))
            .await?;
    }
    let client_logins = [
        ("client.admin@demo.test", Role::ClientAdmin, vec![Permission::SignElectronically, Permission::SeeInvoices]),
        ("client@demo.test", Role::ClientUser, vec![Permission::SignElectronically]),
        ("autre.client@demo.test", Role::ClientUser, vec![]),
    ];
    for (email, role, perms) in client_logins {
        let (_, client, contact, name) = contact_ids
            .iter()
            .find(|(e, ..)| *e == email)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("demo contact {email} missing"))?;
        let id = create_user(
            tx,
            NewUser {
                tenant_id: tenant,
                client_id: Some(client),
                contact_id: Some(contact),
                email: Email::parse(email).map_err(anyhow::Error::msg)?,
                full_name: name,
                role,
                permissions: Permissions::from_list(&perms),
                password_hash: hash.into(),
                temporary: false,
            },
        )
        .await?;
        audit::record(
            tx,
            who(),
            "create",
            "user",
            Some(id.0),
            &format!("Accès extranet {email} créé ({})", role.label()),
        )
        .await?;
    }
    let sites = load_sites(tx, tenant, &contact_ids, today, chantiers, uploads, studies).await?;
    audit::record(tx, who(), "create", "site", None, &format!("{sites} chantiers et sites de démonstration créés"))
        .await?;
    load_interventions(tx, tenant, today).await?;
    load_requirements(tx, tenant).await?;
    Ok(())
}

/// The firm's first service applied to four of C001's chantiers in the handover phase, with
/// some of its expected documents and data still missing, so that the dashboards and the
/// "incomplets" filter have something to show.
async fn load_requirements(tx: &mut Tx, tenant: TenantId) -> anyhow::Result<()> {
    let now = now_ms();
    let service: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM services WHERE tenant_id = $1 AND archived = FALSE ORDER BY position, id LIMIT 1"
    )
    .bind(tenant)
    .fetch_optional(c)
    .await)?;
    let Some(service) = service else { return Ok(()) };
    let templates: Vec<(i64, String, String, String, String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, label, kind, document_type, stage, hint FROM requirement_templates
         WHERE tenant_id = $1 AND service_id = $2 AND archived = FALSE ORDER BY position, id"
    )
    .bind(tenant)
    .bind(service)
    .fetch_all(c)
    .await)?;
    let sites: Vec<(i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT s.id, s.client_id FROM sites s JOIN clients c ON c.id = s.client_id
         WHERE s.tenant_id = $1 AND c.code = 'C001' AND s.phase = 'handover' AND s.archived = FALSE
           AND s.kind = 'construction'
         ORDER BY s.id DESC LIMIT 4"
    )
    .bind(tenant)
    .fetch_all(c)
    .await)?;
    for (k, (site, client)) in sites.into_iter().enumerate() {
        let site_service: i64 = on_tx!(tx, |c| sqlx::query_scalar(
            "INSERT INTO site_services (tenant_id, client_id, site_id, service_id, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id"
        )
        .bind(tenant)
        .bind(client)
        .bind(site)
        .bind(service)
        .bind(now)
        .fetch_one(c)
        .await)?;
        for (n, (template, label, kind, document_type, stage, hint)) in templates.iter().enumerate() {
            // The thermal study is already there; the first two sites still miss other items.
            let study: Option<i64> = if document_type == "thermal_study" {
                on_tx!(tx, |c| sqlx::query_scalar(
                    "SELECT id FROM documents WHERE tenant_id = $1 AND site_id = $2 AND document_type = 'thermal_study'
                       AND is_current = TRUE ORDER BY id DESC LIMIT 1"
                )
                .bind(tenant)
                .bind(site)
                .fetch_optional(c)
                .await)?
            } else {
                None
            };
            let status = if study.is_some() {
                "validated"
            } else if k < 2 && n % 2 == 1 {
                "missing"
            } else {
                "validated"
            };
            exec_tx!(tx, |c| {
                sqlx::query(
                "INSERT INTO site_requirements (tenant_id, client_id, site_id, site_service_id, template_id, label, kind,
                                                document_type, stage, hint, status, document_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
            )
            .bind(tenant)
            .bind(client)
            .bind(site)
            .bind(site_service)
            .bind(template)
            .bind(label)
            .bind(kind)
            .bind(document_type)
            .bind(stage)
            .bind(hint)
            .bind(status)
            .bind(study)
            .bind(now)
            .execute(c)
            .await
            })?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sites

const STREETS: &[&str] = &[
    "rue des Lilas",
    "rue du Général de Gaulle",
    "avenue de la Libération",
    "rue Jules Verne",
    "allée des Chênes",
    "impasse des Hortensias",
    "chemin de la Métairie",
    "rue de la Mairie",
    "rue des Écoles",
    "boulevard des Anglais",
    "rue Aristide Briand",
    "route de Vannes",
    "rue du Stade",
    "allée des Mimosas",
    "rue de la Fontaine",
    "rue Pasteur",
    "chemin des Vignes",
    "rue Victor Hugo",
    "place de l'Église",
    "rue des Tilleuls",
    "rue de la Prairie",
    "lotissement Le Clos des Vignes",
    "lotissement Les Jardins du Bocage",
    "rue du Moulin",
    "rue Jean Jaurès",
    "rue de Bretagne",
    "rue des Sablières",
    "quai de la Fosse",
];

const NOTE: &str = "Clé à récupérer chez le voisin ; prévenir le conducteur de travaux la veille.";

/// The dates, phase and status of a site whose intervention is `offset` days from today.
fn schedule(
    d: &mut Dice,
    today: chrono::NaiveDate,
    offset: i64,
) -> (Phase, SiteStatus, Option<String>, Option<String>) {
    let day = |o: i64| (today + chrono::Duration::days(o)).format("%Y-%m-%d").to_string();
    let phase = if d.chance(55) { Phase::Handover } else { Phase::Works };
    if offset < -7 {
        if d.chance(6) {
            return (phase, SiteStatus::Cancelled, Some(day(offset)), None);
        }
        let actual = (offset + d.roll(7) as i64 - 3).min(0);
        (phase, SiteStatus::Done, Some(day(offset)), Some(day(actual)))
    } else if offset <= 90 {
        (phase, SiteStatus::Scheduled, Some(day(offset)), None)
    } else if d.chance(50) {
        (Phase::Works, SiteStatus::ToSchedule, Some(day(offset)), None)
    } else {
        (Phase::Works, SiteStatus::ToSchedule, None, None)
    }
}

/// A chantier of the demo, planned before anything is written: its thermal study, and what
/// the office completes once the study has prefilled the site.
struct Chantier {
    client: &'static str,
    spec: StudySpec,
    phase: Phase,
    status: SiteStatus,
    expected_date: Option<String>,
    actual_date: Option<String>,
    /// Its site manager, among the client's contacts.
    manager: Option<usize>,
    notes: &'static str,
    /// False for the few chantiers the office typed in while their study is still awaited.
    with_study: bool,
}

/// What a chantier's study is about.
struct Operation {
    client: &'static str,
    regulation: Regulation,
    collective: bool,
    name: String,
    owner: Option<String>,
    dwellings: u32,
    managers: &'static [usize],
    bets: &'static [usize],
}

/// Who designs the clients' buildings, as their studies name them (maître d'œuvre).
fn designer(client: &str) -> &'static str {
    match client {
        "C001" => "MAISONS HORIZON ATLANTIQUE",
        "C002" => "DEMEURES DE L'ESTUAIRE",
        "C003" => "ATELIER D'ARCHITECTURE RIVES DE LOIRE",
        _ => "ATELIER LIGNES ET VOLUMES",
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Plans one chantier: where, when, and the study the consultancy wrote for it.
fn plan(d: &mut Dice, today: chrono::NaiveDate, op: Operation, permit_seq: usize) -> Chantier {
    let (postcode, citycode, city) = *d.pick(COMMUNES);
    let offset = d.roll(420) as i64 - 240;
    let (phase, status, expected_date, actual_date) = schedule(d, today, offset);
    // RT2012 studies are those of permits filed before 2022; RE2020 ones are made 8 to 20
    // months before the intervention.
    let (study_date, permit_filed) = match op.regulation {
        Regulation::Rt2012 => studies::dates(
            chrono::NaiveDate::from_ymd_opt(2021, 1, 10).unwrap_or(today) + chrono::Duration::days(d.roll(320) as i64),
            0,
        ),
        Regulation::Re2020 => studies::dates(today + chrono::Duration::days(offset), 240 + d.roll(360) as i64),
    };
    let year: i32 = permit_filed[..4].parse().unwrap_or(2024);
    let street = *d.pick(STREETS);
    let address = if d.chance(3) {
        None
    } else if street.starts_with("lotissement") {
        Some(format!("Lot {} - {}", d.roll(40) + 1, capitalised(street)))
    } else {
        Some(format!("{} {street}", d.roll(140) + 1))
    };
    // A permit not yet obtained for some chantiers still to come.
    let permit = if offset > 30 && d.chance(12) {
        None
    } else {
        Some(studies::permit_number(citycode, year, 'A', 100 + permit_seq * 7))
    };
    let (heating, dhw) = studies::energies(op.regulation, op.collective, d);
    let software = *d.pick(match op.regulation {
        Regulation::Rt2012 => studies::RT2012_SOFTWARE,
        Regulation::Re2020 => studies::RE2020_SOFTWARE,
    });
    let mut spec = StudySpec {
        regulation: op.regulation,
        collective: op.collective,
        operation_name: op.name,
        address,
        postcode: postcode.into(),
        city: studies::written_city(op.regulation, city, d),
        citycode: citycode.into(),
        permit,
        owner: op.owner,
        designer: designer(op.client).into(),
        bet: studies::BETS[*d.pick(op.bets)],
        software,
        study_date,
        permit_filed,
        dwellings: op.dwellings,
        shab: 0.0,
        bbio: 0.0,
        bbio_max: 0.0,
        cep: 0.0,
        cep_max: 0.0,
        cep_nr: 0.0,
        cep_nr_max: 0.0,
        ic_construction: 0.0,
        ic_construction_max: 0.0,
        ic_energie: 0.0,
        ic_energie_max: 0.0,
        heating,
        dhw,
    };
    studies::indicators(&mut spec, d);
    let manager = (!d.chance(8)).then(|| *d.pick(op.managers));
    let notes = if d.chance(10) { NOTE } else { "" };
    Chantier { client: op.client, spec, phase, status, expected_date, actual_date, manager, notes, with_study: true }
}

/// The chantiers of the two builders (mostly houses, some small buildings), the social
/// landlord's two new buildings and the household's house. Their studies are mostly RT2012
/// files (13 KB), which keeps the demo quick to load (every test app loads it); one house in
/// fifty, each builder's first building, the landlord's two and the household's house are
/// RE2020 files (268 KB).
fn plan_chantiers(today: chrono::NaiveDate) -> Vec<Chantier> {
    let mut d = Dice(20_261_122);
    let mut out = Vec::new();
    let mut houses = 0usize;
    for (code, count, managers, bets) in
        [("C001", 150, &[0usize, 1, 2][..], &[0usize, 1, 2][..]), ("C002", 100, &[0usize][..], &[3usize, 5][..])]
    {
        let mut buildings = 0usize;
        for n in 0..count {
            let collective = n % 9 == 4;
            let op = if collective {
                let b = buildings;
                buildings += 1;
                let dwellings = 8 + d.roll(33) as u32;
                let (name, owner) = if code == "C001" {
                    let residence = RESIDENCES[b % RESIDENCES.len()];
                    let tranche = b / RESIDENCES.len() + 1;
                    let bare = residence.to_uppercase();
                    if tranche == 1 {
                        (format!("Résidence {residence}"), format!("SCCV {bare}"))
                    } else {
                        (format!("Résidence {residence} — tranche {tranche}"), format!("SCCV {bare} {tranche}"))
                    }
                } else {
                    let street = STREETS[(b * 5 + 3) % STREETS.len()];
                    (format!("{dwellings} logements {street}"), format!("SCCV {}", street.to_uppercase()))
                };
                Operation {
                    client: code,
                    regulation: if b == 0 { Regulation::Re2020 } else { Regulation::Rt2012 },
                    collective,
                    name,
                    owner: Some(owner),
                    dwellings,
                    managers,
                    bets,
                }
            } else {
                // Every house has its own owners: a family name and a first name never met twice.
                let k = houses;
                houses += 1;
                let family = FAMILIES[k % FAMILIES.len()];
                let he = FIRST_MEN[(k + k / FAMILIES.len()) % FIRST_MEN.len()];
                let she = *d.pick(FIRST_WOMEN);
                let owner = match d.roll(25) {
                    0 => None,
                    1..=14 => Some(format!("M. et Mme {he} {family}")),
                    15..=19 => Some(format!("M. {he} {family} et Mme {she} {}", d.pick(FAMILIES))),
                    20..=22 => Some(format!("Mme {she} {family}")),
                    _ => Some(format!("M. {he} {family}")),
                };
                let name = match d.roll(20) {
                    0..=12 => format!("Maison {family}"),
                    13..=15 => format!("Maison individuelle {family}"),
                    16..=17 => format!("Villa {family}"),
                    _ => format!("Maison {he} et {she} {family}"),
                };
                Operation {
                    client: code,
                    regulation: if n % 50 == 7 { Regulation::Re2020 } else { Regulation::Rt2012 },
                    collective,
                    name,
                    owner,
                    dwellings: 1,
                    managers,
                    bets,
                }
            };
            let seq = out.len();
            let mut chantier = plan(&mut d, today, op, seq);
            // A few chantiers were typed in by the office, their study still awaited: the demo
            // shows how a study is then joined to an existing site.
            chantier.with_study = collective || n % 20 != 11;
            out.push(chantier);
        }
    }
    for residence in RESIDENCES.iter().skip(5).take(2) {
        let op = Operation {
            client: "C003",
            regulation: Regulation::Re2020,
            collective: true,
            name: format!("Construction {residence}"),
            owner: Some("Loire Habitat Social".into()),
            dwellings: 24 + d.roll(30) as u32,
            managers: &[0],
            bets: &[1, 4],
        };
        let seq = out.len();
        out.push(plan(&mut d, today, op, seq));
    }
    let op = Operation {
        client: "C005",
        regulation: Regulation::Re2020,
        collective: false,
        name: "Maison Martin".into(),
        owner: Some("M. et Mme Paul Martin".into()),
        dwellings: 1,
        managers: &[0],
        bets: &[3],
    };
    let seq = out.len();
    let mut martin = plan(&mut d, today, op, seq);
    martin.spec.address = Some("5 impasse des Hortensias".into());
    (martin.spec.postcode, martin.spec.citycode, martin.spec.city) =
        ("85000".into(), "85191".into(), "La Roche-sur-Yon".into());
    out.push(martin);
    out
}

/// Writes each chantier's study and reads it as an uploaded one is, on the blocking threads
/// in two halves.
async fn read_studies<'a>(
    chantiers: impl Iterator<Item = &'a Chantier>,
) -> anyhow::Result<Vec<(CheckedUpload, ThermalStudy)>> {
    let specs: Vec<StudySpec> = chantiers.map(|c| c.spec.clone()).collect();
    let mut halves = Vec::new();
    for part in specs.chunks(specs.len().div_ceil(2).max(1)).map(<[StudySpec]>::to_vec) {
        halves.push(tokio::task::spawn_blocking(move || {
            part.iter()
                .map(|spec| {
                    // A demo study is not an upload: the upload size limit does not apply.
                    site_studies::read(&spec.file_name(), Bytes::from(spec.render()), u64::MAX)
                        .map_err(|e| anyhow::anyhow!("étude de démonstration « {} » : {e}", spec.operation_name))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        }));
    }
    let mut read = Vec::with_capacity(specs.len());
    for half in halves {
        read.extend(half.await??);
    }
    Ok(read)
}

/// Puts the studies' bytes in the store, many at a time; returns what each became.
async fn store_studies(files: FileStore, checked: Vec<CheckedUpload>) -> anyhow::Result<Vec<StoredUpload>> {
    let stored = futures::stream::iter(checked.into_iter().map(|c| upload::put_bytes(&files, c)))
        .buffered(32)
        .collect::<Vec<_>>()
        .await;
    stored.into_iter().map(|r| r.map_err(|e| anyhow::anyhow!("étude de démonstration : {e}"))).collect()
}

/// The site form as the office types a chantier whose study is not there yet.
fn typed_form(spec: &StudySpec, client: ClientId) -> SiteForm {
    let (street_number, street) = site_studies::split_address(spec.address.as_deref().unwrap_or_default());
    let operation_type = if spec.collective { OperationType::Collective } else { OperationType::Individual };
    SiteForm {
        client_id: client.to_string(),
        kind: SiteKind::Construction.code().into(),
        name: spec.operation_name.clone(),
        street_number,
        street,
        postcode: spec.postcode.clone(),
        city_code: spec.citycode.clone(),
        city: site_studies::city_case(&spec.city),
        operation_type: operation_type.code().into(),
        permit_number: spec.permit.clone().unwrap_or_default(),
        owner_name: spec.owner.clone().unwrap_or_default(),
        dwellings: spec.dwellings.to_string(),
        ..SiteForm::default()
    }
}

/// Creates a chantier from its study, the way the site form does once the office has
/// completed it, and files the study on it (or from what the office typed, without a study).
async fn file_chantier(
    tx: &mut Tx,
    importer: &Importer,
    client: ClientId,
    contacts: &[ContactId],
    c: &Chantier,
    study: Option<(&StoredUpload, &ThermalStudy)>,
) -> anyhow::Result<()> {
    let tenant = importer.audit.tenant_id;
    let mut form = match study {
        Some((_, study)) => site_studies::prefill(study, client),
        None => typed_form(&c.spec, client),
    };
    // An RT2012 file has no INSEE code: the office picks the commune.
    if form.city_code.is_empty() {
        form.city_code = c.spec.citycode.clone();
    }
    form.phase = c.phase.code().into();
    form.status = c.status.code().into();
    form.expected_date = c.expected_date.clone().unwrap_or_default();
    form.actual_date = c.actual_date.clone().unwrap_or_default();
    form.site_manager_id = c.manager.and_then(|i| contacts.get(i)).map(|id| id.0.to_string()).unwrap_or_default();
    form.notes = c.notes.into();
    let data = model::validate(&form, true, (SiteStatus::ToSchedule, None))
        .map_err(|e| anyhow::anyhow!("chantier de démonstration « {} » : {}", form.name, e.messages().join(" ")))?;
    let id = store::insert(tx, tenant, client, None, &data).await?;
    let who = AuditActor { tenant_id: tenant, user_id: None, label: importer.audit.label.clone(), ip: String::new() };
    let Some((stored, study)) = study else {
        audit::record(tx, who, "create", "site", Some(id.0), &format!("Site « {} » créé", data.name)).await?;
        return Ok(());
    };
    let summary = format!("Création du site « {} » depuis l'étude thermique ({})", data.name, study.format.label());
    audit::record(tx, who, "create", "site", Some(id.0), &summary).await?;
    site_studies::attach(tx, importer, Target::New { id, client, name: &data.name }, stored, study)
        .await
        .map_err(|e| anyhow::anyhow!("étude du chantier de démonstration « {} » : {e}", data.name))?;
    Ok(())
}

/// Chantiers of the two builders, residences and dwellings of the social landlord, premises
/// and condominiums of the syndic, the household's house; returns how many were created.
async fn load_sites(
    tx: &mut Tx,
    tenant: TenantId,
    contacts: &[(&str, ClientId, ContactId, String)],
    today: chrono::NaiveDate,
    chantiers: &[Chantier],
    uploads: &[StoredUpload],
    studies: &[ThermalStudy],
) -> anyhow::Result<usize> {
    let mut d = Dice(20_261_123);
    let mut created = 0;
    let importer = Importer {
        audit: AuditActor {
            tenant_id: tenant,
            user_id: None,
            label: "données de démonstration".into(),
            ip: String::new(),
        },
        user: None,
        api_token: None,
        source: Source::Demo,
    };
    let client_of = |code: &str| -> anyhow::Result<(ClientId, Vec<ContactId>)> {
        let idx = CLIENTS.iter().position(|c| c.code == code).ok_or_else(|| anyhow::anyhow!("client {code}"))?;
        let emails: Vec<&str> = CLIENTS[idx].contacts.iter().map(|c| c.3).collect();
        let mine: Vec<_> = contacts.iter().filter(|(e, ..)| emails.contains(e)).collect();
        let client = mine.first().map(|c| c.1).ok_or_else(|| anyhow::anyhow!("contacts of {code}"))?;
        Ok((client, mine.iter().map(|c| c.2).collect()))
    };
    // Each chantier with its study, in the plan's order.
    let mut read = uploads.iter().zip(studies);
    let planned: Vec<(&Chantier, Option<(&StoredUpload, &ThermalStudy)>)> =
        chantiers.iter().map(|c| (c, if c.with_study { read.next() } else { None })).collect();
    let file_all = async |tx: &mut Tx, codes: &[&str]| -> anyhow::Result<usize> {
        let mut n = 0;
        for (c, study) in planned.iter().filter(|(c, _)| codes.contains(&c.client)) {
            let (client, contact_ids) = client_of(c.client)?;
            file_chantier(tx, &importer, client, &contact_ids, c, *study).await?;
            n += 1;
        }
        Ok(n)
    };
    let base = |d: &mut Dice, name: String, kind: SiteKind| {
        let (postcode, city_code, city) = *d.pick(COMMUNES);
        let offset = d.roll(420) as i64 - 240;
        let (phase, status, expected_date, actual_date) = schedule(d, today, offset);
        SiteData {
            kind,
            parent_id: None,
            name,
            street_number: (d.roll(140) + 1).to_string(),
            street: d.pick(STREETS).to_string(),
            postcode: postcode.into(),
            city_code: city_code.into(),
            city: city.into(),
            site_manager_id: None,
            operation_type: String::new(),
            phase,
            status,
            expected_date,
            actual_date,
            permit_number: String::new(),
            owner_name: String::new(),
            dwellings: None,
            notes: String::new(),
        }
    };

    // The builders: their chantiers, from their studies.
    created += file_all(tx, &["C001", "C002"]).await?;

    // The social landlord: residences and their dwellings, and two new buildings.
    let (landlord, landlord_contacts) = client_of("C003")?;
    for (r, residence) in RESIDENCES.iter().take(5).enumerate() {
        let mut s = base(&mut d, format!("Résidence {residence}"), SiteKind::Residence);
        let units = 6 + d.roll(7);
        s.operation_type = OperationType::Collective.code().into();
        s.dwellings = Some(units as i64);
        s.owner_name = "Loire Habitat Social".into();
        s.site_manager_id = Some(landlord_contacts[r % landlord_contacts.len()].0);
        let parent = store::insert(tx, tenant, landlord, None, &s).await?;
        created += 1;
        for u in 0..units {
            let building = ["A", "B", "C"][u % 3];
            let mut dw = base(&mut d, format!("Logement {building}{:02}", u + 1), SiteKind::Dwelling);
            dw.parent_id = Some(parent.0);
            (dw.street_number, dw.street, dw.postcode, dw.city_code, dw.city) =
                (s.street_number.clone(), s.street.clone(), s.postcode.clone(), s.city_code.clone(), s.city.clone());
            dw.site_manager_id = s.site_manager_id;
            store::insert(tx, tenant, landlord, None, &dw).await?;
            created += 1;
        }
    }
    created += file_all(tx, &["C003"]).await?;

    // The syndic: condominiums and a few premises.
    let (syndic, syndic_contacts) = client_of("C004")?;
    for (i, residence) in RESIDENCES.iter().skip(3).enumerate() {
        let (name, kind) = if i % 2 == 0 {
            (format!("Copropriété {residence}"), SiteKind::Residence)
        } else {
            (format!("Locaux du syndic — {residence}"), SiteKind::Premises)
        };
        let mut s = base(&mut d, name, kind);
        s.site_manager_id = Some(syndic_contacts[0].0);
        store::insert(tx, tenant, syndic, None, &s).await?;
        created += 1;
    }

    // The household: their own house, under construction.
    created += file_all(tx, &["C005"]).await?;
    Ok(created)
}

/// The technician's interventions around today, so that the planning is not empty: the
/// chantiers scheduled over these two weeks (on their expected day) and those done last week.
async fn load_interventions(tx: &mut Tx, tenant: TenantId, today: chrono::NaiveDate) -> anyhow::Result<()> {
    use crate::features::interventions::{rules, store as planned};
    const WINDOWS: [(&str, &str); 4] = [("08:00", "10:00"), ("10:00", "12:00"), ("14:00", "16:00"), ("16:00", "18:00")];
    let monday = rules::monday_of(today);
    let technician: crate::domain::UserId =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND role = 'technician'")
            .bind(tenant)
            .fetch_one(c)
            .await)?;
    let service: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM services WHERE tenant_id = $1 AND archived = FALSE ORDER BY position, id LIMIT 1"
    )
    .bind(tenant)
    .fetch_optional(c)
    .await)?;
    // (site, client, day, status)
    let sites: Vec<(crate::domain::SiteId, ClientId, String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, client_id, COALESCE(actual_date, expected_date), status FROM sites
         WHERE tenant_id = $1 AND NOT archived AND kind <> 'residence'
           AND ((status = 'scheduled' AND expected_date >= $2 AND expected_date <= $3)
             OR (status = 'done' AND actual_date >= $4 AND actual_date < $2))
         ORDER BY COALESCE(actual_date, expected_date), id"
    )
    .bind(tenant)
    .bind(rules::iso(monday))
    .bind(rules::iso(monday + chrono::Duration::days(13)))
    .bind(rules::iso(monday - chrono::Duration::days(7)))
    .fetch_all(c)
    .await)?;
    let now = now_ms();
    let mut per_day: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (site, client, day, status) in sites {
        let n = per_day.entry(day.clone()).or_default();
        let Some((start, end)) = WINDOWS.get(*n) else { continue };
        *n += 1;
        let planned_one = planned::NewIntervention {
            tenant,
            client,
            site,
            service,
            request: None,
            day: &day,
            start,
            end,
            technician,
            by: None,
            now,
        };
        let id = planned::insert_intervention(tx, &planned_one).await?;
        if status == "done" {
            planned::close(tx, tenant, id, "done", technician, now).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_study_reads_back_to_what_was_written() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let chantiers = plan_chantiers(today);
        assert!(chantiers.len() > 250);
        for c in chantiers.iter().filter(|c| c.with_study) {
            studies::tests::check(&c.spec);
        }
        let re2020 = chantiers.iter().filter(|c| c.spec.regulation == Regulation::Re2020).count();
        assert!((5..=15).contains(&re2020), "{re2020} RE2020 studies");
        let typed = chantiers.iter().filter(|c| !c.with_study).count();
        assert!((5..=15).contains(&typed), "{typed} chantiers without a study");
        // Distinct permits, and some still awaited ("EN COURS"): marks to show.
        let permits: Vec<&String> = chantiers.iter().filter_map(|c| c.spec.permit.as_ref()).collect();
        let distinct: std::collections::HashSet<&&String> = permits.iter().collect();
        assert_eq!(distinct.len(), permits.len());
        assert!(permits.len() < chantiers.len());
        assert!(chantiers.iter().any(|c| c.spec.owner.is_none()) && chantiers.iter().any(|c| c.spec.address.is_none()));
    }

    #[tokio::test]
    async fn the_demo_files_each_chantier_with_its_study_through_the_import_path() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("demo.db").display())).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let files =
            FileStore::from_config(&crate::config::StorageConfig::Local { root: dir.path().join("files") }).unwrap();
        assert!(load_if_empty(&db, &files).await.unwrap());
        assert!(!load_if_empty(&db, &files).await.unwrap(), "only into an empty database");
        let count = |sql: &'static str| {
            let db = db.clone();
            async move { on_db!(&db, |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).unwrap() }
        };
        let chantiers = count("SELECT COUNT(*) FROM sites WHERE kind = 'construction'").await;
        let with_study = count(
            "SELECT COUNT(*) FROM sites s WHERE kind = 'construction' AND EXISTS
               (SELECT 1 FROM documents d JOIN thermal_studies t ON t.document_id = d.id
                WHERE d.site_id = s.id AND d.document_type = 'thermal_study' AND t.site_id = s.id
                  AND t.source = 'demo' AND d.client_id = s.client_id)",
        )
        .await;
        assert!(chantiers > 250 && with_study > 240 && with_study < chantiers, "{with_study} of {chantiers}");
        assert_eq!(count("SELECT COUNT(*) FROM thermal_studies").await, with_study);
        assert_eq!(
            count("SELECT COUNT(*) FROM sites WHERE kind <> 'construction' AND id IN (SELECT site_id FROM documents)")
                .await,
            0
        );
        // The site is what its study says: name, postcode, permit, dwellings.
        let rows: Vec<(String, String, String, Option<i64>, String)> = on_db!(&db, |p| sqlx::query_as(
            "SELECT s.name, s.postcode, s.permit_number, s.dwellings, t.extracted
             FROM sites s JOIN thermal_studies t ON t.site_id = s.id"
        )
        .fetch_all(p)
        .await)
        .unwrap();
        for (name, postcode, permit, dwellings, extracted) in rows {
            let study: ThermalStudy = serde_json::from_str(&extracted).unwrap();
            assert_eq!(study.operation_name.as_deref(), Some(name.as_str()));
            assert_eq!(study.postcode.as_deref(), Some(postcode.as_str()));
            assert_eq!(study.permit_number.unwrap_or_default(), permit);
            assert_eq!(study.dwellings.map(i64::from), dwellings);
            assert!(study.buildings[0].bbio.is_some());
        }
        // Every study's bytes are in the store, under their SHA-256.
        let shas: Vec<String> =
            on_db!(&db, |p| sqlx::query_scalar("SELECT sha256 FROM files").fetch_all(p).await).unwrap();
        assert_eq!(shas.len() as i64, with_study);
        for sha in &shas {
            assert_eq!(&crate::features::files::storage::sha256_hex(&files.get(sha).await.unwrap()), sha);
        }
        // Both formats, and marks to show: chantiers whose permit or owner the study lacks.
        assert_eq!(count("SELECT COUNT(DISTINCT format) FROM thermal_studies").await, 2);
        assert!(count("SELECT COUNT(*) FROM sites WHERE kind = 'construction' AND permit_number = ''").await > 0);
        assert!(count("SELECT COUNT(*) FROM sites WHERE kind = 'construction' AND owner_name = ''").await > 0);
        db.close().await;
    }
}
