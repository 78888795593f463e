//! People and companies: roles, permissions and the identifiers French businesses use.

use std::fmt;

/// What a user is, which decides where they land and what they may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Office,
    Technician,
    ClientAdmin,
    ClientUser,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Office, Role::Technician, Role::ClientAdmin, Role::ClientUser];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Office => "office",
            Role::Technician => "technician",
            Role::ClientAdmin => "client_admin",
            Role::ClientUser => "client_user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrateur",
            Role::Office => "Bureau",
            Role::Technician => "Technicien",
            Role::ClientAdmin => "Administrateur client",
            Role::ClientUser => "Utilisateur client",
        }
    }

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Office | Role::Technician)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Per-user permissions, stored as space-separated codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// May sign documents electronically on behalf of their company.
    SignElectronically,
    /// May see the company's invoices.
    SeeInvoices,
}

impl Permission {
    pub const ALL: [Permission; 2] = [Permission::SignElectronically, Permission::SeeInvoices];

    pub fn code(self) -> &'static str {
        match self {
            Permission::SignElectronically => "sign",
            Permission::SeeInvoices => "invoices",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Permission::SignElectronically => "Peut signer électroniquement",
            Permission::SeeInvoices => "Voit les factures",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions(Vec<&'static str>);

impl Permissions {
    pub fn parse(stored: &str) -> Permissions {
        Permissions(
            Permission::ALL
                .into_iter()
                .filter(|p| stored.split_whitespace().any(|s| s == p.code()))
                .map(Permission::code)
                .collect(),
        )
    }

    pub fn from_list(list: &[Permission]) -> Permissions {
        Permissions(Permission::ALL.into_iter().filter(|p| list.contains(p)).map(Permission::code).collect())
    }

    pub fn has(&self, p: Permission) -> bool {
        self.0.contains(&p.code())
    }

    pub fn to_stored(&self) -> String {
        self.0.join(" ")
    }
}

/// Kinds of clients the firm serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Builder,
    Landlord,
    Syndic,
    Tertiary,
    Industrial,
    Individual,
}

impl ClientKind {
    pub const ALL: [ClientKind; 6] = [
        ClientKind::Builder,
        ClientKind::Landlord,
        ClientKind::Syndic,
        ClientKind::Tertiary,
        ClientKind::Industrial,
        ClientKind::Individual,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ClientKind::Builder => "builder",
            ClientKind::Landlord => "landlord",
            ClientKind::Syndic => "syndic",
            ClientKind::Tertiary => "tertiary",
            ClientKind::Industrial => "industrial",
            ClientKind::Individual => "individual",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ClientKind::Builder => "Constructeur",
            ClientKind::Landlord => "Bailleur social",
            ClientKind::Syndic => "Syndic",
            ClientKind::Tertiary => "Tertiaire",
            ClientKind::Industrial => "Industriel",
            ClientKind::Individual => "Particulier",
        }
    }

    pub fn parse(s: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// An e-mail address, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, String> {
        let s = input.trim().to_lowercase();
        let valid = s.len() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                    && !local.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
            });
        if valid { Ok(Email(s)) } else { Err(format!("« {} » n'est pas une adresse e-mail valide.", input.trim())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SIRET (14 digits, Luhn-valid except La Poste's establishments) or empty.
pub fn parse_siret(input: &str) -> Result<String, String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Ok(String::new());
    }
    if digits.len() != 14 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("Le SIRET doit comporter 14 chiffres.".into());
    }
    // La Poste's SIRETs (SIREN 356000000) follow a different rule: sum of digits multiple of 5.
    let ok = if digits.starts_with("356000000") {
        digits.bytes().map(|b| (b - b'0') as u32).sum::<u32>().is_multiple_of(5)
    } else {
        luhn(&digits)
    };
    if ok { Ok(digits) } else { Err("Ce SIRET n'est pas valide (clé de contrôle incorrecte).".into()) }
}

/// A SIREN (9 digits, Luhn-valid) or empty.
pub fn parse_siren(input: &str) -> Result<String, String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Ok(String::new());
    }
    if digits.len() != 9 || !digits.chars().all(|c| c.is_ascii_digit()) || !luhn(&digits) {
        return Err("Le SIREN doit comporter 9 chiffres valides.".into());
    }
    Ok(digits)
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A phone number stored in E.164 (`+33612345678`), read as French when no country is given.
pub fn parse_phone(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let parsed = phonenumber::parse(Some(phonenumber::country::Id::FR), s)
        .map_err(|_| format!("« {s} » n'est pas un numéro de téléphone valide."))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(format!("« {s} » n'est pas un numéro de téléphone valide."));
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// A French postcode (5 digits) or empty.
pub fn parse_postcode(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() || (s.len() == 5 && s.chars().all(|c| c.is_ascii_digit())) {
        Ok(s.to_string())
    } else {
        Err("Le code postal doit comporter 5 chiffres.".into())
    }
}

/// Password rules: long enough, not only one kind of character, not the e-mail, not a known
/// weak password. Returns the French reason when refused.
pub fn check_password_strength(password: &str, email: &str) -> Result<(), String> {
    const MIN: usize = 10;
    if password.chars().count() < MIN {
        return Err(format!("Le mot de passe doit comporter au moins {MIN} caractères."));
    }
    if password.len() > 512 {
        return Err("Le mot de passe est trop long (512 caractères au plus).".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|b| **b).count() < 2 {
        return Err("Le mot de passe doit mélanger au moins deux types de caractères (minuscules, majuscules, chiffres, symboles).".into());
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.len() >= 4 && lower.contains(&local) {
        return Err("Le mot de passe ne doit pas contenir votre adresse e-mail.".into());
    }
    const WEAK: [&str; 10] = [
        "motdepasse",
        "password",
        "azertyuiop",
        "0123456789",
        "1234567890",
        "qwertyuiop",
        "administrateur",
        "soleil",
        "bonjour",
        "motdepasse1",
    ];
    if WEAK.iter().any(|w| lower.starts_with(w)) {
        return Err("Ce mot de passe est trop courant : choisissez-en un autre.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert_eq!(parse_siret("732 829 320 00074").unwrap(), "73282932000074");
        assert!(parse_siret("73282932000075").is_err());
        assert!(parse_siret("1234").is_err());
        assert_eq!(parse_siren("732829320").unwrap(), "732829320");
        assert_eq!(parse_phone("06 12 34 56 78").unwrap(), "+33612345678");
        assert!(parse_phone("12").is_err());
        assert!(Email::parse("Jean.Dupont@Exemple.FR").is_ok_and(|e| e.as_str() == "jean.dupont@exemple.fr"));
        assert!(Email::parse("pas une adresse").is_err());
        assert!(parse_postcode("7500").is_err());
    }

    #[test]
    fn password_rules() {
        assert!(check_password_strength("court", "a@b.fr").is_err());
        assert!(check_password_strength("aaaaaaaaaaaa", "a@b.fr").is_err());
        assert!(check_password_strength("jeandupont-2026", "jeandupont@b.fr").is_err());
        assert!(check_password_strength("motdepasse-123", "x@b.fr").is_err());
        assert!(check_password_strength("demo-ouvrage", "client@demo.test").is_ok());
        assert!(check_password_strength("Chantier du 12 mai", "x@b.fr").is_ok());
    }

    #[test]
    fn permissions_round_trip() {
        let p = Permissions::parse("invoices sign bogus");
        assert!(p.has(Permission::SignElectronically));
        assert_eq!(p.to_stored(), "sign invoices");
    }
}
