//! The API's actor: the integrator whose token is in `Authorization: Bearer <token>`, confined to
//! one client of one firm.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::problem::Problem;
use super::tokens;
use crate::app::AppState;
use crate::domain::{ClientId, TenantId};
use crate::features::audit::AuditActor;
use crate::features::sites::store::Scope;
use crate::http::actor::client_ip;

/// Longest `Authorization` value looked at; a real token has 47 characters.
const MAX_TOKEN_CHARS: usize = 256;

/// An integrator, as its token says.
#[derive(Clone, Debug)]
pub struct ApiActor {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub token_id: i64,
    pub token_name: String,
    pub ip: String,
}

impl ApiActor {
    /// The only sites it may touch: its client's.
    pub fn scope(&self) -> Scope {
        Scope { tenant: self.tenant_id, client: Some(self.client_id) }
    }

    /// How it appears in the audit log: `API : <token name>`.
    pub fn audit(&self) -> AuditActor {
        AuditActor {
            tenant_id: self.tenant_id,
            user_id: None,
            label: format!("API : {}", self.token_name),
            ip: self.ip.clone(),
        }
    }
}

/// The token of an `Authorization` header value, if it has the `Bearer <token>` form.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    let plausible = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= MAX_TOKEN_CHARS
        && token.bytes().all(|b| b.is_ascii_graphic());
    plausible.then_some(token)
}

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(actor) = parts.extensions.get::<ApiActor>() {
            return Ok(actor.clone());
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(Problem::unauthorized(
                "Jeton d'API manquant : envoyez l'en-tête « Authorization: Bearer <jeton> » avec le jeton remis par \
                 votre prestataire.",
                false,
            ));
        };
        let Some(secret) = value.to_str().ok().and_then(bearer) else {
            return Err(Problem::unauthorized(
                "En-tête Authorization mal formé : il doit être de la forme « Bearer <jeton> ».",
                true,
            ));
        };
        let holder = tokens::lookup(&state.db, secret).await.map_err(|e| Problem::internal(&e))?;
        let Some(holder) = holder else {
            return Err(Problem::unauthorized(
                "Ce jeton d'API n'est pas reconnu ou a été révoqué : demandez-en un nouveau à votre prestataire.",
                true,
            ));
        };
        tokens::touch(&state.db, &holder).await.map_err(|e| Problem::internal(&e))?;
        let actor = ApiActor {
            tenant_id: holder.tenant_id,
            client_id: holder.client_id,
            token_id: holder.id,
            token_name: holder.name,
            ip: client_ip(parts),
        };
        parts.extensions.insert(actor.clone());
        Ok(actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_tokens_are_read() {
        assert_eq!(bearer("Bearer ouv_abc"), Some("ouv_abc"));
        assert_eq!(bearer("bearer  ouv_abc "), Some("ouv_abc"));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer a b"), None);
        assert_eq!(bearer(&format!("Bearer {}", "x".repeat(300))), None);
    }
}
