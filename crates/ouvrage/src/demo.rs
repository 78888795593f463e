//! Demo data: a believable French testing firm with five client companies, their contacts and
//! one login per role. Loaded only into an empty database.

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, Email, Permission, Permissions, Role, TenantId, parse_phone};
use crate::features::audit::{self, AuditActor};
use crate::features::auth::password;
use crate::features::sites::model::{OperationType, Phase, SiteData, SiteKind, SiteStatus};
use crate::features::users::account::{NewUser, create_user};
use crate::{on_db, on_tx};

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

/// Loads the demo firm when the database holds no firm at all; returns whether it did.
pub async fn load_if_empty(db: &Db) -> anyhow::Result<bool> {
    let tenants: i64 = on_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(p).await)?;
    if tenants > 0 {
        return Ok(false);
    }
    let hash = password::hash(DEMO_PASSWORD.to_string()).await?;
    let mut tx = db.begin().await?;
    load(&mut tx, &hash).await?;
    tx.commit().await?;
    Ok(true)
}

async fn load(tx: &mut Tx, hash: &str) -> anyhow::Result<()> {
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
    let sites = load_sites(tx, tenant, &contact_ids).await?;
    audit::record(tx, who(), "create", "site", None, &format!("{sites} chantiers et sites de démonstration créés"))
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sites

/// Communes of Loire-Atlantique, Vendée and Maine-et-Loire: (postcode, INSEE code, name).
const COMMUNES: &[(&str, &str, &str)] = &[
    ("44000", "44109", "Nantes"),
    ("44300", "44109", "Nantes"),
    ("44800", "44162", "Saint-Herblain"),
    ("44400", "44143", "Rezé"),
    ("44600", "44184", "Saint-Nazaire"),
    ("44700", "44114", "Orvault"),
    ("44120", "44215", "Vertou"),
    ("44470", "44026", "Carquefou"),
    ("44240", "44035", "La Chapelle-sur-Erdre"),
    ("44340", "44020", "Bouguenais"),
    ("44230", "44190", "Saint-Sébastien-sur-Loire"),
    ("44350", "44069", "Guérande"),
    ("44210", "44131", "Pornic"),
    ("44190", "44043", "Clisson"),
    ("44150", "44003", "Ancenis-Saint-Géréon"),
    ("44110", "44036", "Châteaubriant"),
    ("44980", "44172", "Sainte-Luce-sur-Loire"),
    ("44119", "44209", "Treillières"),
    ("44130", "44015", "Blain"),
    ("44260", "44195", "Savenay"),
    ("44500", "44055", "La Baule-Escoublac"),
    ("44115", "44071", "Haute-Goulaine"),
    ("44115", "44009", "Basse-Goulaine"),
    ("85000", "85191", "La Roche-sur-Yon"),
    ("85100", "85194", "Les Sables-d'Olonne"),
    ("85300", "85047", "Challans"),
    ("85600", "85146", "Montaigu-Vendée"),
    ("85200", "85092", "Fontenay-le-Comte"),
    ("85400", "85128", "Luçon"),
    ("85500", "85109", "Les Herbiers"),
    ("85190", "85003", "Aizenay"),
    ("85800", "85222", "Saint-Gilles-Croix-de-Vie"),
    ("85700", "85182", "Pouzauges"),
    ("49000", "49007", "Angers"),
    ("49100", "49007", "Angers"),
    ("49300", "49099", "Cholet"),
    ("49400", "49328", "Saumur"),
    ("49240", "49015", "Avrillé"),
    ("49800", "49353", "Trélazé"),
    ("49130", "49246", "Les Ponts-de-Cé"),
    ("49070", "49020", "Beaucouzé"),
    ("49500", "49331", "Segré-en-Anjou Bleu"),
    ("49124", "49267", "Saint-Barthélemy-d'Anjou"),
];

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

const FAMILIES: &[&str] = &[
    "Perrin",
    "Guérin",
    "Chevalier",
    "Lemaire",
    "Gautier",
    "Renaud",
    "Brunet",
    "Blanchard",
    "Mercier",
    "Boucher",
    "Rousseau",
    "Fontaine",
    "Caron",
    "Morin",
    "Giraud",
    "Poirier",
    "Tessier",
    "Baudry",
    "Le Gall",
    "Jamet",
    "Rivière",
    "Hamon",
    "Charrier",
    "Ménard",
    "Leroux",
    "Babin",
    "Cousin",
    "Pineau",
    "Robin",
    "Besnard",
];

const RESIDENCES: &[&str] = &[
    "Les Terrasses de l'Erdre",
    "Le Clos Saint-Joseph",
    "Les Jardins de la Sèvre",
    "Le Hameau des Pins",
    "Les Balcons de Loire",
    "L'Îlot Magellan",
    "Le Carré des Arts",
    "Les Rives du Cens",
    "Le Domaine des Prés",
    "Les Coteaux d'Anjou",
];

/// A small deterministic generator, so the demo is the same on every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.roll(list.len())]
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: usize) -> bool {
        self.roll(100) < percent
    }
}

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

/// Chantiers of the two builders, residences and dwellings of the social landlord, premises
/// and condominiums of the syndic, the household's house; returns how many were created.
async fn load_sites(
    tx: &mut Tx,
    tenant: TenantId,
    contacts: &[(&str, ClientId, ContactId, String)],
) -> anyhow::Result<usize> {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let mut d = Dice(20_261_122);
    let mut created = 0;
    let client_of = |code: &str| -> anyhow::Result<(ClientId, Vec<ContactId>)> {
        let idx = CLIENTS.iter().position(|c| c.code == code).ok_or_else(|| anyhow::anyhow!("client {code}"))?;
        let emails: Vec<&str> = CLIENTS[idx].contacts.iter().map(|c| c.3).collect();
        let mine: Vec<_> = contacts.iter().filter(|(e, ..)| emails.contains(e)).collect();
        let client = mine.first().map(|c| c.1).ok_or_else(|| anyhow::anyhow!("contacts of {code}"))?;
        Ok((client, mine.iter().map(|c| c.2).collect()))
    };
    let base = |d: &mut Dice, name: String, kind: SiteKind| {
        let (postcode, city_code, city) = *d.pick(COMMUNES);
        let offset = d.roll(420) as i64 - 240;
        let (phase, status, expected_date, actual_date) = schedule(d, today, offset);
        let year = expected_date.as_deref().and_then(|e| e.get(2..4)).and_then(|y| y.parse::<u32>().ok());
        let permit = match (kind, year) {
            (SiteKind::Construction, Some(y)) => {
                format!(
                    "PC 0{} {} {:02} A{:04}",
                    &city_code[..2],
                    &city_code[2..],
                    y.saturating_sub(1),
                    d.roll(9000) + 100
                )
            }
            _ => String::new(),
        };
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
            permit_number: permit,
            owner_name: String::new(),
            dwellings: None,
            notes: String::new(),
        }
    };

    // The builders: mostly single houses, some small collective buildings.
    for (code, count, managers) in [("C001", 150, [0usize, 1, 2].as_slice()), ("C002", 100, [0usize].as_slice())] {
        let (client, contact_ids) = client_of(code)?;
        let managers: Vec<ContactId> = managers.iter().filter_map(|i| contact_ids.get(*i).copied()).collect();
        for n in 0..count {
            let family = *d.pick(FAMILIES);
            let collective = n % 9 == 4;
            let name = if collective {
                format!("Résidence {} — tranche {}", d.pick(RESIDENCES), n % 3 + 1)
            } else {
                format!("Maison {family}")
            };
            let mut s = base(&mut d, name, SiteKind::Construction);
            if collective {
                s.operation_type = OperationType::Collective.code().into();
                s.dwellings = Some(8 + d.roll(33) as i64);
                s.owner_name = format!("SCCV {}", s.name.trim_start_matches("Résidence "));
            } else {
                s.operation_type = OperationType::Individual.code().into();
                s.dwellings = Some(1);
                s.owner_name = format!("M. et Mme {family}");
            }
            if !d.chance(8) {
                s.site_manager_id = Some(d.pick(&managers).0);
            }
            if d.chance(10) {
                s.notes = "Clé à récupérer chez le voisin ; prévenir le conducteur de travaux la veille.".into();
            }
            crate::features::sites::store::insert(tx, tenant, client, None, &s).await?;
            created += 1;
        }
    }

    // The social landlord: residences and their dwellings, and two new buildings.
    let (landlord, landlord_contacts) = client_of("C003")?;
    for (r, residence) in RESIDENCES.iter().take(5).enumerate() {
        let mut s = base(&mut d, format!("Résidence {residence}"), SiteKind::Residence);
        let units = 6 + d.roll(7);
        s.operation_type = OperationType::Collective.code().into();
        s.dwellings = Some(units as i64);
        s.owner_name = "Loire Habitat Social".into();
        s.site_manager_id = Some(landlord_contacts[r % landlord_contacts.len()].0);
        let parent = crate::features::sites::store::insert(tx, tenant, landlord, None, &s).await?;
        created += 1;
        for u in 0..units {
            let building = ["A", "B", "C"][u % 3];
            let mut dw = base(&mut d, format!("Logement {building}{:02}", u + 1), SiteKind::Dwelling);
            dw.parent_id = Some(parent.0);
            (dw.street_number, dw.street, dw.postcode, dw.city_code, dw.city) =
                (s.street_number.clone(), s.street.clone(), s.postcode.clone(), s.city_code.clone(), s.city.clone());
            dw.site_manager_id = s.site_manager_id;
            crate::features::sites::store::insert(tx, tenant, landlord, None, &dw).await?;
            created += 1;
        }
    }
    for residence in RESIDENCES.iter().skip(5).take(2) {
        let mut s = base(&mut d, format!("Construction {residence}"), SiteKind::Construction);
        s.operation_type = OperationType::Collective.code().into();
        s.dwellings = Some(24 + d.roll(30) as i64);
        s.owner_name = "Loire Habitat Social".into();
        s.site_manager_id = Some(landlord_contacts[0].0);
        crate::features::sites::store::insert(tx, tenant, landlord, None, &s).await?;
        created += 1;
    }

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
        crate::features::sites::store::insert(tx, tenant, syndic, None, &s).await?;
        created += 1;
    }

    // The household: their own house, under construction.
    let (household, household_contacts) = client_of("C005")?;
    let mut s = base(&mut d, "Maison Martin".into(), SiteKind::Construction);
    s.operation_type = OperationType::Individual.code().into();
    s.dwellings = Some(1);
    s.owner_name = "M. et Mme Martin".into();
    s.site_manager_id = Some(household_contacts[0].0);
    (s.street_number, s.street, s.postcode, s.city_code, s.city) =
        ("5".into(), "impasse des Hortensias".into(), "85000".into(), "85191".into(), "La Roche-sur-Yon".into());
    crate::features::sites::store::insert(tx, tenant, household, None, &s).await?;
    created += 1;
    Ok(created)
}
