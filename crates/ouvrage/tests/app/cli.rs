//! The command-line contract that scripts and operators rely on.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;

fn ouvrage(env: &TestEnv) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ouvrage"));
    c.env("OUVRAGE_DATA", env.tmp.path()).env("DATABASE_URL", &env.database_url).env_remove("OUVRAGE_CONFIG");
    c
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> std::process::Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn migrate_then_demo_then_user_create() {
    let env = TestEnv::new().await;
    let out = ouvrage(&env).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = ouvrage(&env).arg("demo").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for login in ["admin@demo.test", "bureau@demo.test", "client.admin@demo.test", "autre.client@demo.test"] {
        assert!(stdout.contains(login), "demo prints the logins: {stdout}");
    }
    // A second demo load is refused rather than duplicating data.
    let out = ouvrage(&env).arg("demo").output().unwrap();
    assert!(!out.status.success());

    let mut cmd = ouvrage(&env);
    cmd.args(["user", "create", "--tenant", "demo", "--email", "Nouveau.Client@Exemple.fr", "--role", "client_user"]);
    cmd.args(["--client", "C003", "--password-stdin"]);
    let out = run_with_stdin(cmd, "Loire-Habitat-2026\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The new account logs in and lands on the extranet of C003.
    let app = TestApp::start(&env, |_| {}).await;
    let b = app.client();
    let resp = b.login("nouveau.client@exemple.fr", "Loire-Habitat-2026").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/espace");
    let (_, body) = b.get_text("/espace").await;
    assert!(body.contains("Loire Habitat Social"));
    app.stop().await;
}

#[tokio::test]
async fn user_create_refuses_bad_input_with_a_french_message() {
    let env = TestEnv::new().await;
    assert!(ouvrage(&env).arg("demo").output().unwrap().status.success());
    let cases: &[(&[&str], &str, &str)] = &[
        (&["--role", "client_user"], "Assez-long-2026", "client"),
        (&["--role", "chef"], "Assez-long-2026", "rôle inconnu"),
        (&["--role", "office"], "court", "au moins 10 caractères"),
        (&["--role", "office", "--client", "C999"], "Assez-long-2026", "C999"),
    ];
    for (args, password, expected) in cases {
        let mut cmd = ouvrage(&env);
        cmd.args(["user", "create", "--tenant", "demo", "--email", "x@exemple.fr"]).args(*args).arg("--password-stdin");
        let out = run_with_stdin(cmd, password);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // An existing e-mail is refused.
    let mut cmd = ouvrage(&env);
    cmd.args([
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "admin@demo.test",
        "--role",
        "office",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, "Assez-long-2026");
    assert!(String::from_utf8_lossy(&out.stderr).contains("existe déjà"));
}

#[test]
fn help_explains_each_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_ouvrage")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["serve", "migrate", "demo", "user", "OUVRAGE_ADDR", "OUVRAGE_DATA", "DATABASE_URL", "--config"] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[tokio::test]
async fn serve_answers_then_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let env = TestEnv::new().await;
    let mut child = ouvrage(&env)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "serve prints where it listens: {line}");
    let resp = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not stop after SIGTERM");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(status.success(), "serve exits 0 after draining: {status:?}");
}

fn thermal_sample(dir: &str, name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/thermal").join(dir).join(name)
}

#[test]
fn thermal_prints_what_is_extracted_and_explains_what_it_cannot_read() {
    let study = thermal_sample("synthetic", "SYNTHETIC_RE2020_RSEE-2022_logement_collectif_24lgts.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_ouvrage")).arg("thermal").arg(&study).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["format"], "re2020_rsee");
    assert_eq!(json["postcode"], "69008");
    assert_eq!(json["dwellings"], 24);
    assert_eq!(json["buildings"][0]["bbio"], 55.2);

    let dpe = thermal_sample("dpe", "dpe_v2.1_maison_individuelle_60_Breteuil_2260E1364581G.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_ouvrage")).arg("thermal").arg(&dpe).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DPE"));

    let out =
        Command::new(env!("CARGO_BIN_EXE_ouvrage")).args(["thermal", "--repeat", "3"]).arg(&study).output().unwrap();
    let timing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(timing["files"], 3);
}
