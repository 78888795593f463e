//! The extranet's help ("Tutoriels"): one static page per section of the client space, written
//! for site managers, reachable from the menu and from each page's contextual "Aide" link.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::features::home::tenant_name;
use crate::http::{AppError, AppResult, ClientActor, Ctx, render};

pub fn routes() -> Router<AppState> {
    Router::new().route("/espace/aide", get(index)).route("/espace/aide/{topic}", get(topic))
}

/// A section of the extranet that has its help page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Dashboard,
    Sites,
    Actions,
    Documents,
    Signatures,
    Messages,
    Notifications,
    Company,
}

impl Topic {
    /// In the order of the extranet's menu.
    pub const ALL: [Topic; 8] = [
        Topic::Dashboard,
        Topic::Sites,
        Topic::Actions,
        Topic::Documents,
        Topic::Signatures,
        Topic::Messages,
        Topic::Notifications,
        Topic::Company,
    ];

    /// The last segment of the help page's address.
    pub fn slug(self) -> &'static str {
        match self {
            Topic::Dashboard => "tableau-de-bord",
            Topic::Sites => "chantiers",
            Topic::Actions => "actions",
            Topic::Documents => "documents",
            Topic::Signatures => "signatures",
            Topic::Messages => "messagerie",
            Topic::Notifications => "notifications",
            Topic::Company => "entreprise",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.slug() == slug)
    }

    /// The help topic of a page, from the menu entry it highlights (`Ctx::nav`). "Mes
    /// informations" holds the e-mail frequency, which the notifications topic explains.
    pub fn for_nav(nav: &str) -> Option<Topic> {
        Some(match nav {
            "home" => Topic::Dashboard,
            "sites" => Topic::Sites,
            "actions" => Topic::Actions,
            "documents" => Topic::Documents,
            "signatures" => Topic::Signatures,
            "messages" => Topic::Messages,
            "notifications" | "profile" => Topic::Notifications,
            "company" => Topic::Company,
            _ => return None,
        })
    }

    /// The section's name, as the menu shows it.
    pub fn title(self) -> &'static str {
        match self {
            Topic::Dashboard => "Tableau de bord",
            Topic::Sites => "Mes chantiers",
            Topic::Actions => "Mes actions",
            Topic::Documents => "Mes documents",
            Topic::Signatures => "Justificatifs à signer",
            Topic::Messages => "Messagerie",
            Topic::Notifications => "Notifications",
            Topic::Company => "Mon entreprise",
        }
    }

    /// One line on what the topic answers, for the list of tutorials.
    pub fn summary(self) -> &'static str {
        match self {
            Topic::Dashboard => "Lire les carrés de suivi et voir d'un coup d'œil ce qui vous attend.",
            Topic::Sites => {
                "Retrouver un chantier, le créer à partir de l'étude thermique, exporter la liste vers Excel."
            }
            Topic::Actions => "Demander une intervention, suivre vos demandes et vos interventions planifiées.",
            Topic::Documents => {
                "Déposer vos documents, compléter les éléments attendus, retrouver vos rapports et vos factures."
            }
            Topic::Signatures => "Signer vos justificatifs sur papier ou directement à l'écran.",
            Topic::Messages => "Échanger avec nos équipes, chantier par chantier, et ne rien laisser sans réponse.",
            Topic::Notifications => "Être prévenu des nouveautés et choisir la fréquence des e-mails.",
            Topic::Company => "Tenir à jour les coordonnées de l'entreprise et ouvrir l'espace à vos collaborateurs.",
        }
    }

    /// The extranet page the topic is about.
    pub fn page(self) -> &'static str {
        match self {
            Topic::Dashboard => "/espace",
            Topic::Sites => "/espace/chantiers",
            Topic::Actions => "/espace/actions",
            Topic::Documents => "/espace/documents",
            Topic::Signatures => "/espace/signatures",
            Topic::Messages => "/espace/messagerie",
            Topic::Notifications => "/espace/notifications",
            Topic::Company => "/espace/entreprise",
        }
    }

    pub fn url(self) -> String {
        format!("/espace/aide/{}", self.slug())
    }
}

#[derive(Template)]
#[template(path = "help/index.html")]
struct IndexPage {
    ctx: Ctx,
    topics: [Topic; 8],
}

async fn index(ctx: Ctx, _actor: ClientActor) -> AppResult<Response> {
    Ok(render(&IndexPage { ctx: ctx.with_nav("help"), topics: Topic::ALL })?.into_response())
}

#[derive(Template)]
#[template(path = "help/topic.html")]
struct TopicPage {
    ctx: Ctx,
    topic: Topic,
    topics: [Topic; 8],
    /// The firm's legal name, where the text names who does the work.
    firm: String,
}

async fn topic(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let topic = Topic::from_slug(&slug).ok_or(AppError::NotFound)?;
    let firm = tenant_name(&state.db, actor.tenant_id).await?;
    Ok(render(&TopicPage { ctx: ctx.with_nav("help"), topic, topics: Topic::ALL, firm })?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slug_finds_its_topic_and_nothing_else_does() {
        for t in Topic::ALL {
            assert_eq!(Topic::from_slug(t.slug()), Some(t));
        }
        assert_eq!(Topic::from_slug("inconnu"), None);
        assert_eq!(Topic::from_slug(""), None);
    }

    #[test]
    fn every_extranet_menu_entry_has_its_topic() {
        for (nav, slug) in [
            ("home", "tableau-de-bord"),
            ("sites", "chantiers"),
            ("actions", "actions"),
            ("documents", "documents"),
            ("signatures", "signatures"),
            ("messages", "messagerie"),
            ("notifications", "notifications"),
            ("company", "entreprise"),
            ("profile", "notifications"),
        ] {
            assert_eq!(Topic::for_nav(nav).map(Topic::slug), Some(slug), "{nav}");
        }
        assert_eq!(Topic::for_nav("help"), None);
        assert_eq!(Topic::for_nav(""), None);
    }
}
