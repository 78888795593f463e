//! What every page's layout needs: the CSRF token, who is logged in, which menu entry is
//! active and the one-line confirmation of the last action.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Html;

use super::actor::Actor;
use super::csrf::CsrfToken;
use super::error::{AppError, AppResult};
use crate::app::AppState;
use crate::domain::Role;

/// The active entry of the navigation.
pub type Nav = &'static str;

#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub csrf: String,
    /// "public", "bo" or "espace": which navigation the layout shows.
    pub area: &'static str,
    pub nav: Nav,
    pub user_name: String,
    pub role_label: String,
    pub is_admin: bool,
    pub flash: Option<&'static str>,
    /// The logged-in user's unread notifications, counted up to 100 (see [`Ctx::unread_label`]).
    pub unread: i64,
    /// The logged-in user's threads with an unread message (see `features::messaging`).
    pub unread_messages: i64,
}

impl Ctx {
    pub fn with_nav(mut self, nav: Nav) -> Ctx {
        self.nav = nav;
        self
    }

    /// `"active"` for the current menu entry, for its CSS class and `aria-current`.
    pub fn active(&self, entry: &str) -> &'static str {
        if self.nav == entry { "active" } else { "" }
    }

    pub fn is_active(&self, entry: &str) -> bool {
        self.nav == entry
    }

    /// The help topic of the current page (`/espace/aide/{slug}`), from its menu entry; `None`
    /// where no topic fits, and the layout then links to the list of tutorials.
    pub fn help_topic(&self) -> Option<&'static str> {
        crate::features::help::Topic::for_nav(self.nav).map(|t| t.slug())
    }

    /// The unread count as the navigation shows it: `7`, or `99+` past 99.
    pub fn unread_label(&self) -> String {
        if self.unread > 99 { "99+".to_string() } else { self.unread.to_string() }
    }
}

/// Confirmations carried across a redirect as `?msg=CODE`: only known codes are shown, so the
/// URL cannot inject text.
fn flash_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "enregistre" => "Modifications enregistrées.",
        "cree" => "Création enregistrée.",
        "mot-de-passe" => "Votre mot de passe a été modifié.",
        "deconnecte" => "Vous êtes déconnecté.",
        "reinitialise" => "Votre mot de passe a été réinitialisé : vous pouvez vous connecter.",
        "envoye" => "Envoyé.",
        "fichier" => "Fichier ajouté.",
        "acces" => "Accès créé : l'utilisateur reçoit ses identifiants par e-mail.",
        "lues" => "Toutes vos notifications sont marquées comme lues.",
        _ => return None,
    })
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<CsrfToken>().map(|t| t.0.clone()).unwrap_or_default();
        let flash = parts
            .uri
            .query()
            .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "msg"))
            .and_then(|(_, v)| flash_text(&v));
        let actor = <Actor as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .unwrap_or(None);
        Ok(match actor {
            Some(a) => {
                // One indexed count per page, bounded by the cap; a failure only hides the badge.
                let unread = crate::features::notifications::inbox::unread_count(&state.db, a.tenant_id, a.user_id)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "unread notifications count failed");
                        0
                    });
                let unread_messages = crate::features::messaging::store::unread_count(
                    &state.db,
                    a.tenant_id,
                    a.client_scope(),
                    a.user_id,
                    None,
                )
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "unread messages count failed");
                    0
                });
                Ctx {
                    csrf,
                    area: if a.is_staff() { "bo" } else { "espace" },
                    nav: "",
                    user_name: a.full_name.clone(),
                    role_label: a.role.label().to_string(),
                    is_admin: a.role == Role::Admin,
                    flash,
                    unread,
                    unread_messages,
                }
            }
            None => Ctx { csrf, area: "public", flash, ..Ctx::default() },
        })
    }
}

pub fn render<T: Template>(page: &T) -> AppResult<Html<String>> {
    Ok(Html(page.render()?))
}
