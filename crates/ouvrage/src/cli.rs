//! The `ouvrage` command line.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::config::{Config, ConfigArgs};
use crate::db::Db;
use crate::domain::{Email, Permissions, Role, check_password_strength};
use crate::features::audit::{self, AuditActor};
use crate::features::auth::password;
use crate::features::users::account::{NewUser, create_user};
use crate::on_db;

#[derive(Parser, Debug)]
#[command(
    name = "ouvrage",
    version,
    about = "Back office and client extranet for building-services firms.",
    long_about = "Back office and client extranet for building-services firms.\n\n\
        With no command: applies migrations, loads the demo data if the database is empty, and serves \
        the site (http://127.0.0.1:8080 by default), printing the demo logins.\n\n\
        Every option can also be set by its environment variable or in the TOML file given by --config."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web application (migrations are applied first). SIGTERM drains in-flight requests.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the demo firm (tenant "demo", clients C001–C005, one login per role) into an empty database.
    Demo,
    /// Measure the product at scale: generated data, HTTP load, start-up and memory (build with --release).
    Bench(crate::bench::BenchArgs),
    /// Read thermal-study XML files (RSET, RSEE) and print what ouvrage extracts, as JSON.
    Thermal {
        /// The XML files to read.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Parse the files this many times and print the throughput instead (benchmarks).
        #[arg(long)]
        repeat: Option<usize>,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the integrators' API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Back up the database and the stored files into the directory PATH, while the server runs.
    #[command(long_about = BACKUP_HELP)]
    Backup {
        /// Directory to write the backup into: created if missing, refused if not empty.
        path: std::path::PathBuf,
    },
    /// Restore a backup made by `ouvrage backup` into an empty database (stop the server first).
    #[command(long_about = RESTORE_HELP)]
    Restore {
        /// Directory written by `ouvrage backup`.
        path: std::path::PathBuf,
        /// Replace the content of a database that already holds data.
        #[arg(long)]
        force: bool,
    },
}

const BACKUP_HELP: &str = "Back up the database and the stored files into the directory PATH, while the server runs.

The copy is consistent even while users keep working: SQLite is copied with VACUUM INTO (one \
read transaction), PostgreSQL with pg_dump (custom format) on a snapshot exported by the \
command. The stored files that the copied rows point to are copied after the database, each \
checked against its SHA-256, from the local directory DATA/files or from the S3 bucket.

PATH is created if missing; an existing PATH must be an empty directory. It receives the \
database (database.sqlite, or database.pgdump for PostgreSQL), the stored files under files/ \
(files/ab/abcd…, each named by its SHA-256) and, written last, manifest.json: format version, \
engine, date, version of ouvrage, rows per table, number and total size of the files, SHA-256 \
of the database and of each file. A directory without manifest.json is not a backup.

PostgreSQL needs pg_dump (package postgresql-client, at least the server's version), found on \
PATH or in /usr/lib/postgresql/*/bin; the password of DATABASE_URL is passed through \
PGPASSWORD, never on a command line nor in a message.

Exit codes: 0 done; 2 refused (PATH not empty, not an ouvrage database…), nothing kept; 1 other \
failure (the partial backup is removed).";

const RESTORE_HELP: &str = "Restore a backup made by `ouvrage backup` into the database and file storage named by the \
configuration (DATABASE_URL, OUVRAGE_DATA…).

Before writing anything, every file of the backup is checked against the SHA-256 noted in its \
manifest.json: a damaged or incomplete backup is refused and nothing is written. Then the stored \
files are written (DATA/files or the S3 bucket), then the database in one step.

SQLite: the copy is checked, then renamed over the database file (DATA/ouvrage.db by default). \
Stop the server first: never restore under a running server.

PostgreSQL: pg_restore's script is run by psql in a single transaction that empties the schema, \
loads the backup and checks every table's row count: all or nothing. Needs pg_restore and psql \
(package postgresql-client), found on PATH or in /usr/lib/postgresql/*/bin. Stop the servers \
using that database first.

The target database must be empty (or not exist yet, for SQLite) unless --force, which replaces \
its content. Restoring a SQLite backup into PostgreSQL or the reverse is refused.

Exit codes: 0 done; 2 refused (not a backup, damaged backup, database not empty, other engine); \
1 other failure.";

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for one client; prints the token alone on standard output (it is not
    /// shown again). Unknown tenant or client: exit code 2.
    Create {
        /// Slug of the firm (tenant).
        #[arg(long)]
        tenant: String,
        /// Code of the client whose sites the token reaches.
        #[arg(long)]
        client: String,
        /// A name to recognise the token by (the integrator's software), 100 characters at most.
        #[arg(long)]
        name: String,
    },
}

/// A refusal of what the command was given (unknown tenant or client…): exit code 2, as for
/// the usage errors clap reports.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account non-interactively.
    Create {
        /// Slug of the firm (tenant) the account belongs to.
        #[arg(long)]
        tenant: String,
        /// Login e-mail address.
        #[arg(long)]
        email: String,
        /// admin, office, technician (the firm's staff), client_admin or client_user.
        #[arg(long)]
        role: String,
        /// Client code, required for client_admin and client_user.
        #[arg(long)]
        client: Option<String>,
        /// Display name [default: the e-mail address].
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("erreur : impossible de démarrer : {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e:#}");
            if e.downcast_ref::<InputError>().is_some() { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("ouvrage=info,tower_http=warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        None => {
            let app = Application::build(config).await?;
            let loaded = crate::demo::load_if_empty(&app.state.db, &app.state.files).await?;
            if loaded {
                println!("Données de démonstration chargées.");
            }
            let demo = crate::demo::is_loaded(&app.state.db).await?;
            print_banner(&app, demo);
            app.run(None).await
        }
        Some(Command::Serve) => {
            let app = Application::build(config).await?;
            println!("ouvrage écoute sur http://{}", app.local_addr());
            app.run(None).await
        }
        Some(Command::Bench(args)) => {
            if crate::bench::run(args).await? {
                Ok(())
            } else {
                anyhow::bail!("le banc d'essai a relevé des réponses fausses")
            }
        }
        Some(Command::Thermal { files, repeat }) => thermal(&files, repeat),
        Some(Command::Migrate) => {
            let db = open(&config).await?;
            let applied = crate::db::migrate(&db).await?;
            if applied.is_empty() {
                println!("Base de données à jour.");
            } else {
                println!("Migrations appliquées : {applied:?}");
            }
            Ok(())
        }
        Some(Command::Demo) => {
            let db = open(&config).await?;
            crate::db::migrate(&db).await?;
            let files = crate::features::files::FileStore::from_config(&config.storage)?;
            if crate::demo::load_if_empty(&db, &files).await? {
                println!("Données de démonstration chargées.");
                print_logins();
                Ok(())
            } else {
                anyhow::bail!(
                    "la base de données contient déjà des données : la démonstration n'est chargée que dans une base vide"
                )
            }
        }
        Some(Command::User {
            command: UserCommand::Create { tenant, email, role, client, name, password_stdin: _ },
        }) => {
            let db = open(&config).await?;
            crate::db::migrate(&db).await?;
            let mut line = String::new();
            std::io::stdin().read_to_string(&mut line)?;
            let password = line.lines().next().unwrap_or_default().to_string();
            create_user_cli(&db, &tenant, &email, &role, client.as_deref(), name.as_deref(), password).await
        }
        Some(Command::Backup { path }) => {
            let manifest = crate::backup::backup(&config, &path).await?;
            let rows: i64 = manifest.tables.values().sum();
            println!(
                "Sauvegarde écrite dans {} : base {} ({} tables, {rows} lignes), {} fichiers ({} octets).",
                path.display(),
                manifest.engine,
                manifest.tables.len(),
                manifest.files.count,
                manifest.files.total_bytes
            );
            Ok(())
        }
        Some(Command::Restore { path, force }) => {
            let restored = crate::backup::restore(&config, &path, force).await?;
            let m = &restored.manifest;
            let rows: i64 = m.tables.values().sum();
            println!(
                "Sauvegarde du {} restaurée{} : {} tables, {rows} lignes, {} fichiers ({} octets), tous vérifiés.",
                m.created_at,
                if restored.replaced { " (contenu précédent remplacé)" } else { "" },
                m.tables.len(),
                m.files.count,
                m.files.total_bytes
            );
            Ok(())
        }
        Some(Command::Token { command: TokenCommand::Create { tenant, client, name } }) => {
            let db = open(&config).await?;
            crate::db::migrate(&db).await?;
            let secret = create_token_cli(&db, &tenant, &client, &name).await?;
            println!("{secret}");
            Ok(())
        }
    }
}

/// Prints the extraction of each file, or with `repeat` times the parsing of all of them.
fn thermal(files: &[std::path::PathBuf], repeat: Option<usize>) -> anyhow::Result<()> {
    let mut contents = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| anyhow::anyhow!("impossible de lire {} : {e}", f.display()))?;
        contents.push((f, bytes));
    }
    match repeat {
        None => {
            let mut failed = false;
            for (path, bytes) in &contents {
                match ouvrage_thermal::parse(bytes) {
                    Ok(study) => println!("{}", serde_json::to_string_pretty(&study)?),
                    Err(e) => {
                        failed = true;
                        eprintln!("{} : {e}", path.display());
                    }
                }
            }
            anyhow::ensure!(!failed, "certains fichiers n'ont pas pu être lus");
        }
        Some(n) => {
            let started = std::time::Instant::now();
            for _ in 0..n {
                for (path, bytes) in &contents {
                    ouvrage_thermal::parse(bytes).map_err(|e| anyhow::anyhow!("{} : {e}", path.display()))?;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            let parsed = n * contents.len();
            println!(
                "{{\"files\": {parsed}, \"seconds\": {seconds:.6}, \"files_per_second\": {:.1}}}",
                parsed as f64 / seconds
            );
        }
    }
    Ok(())
}

async fn open(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)?;
    Db::connect(&config.database_url).await
}

async fn create_user_cli(
    db: &Db,
    tenant: &str,
    email: &str,
    role: &str,
    client: Option<&str>,
    name: Option<&str>,
    password: String,
) -> anyhow::Result<()> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow::anyhow!("rôle inconnu « {role} » : admin, office, technician, client_admin ou client_user")
    })?;
    let email = Email::parse(email).map_err(anyhow::Error::msg)?;
    check_password_strength(&password, email.as_str()).map_err(anyhow::Error::msg)?;
    let tenant_id: crate::domain::TenantId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
            .bind(tenant)
            .fetch_optional(p)
            .await)?
        .ok_or_else(|| anyhow::anyhow!("aucun prestataire (tenant) « {tenant} »"))?;
    let client_id = match client {
        Some(code) => Some(
            on_db!(db, |p| sqlx::query_scalar::<_, crate::domain::ClientId>(
                "SELECT id FROM clients WHERE tenant_id = $1 AND code = $2"
            )
            .bind(tenant_id)
            .bind(code)
            .fetch_optional(p)
            .await)?
            .ok_or_else(|| anyhow::anyhow!("aucun client de code « {code} » chez « {tenant} »"))?,
        ),
        None => None,
    };
    let hash = password::hash(password).await?;
    let mut tx = db.begin().await?;
    let id = create_user(
        &mut tx,
        NewUser {
            tenant_id,
            client_id,
            contact_id: None,
            full_name: name.unwrap_or(email.as_str()).to_string(),
            email: email.clone(),
            role,
            permissions: Permissions::default(),
            password_hash: hash,
            temporary: false,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let who = AuditActor { tenant_id, user_id: None, label: "ligne de commande".into(), ip: String::new() };
    audit::record(
        &mut tx,
        who,
        "create",
        "user",
        Some(id.0),
        &format!("Compte {} créé ({})", email.as_str(), role.label()),
    )
    .await?;
    tx.commit().await?;
    println!("Compte créé : {} ({}), id {}", email.as_str(), role.label(), id);
    Ok(())
}

/// Creates an API token for the client `client_code` of `tenant` and returns its secret (the
/// caller prints it); what was done goes to standard error.
pub async fn create_token_cli(db: &Db, tenant: &str, client_code: &str, name: &str) -> anyhow::Result<String> {
    let name = crate::features::api::tokens::check_name(name).map_err(InputError)?;
    let tenant_id: crate::domain::TenantId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
            .bind(tenant)
            .fetch_optional(p)
            .await)?
        .ok_or_else(|| InputError(format!("aucun prestataire (tenant) « {tenant} »")))?;
    let client_id: crate::domain::ClientId =
        on_db!(db, |p| sqlx::query_scalar("SELECT id FROM clients WHERE tenant_id = $1 AND code = $2")
            .bind(tenant_id)
            .bind(client_code.trim().to_uppercase())
            .fetch_optional(p)
            .await)?
        .ok_or_else(|| InputError(format!("aucun client de code « {client_code} » chez « {tenant} »")))?;
    let mut tx = db.begin().await?;
    let created = crate::features::api::tokens::create(&mut tx, tenant_id, client_id, &name, None).await?;
    let who = AuditActor { tenant_id, user_id: None, label: "ligne de commande".into(), ip: String::new() };
    audit::record(
        &mut tx,
        who,
        "create",
        "api_token",
        Some(created.id),
        &format!("Jeton d'API « {name} » ({}…) créé pour le client {client_code}", created.prefix),
    )
    .await?;
    tx.commit().await?;
    eprintln!(
        "Jeton d'API « {name} » créé pour le client {client_code} de « {tenant} » (id {}). \
         Conservez-le : il ne sera plus affiché.",
        created.id
    );
    Ok(created.secret)
}

fn print_logins() {
    println!("Comptes de démonstration (mot de passe : {}) :", crate::demo::DEMO_PASSWORD);
    for (email, what) in crate::demo::DEMO_LOGINS {
        println!("  {email:<26} {what}");
    }
}

fn print_banner(app: &Application, demo: bool) {
    println!();
    println!("ouvrage est prêt : http://{}", app.local_addr());
    if demo {
        print_logins();
    }
    println!("Arrêt : Ctrl-C.");
    println!();
}
