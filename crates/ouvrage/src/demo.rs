//! Demo data: a believable French testing firm with five client companies, their contacts and
//! one login per role. Loaded only into an empty database.

use crate::db::{Db, Tx};
use crate::domain::text::search_key;
use crate::domain::time::now_ms;
use crate::domain::{ClientId, ContactId, Email, Permission, Permissions, Role, TenantId, parse_phone};
use crate::features::audit::{self, AuditActor};
use crate::features::auth::password;
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
    Ok(())
}
