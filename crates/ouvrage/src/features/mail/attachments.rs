//! The files a queued message carries, read when it is sent: the outbox keeps only their ids
//! (`outbox.attachment_file_ids`), the bytes come from the file store. A file that cannot be read
//! keeps the message queued (a temporary failure, logged as an error) rather than sending it
//! without its attachment or dropping it.

use super::transport::{Failure, MailAttachment, QueuedMail};
use crate::app::AppState;
use crate::on_db;

/// The attachments of `mail`, in the order they were queued.
pub async fn load(state: &AppState, mail: &QueuedMail) -> Result<Vec<MailAttachment>, Failure> {
    let mut out = Vec::new();
    for raw in mail.attachment_file_ids.split_whitespace() {
        let Ok(file_id) = raw.parse::<i64>() else {
            tracing::error!(outbox_id = mail.id, value = raw, "outbox: unreadable attachment id");
            return Err(Failure::Permanent(format!("pièce jointe illisible dans la file d'envoi : « {raw} »")));
        };
        // The file must belong to the mail's tenant: an outbox row never reaches another firm's files.
        let row: Result<Option<(String, String, String)>, sqlx::Error> = on_db!(&state.db, |p| sqlx::query_as(
            "SELECT sha256, original_name, content_type FROM files
             WHERE id = $1 AND ($2 IS NULL OR tenant_id = $2)"
        )
        .bind(file_id)
        .bind(mail.tenant_id)
        .fetch_optional(p)
        .await);
        let (sha256, name, content_type) = match row {
            Ok(Some(r)) => r,
            Ok(None) => {
                tracing::error!(
                    outbox_id = mail.id,
                    file_id,
                    "outbox: attached file has no row, e-mail kept for retry"
                );
                return Err(Failure::Temporary(format!(
                    "pièce jointe introuvable : le fichier n° {file_id} n'existe pas (l'e-mail reste en attente)"
                )));
            }
            Err(e) => {
                tracing::warn!(outbox_id = mail.id, file_id, error = %e, "outbox: cannot read an attachment's row");
                return Err(Failure::Temporary(format!(
                    "pièce jointe n° {file_id} : la base de données ne répond pas ({e})"
                )));
            }
        };
        match state.files.get(&sha256).await {
            Ok(bytes) => out.push(MailAttachment { name, content_type, bytes }),
            Err(object_store::Error::NotFound { .. }) => {
                tracing::error!(
                    outbox_id = mail.id,
                    file_id,
                    sha256 = %sha256,
                    "outbox: attachment bytes missing from the file store, e-mail kept for retry"
                );
                return Err(Failure::Temporary(format!(
                    "pièce jointe « {name} » (fichier n° {file_id}) absente du stockage : l'e-mail reste en attente"
                )));
            }
            Err(e) => {
                tracing::warn!(outbox_id = mail.id, file_id, error = %e, "outbox: file store unavailable for an attachment");
                return Err(Failure::Temporary(format!(
                    "pièce jointe « {name} » (fichier n° {file_id}) : le stockage des fichiers ne répond pas"
                )));
            }
        }
    }
    Ok(out)
}
