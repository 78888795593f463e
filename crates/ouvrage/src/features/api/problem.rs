//! Errors of the API as problem details (RFC 9457): `application/problem+json` documents with
//! `type`, a French `title` and `detail`, the `status` and the request path as `instance`, plus
//! extension members (`existing_site_id`, `candidates`, `errors`…).
//!
//! Handlers return a [`Problem`]; [`finish`] (called by the application's rejection middleware
//! for every `/api/` response) fills in `instance` and turns whatever else failed on the way — an
//! unknown path, a wrong method, a body over the limit, a framework rejection — into a problem
//! too, so an integrator never gets an HTML page or plain text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// Where the problem types are documented: `https://ouvrage.fr/problemes/doublon`…
const TYPE_BASE: &str = "https://ouvrage.fr/problemes/";

/// A problem, ready to answer.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// The last segment of the type URI (`doublon`), or empty for `about:blank`.
    pub kind: &'static str,
    pub title: String,
    pub detail: String,
    /// Extension members.
    pub extensions: Map<String, Value>,
    /// `WWW-Authenticate` for a 401.
    pub authenticate: Option<&'static str>,
}

/// A problem details document (RFC 9457), as `Problem::document` writes it.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)] // describes the document for OpenAPI
pub struct ProblemDoc {
    /// A URI naming the kind of problem (`https://ouvrage.fr/problemes/doublon`), or `about:blank`.
    #[schema(example = "https://ouvrage.fr/problemes/doublon")]
    pub r#type: String,
    /// A short French title of the kind of problem.
    #[schema(example = "Chantier en double")]
    pub title: String,
    /// The HTTP status.
    #[schema(example = 409)]
    pub status: u16,
    /// What went wrong this time, in French, for a person.
    pub detail: String,
    /// The path of the request.
    #[schema(example = "/api/v1/thermal-studies")]
    pub instance: String,
    /// For a duplicate (409): the id of the existing site (the first candidate, or the site on
    /// which the same file was already imported).
    #[schema(nullable = false)]
    pub existing_site_id: Option<i64>,
    /// For a duplicate (409): the existing sites that look like the same chantier.
    #[schema(nullable = false)]
    pub candidates: Option<Vec<super::schema::DuplicateCandidate>>,
    /// For invalid input (400, 422): the French message of each wrong field or parameter.
    #[schema(nullable = false)]
    pub errors: Option<std::collections::BTreeMap<String, String>>,
    /// For an unreadable file (422): a stable code of the reason (`dpe`, `not_xml`, `truncated`…).
    #[schema(nullable = false)]
    pub code: Option<String>,
    /// For an unknown document type (422): the codes of the firm's document types.
    #[schema(nullable = false)]
    pub allowed_types: Option<Vec<String>>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem { status, kind, title: title.into(), detail: detail.into(), extensions: Map::new(), authenticate: None }
    }

    /// Adds an extension member.
    pub fn with(mut self, name: &str, value: impl Serialize) -> Problem {
        self.extensions.insert(name.to_string(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// 401: no usable token.
    pub fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Problem {
        let mut p = Problem::new(StatusCode::UNAUTHORIZED, "authentification", "Authentification requise", detail);
        p.authenticate = Some(if invalid_token {
            "Bearer realm=\"ouvrage\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"ouvrage\""
        });
        p
    }

    /// 404: outside the token's client, or no such thing (the same answer for both).
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "introuvable", "Introuvable", detail)
    }

    /// 400 with the French message of each wrong parameter.
    pub fn bad_params(errors: std::collections::BTreeMap<String, String>) -> Problem {
        let detail = errors.values().cloned().collect::<Vec<_>>().join(" ");
        Problem::new(StatusCode::BAD_REQUEST, "parametres-invalides", "Paramètres invalides", detail)
            .with("errors", errors)
    }

    /// 503 or 500 for a database failure (logged, never shown).
    pub fn internal(e: &sqlx::Error) -> Problem {
        match e {
            e if crate::db::is_unavailable(e) => {
                tracing::error!(error = %e, "database unavailable (API)");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "",
                    "Service momentanément indisponible",
                    "La base de données ne répond pas. Réessayez dans quelques instants.",
                )
            }
            _ => {
                tracing::error!(error = ?e, "internal error (API)");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "",
                    "Erreur interne",
                    "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez plus tard.",
                )
            }
        }
    }

    /// The generic problem of a status, for failures that come without one.
    pub fn of_status(status: StatusCode) -> Problem {
        let (title, detail) = match status {
            StatusCode::BAD_REQUEST => (
                "Demande invalide",
                "La demande est mal formée : vérifiez l'adresse, les paramètres et le corps envoyé.",
            ),
            StatusCode::UNAUTHORIZED => (
                "Authentification requise",
                "Cette adresse demande un jeton d'API : en-tête « Authorization: Bearer <jeton> ».",
            ),
            StatusCode::FORBIDDEN => ("Accès refusé", "Ce jeton ne donne pas accès à cette ressource."),
            StatusCode::NOT_FOUND => {
                ("Introuvable", "Cette adresse n'existe pas dans l'API, ou vous n'y avez pas accès.")
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                ("Méthode non autorisée", "Cette adresse de l'API ne permet pas cette méthode : voyez l'en-tête Allow.")
            }
            StatusCode::NOT_ACCEPTABLE => ("Format de réponse indisponible", "L'API ne répond qu'en JSON."),
            StatusCode::REQUEST_TIMEOUT => ("Délai dépassé", "La requête a pris trop de temps. Réessayez."),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("Envoi trop volumineux", "Les données envoyées dépassent la taille autorisée.")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("Format non pris en charge", "Le corps de la requête n'a pas le format attendu.")
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                ("Données invalides", "Les données envoyées ne peuvent pas être traitées.")
            }
            StatusCode::TOO_MANY_REQUESTS => {
                ("Trop de requêtes", "Trop de requêtes en peu de temps : patientez avant de réessayer.")
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                ("Service momentanément indisponible", "Le service ne répond pas. Réessayez dans quelques instants.")
            }
            s if s.is_server_error() => (
                "Erreur interne",
                "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez plus tard.",
            ),
            _ => ("Demande refusée", "La demande n'a pas pu être traitée."),
        };
        Problem::new(status, "", title, detail)
    }

    /// The JSON document, with `instance` when known.
    pub fn document(&self, instance: &str) -> Value {
        let mut doc = Map::new();
        let kind = if self.kind.is_empty() { "about:blank".to_string() } else { format!("{TYPE_BASE}{}", self.kind) };
        doc.insert("type".into(), Value::String(kind));
        doc.insert("title".into(), Value::String(self.title.clone()));
        doc.insert("status".into(), Value::from(self.status.as_u16()));
        doc.insert("detail".into(), Value::String(self.detail.clone()));
        if !instance.is_empty() {
            doc.insert("instance".into(), Value::String(instance.to_string()));
        }
        for (k, v) in &self.extensions {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc)
    }

    fn respond(&self, instance: &str) -> Response {
        let body = serde_json::to_vec(&self.document(instance)).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(auth) = self.authenticate {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(auth));
        }
        resp
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut resp = self.respond("");
        // `finish` renders it again with the request path.
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The last step of every `/api/` response: a [`Problem`] gets its `instance`; any other error
/// response (unknown path, wrong method, body too large, rejections of extractors…) becomes the
/// problem of its status, keeping `Allow`, `Retry-After` and `WWW-Authenticate`.
pub fn finish(resp: Response, path: &str) -> Response {
    let status = resp.status();
    if let Some(problem) = resp.extensions().get::<Problem>() {
        let mut out = problem.respond(path);
        copy_headers(&resp, &mut out);
        return out;
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(CONTENT_TYPE));
    if is_problem {
        return resp;
    }
    let mut problem = Problem::of_status(status);
    if status == StatusCode::UNAUTHORIZED {
        problem.authenticate = Some("Bearer realm=\"ouvrage\"");
    }
    let mut out = problem.respond(path);
    copy_headers(&resp, &mut out);
    out
}

fn copy_headers(from: &Response, to: &mut Response) {
    for name in [header::ALLOW, header::RETRY_AFTER] {
        for v in from.headers().get_all(&name) {
            to.headers_mut().append(&name, v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_type_status_and_extensions() {
        let p = Problem::new(StatusCode::CONFLICT, "doublon", "Chantier en double", "Ce chantier existe.")
            .with("existing_site_id", 12);
        let doc = p.document("/api/v1/thermal-studies");
        assert_eq!(doc["type"], "https://ouvrage.fr/problemes/doublon");
        assert_eq!(doc["status"], 409);
        assert_eq!(doc["instance"], "/api/v1/thermal-studies");
        assert_eq!(doc["existing_site_id"], 12);
        assert_eq!(Problem::of_status(StatusCode::METHOD_NOT_ALLOWED).document("")["type"], "about:blank");
    }
}
