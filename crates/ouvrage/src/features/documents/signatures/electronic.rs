//! The on-screen signature: the document shown next to a pad where the signer draws (pointer,
//! touch or pen; `static/signature.js`), a confirmation, then the seal. The signer is the
//! logged-in user; only users whose profile allows it, within the request's signer scope, may
//! do it. The sealed PDF carries the drawing on the page staff chose, an evidence page and a
//! PAdES signature with the firm's certificate; it is filed as a new document.

use std::io::Cursor;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use bytes::Bytes;
use ouvrage_pdfsign::{Evidence, SealInput, SignError, Stamp, StampPage};
use serde::Deserialize;

use super::client::{Finished, find, finish, record, signed_title};
use super::identity;
use super::staff::not_pending;
use super::store::{self, Claim};
use super::{Status, anchor_label, anchor_of, may_sign_electronically, paris_timestamp, user_agent};
use crate::app::AppState;
use crate::domain::time::{fr_datetime, now_ms};
use crate::features::documents::store::Published;
use crate::features::documents::types::SUPPORTING;
use crate::features::documents::upload::{Deposit, Depositor, store_bytes};
use crate::features::files::storage::sha256_hex;
use crate::features::files::upload;
use crate::http::{Actor, AppError, AppResult, ClientActor, Ctx, render};

/// The most a drawn signature may weigh once decoded: a canvas of strokes is tens of kilobytes.
pub const MAX_SIGNATURE_BYTES: usize = 500 * 1024;
/// The largest drawing accepted, in pixels (a pad on a large high-density screen fits).
const MAX_SIGNATURE_SIDE: u32 = 4000;
/// How many dark, opaque pixels make a signature rather than a blank pad or a stray click.
pub const MIN_INK_PIXELS: usize = 40;
const DATA_URL_PREFIX: &str = "data:image/png;base64,";

#[derive(Template)]
#[template(path = "signatures/sign.html")]
pub struct SignPage {
    pub ctx: Ctx,
    pub id: i64,
    pub title: String,
    pub site: String,
    pub company: String,
    pub signer: String,
    pub placement: String,
    pub preview_url: String,
    pub download_url: String,
    pub action: String,
    pub errors: Vec<String>,
}

fn sign_page(ctx: Ctx, actor: &Actor, req: &store::RequestRow, errors: Vec<String>) -> SignPage {
    SignPage {
        id: req.id,
        title: req.title.clone(),
        site: req.site_name.clone(),
        company: req.client_name.clone(),
        signer: actor.full_name.clone(),
        placement: format!(
            "sur la {}, {}",
            req.stamp_page.map(|p| format!("page {p}")).unwrap_or_else(|| "dernière page".into()),
            anchor_label(&req.anchor).to_lowercase()
        ),
        preview_url: format!("/espace/documents/{}/fichier?apercu=1", req.document_id),
        download_url: format!("/espace/signatures/{}/original", req.id),
        action: format!("/espace/signatures/{}/signer", req.id),
        errors,
        ctx: ctx.with_nav("signatures"),
    }
}

/// The signature page; showing it to the signer is a step of the evidence log.
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let req = find(&state, &actor, &id).await?;
    if !may_sign_electronically(&actor, &req) {
        return Err(AppError::Forbidden);
    }
    if req.status != Status::Pending.code() {
        return Ok(not_pending());
    }
    record(&state, &actor, &headers, &req, "shown").await?;
    Ok(render(&sign_page(ctx, &actor, &req, Vec::new()))?.into_response())
}

#[derive(Deserialize, Default)]
pub struct SignForm {
    /// The drawing, as the canvas exports it: a PNG data URL.
    #[serde(default)]
    signature: String,
    #[serde(default)]
    confirm: String,
}

/// Why a drawn signature is refused (French, shown on the page).
#[derive(Debug, PartialEq, Eq)]
pub enum DrawingError {
    Missing,
    Unreadable,
    TooLarge,
    Blank,
}

impl std::fmt::Display for DrawingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DrawingError::Missing => "Tracez votre signature dans le cadre avant de signer.",
            DrawingError::Unreadable => "La signature reçue est illisible : effacez-la et tracez-la à nouveau.",
            DrawingError::TooLarge => {
                "L'image de la signature est trop lourde (500 Ko au plus) : effacez-la et tracez-la à nouveau."
            }
            DrawingError::Blank => "Le cadre de signature est vide : tracez votre signature avant de signer.",
        })
    }
}

/// The PNG behind a canvas data URL, if it is a real PNG of reasonable size with some ink on it
/// (dark, mostly opaque pixels), so that a blank pad or a stray click is not a signature.
pub fn drawn_signature(data_url: &str) -> Result<Vec<u8>, DrawingError> {
    let data = data_url.trim();
    if data.is_empty() {
        return Err(DrawingError::Missing);
    }
    let encoded = data.strip_prefix(DATA_URL_PREFIX).ok_or(DrawingError::Unreadable)?;
    // Base64 is 4/3 of the bytes: refuse before decoding what is sure to be too large.
    if encoded.len() > MAX_SIGNATURE_BYTES / 3 * 4 + 8 {
        return Err(DrawingError::TooLarge);
    }
    let png = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| DrawingError::Unreadable)?;
    if png.len() > MAX_SIGNATURE_BYTES {
        return Err(DrawingError::TooLarge);
    }
    let mut decoder = png::Decoder::new(Cursor::new(&png[..]));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|_| DrawingError::Unreadable)?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width == 0 || height == 0 || width > MAX_SIGNATURE_SIDE || height > MAX_SIGNATURE_SIDE {
        return Err(DrawingError::Unreadable);
    }
    let size = reader.output_buffer_size().ok_or(DrawingError::Unreadable)?;
    let mut pixels = vec![0; size];
    let frame = reader.next_frame(&mut pixels).map_err(|_| DrawingError::Unreadable)?;
    let pixels = &pixels[..frame.buffer_size()];
    let ink = |gray: u32, alpha: u8| alpha >= 128 && gray < 160;
    let inked = match frame.color_type {
        png::ColorType::Rgba => pixels
            .chunks_exact(4)
            .filter(|p| ink((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3, p[3]))
            .count(),
        png::ColorType::Rgb => pixels
            .chunks_exact(3)
            .filter(|p| ink((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3, 255))
            .count(),
        png::ColorType::GrayscaleAlpha => pixels.chunks_exact(2).filter(|p| ink(u32::from(p[0]), p[1])).count(),
        png::ColorType::Grayscale => pixels.iter().filter(|p| ink(u32::from(**p), 255)).count(),
        png::ColorType::Indexed => return Err(DrawingError::Unreadable),
    };
    if inked < MIN_INK_PIXELS {
        return Err(DrawingError::Blank);
    }
    Ok(png)
}

/// Seals the document with the drawn signature and files the result.
pub async fn sign(
    State(state): State<AppState>,
    ctx: Ctx,
    ClientActor(actor): ClientActor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SignForm>,
) -> AppResult<Response> {
    let req = find(&state, &actor, &id).await?;
    if !may_sign_electronically(&actor, &req) {
        return Err(AppError::Forbidden);
    }
    if req.status != Status::Pending.code() {
        return Ok(not_pending());
    }
    let mut errors = Vec::new();
    let drawing = match drawn_signature(&form.signature) {
        Ok(png) => Some(png),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    if form.confirm != "on" && form.confirm != "1" {
        errors.push(format!(
            "Cochez « Je certifie avoir lu le document et le signer en tant que {} » pour signer.",
            actor.full_name
        ));
    }
    let Some(drawing) = drawing.filter(|_| errors.is_empty()) else {
        let page = sign_page(ctx, &actor, &req, errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };

    let original = state.files.get(&req.file_sha256).await.map_err(|e| {
        tracing::error!(error = %e, request = req.id, "original of a signature request unavailable");
        AppError::Unavailable
    })?;
    // What the client signs is exactly what staff put up: the evidence states its SHA-256.
    if sha256_hex(&original) != req.original_sha256 {
        return Err(AppError::Internal(anyhow::anyhow!(
            "signature request {}: original does not match its SHA-256",
            req.id
        )));
    }
    let seal = identity::active(&state, actor.tenant_id, (&actor).into()).await?;
    let tenant_name = store::tenant_name(&state.db, actor.tenant_id).await?;
    let now = now_ms();
    let ua = user_agent(&headers);
    let input = SealInputOwned {
        original,
        png: drawing,
        page: req.stamp_page.and_then(|p| u32::try_from(p).ok()).map(StampPage::Number).unwrap_or(StampPage::Last),
        anchor: anchor_of(&req.anchor).unwrap_or_default(),
        caption: format!("Signé par {} le {}", actor.full_name, fr_datetime(now).replacen(' ', " à ", 1)),
        lines: vec![
            ("Document".into(), req.title.clone()),
            ("Demande de signature".into(), format!("n° {}", req.id)),
            ("Signataire".into(), actor.full_name.clone()),
            ("E-mail du signataire".into(), actor.email.clone()),
            ("Entreprise".into(), req.client_name.clone()),
            ("Chantier".into(), req.site_name.clone()),
            ("Date et heure".into(), paris_timestamp(now)),
            ("Adresse IP".into(), if actor.ip.is_empty() { "inconnue".into() } else { actor.ip.clone() }),
            ("Navigateur (user agent)".into(), if ua.is_empty() { "non transmis".into() } else { ua.clone() }),
            ("SHA-256 du document original".into(), req.original_sha256.clone()),
            ("Mode de signature".into(), "Signature électronique simple : signature tracée à l'écran par l'utilisateur connecté, après confirmation de lecture".into()),
            ("Scellé par".into(), tenant_name.clone()),
            ("Certificat de scellement".into(), seal.subject.clone()),
            ("Empreinte SHA-256 du certificat".into(), seal.fingerprint.clone()),
        ],
        signer_name: actor.full_name.clone(),
        location: format!("{} — {}", tenant_name, req.site_name),
        signing_time_unix: now / 1000,
    };
    let fingerprint = seal.fingerprint.clone();
    let sealed = tokio::task::spawn_blocking(move || input.seal(&seal.identity))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let sealed = match sealed {
        Ok(bytes) => bytes,
        Err(e @ (SignError::InvalidImage | SignError::ImageTooLarge)) => {
            let page = sign_page(ctx, &actor, &req, vec![e.to_string()]);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
        Err(e @ SignError::Internal { .. }) => {
            return Err(AppError::Internal(anyhow::anyhow!("sealing request {} failed: {e}", req.id)));
        }
        Err(e) => {
            // The original itself cannot be sealed (damaged, protected): the firm must replace it.
            tracing::warn!(request = req.id, error = %e, "original cannot be sealed");
            let page = sign_page(ctx, &actor, &req, vec![e.to_string()]);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };

    let site = crate::features::sites::list::load(&state, &actor, &req.site_id.to_string()).await?;
    let claim = Claim { request: req.id, tenant: actor.tenant_id, user: actor.user_id, method: "electronic", at: now };
    if !store::claim(&state.db, &claim).await? {
        return Ok(not_pending());
    }
    let title = signed_title(&req.title);
    // The sealed file is ours, not an upload: only its content check applies, not the size limit.
    let checked = match upload::check(&format!("{title}.pdf"), Bytes::from(sealed), u64::MAX) {
        Ok(c) => c,
        Err(e) => {
            store::release(&state.db, &claim).await?;
            return Err(AppError::Internal(anyhow::anyhow!("sealed PDF refused by the upload check: {e}")));
        }
    };
    let d = Deposit {
        document_type: SUPPORTING,
        title: Some(&title),
        published: Published::No,
        requirement_id: None,
        twin: None,
    };
    let stored = match store_bytes(&state, &Depositor::user(&actor), d, checked).await {
        Ok(stored) => stored,
        Err(e) => {
            store::release(&state.db, &claim).await?;
            return Err(e.into());
        }
    };
    let finished = Finished { claim: &claim, event: "signed", certificate: Some(fingerprint), user_agent: ua };
    if !finish(&state, &actor, &req, &site, stored, finished).await? {
        return Ok(not_pending());
    }
    Ok(Redirect::to("/espace/signatures?msg=signe").into_response())
}

/// What [`ouvrage_pdfsign::seal`] needs, owned, to be moved to a blocking thread.
struct SealInputOwned {
    original: Bytes,
    png: Vec<u8>,
    page: StampPage,
    anchor: ouvrage_pdfsign::Anchor,
    caption: String,
    lines: Vec<(String, String)>,
    signer_name: String,
    location: String,
    signing_time_unix: i64,
}

impl SealInputOwned {
    fn seal(self, identity: &ouvrage_pdfsign::SigningIdentity) -> Result<Vec<u8>, SignError> {
        let input = SealInput {
            original: &self.original,
            stamp: Some(Stamp { page: self.page, anchor: self.anchor, png: &self.png, caption: self.caption }),
            evidence: Evidence { title: "Attestation de signature électronique".into(), lines: self.lines },
            reason: "Signature électronique du client".into(),
            location: self.location,
            signer_name: self.signer_name,
            signing_time_unix: self.signing_time_unix,
        };
        ouvrage_pdfsign::seal(&input, identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, rgba: &[u8]) -> String {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, width, height);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            enc.write_header().unwrap().write_image_data(rgba).unwrap();
        }
        format!("{DATA_URL_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    #[test]
    fn a_line_of_ink_is_a_signature_a_blank_pad_is_not() {
        let (w, h) = (100u32, 20u32);
        let blank = vec![0u8; (w * h * 4) as usize];
        assert_eq!(drawn_signature(&png(w, h, &blank)), Err(DrawingError::Blank));
        let mut inked = blank.clone();
        for x in 0..80 {
            let i = ((10 * w + x) * 4) as usize;
            inked[i..i + 4].copy_from_slice(&[20, 20, 60, 255]);
        }
        assert!(drawn_signature(&png(w, h, &inked)).is_ok());
        // White strokes on a transparent pad are not ink.
        let mut white = blank;
        for x in 0..80 {
            let i = ((10 * w + x) * 4) as usize;
            white[i..i + 4].copy_from_slice(&[255, 255, 255, 255]);
        }
        assert_eq!(drawn_signature(&png(w, h, &white)), Err(DrawingError::Blank));
    }

    #[test]
    fn what_is_not_a_png_data_url_is_refused() {
        assert_eq!(drawn_signature(""), Err(DrawingError::Missing));
        assert_eq!(drawn_signature("data:image/jpeg;base64,AAAA"), Err(DrawingError::Unreadable));
        assert_eq!(drawn_signature("data:image/png;base64,%%%"), Err(DrawingError::Unreadable));
        let not_png = base64::engine::general_purpose::STANDARD.encode(b"GIF89a not a png");
        assert_eq!(drawn_signature(&format!("{DATA_URL_PREFIX}{not_png}")), Err(DrawingError::Unreadable));
        let huge = "A".repeat(MAX_SIGNATURE_BYTES * 2);
        assert_eq!(drawn_signature(&format!("{DATA_URL_PREFIX}{huge}")), Err(DrawingError::TooLarge));
    }
}
