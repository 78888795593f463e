//! The extranet's help ("Tutoriels"): a French page per section for client users, listed from
//! the menu, and a contextual "Aide" link on every extranet page that opens the tutorial of the
//! section being shown. Staff and anonymous visitors do not reach it.

use crate::support::*;

/// A topic: its slug, its title, the extranet page it is about, and what the page must say and
/// link to.
struct Expected {
    slug: &'static str,
    title: &'static str,
    page: &'static str,
    says: &'static [&'static str],
    links: &'static [&'static str],
}

const TOPICS: &[Expected] = &[
    Expected {
        slug: "tableau-de-bord",
        title: "Tableau de bord",
        page: "/espace",
        says: &["PHASE TRAVAUX", "avant l'intervention", "le plus rapidement possible", "Actualiser"],
        links: &["/espace/documents/rapports", "/espace/documents/factures", "/espace/signatures"],
    },
    Expected {
        slug: "chantiers",
        title: "Mes chantiers",
        page: "/espace/chantiers",
        says: &["Créer un chantier", "format XML", "doublons", "Exporter la sélection", "Exporter tous les résultats"],
        links: &["/espace/aide/documents", "/espace/aide/messagerie"],
    },
    Expected {
        slug: "actions",
        title: "Mes actions",
        page: "/espace/actions",
        says: &["Demander une intervention", "date préférée", "Intervention du"],
        links: &["/espace/messagerie?objet=Demande+d%27intervention", "/espace/chantiers"],
    },
    Expected {
        slug: "documents",
        title: "Mes documents",
        page: "/espace/documents",
        says: &[
            "Dépôt de documents",
            "plusieurs à la fois",
            "nouvelle version",
            "Manquant",
            "Refusé",
            "Nouveaux seulement",
        ],
        links: &["/espace/documents/rapports", "/espace/documents/factures", "/espace/chantiers"],
    },
    Expected {
        slug: "signatures",
        title: "Justificatifs à signer",
        page: "/espace/signatures",
        says: &["Signature papier", "Signature électronique", "Déposer la version signée", "signature certifiée"],
        links: &["/espace/messagerie"],
    },
    Expected {
        slug: "messagerie",
        title: "Messagerie",
        page: "/espace/messagerie",
        says: &["Nouvelle conversation", "Non lus seulement", "Demande d'intervention"],
        links: &["/espace/messagerie?non-lus=1", "/espace/aide/notifications"],
    },
    Expected {
        slug: "notifications",
        title: "Notifications",
        page: "/espace/notifications",
        says: &["Tout marquer comme lu", "Quotidien", "Hebdomadaire", "aucun e-mail"],
        links: &["/espace/profil", "/espace/entreprise"],
    },
    Expected {
        slug: "entreprise",
        title: "Mon entreprise",
        page: "/espace/entreprise",
        says: &["Donner l'accès", "mot de passe provisoire", "Demander un nouveau contact"],
        links: &["/espace/profil", "/espace/entreprise/demandes"],
    },
];

/// The two marks of the layout: the contextual link to `slug` and the menu entry.
fn aide_link(slug: &str) -> String {
    format!("id=\"aide-contextuelle\" href=\"/espace/aide/{slug}\"")
}

const NAV_ENTRY: &str = "href=\"/espace/aide\" id=\"nav-tutoriels\">Tutoriels</a>";

#[tokio::test]
async fn the_list_of_tutorials_links_every_topic() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let (status, body) = client.get_text("/espace/aide").await;
    assert_eq!(status, 200);
    assert!(body.contains("<h1>Tutoriels</h1>"), "{body}");
    assert!(
        body.contains("class=\"active\" href=\"/espace/aide\" id=\"nav-tutoriels\""),
        "the menu entry is the active one"
    );
    for t in TOPICS {
        assert!(body.contains(&format!("href=\"/espace/aide/{}\"><strong>{}</strong>", t.slug, t.title)), "{}", t.slug);
    }
    app.stop().await;
}

#[tokio::test]
async fn every_topic_explains_its_section_in_french_and_links_to_it() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    for t in TOPICS {
        let (status, body) = client.get_text(&format!("/espace/aide/{}", t.slug)).await;
        assert_eq!(status, 200, "{}", t.slug);
        assert!(body.contains("<html lang=\"fr\">"));
        assert!(body.contains(&format!("<h1>Aide : {}</h1>", t.title)), "{}: {body}", t.slug);
        assert!(
            body.contains(&format!("id=\"help-open-page\" href=\"{}\"", t.page)),
            "{}: a button opens the section itself",
            t.slug
        );
        for phrase in t.says {
            let shown = phrase.replace('\'', "&#39;");
            assert!(body.contains(phrase) || body.contains(&shown), "{} should say « {phrase} »", t.slug);
        }
        for link in t.links {
            assert!(body.contains(&format!("href=\"{link}\"")), "{} should link to {link}", t.slug);
        }
        for other in TOPICS.iter().filter(|o| o.slug != t.slug) {
            assert!(body.contains(&format!("href=\"/espace/aide/{}\"", other.slug)), "{} lists {}", t.slug, other.slug);
        }
        assert!(body.contains(NAV_ENTRY), "{}: the menu keeps the Tutoriels entry", t.slug);
        assert!(!body.to_lowercase().contains("batiperform"), "{}: the product is ouvrage", t.slug);
    }
    // Where the text names the firm, it is the tenant's own name.
    let (_, body) = client.get_text("/espace/aide/actions").await;
    let shown = body.replace("&#38;", "&amp;");
    assert!(shown.contains("Mesures &amp; Contrôles Atlantique met tout en œuvre"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_topic_is_a_french_404() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    for path in ["/espace/aide/inconnu", "/espace/aide/CHANTIERS", "/espace/aide/chantiers%2F.."] {
        let (status, body) = client.get_text(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("Page introuvable"), "{path}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn staff_are_refused_and_visitors_sent_to_login() {
    let app = TestApp::spawn().await;
    let staff = app.login("bureau@demo.test").await;
    for path in ["/espace/aide", "/espace/aide/chantiers", "/espace/aide/inconnu"] {
        let (status, body) = staff.get_text(path).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("Accès refusé"), "{path}");
    }
    // The back office's own pages carry no link to the extranet's help.
    let (_, bo) = staff.get_text("/bo").await;
    assert!(!bo.contains("aide-contextuelle") && !bo.contains("nav-tutoriels"));

    let visitor = app.client();
    let resp = visitor.get("/espace/aide/chantiers").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?next=%2Fespace%2Faide%2Fchantiers");
    assert_eq!(location(&visitor.get("/espace/aide").await), "/login?next=%2Fespace%2Faide");
    app.stop().await;
}

#[tokio::test]
async fn every_extranet_page_links_to_the_tutorial_of_its_section() {
    let app = TestApp::spawn().await;
    let client = app.login("client.admin@demo.test").await;
    for (path, slug) in [
        ("/espace", "tableau-de-bord"),
        ("/espace/chantiers", "chantiers"),
        ("/espace/actions", "actions"),
        ("/espace/documents", "documents"),
        ("/espace/documents/rapports", "documents"),
        ("/espace/signatures", "signatures"),
        ("/espace/messagerie", "messagerie"),
        ("/espace/notifications", "notifications"),
        ("/espace/entreprise", "entreprise"),
        ("/espace/profil", "notifications"),
    ] {
        let (status, body) = client.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(&aide_link(slug)), "{path} should link to /espace/aide/{slug}");
        assert!(body.contains(NAV_ENTRY), "{path} should show the Tutoriels menu entry");
        assert_eq!(client.get(&format!("/espace/aide/{slug}")).await.status(), 200, "{path} links to a live topic");
    }
    // On the tutorials themselves, "Aide" leads back to the list.
    let (_, body) = client.get_text("/espace/aide/chantiers").await;
    assert!(body.contains("id=\"aide-contextuelle\" href=\"/espace/aide\""), "{body}");
    app.stop().await;
}
