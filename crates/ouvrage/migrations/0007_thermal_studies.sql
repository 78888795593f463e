-- Thermal studies, the documents that keep them, the integrators' API tokens, and the keys
-- that find the same chantier twice.

-- A typed document of a client, usually about one of its sites. This capability files the
-- thermal studies ('thermal_study'); the documents capability adds its types.
CREATE TABLE documents (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT REFERENCES sites(id),
    file_id BIGINT NOT NULL REFERENCES files(id),
    document_type TEXT NOT NULL,
    title TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX documents_site ON documents (tenant_id, site_id, document_type);
CREATE INDEX documents_client ON documents (tenant_id, client_id, created_at);

-- Each version of a site's thermal study: what was read from the file (`extracted`, the JSON
-- of the reader's result), what changed since the previous version (`changes`, a JSON list of
-- {label, before, after}), the site fields that followed it (`moved`, their labels joined by
-- ", "), and where it came from (`source`: form | api | demo).
-- sha256 is the file's: the same file is never imported twice for one client.
CREATE TABLE thermal_studies (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT NOT NULL REFERENCES sites(id),
    document_id BIGINT NOT NULL REFERENCES documents(id),
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    engine_version TEXT,
    extracted TEXT NOT NULL,
    changes TEXT NOT NULL DEFAULT '[]',
    moved TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    api_token_id BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX thermal_studies_file ON thermal_studies (tenant_id, client_id, sha256);
CREATE INDEX thermal_studies_site ON thermal_studies (tenant_id, site_id, id);

-- Integrators' tokens (thermal-consultancy software), one per integrator and client. Only the
-- SHA-256 of the secret is kept; `prefix` (its first characters) lets staff recognise it.
CREATE TABLE api_tokens (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_client ON api_tokens (tenant_id, client_id);

-- Duplicate keys (features::sites::duplicates): the permit number without spaces or
-- punctuation, the folded address with its street words spelled out, the folded owner.
-- Filled for existing rows by the migration's Rust step.
ALTER TABLE sites ADD COLUMN permit_key TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN address_key TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN owner_key TEXT NOT NULL DEFAULT '';
CREATE INDEX sites_permit_key ON sites (tenant_id, permit_key) WHERE permit_key <> '';
CREATE INDEX sites_address_key ON sites (tenant_id, postcode, address_key) WHERE address_key <> '';
CREATE INDEX sites_owner_key ON sites (tenant_id, owner_key) WHERE owner_key <> '';
