//! Messaging: a client's thread on a site reaches the firm's shared inbox, is assigned and
//! answered; each user of the company has their own read state; another company or firm never
//! sees nor counts it; bad input is refused in French and writes nothing.

use ouvrage::db::Db;
use ouvrage::domain::time::now_ms;
use ouvrage::{exec_db, on_db};
use reqwest::multipart::{Form, Part};

use crate::support::*;

/// A small valid PDF; `tag` makes its bytes unique.
fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% {tag}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
         3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

async fn scalar(db: &Db, sql: &'static str, arg: &str) -> i64 {
    on_db!(db, |p| sqlx::query_scalar(sql).bind(arg).fetch_one(p).await).unwrap()
}

async fn user_id(db: &Db, email: &str) -> i64 {
    scalar(db, "SELECT id FROM users WHERE email = $1", email).await
}

async fn client_of(db: &Db, email: &str) -> i64 {
    scalar(db, "SELECT client_id FROM users WHERE email = $1", email).await
}

/// A current site of the client of `email`.
async fn site_of(db: &Db, email: &str) -> i64 {
    scalar(
        db,
        "SELECT MIN(s.id) FROM sites s JOIN users u ON u.client_id = s.client_id AND u.tenant_id = s.tenant_id
         WHERE u.email = $1 AND NOT s.archived",
        email,
    )
    .await
}

/// Rows written by the messaging (threads, messages, their files, and all file rows).
async fn written(db: &Db) -> (i64, i64, i64, i64) {
    on_db!(db, |p| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM threads), (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM message_files),
                (SELECT COUNT(*) FROM files)"
    )
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn thread_status(db: &Db, id: i64) -> String {
    on_db!(db, |p| sqlx::query_scalar("SELECT status FROM threads WHERE id = $1").bind(id).fetch_one(p).await).unwrap()
}

/// Posts a multipart form the way the browser does (token in the action URL).
async fn post_multipart(
    b: &Browser,
    action: &str,
    fields: &[(&str, &str)],
    files: &[(&str, Vec<u8>)],
) -> reqwest::Response {
    // Any page carries the token; a list page does not mark a thread read.
    let list = if action.starts_with("/bo/") { "/bo/messagerie" } else { "/espace/messagerie" };
    let token = b.csrf(list).await;
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for (name, bytes) in files {
        form = form.part("fichiers", Part::bytes(bytes.clone()).file_name(name.to_string()));
    }
    b.http.post(b.url(&format!("{action}?_csrf={token}"))).multipart(form).send().await.expect("POST")
}

/// The unread messages badge of the navigation (0 when it is not shown).
async fn nav_unread(b: &Browser, page: &str) -> i64 {
    let (status, body) = b.get_text(page).await;
    assert_eq!(status, 200, "{page}");
    let marker = "id=\"nav-unread-messages\">";
    match body.find(marker) {
        None => 0,
        Some(i) => {
            let rest = &body[i + marker.len()..];
            rest[..rest.find('<').unwrap()].parse().unwrap()
        }
    }
}

/// The thread id in a `/…/messagerie/{id}?msg=envoye` redirect.
fn thread_id(resp: &reqwest::Response) -> i64 {
    let loc = location(resp);
    let rest = loc.rsplit('/').next().unwrap();
    rest.split('?').next().unwrap().parse().unwrap_or_else(|_| panic!("thread redirect: {loc}"))
}

/// The client user opens a thread on `site` with a PDF; returns its id.
async fn start_thread(client: &Browser, site: i64, subject: &str) -> i64 {
    let site = site.to_string();
    let resp = post_multipart(
        client,
        "/espace/messagerie/nouveau",
        &[("sujet", subject), ("chantier", &site), ("message", "Bonjour,\npouvez-vous passer mardi ?")],
        &[("Plan RDC.pdf", pdf(subject))],
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    thread_id(&resp)
}

#[tokio::test]
async fn a_site_thread_goes_to_the_inbox_is_answered_and_read_per_user() {
    let app = TestApp::spawn().await;
    let site = site_of(&app.db, "client@demo.test").await;
    let other_site = site_of(&app.db, "autre.client@demo.test").await;
    let client = app.login("client@demo.test").await;
    let colleague = app.login("client.admin@demo.test").await;
    let stranger = app.login("autre.client@demo.test").await;
    let office = app.login("bureau@demo.test").await;
    let tech = app.login("technicien@demo.test").await;
    let stranger_before = nav_unread(&stranger, "/espace").await;

    // The new thread form offers the company's sites, the site preselected from its button.
    let (status, body) = client.get_text(&format!("/espace/messagerie/nouveau?chantier={site}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("enctype=\"multipart/form-data\"") && body.contains("/espace/messagerie/nouveau?_csrf="));
    assert!(body.contains(&format!("<option value=\"{site}\" selected>")));
    let id = start_thread(&client, site, "Demande d'intervention").await;
    let (status, page) = client.get_text(&format!("/espace/messagerie/{id}?msg=envoye")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Envoyé.") && page.contains("Plan RDC.pdf") && page.contains("pouvez-vous passer mardi"));
    let file: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT file_id FROM message_files").fetch_one(p).await).unwrap();
    assert_eq!(thread_status(&app.db, id).await, "open");
    // The author's own message is not unread for them; the colleague sees it unread.
    assert_eq!(nav_unread(&client, "/espace").await, 0);
    assert_eq!(nav_unread(&colleague, "/espace").await, 1);

    // The firm's inbox: unread for every staff member, not assigned, the client notified the office.
    assert_eq!(nav_unread(&office, "/bo").await, 1);
    assert_eq!(nav_unread(&tech, "/bo").await, 1);
    let (status, inbox) = office.get_text("/bo/messagerie?affecte=personne&non-lus=1").await;
    assert_eq!(status, 200);
    assert!(inbox.contains(&format!("href=\"/bo/messagerie/{id}\"")) && inbox.contains("Non lu"));
    let office_id = user_id(&app.db, "bureau@demo.test").await;
    let office_notes: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = 'new_message' AND link = $2"
    )
    .bind(office_id)
    .bind(format!("/bo/messagerie/{id}"))
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(office_notes, 1);

    // Opening it marks it read for the office only; the attachment downloads.
    let (status, thread) = office.get_text(&format!("/bo/messagerie/{id}")).await;
    assert_eq!(status, 200);
    assert!(thread.contains(&format!("/fichiers/{file}")));
    assert_eq!(office.get(&format!("/fichiers/{file}")).await.status(), 200);
    assert_eq!(nav_unread(&office, "/bo").await, 0);
    assert_eq!(nav_unread(&tech, "/bo").await, 1);

    // Admin and office assign; technicians read and answer but do not assign.
    let office_id_text = office_id.to_string();
    let r =
        tech.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/affecter"), &[("agent", &office_id_text)]).await;
    assert_eq!(r.status(), 403);
    let r =
        office.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/affecter"), &[("agent", &office_id_text)]).await;
    assert_eq!(r.status(), 303);
    let (_, mine) = office.get_text("/bo/messagerie?affecte=moi").await;
    assert!(mine.contains(&format!("href=\"/bo/messagerie/{id}\"")));
    let (_, nobody) = office.get_text("/bo/messagerie?affecte=personne").await;
    assert!(!nobody.contains(&format!("href=\"/bo/messagerie/{id}\"")));
    // Once it is the office's, it no longer counts in the technician's badge (a colleague's
    // conversation), while it is still in the shared inbox for them.
    assert_eq!(nav_unread(&tech, "/bo").await, 0);
    let (_, inbox) = tech.get_text("/bo/messagerie").await;
    assert!(inbox.contains(&format!("href=\"/bo/messagerie/{id}\"")));

    // The firm answers: the thread is answered and unread for each of the company's users.
    let r = post_multipart(
        &office,
        &format!("/bo/messagerie/{id}/repondre"),
        &[("message", "Mardi 9 h, c'est noté.")],
        &[],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(thread_status(&app.db, id).await, "answered");
    let (_, answered) = office.get_text("/bo/messagerie?statut=answered").await;
    assert!(answered.contains(&format!("href=\"/bo/messagerie/{id}\"")));
    let (_, open) = office.get_text("/bo/messagerie?statut=open").await;
    assert!(!open.contains(&format!("href=\"/bo/messagerie/{id}\"")));
    let c001 = client_of(&app.db, "client@demo.test").await;
    let (notified, users): (i64, i64) = on_db!(&app.db, |p| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id
                 WHERE n.kind = 'new_message' AND n.link = $1 AND u.client_id = $2),
                (SELECT COUNT(*) FROM users WHERE client_id = $2 AND active)"
    )
    .bind(format!("/espace/messagerie/{id}"))
    .bind(c001)
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(notified >= 2 && notified == users, "{notified} of {users} users notified");
    let strangers_notified: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE n.kind = 'new_message' AND u.client_id IS NOT NULL AND u.client_id <> $1"
    )
    .bind(c001)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(strangers_notified, 0);

    assert_eq!(nav_unread(&client, "/espace").await, 1);
    assert_eq!(nav_unread(&colleague, "/espace").await, 1);
    let (_, home) = client.get_text("/espace").await;
    assert!(home.contains("id=\"tile-messages\""));
    let (_, site_page) = client.get_text(&format!("/espace/chantiers/{site}")).await;
    assert!(site_page.contains(&format!("id=\"site-messages\" href=\"/espace/messagerie?chantier={site}\"")));
    assert!(site_page.contains("<span class=\"badge\">1<"));
    let (_, unread_list) = client.get_text("/espace/messagerie?non-lus=1").await;
    assert!(unread_list.contains(&format!("href=\"/espace/messagerie/{id}\"")));
    let (status, _) = client.get_text(&format!("/espace/messagerie/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(nav_unread(&client, "/espace").await, 0);
    assert_eq!(nav_unread(&colleague, "/espace").await, 1, "each user has their own read state");
    let (_, read_list) = client.get_text("/espace/messagerie?non-lus=1").await;
    assert!(!read_list.contains(&format!("href=\"/espace/messagerie/{id}\"")));
    colleague.get_text(&format!("/espace/messagerie/{id}")).await;
    assert_eq!(nav_unread(&colleague, "/espace").await, 0);

    // Extranet filters: subject without case or accents, site.
    for (query, found) in [
        ("objet=INTERVENTION".to_string(), true),
        ("objet=demande+d%27interv".to_string(), true),
        ("objet=facture".to_string(), false),
        (format!("chantier={site}"), true),
        (format!("chantier={other_site}"), false),
    ] {
        let (status, list) = client.get_text(&format!("/espace/messagerie?{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(list.contains(&format!("href=\"/espace/messagerie/{id}\"")), found, "{query}");
    }

    // Another company never sees nor counts it, and cannot write into it.
    assert_eq!(stranger.get(&format!("/espace/messagerie/{id}")).await.status(), 404);
    assert_eq!(stranger.get(&format!("/fichiers/{file}")).await.status(), 404);
    let (_, theirs) = stranger.get_text("/espace/messagerie").await;
    assert!(!theirs.contains(&format!("/espace/messagerie/{id}\"")) && !theirs.contains("passer mardi"));
    assert_eq!(nav_unread(&stranger, "/espace").await, stranger_before);
    let before = written(&app.db).await;
    let r =
        post_multipart(&stranger, &format!("/espace/messagerie/{id}/repondre"), &[("message", "Intrus")], &[]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(written(&app.db).await, before);
    // Client users never reach the inbox.
    assert_eq!(client.get("/bo/messagerie").await.status(), 403);
    assert_eq!(client.get(&format!("/bo/messagerie/{id}")).await.status(), 403);

    // The client's answer opens it again and notifies its assignee.
    let r = post_multipart(&client, &format!("/espace/messagerie/{id}/repondre"), &[("message", "Merci !")], &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(thread_status(&app.db, id).await, "open");
    assert_eq!(nav_unread(&office, "/bo").await, 1);
    assert_eq!(nav_unread(&colleague, "/espace").await, 1);
    assert_eq!(nav_unread(&client, "/espace").await, 0);
    let office_notes: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = 'new_message' AND link = $2"
    )
    .bind(office_id)
    .bind(format!("/bo/messagerie/{id}"))
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(office_notes, 2);

    // The office closes it; the site page button of the back office leads to the site's threads.
    let r = office.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/statut"), &[("statut", "closed")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(thread_status(&app.db, id).await, "closed");
    let (_, bo_site) = office.get_text(&format!("/bo/chantiers/{site}")).await;
    assert!(bo_site.contains(&format!("href=\"/bo/messagerie?chantier={site}\"")));
    let (_, by_site) = office.get_text(&format!("/bo/messagerie?chantier={site}&client={c001}")).await;
    assert!(by_site.contains(&format!("href=\"/bo/messagerie/{id}\"")));
    let other_client = client_of(&app.db, "autre.client@demo.test").await;
    let (_, by_other) = office.get_text(&format!("/bo/messagerie?client={other_client}")).await;
    assert!(!by_other.contains(&format!("href=\"/bo/messagerie/{id}\"")));
    app.stop().await;
}

/// Form fields, attached files, expected status, expected French text.
type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, Vec<u8>)>, u16, &'a str);

#[tokio::test]
async fn bad_input_is_refused_in_french_and_writes_nothing() {
    let env = TestEnv::new().await;
    let app = TestApp::start(&env, |c| c.max_upload_bytes = 4096).await;
    ouvrage::demo::load_if_empty(&app.db, &app.files).await.expect("demo data");
    let site = site_of(&app.db, "client@demo.test").await.to_string();
    let other_site = site_of(&app.db, "autre.client@demo.test").await.to_string();
    let client = app.login("client@demo.test").await;
    let before = written(&app.db).await;
    let new = "/espace/messagerie/nouveau";

    let cases: Vec<Case> = vec![
        (vec![("sujet", "Question"), ("chantier", ""), ("message", "  \n ")], vec![], 422, "Le message est vide"),
        (vec![("sujet", " "), ("chantier", ""), ("message", "Bonjour")], vec![], 422, "Indiquez l&#39;objet"),
        (
            vec![("sujet", "Q"), ("chantier", "999999"), ("message", "Bonjour")],
            vec![],
            422,
            "Ce chantier n&#39;existe pas",
        ),
        (
            vec![("sujet", "Q"), ("chantier", &other_site), ("message", "Bonjour")],
            vec![],
            422,
            "Ce chantier n&#39;existe pas",
        ),
        (
            vec![("sujet", "Q"), ("chantier", "abc"), ("message", "Bonjour")],
            vec![],
            422,
            "Ce chantier n&#39;existe pas",
        ),
        (
            vec![("sujet", "Q"), ("chantier", &site), ("message", "Bonjour")],
            vec![("outil.pdf", b"MZ\x90\0\x03\0\0\0".to_vec())],
            422,
            "n&#39;est pas dans un format accepté",
        ),
        (
            vec![("sujet", "Q"), ("chantier", &site), ("message", "Bonjour")],
            vec![("ok.pdf", pdf("ok")), ("gros.pdf", pdf(&"x".repeat(5000)))],
            413,
            "dépasse la taille maximale",
        ),
    ];
    for (fields, files, status, text) in cases {
        let r = post_multipart(&client, new, &fields, &files).await;
        assert_eq!(r.status().as_u16(), status, "{fields:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains(text), "{text} not in {body}");
        assert_eq!(written(&app.db).await, before, "{fields:?} wrote something");
    }

    // A valid thread, then bad replies and bad management forms.
    let id = start_thread(&client, site.parse().unwrap(), "Accès au chantier").await;
    let before = written(&app.db).await;
    let reply = format!("/espace/messagerie/{id}/repondre");
    let r = post_multipart(&client, &reply, &[("message", "")], &[]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Le message est vide"));
    let r = post_multipart(&client, &reply, &[("message", "Voici")], &[("gros.pdf", pdf(&"y".repeat(5000)))]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(written(&app.db).await, before);
    assert_eq!(client.get("/espace/messagerie/abc").await.status(), 404);

    let office = app.login("bureau@demo.test").await;
    let client_user = user_id(&app.db, "client@demo.test").await.to_string();
    let r = office.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/affecter"), &[("agent", &client_user)]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Choisissez un membre de l&#39;équipe"));
    let r = office.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/statut"), &[("statut", "ferme")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Choisissez un statut"));
    let (assigned, status): (Option<i64>, String) =
        on_db!(&app.db, |p| sqlx::query_as("SELECT assigned_to, status FROM threads WHERE id = $1")
            .bind(id)
            .fetch_one(p)
            .await)
        .unwrap();
    assert_eq!((assigned, status.as_str()), (None, "open"));
    app.stop().await;
}

#[tokio::test]
async fn another_firms_admin_gets_404() {
    let app = TestApp::spawn().await;
    let client = app.login("client@demo.test").await;
    let id = start_thread(&client, site_of(&app.db, "client@demo.test").await, "Réserve levée").await;

    let now = now_ms();
    let hash = ouvrage::features::auth::password::hash("autre-firme-2026".into()).await.unwrap();
    let tenant: i64 = on_db!(&app.db, |p| sqlx::query_scalar(
        "INSERT INTO tenants (slug, legal_name, created_at) VALUES ('autre', 'Autre Firme', $1) RETURNING id"
    )
    .bind(now)
    .fetch_one(p)
    .await)
    .unwrap();
    exec_db!(&app.db, |p| sqlx::query(
        "INSERT INTO users (tenant_id, email, full_name, role, password_hash, created_at, updated_at)
         VALUES ($1, 'admin@autre.test', 'Admin Autre', 'admin', $2, $3, $3)"
    )
    .bind(tenant)
    .bind(&hash)
    .bind(now)
    .execute(p)
    .await)
    .unwrap();
    let stranger = app.client();
    assert_eq!(stranger.login("admin@autre.test", "autre-firme-2026").await.status(), 303);
    assert_eq!(stranger.get(&format!("/bo/messagerie/{id}")).await.status(), 404);
    let (status, inbox) = stranger.get_text("/bo/messagerie").await;
    assert_eq!(status, 200);
    assert!(!inbox.contains("Réserve levée") && !inbox.contains(&format!("/bo/messagerie/{id}\"")));
    assert_eq!(nav_unread(&stranger, "/bo").await, 0);
    let before = written(&app.db).await;
    let r = post_multipart(&stranger, &format!("/bo/messagerie/{id}/repondre"), &[("message", "Intrus")], &[]).await;
    assert_eq!(r.status(), 404);
    let r = stranger.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/statut"), &[("statut", "closed")]).await;
    assert_eq!(r.status(), 404);
    let r = stranger.submit("/bo/messagerie", &format!("/bo/messagerie/{id}/affecter"), &[("agent", "")]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(written(&app.db).await, before);
    assert_eq!(thread_status(&app.db, id).await, "open");
    app.stop().await;
}
