-- Extranet accounts: notification preferences, contact requests, credential requests,
-- the notification store and its digests.

-- How often each user gets the digest e-mail: 'default' follows the firm's default.
ALTER TABLE users ADD COLUMN digest_frequency TEXT NOT NULL DEFAULT 'default';
-- 1 = Monday … 7 = Sunday, for weekly digests.
ALTER TABLE users ADD COLUMN digest_weekday BIGINT;
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';

ALTER TABLE tenants ADD COLUMN default_digest_frequency TEXT NOT NULL DEFAULT 'daily';
ALTER TABLE tenants ADD COLUMN default_digest_weekday BIGINT NOT NULL DEFAULT 1;
-- The host name the firm's public pages answer on (credential requests); NULL = not bound.
ALTER TABLE tenants ADD COLUMN public_host TEXT;

-- Extra headers of an outgoing message (JSON object), e.g. List-Unsubscribe.
ALTER TABLE outbox ADD COLUMN extra_headers TEXT;

-- A client admin asks the firm to create, change or remove a contact.
CREATE TABLE contact_requests (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    requested_by BIGINT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    contact_id BIGINT REFERENCES contacts(id),
    civility TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    job_title TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    mobile TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT NOT NULL DEFAULT '',
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    result_contact_id BIGINT REFERENCES contacts(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX contact_requests_scope ON contact_requests (tenant_id, status, client_id);

-- Someone without an account asks for extranet credentials (public form).
CREATE TABLE credential_requests (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    company TEXT NOT NULL,
    siret TEXT NOT NULL DEFAULT '',
    full_name TEXT NOT NULL,
    job_title TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT NOT NULL DEFAULT '',
    client_id BIGINT REFERENCES clients(id),
    user_id BIGINT REFERENCES users(id),
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credential_requests_scope ON credential_requests (tenant_id, status);

-- One row per business event and recipient who may see it.
CREATE TABLE notifications (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The client the event's object belongs to (NULL: the firm's own business); re-checked
    -- against the recipient's scope when the digest is sent.
    client_id BIGINT REFERENCES clients(id),
    site_label TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    -- Identifies the event, so recording it twice for a recipient keeps one row.
    event_key TEXT NOT NULL,
    title TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    -- pending → claimed (by a digest being composed) → sent; or skipped (no digest wanted,
    -- or no longer visible).
    digest_state TEXT NOT NULL DEFAULT 'pending',
    digest_id BIGINT,
    UNIQUE (user_id, event_key)
);
CREATE INDEX notifications_user ON notifications (tenant_id, user_id, created_at);
CREATE INDEX notifications_digest ON notifications (digest_state, user_id);

-- One digest per user and period ('daily:2026-11-23', 'weekly:2026-W48').
CREATE TABLE digests (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    period_key TEXT NOT NULL,
    status TEXT NOT NULL,
    outbox_id BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, period_key)
);
