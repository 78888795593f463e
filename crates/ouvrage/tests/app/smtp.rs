//! A real SMTP server for tests, on 127.0.0.1 and a random port, speaking the protocol lettre
//! speaks (EHLO/HELO, MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT). It records every
//! accepted message (envelope and raw data) and can be stopped and started again on the same
//! port, to play a mail server that goes down and comes back.
//!
//! (mailin-embedded's server runs forever on its own threads with no way to stop it or free its
//! port, which the "server down" tests need; hence this small tokio server.)
//!
//! Also here: just enough MIME decoding (encoded-word headers, quoted-printable and base64
//! bodies, multipart/alternative) to read what the app sent, from SMTP or from a `.eml` file.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One message as the server accepted it.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        Mail::parse(&self.data).header(name)
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The plain-text body, decoded.
    pub fn text(&self) -> String {
        Mail::parse(&self.data).text()
    }
}

pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    running: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl SmtpServer {
    /// A server listening on a fresh random port.
    pub async fn start() -> SmtpServer {
        let mut server = SmtpServer { port: 0, received: Arc::default(), running: None };
        server.listen().await;
        server
    }

    /// `smtp_url` for the app: plain SMTP to this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    async fn listen(&mut self) {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        // The port was ours a moment ago; give the system a few tries to let it go.
        let mut tries = 0;
        let listener = loop {
            let socket = TcpSocket::new_v4().expect("socket");
            socket.set_reuseaddr(true).expect("SO_REUSEADDR");
            match socket.bind(addr).and_then(|()| socket.listen(64)) {
                Ok(l) => break l,
                Err(_) if tries < 50 && self.port != 0 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("test SMTP server cannot listen on {addr}: {e}"),
            }
        };
        self.port = listener.local_addr().unwrap().port();
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let received = self.received.clone();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => break,
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            sessions.spawn(session(stream, received.clone()));
                        }
                    }
                }
            }
            // Dropping the listener closes the port; aborting the sessions drops their sockets.
            drop(listener);
            sessions.shutdown().await;
        });
        self.running = Some((stop_tx, task));
    }

    /// Closes the port and every open connection: clients now get "connection refused".
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }

    /// Listens again on the same port, keeping what was received so far.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.listen().await;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages have arrived (or `timeout` passes); returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.received.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.received()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(true);
            task.abort();
        }
    }
}

async fn reply(w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    w.write_all(text.as_bytes()).await.is_ok() && w.flush().await.is_ok()
}

/// The address inside `FROM:<a@b> PARAMS` / `TO:<a@b>`.
fn path_arg(rest: &str) -> Option<String> {
    let start = rest.find('<')? + 1;
    let end = rest[start..].find('>')? + start;
    Some(rest[start..end].to_string())
}

async fn session(stream: TcpStream, store: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if !reply(&mut write, "220 smtp.test ESMTP ready\r\n").await {
        return;
    }
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            from = None;
            to.clear();
            "250-smtp.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 20000000\r\n".to_string()
        } else if upper.starts_with("HELO") {
            "250 smtp.test\r\n".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            match path_arg(&text[10..]) {
                Some(addr) => {
                    from = Some(addr);
                    to.clear();
                    "250 2.1.0 OK\r\n".to_string()
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".to_string(),
            }
        } else if upper.starts_with("RCPT TO:") {
            match (from.is_some(), path_arg(&text[8..])) {
                (false, _) => "503 5.5.1 MAIL first\r\n".to_string(),
                (true, Some(addr)) => {
                    to.push(addr);
                    "250 2.1.5 OK\r\n".to_string()
                }
                (true, None) => "501 5.5.4 Syntax: RCPT TO:<address>\r\n".to_string(),
            }
        } else if upper == "DATA" {
            if from.is_none() || to.is_empty() {
                "503 5.5.1 RCPT first\r\n".to_string()
            } else {
                if !reply(&mut write, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    line.clear();
                    match reader.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return, // cut off mid-message: nothing accepted
                        Ok(_) => {}
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    // Dot-stuffing: a leading dot was doubled by the client.
                    let content = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
                    data.extend_from_slice(content);
                }
                store.lock().unwrap().push(Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                });
                "250 2.0.0 OK queued\r\n".to_string()
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            "250 2.0.0 OK\r\n".to_string()
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 OK\r\n".to_string()
        } else if upper == "QUIT" {
            let _ = reply(&mut write, "221 2.0.0 Bye\r\n").await;
            return;
        } else if upper == "STARTTLS" {
            "454 4.7.0 TLS not available\r\n".to_string()
        } else {
            "502 5.5.2 Command not recognized\r\n".to_string()
        };
        if !reply(&mut write, &answer).await {
            return;
        }
    }
}

/// A parsed RFC 5322 message: unfolded headers and the raw body.
pub struct Mail {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let split = find(raw, b"\r\n\r\n").map(|i| (i, 4)).or_else(|| find(raw, b"\n\n").map(|i| (i, 2)));
        let (head, body) = match split {
            Some((i, n)) => (&raw[..i], raw[i + n..].to_vec()),
            None => (raw, Vec::new()),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in String::from_utf8_lossy(head).split('\n') {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        Mail { headers, body }
    }

    /// A header's value, encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| decode_words(v))
    }

    /// The text/plain content, transfer encoding undone (first text/plain part of a multipart).
    pub fn text(&self) -> String {
        let content_type = self.header("Content-Type").unwrap_or_default();
        if content_type.to_ascii_lowercase().starts_with("multipart/") {
            let Some(boundary) = param(&content_type, "boundary") else { return String::new() };
            let body = String::from_utf8_lossy(&self.body).to_string();
            let marker = format!("--{boundary}");
            for part in body.split(&marker).skip(1) {
                if part.starts_with("--") {
                    break;
                }
                let part = Mail::parse(part.trim_start_matches(['\r', '\n']).as_bytes());
                let ct = part.header("Content-Type").unwrap_or_default().to_ascii_lowercase();
                if ct.starts_with("text/plain") || ct.starts_with("multipart/") {
                    let text = part.text();
                    if !text.is_empty() {
                        return text;
                    }
                }
            }
            return String::new();
        }
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                let compact: String = String::from_utf8_lossy(&self.body).split_whitespace().collect();
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact).expect("base64 body")
            }
            "quoted-printable" => decode_qp(&self.body, false),
            _ => self.body.clone(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Quoted-printable (`header` = the Q encoding of encoded words, where `_` is a space).
fn decode_qp(input: &[u8], header: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'=' if input[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if input[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if header => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); whitespace between
/// two encoded words disappears, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let (before, candidate) = rest.split_at(start);
        let decoded = (|| {
            let inner = &candidate[2..];
            let (_charset, inner) = inner.split_once('?')?;
            let (encoding, inner) = inner.split_once('?')?;
            let end = inner.find("?=")?;
            let text = &inner[..end];
            let bytes = match encoding.to_ascii_lowercase().as_str() {
                "b" => base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).ok()?,
                "q" => decode_qp(text.as_bytes(), true),
                _ => return None,
            };
            let consumed = candidate.len() - inner.len() + end + 2;
            Some((String::from_utf8_lossy(&bytes).to_string(), consumed))
        })();
        match decoded {
            Some((text, consumed)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &candidate[consumed..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                last_was_word = false;
            }
        }
    }
    out
}

#[test]
fn mime_helpers_read_what_lettre_writes() {
    let raw = b"Subject: =?utf-8?b?UsOpaW5pdGlhbGlz?=\r\n =?utf-8?q?ation_de_votre?= mot\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nvoil=C3=A0 un lien tr=\r\ns long: https://x/r?a=3Db\r\n";
    let m = Mail::parse(raw);
    assert_eq!(m.header("subject").unwrap(), "Réinitialisation de votre mot");
    assert_eq!(m.text(), "voilà un lien trs long: https://x/r?a=b\n");
}
