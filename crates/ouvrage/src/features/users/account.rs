//! Creating accounts: the one path used by the back office, the command line and the demo
//! loader, so the rules (unique e-mail, client roles tied to a client, temporary passwords)
//! hold everywhere.

use crate::db::{Db, Tx, is_unique_violation};
use crate::domain::text::search_key;
use crate::domain::time::{HOUR_MS, now_ms};
use crate::domain::{ClientId, ContactId, Email, Permissions, Role, TenantId, UserId};
use crate::features::mail::OutgoingMail;
use crate::on_tx;

/// A temporary password stops working after 72 hours.
pub const TEMP_PASSWORD_VALIDITY_MS: i64 = 72 * HOUR_MS;

pub struct NewUser {
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
    pub contact_id: Option<ContactId>,
    pub email: Email,
    pub full_name: String,
    pub role: Role,
    pub permissions: Permissions,
    /// Already hashed with argon2id.
    pub password_hash: String,
    /// A temporary password must be changed at first login and expires.
    pub temporary: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("Un compte existe déjà avec l'adresse {0}.")]
    EmailTaken(String),
    #[error("Un compte client doit être rattaché à un client.")]
    ClientRequired,
    #[error("Un compte du prestataire ne peut pas être rattaché à un client.")]
    StaffWithClient,
    #[error("Le nom est obligatoire.")]
    NameRequired,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create_user(tx: &mut Tx, new: NewUser) -> Result<UserId, CreateUserError> {
    let name = new.full_name.trim();
    if name.is_empty() {
        return Err(CreateUserError::NameRequired);
    }
    match (new.role.is_staff(), new.client_id) {
        (true, Some(_)) => return Err(CreateUserError::StaffWithClient),
        (false, None) => return Err(CreateUserError::ClientRequired),
        _ => {}
    }
    if let Some(client) = new.client_id {
        // The client must belong to the same tenant: never link across firms.
        let found: Option<i64> =
            on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM clients WHERE id = $1 AND tenant_id = $2")
                .bind(client)
                .bind(new.tenant_id)
                .fetch_optional(c)
                .await)?;
        if found.is_none() {
            return Err(CreateUserError::ClientRequired);
        }
    }
    let now = now_ms();
    let result: Result<UserId, sqlx::Error> = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO users (tenant_id, client_id, contact_id, email, full_name, role, permissions, password_hash,
                            must_change_password, temp_password_expires_at, active, search_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $12, $12) RETURNING id"
    )
    .bind(new.tenant_id)
    .bind(new.client_id)
    .bind(new.contact_id)
    .bind(new.email.as_str())
    .bind(name)
    .bind(new.role.code())
    .bind(new.permissions.to_stored())
    .bind(&new.password_hash)
    .bind(new.temporary)
    .bind(new.temporary.then_some(now + TEMP_PASSWORD_VALIDITY_MS))
    .bind(search_key(&[name, new.email.as_str()]))
    .bind(now)
    .fetch_one(c)
    .await);
    match result {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(CreateUserError::EmailTaken(new.email.as_str().to_string())),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a user's password with a new temporary one (already hashed): it must be changed at
/// the next login and stops working after [`TEMP_PASSWORD_VALIDITY_MS`]. Returns the rows
/// changed (0 when the user is not in the tenant).
pub async fn set_temporary_password(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    password_hash: &str,
) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    crate::exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = TRUE, temp_password_expires_at = $2,
                updated_at = $3
         WHERE id = $4 AND tenant_id = $5"
    )
    .bind(password_hash)
    .bind(now + TEMP_PASSWORD_VALIDITY_MS)
    .bind(now)
    .bind(user)
    .bind(tenant)
    .execute(c)
    .await)
}

// ---------------------------------------------------------------------------------------------
// Giving access: an account with a temporary password, and the e-mail that carries it. The back
// office, the client admin's "Mon entreprise" and the processing of credential requests all go
// through these functions, so the e-mail and the rules are the same everywhere.

/// A freshly drawn temporary password and its argon2id hash.
pub struct TemporaryPassword {
    /// What the user types: sent by e-mail, never stored.
    pub plain: String,
    pub hash: String,
}

impl TemporaryPassword {
    /// Draws a new temporary password and hashes it (off the async runtime). Do this before
    /// opening the transaction: hashing is deliberately slow.
    pub async fn generate() -> anyhow::Result<TemporaryPassword> {
        let plain = crate::features::auth::password::temporary_password();
        let hash = crate::features::auth::password::hash(plain.clone()).await?;
        Ok(TemporaryPassword { plain, hash })
    }
}

/// The access e-mail: where to log in, the login, the temporary password and how long it works.
pub struct AccessMail<'a> {
    pub tenant: TenantId,
    /// The firm's name, as the sender the user knows.
    pub firm: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub temporary: &'a str,
    /// A new temporary password for an existing account rather than a new account.
    pub renewal: bool,
}

impl AccessMail<'_> {
    pub fn build(&self, base_url: &str) -> OutgoingMail {
        let login = format!("{}/login", base_url.trim_end_matches('/'));
        let AccessMail { firm, name, email, temporary, .. } = *self;
        let (subject, intro) = if self.renewal {
            (
                format!("Vos nouveaux accès — {firm}"),
                format!("{firm} vous a attribué un nouveau mot de passe temporaire pour accéder à votre espace."),
            )
        } else {
            (format!("Vos accès — {firm}"), format!("{firm} vous a ouvert un accès à son espace en ligne."))
        };
        let text = format!(
            "Bonjour {name},\n\n{intro}\n\nAdresse de connexion : {login}\nIdentifiant : {email}\nMot de passe temporaire : {temporary}\n\nCe mot de passe temporaire est valable 72 heures. À votre première connexion, vous choisirez votre mot de passe personnel.\nPassé ce délai, utilisez « Mot de passe oublié » sur la page de connexion ou demandez un nouvel accès.\n\nSi vous n'attendiez pas ce message, ignorez-le.\n"
        );
        OutgoingMail { tenant_id: Some(self.tenant), to: email.to_string(), subject, text, html: None }
    }

    /// Queues the e-mail in the caller's transaction (sent only if it commits; wake the mail
    /// worker with `state.mail_wakeup.notify_one()` after the commit).
    pub async fn queue(&self, tx: &mut Tx, base_url: &str) -> Result<i64, sqlx::Error> {
        crate::features::mail::enqueue(tx, self.build(base_url)).await
    }
}

/// An access to open: the account, its notification profile and its temporary password.
pub struct NewAccess {
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
    pub contact_id: Option<ContactId>,
    pub email: Email,
    pub full_name: String,
    pub role: Role,
    pub permissions: Permissions,
    pub digest: DigestProfile,
    pub temporary: TemporaryPassword,
}

/// Creates the account (temporary password: change forced at first login, 72 h) with its
/// notification profile, and queues the access e-mail, all in `tx`. The caller records the
/// audit entry and wakes the mail worker after commit.
pub async fn create_access(
    tx: &mut Tx,
    base_url: &str,
    firm: &str,
    access: NewAccess,
) -> Result<UserId, CreateUserError> {
    let name = access.full_name.trim().to_string();
    let id = create_user(
        tx,
        NewUser {
            tenant_id: access.tenant_id,
            client_id: access.client_id,
            contact_id: access.contact_id,
            email: access.email.clone(),
            full_name: name.clone(),
            role: access.role,
            permissions: access.permissions,
            password_hash: access.temporary.hash,
            temporary: true,
        },
    )
    .await?;
    set_digest(tx, access.tenant_id, id, access.digest).await?;
    let mail = AccessMail {
        tenant: access.tenant_id,
        firm,
        name: &name,
        email: access.email.as_str(),
        temporary: &access.temporary.plain,
        renewal: false,
    };
    mail.queue(tx, base_url).await?;
    Ok(id)
}

/// "Renvoyer les accès": replaces the user's password with `temporary` (the old one stops
/// working) and queues the renewal e-mail, in `tx`. Returns false when the user is not in the
/// tenant. The caller ends the user's sessions after commit.
#[allow(clippy::too_many_arguments)]
pub async fn reissue_access(
    tx: &mut Tx,
    base_url: &str,
    firm: &str,
    tenant: TenantId,
    user: UserId,
    name: &str,
    email: &str,
    temporary: &TemporaryPassword,
) -> Result<bool, sqlx::Error> {
    if set_temporary_password(tx, tenant, user, &temporary.hash).await? == 0 {
        return Ok(false);
    }
    let mail = AccessMail { tenant, firm, name, email, temporary: &temporary.plain, renewal: true };
    mail.queue(tx, base_url).await?;
    Ok(true)
}

/// How an account stands, for lists: the French label and the badge class.
pub fn access_status(
    active: bool,
    must_change_password: bool,
    temp_password_expires_at: Option<i64>,
    now: i64,
) -> (&'static str, &'static str) {
    if !active {
        ("Désactivé", "off")
    } else if must_change_password {
        if temp_password_expires_at.is_some_and(|t| t <= now) {
            ("Mot de passe temporaire expiré", "off")
        } else {
            ("En attente de première connexion", "warn")
        }
    } else {
        ("Actif", "ok")
    }
}

/// Activates or deactivates an account of the tenant; returns the rows changed. A deactivated
/// account cannot log in; the caller ends its sessions after commit.
pub async fn set_active(tx: &mut Tx, tenant: TenantId, user: UserId, active: bool) -> Result<u64, sqlx::Error> {
    crate::exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET active = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4"
    )
    .bind(active)
    .bind(now_ms())
    .bind(user)
    .bind(tenant)
    .execute(c)
    .await)
}

/// Stores a user's notification profile (the weekday is kept only for a weekly choice).
pub async fn set_digest(tx: &mut Tx, tenant: TenantId, user: UserId, d: DigestProfile) -> Result<u64, sqlx::Error> {
    let day = if d.choice == DigestChoice::Weekly { d.weekday } else { None };
    crate::exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET digest_frequency = $1, digest_weekday = $2, updated_at = $3 WHERE id = $4 AND tenant_id = $5"
    )
    .bind(d.choice.code())
    .bind(day)
    .bind(now_ms())
    .bind(user)
    .bind(tenant)
    .execute(c)
    .await)
}

/// The stored notification profile of a user of the tenant.
pub async fn digest_of(db: &Db, tenant: TenantId, user: UserId) -> Result<Option<DigestProfile>, sqlx::Error> {
    let row: Option<(String, Option<i64>)> = crate::on_db!(db, |p| sqlx::query_as(
        "SELECT digest_frequency, digest_weekday FROM users WHERE id = $1 AND tenant_id = $2"
    )
    .bind(user)
    .bind(tenant)
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|(f, d)| DigestProfile::from_stored(&f, d)))
}

/// The firm's default notification frequency (`tenants.default_digest_*`).
pub async fn firm_digest(db: &Db, tenant: TenantId) -> Result<FirmDigest, sqlx::Error> {
    let (frequency, weekday): (String, i64) = crate::on_db!(db, |p| sqlx::query_as(
        "SELECT default_digest_frequency, default_digest_weekday FROM tenants WHERE id = $1"
    )
    .bind(tenant)
    .fetch_one(p)
    .await)?;
    Ok(FirmDigest { frequency, weekday })
}

// ---------------------------------------------------------------------------------------------
// Notification profile: how often a user receives the digest e-mail.

/// What a user chose (stored in `users.digest_frequency`): follow the firm's default, or their
/// own frequency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestChoice {
    /// Follows `tenants.default_digest_frequency`/`default_digest_weekday`.
    Default,
    None,
    Daily,
    Weekly,
}

impl DigestChoice {
    pub const ALL: [DigestChoice; 4] =
        [DigestChoice::Default, DigestChoice::None, DigestChoice::Daily, DigestChoice::Weekly];
    /// The choices the firm's default may take (a default cannot follow itself).
    pub const FIRM: [DigestChoice; 3] = [DigestChoice::None, DigestChoice::Daily, DigestChoice::Weekly];

    pub fn code(self) -> &'static str {
        match self {
            DigestChoice::Default => "default",
            DigestChoice::None => "none",
            DigestChoice::Daily => "daily",
            DigestChoice::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<DigestChoice> {
        DigestChoice::ALL.into_iter().find(|c| c.code() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            DigestChoice::Default => "Par défaut",
            DigestChoice::None => "NON (aucun e-mail)",
            DigestChoice::Daily => "Quotidien",
            DigestChoice::Weekly => "Hebdomadaire",
        }
    }
}

/// A user's notification profile as stored: their choice and, for a weekly choice, the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestProfile {
    pub choice: DigestChoice,
    /// 1 = Monday … 7 = Sunday; only meaningful for [`DigestChoice::Weekly`].
    pub weekday: Option<i64>,
}

impl Default for DigestProfile {
    /// Follows the firm's default.
    fn default() -> Self {
        DigestProfile { choice: DigestChoice::Default, weekday: None }
    }
}

impl DigestProfile {
    pub fn from_stored(frequency: &str, weekday: Option<i64>) -> DigestProfile {
        DigestProfile {
            choice: DigestChoice::parse(frequency).unwrap_or(DigestChoice::Default),
            weekday: weekday.filter(|d| weekday_from_number(*d).is_some()),
        }
    }

    /// Reads the form fields `digest_frequency` and `digest_weekday`; the French message
    /// names what is wrong. A weekly choice needs its day.
    pub fn parse_form(frequency: &str, weekday: &str) -> Result<DigestProfile, DigestFormError> {
        let choice = DigestChoice::parse(frequency).ok_or(DigestFormError::Frequency)?;
        let weekday = match weekday.trim() {
            "" => None,
            d => Some(
                d.parse::<i64>().ok().filter(|n| weekday_from_number(*n).is_some()).ok_or(DigestFormError::Weekday)?,
            ),
        };
        if choice == DigestChoice::Weekly && weekday.is_none() {
            return Err(DigestFormError::Weekday);
        }
        Ok(DigestProfile { choice, weekday: if choice == DigestChoice::Weekly { weekday } else { None } })
    }

    /// The frequency this profile gives under the firm's default ([`effective_digest`]).
    pub fn effective(&self, firm: &FirmDigest) -> DigestFrequency {
        effective_digest(self.choice.code(), self.weekday, &firm.frequency, firm.weekday)
    }

    /// `Par défaut (Quotidien)`, `Hebdomadaire (mardi)`, `NON (aucun e-mail)`.
    pub fn label(&self, firm: &FirmDigest) -> String {
        match self.choice {
            DigestChoice::Default => format!("Par défaut ({})", firm.effective().label()),
            _ => self.effective(firm).label(),
        }
    }
}

/// A wrong notification-profile field, with its French message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestFormError {
    #[error("Choisissez la fréquence des e-mails de notification dans la liste.")]
    Frequency,
    #[error("Choisissez le jour d'envoi de l'e-mail hebdomadaire.")]
    Weekday,
}

impl DigestFormError {
    /// The form field the message belongs next to.
    pub fn field(self) -> &'static str {
        match self {
            DigestFormError::Frequency => "digest_frequency",
            DigestFormError::Weekday => "digest_weekday",
        }
    }
}

/// The firm's default notification frequency, as stored on the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmDigest {
    pub frequency: String,
    pub weekday: i64,
}

impl FirmDigest {
    pub fn effective(&self) -> DigestFrequency {
        effective_digest(DigestChoice::Default.code(), None, &self.frequency, self.weekday)
    }
}

/// The frequency at which a user actually receives digests, once the firm's default is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestFrequency {
    /// No digest e-mail at all.
    None,
    /// At most one e-mail per day.
    Daily,
    /// At most one e-mail per week, sent on this day (Europe/Paris).
    Weekly(chrono::Weekday),
}

impl DigestFrequency {
    /// `Hebdomadaire (lundi)`, `Quotidien`, `NON (aucun e-mail)`.
    pub fn label(self) -> String {
        match self {
            DigestFrequency::None => DigestChoice::None.label().to_string(),
            DigestFrequency::Daily => DigestChoice::Daily.label().to_string(),
            DigestFrequency::Weekly(day) => format!("Hebdomadaire ({})", weekday_label(day)),
        }
    }
}

/// A stored weekday (1 = Monday … 7 = Sunday); `None` when out of range.
pub fn weekday_from_number(n: i64) -> Option<chrono::Weekday> {
    match n {
        1..=7 => chrono::Weekday::try_from((n - 1) as u8).ok(),
        _ => None,
    }
}

/// `lundi` … `dimanche`.
pub fn weekday_label(day: chrono::Weekday) -> &'static str {
    const NAMES: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
    NAMES[day.num_days_from_monday() as usize]
}

/// THE rule for the frequency a user receives digests at, from the stored values of the user
/// (`users.digest_frequency`, `users.digest_weekday`) and of their firm
/// (`tenants.default_digest_frequency`, `tenants.default_digest_weekday`).
///
/// A user on `default` (or an unreadable value) follows the firm; a weekly user without a valid
/// day of their own takes the firm's day; a firm default that cannot be read counts as daily
/// (the schema's default) and a firm day that cannot be read as Monday.
pub fn effective_digest(user_freq: &str, user_day: Option<i64>, tenant_freq: &str, tenant_day: i64) -> DigestFrequency {
    let firm_day = weekday_from_number(tenant_day).unwrap_or(chrono::Weekday::Mon);
    let firm = match DigestChoice::parse(tenant_freq) {
        Some(DigestChoice::None) => DigestFrequency::None,
        Some(DigestChoice::Weekly) => DigestFrequency::Weekly(firm_day),
        _ => DigestFrequency::Daily,
    };
    match DigestChoice::parse(user_freq) {
        Some(DigestChoice::None) => DigestFrequency::None,
        Some(DigestChoice::Daily) => DigestFrequency::Daily,
        Some(DigestChoice::Weekly) => {
            DigestFrequency::Weekly(user_day.and_then(weekday_from_number).unwrap_or(firm_day))
        }
        Some(DigestChoice::Default) | None => firm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    #[test]
    fn a_users_own_choice_wins_over_the_firm() {
        assert_eq!(effective_digest("none", None, "daily", 1), DigestFrequency::None);
        assert_eq!(effective_digest("daily", Some(3), "weekly", 5), DigestFrequency::Daily);
        assert_eq!(effective_digest("weekly", Some(3), "none", 5), DigestFrequency::Weekly(Weekday::Wed));
        assert_eq!(effective_digest("weekly", Some(7), "daily", 1), DigestFrequency::Weekly(Weekday::Sun));
    }

    #[test]
    fn default_follows_the_firm() {
        assert_eq!(effective_digest("default", None, "daily", 1), DigestFrequency::Daily);
        assert_eq!(effective_digest("default", Some(2), "none", 1), DigestFrequency::None);
        // The firm's day applies, not a day left over on the user's row.
        assert_eq!(effective_digest("default", Some(2), "weekly", 5), DigestFrequency::Weekly(Weekday::Fri));
    }

    #[test]
    fn unreadable_values_fall_back_safely() {
        // A weekly user without a valid day takes the firm's day, then Monday.
        assert_eq!(effective_digest("weekly", None, "daily", 4), DigestFrequency::Weekly(Weekday::Thu));
        assert_eq!(effective_digest("weekly", Some(9), "daily", 0), DigestFrequency::Weekly(Weekday::Mon));
        // An unknown user value follows the firm; an unknown firm value is daily.
        assert_eq!(effective_digest("bogus", None, "none", 1), DigestFrequency::None);
        assert_eq!(effective_digest("default", None, "", 1), DigestFrequency::Daily);
        assert_eq!(effective_digest("default", None, "weekly", 12), DigestFrequency::Weekly(Weekday::Mon));
    }

    #[test]
    fn choices_and_days_read_in_french() {
        assert_eq!(DigestChoice::parse(" weekly "), Some(DigestChoice::Weekly));
        assert_eq!(DigestChoice::parse("jamais"), None);
        assert_eq!(weekday_from_number(1), Some(Weekday::Mon));
        assert_eq!(weekday_from_number(0), None);
        assert_eq!(DigestFrequency::Weekly(Weekday::Tue).label(), "Hebdomadaire (mardi)");
    }
    #[test]
    fn form_values_are_checked() {
        let p = DigestProfile::parse_form("weekly", "3").unwrap();
        assert_eq!(p, DigestProfile { choice: DigestChoice::Weekly, weekday: Some(3) });
        // The day is dropped unless weekly.
        assert_eq!(DigestProfile::parse_form("daily", "3").unwrap().weekday, None);
        assert_eq!(DigestProfile::parse_form("weekly", "").unwrap_err(), DigestFormError::Weekday);
        assert_eq!(DigestProfile::parse_form("weekly", "8").unwrap_err(), DigestFormError::Weekday);
        assert_eq!(DigestProfile::parse_form("hourly", "").unwrap_err(), DigestFormError::Frequency);
        let firm = FirmDigest { frequency: "weekly".into(), weekday: 5 };
        assert_eq!(DigestProfile::default().label(&firm), "Par défaut (Hebdomadaire (vendredi))");
        assert_eq!(DigestProfile::from_stored("none", Some(2)).label(&firm), "NON (aucun e-mail)");
        assert_eq!(
            DigestProfile::from_stored("default", None).effective(&firm),
            DigestFrequency::Weekly(chrono::Weekday::Fri)
        );
    }
}
