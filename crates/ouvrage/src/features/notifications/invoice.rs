//! Invoices are e-mailed at once to the company's billing contact (the e-mail address of
//! "Mon entreprise"), on top of the digests: the documents capability calls
//! [`mail_invoice_to_billing_contact`] in the transaction that makes the invoice available, with
//! the invoice's PDF attached.

use crate::db::Tx;
use crate::domain::{ClientId, FileId, TenantId};
use crate::features::mail::{self, OutgoingMail};
use crate::on_tx;

/// Queues the e-mail announcing invoice `number` of `client` to the client's billing e-mail, in
/// the caller's transaction; `link` is the absolute address where the invoice can be seen (or
/// downloaded); `pdf` is the stored invoice, attached to the mail (read from the file store when
/// the mail is sent). Returns the outbox id, or `None` when there is nothing to send (no billing
/// e-mail, or no such client in the tenant). Call `state.mail_wakeup.notify_one()` after commit.
pub async fn mail_invoice_to_billing_contact(
    tx: &mut Tx,
    tenant: TenantId,
    client: ClientId,
    number: &str,
    link: &str,
    pdf: Option<FileId>,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(String, String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT c.name, c.billing_email, t.legal_name FROM clients c JOIN tenants t ON t.id = c.tenant_id
         WHERE c.id = $1 AND c.tenant_id = $2"
    )
    .bind(client)
    .bind(tenant)
    .fetch_optional(c)
    .await)?;
    let Some((company, billing_email, firm)) = row else {
        tracing::warn!(tenant = %tenant, client = %client, "invoice e-mail: no such client in this tenant");
        return Ok(None);
    };
    let to = billing_email.trim();
    if to.is_empty() {
        tracing::info!(tenant = %tenant, client = %client, number, "invoice e-mail skipped: the client has no billing e-mail");
        return Ok(None);
    }
    let number = number.trim();
    let subject = format!("Nouvelle facture {number} – {firm}");
    let attached = if pdf.is_some() { "Elle est jointe à cet e-mail (PDF).\n\n" } else { "" };
    let text = format!(
        "Bonjour,\n\nUne nouvelle facture est disponible pour {company} : {number}.\n\n{attached}Pour la consulter et la télécharger sur votre espace client :\n{link}\n\nCet e-mail est envoyé à l'adresse de facturation indiquée dans le profil de votre entreprise. Pour la modifier, rendez-vous dans « Mon entreprise » sur votre espace client.\n\n{firm}\n"
    );
    let mail = OutgoingMail { tenant_id: Some(tenant), to: to.to_string(), subject, text, html: None };
    let id = mail::enqueue_with_attachments(tx, mail, pdf.as_slice()).await?;
    Ok(Some(id))
}
