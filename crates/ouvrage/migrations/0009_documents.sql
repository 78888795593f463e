-- Documents: the firm's list of document types and services, versions of a site's documents,
-- what the firm expects from the client before and after an intervention, the justificatifs
-- the client must sign (with their evidence log), and the reports and invoices delivered.
--
-- Codes stored (labels are French in the UI):
--   documents.published_as        '' | report | invoice
--   requirement_templates.stage   before (avant l'intervention) | after (après)
--   requirement kind              document | data
--   site_requirements.status      missing | received | validated | refused
--   signature_requests.status     pending | signed | cancelled
--   signature_requests.method     '' | electronic | paper
--   signature_requests.anchor     bottom_right | bottom_left | bottom_center | top_right | top_left
--   signature_evidence.event      requested | shown | signed | paper_signed | downloaded | cancelled

-- The firm's document types (tenant data: a firm may add its own or retire one). `code` is what
-- documents store; the types every firm starts with are inserted by documents::types.
CREATE TABLE document_types (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    archived BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX document_types_code ON document_types (tenant_id, code);

-- A document is one version of a (site, type, name): `lineage_id` is the id of its first
-- version, `version` counts from 1, and `is_current` marks the newest, which lists show.
-- `name_key` is the folded title, to find the same name again and to search.
-- A published report or invoice is `published_as` with `published_at`; it is "nouveau" for the
-- client until one of the client's users opens it (`first_seen_at`, `first_seen_by`).
-- `twin_file_id` is the Factur-X/XML twin of an invoice, when the firm sent one.
ALTER TABLE documents ADD COLUMN lineage_id BIGINT;
ALTER TABLE documents ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE documents ADD COLUMN is_current BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE documents ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN published_as TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN published_at BIGINT;
ALTER TABLE documents ADD COLUMN first_seen_at BIGINT;
ALTER TABLE documents ADD COLUMN first_seen_by BIGINT REFERENCES users(id);
ALTER TABLE documents ADD COLUMN twin_file_id BIGINT REFERENCES files(id);
ALTER TABLE documents ADD COLUMN api_token_id BIGINT;
UPDATE documents SET lineage_id = id WHERE lineage_id IS NULL;

-- A site's current documents by type and date; a company's documents across sites (Mes
-- documents); the reports and invoices of a company, newest first and "nouveaux".
CREATE INDEX documents_site_current ON documents (tenant_id, site_id, is_current, document_type, name_key);
CREATE INDEX documents_client_current ON documents (tenant_id, client_id, is_current, created_at);
CREATE INDEX documents_lineage ON documents (tenant_id, lineage_id, version);
CREATE INDEX documents_published ON documents (tenant_id, client_id, published_as, published_at);
-- The dashboard's "nouveaux rapports / nouvelles factures", answered from the index alone.
CREATE INDEX documents_unseen ON documents (tenant_id, client_id, published_as, is_current, first_seen_at);

-- The firm's services (prestations: test d'étanchéité à l'air, entretien VMC…), which the
-- expected documents and, later, intervention requests refer to.
CREATE TABLE services (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    archived BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX services_code ON services (tenant_id, code);

-- What the firm needs for a service, before or after the intervention: a document of a type, or
-- a piece of data the client types in.
CREATE TABLE requirement_templates (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    service_id BIGINT NOT NULL REFERENCES services(id),
    label TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'document',
    document_type TEXT NOT NULL DEFAULT '',
    stage TEXT NOT NULL DEFAULT 'before',
    hint TEXT NOT NULL DEFAULT '',
    position BIGINT NOT NULL DEFAULT 0,
    archived BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX requirement_templates_service ON requirement_templates (tenant_id, service_id, position);

-- The services ordered for a site; adding one applies its templates to the site.
CREATE TABLE site_services (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT NOT NULL REFERENCES sites(id),
    service_id BIGINT NOT NULL REFERENCES services(id),
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX site_services_once ON site_services (tenant_id, site_id, service_id);

-- One requirement of one site, copied from its template so that editing a template later does
-- not rewrite what a client was already asked for.
CREATE TABLE site_requirements (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT NOT NULL REFERENCES sites(id),
    site_service_id BIGINT REFERENCES site_services(id),
    template_id BIGINT REFERENCES requirement_templates(id),
    label TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'document',
    document_type TEXT NOT NULL DEFAULT '',
    stage TEXT NOT NULL DEFAULT 'before',
    hint TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'missing',
    document_id BIGINT REFERENCES documents(id),
    data_value TEXT NOT NULL DEFAULT '',
    refusal_reason TEXT NOT NULL DEFAULT '',
    received_at BIGINT,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX site_requirements_site ON site_requirements (tenant_id, site_id, status);
-- Dashboards: a company's sites with something still missing, the firm's requirements to validate.
CREATE INDEX site_requirements_client ON site_requirements (tenant_id, client_id, status, site_id);
CREATE INDEX site_requirements_tenant ON site_requirements (tenant_id, status);
-- How many of a site's requirements wait for the client (missing, or refused and to send
-- again): kept by the triggers below whoever writes site_requirements, so the dashboards and
-- Mes chantiers' "incomplets" filter count sites from an index instead of probing every
-- site's requirements on every page.
ALTER TABLE sites ADD COLUMN requirements_missing BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sites_client_phase ON sites (tenant_id, client_id, archived, phase, status, requirements_missing);
CREATE INDEX sites_tenant_missing ON sites (tenant_id, archived, status, requirements_missing);
-- sqlite:begin
CREATE TRIGGER site_requirements_missing_insert AFTER INSERT ON site_requirements
BEGIN
  UPDATE sites SET requirements_missing = (SELECT COUNT(*) FROM site_requirements r
    WHERE r.tenant_id = NEW.tenant_id AND r.site_id = NEW.site_id
      AND r.status IN ('missing', 'refused')) WHERE id = NEW.site_id;
END;
CREATE TRIGGER site_requirements_missing_update AFTER UPDATE OF status, site_id ON site_requirements
BEGIN
  UPDATE sites SET requirements_missing = (SELECT COUNT(*) FROM site_requirements r
    WHERE r.tenant_id = OLD.tenant_id AND r.site_id = OLD.site_id
      AND r.status IN ('missing', 'refused')) WHERE id = OLD.site_id;
  UPDATE sites SET requirements_missing = (SELECT COUNT(*) FROM site_requirements r
    WHERE r.tenant_id = NEW.tenant_id AND r.site_id = NEW.site_id
      AND r.status IN ('missing', 'refused')) WHERE id = NEW.site_id;
END;
CREATE TRIGGER site_requirements_missing_delete AFTER DELETE ON site_requirements
BEGIN
  UPDATE sites SET requirements_missing = (SELECT COUNT(*) FROM site_requirements r
    WHERE r.tenant_id = OLD.tenant_id AND r.site_id = OLD.site_id
      AND r.status IN ('missing', 'refused')) WHERE id = OLD.site_id;
END;
-- sqlite:end
-- postgres:begin
CREATE FUNCTION site_requirements_missing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE sites SET requirements_missing = (SELECT COUNT(*) FROM site_requirements r
      WHERE r.tenant_id = OLD.tenant_id AND r.site_id = OLD.site_id
      AND r.status IN ('missing', 'refused')) WHERE id = OLD.site_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE sites SET requirements_missing = (SELECT COUNT(*) FROM site_requirements r
      WHERE r.tenant_id = NEW.tenant_id AND r.site_id = NEW.site_id
      AND r.status IN ('missing', 'refused')) WHERE id = NEW.site_id;
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER site_requirements_missing AFTER INSERT OR UPDATE OR DELETE ON site_requirements
FOR EACH ROW EXECUTE FUNCTION site_requirements_missing();
-- postgres:end

-- The firm's signing certificate (one active per tenant): generated at set-up, or a PKCS#12 the
-- admin uploaded. `pem` holds the certificate chain and the private key.
CREATE TABLE signing_identities (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    subject TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    source TEXT NOT NULL,
    pem TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX signing_identities_active ON signing_identities (tenant_id, active);

-- A PDF the client must sign: who may sign (a named user, or any user of the client allowed to
-- sign), where the drawn signature goes, and once signed, the signed document.
CREATE TABLE signature_requests (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT NOT NULL REFERENCES sites(id),
    document_id BIGINT NOT NULL REFERENCES documents(id),
    title TEXT NOT NULL,
    signer_user_id BIGINT REFERENCES users(id),
    stamp_page BIGINT,
    anchor TEXT NOT NULL DEFAULT 'bottom_right',
    status TEXT NOT NULL DEFAULT 'pending',
    method TEXT NOT NULL DEFAULT '',
    original_sha256 TEXT NOT NULL,
    signed_document_id BIGINT REFERENCES documents(id),
    signed_by BIGINT REFERENCES users(id),
    signed_at BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX signature_requests_client ON signature_requests (tenant_id, client_id, status, created_at);
CREATE INDEX signature_requests_site ON signature_requests (tenant_id, site_id, status);

-- Every step of a signature, kept for proof: append-only, enforced by the database itself.
CREATE TABLE signature_evidence (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    request_id BIGINT NOT NULL REFERENCES signature_requests(id),
    event TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    user_label TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX signature_evidence_request ON signature_evidence (tenant_id, request_id, id);
-- sqlite:begin
CREATE TRIGGER signature_evidence_no_update BEFORE UPDATE ON signature_evidence
BEGIN SELECT RAISE(ABORT, 'signature_evidence is append-only'); END;
CREATE TRIGGER signature_evidence_no_delete BEFORE DELETE ON signature_evidence
BEGIN SELECT RAISE(ABORT, 'signature_evidence is append-only'); END;
-- sqlite:end
-- postgres:begin
CREATE FUNCTION signature_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'signature_evidence is append-only'; END;
$$;
CREATE TRIGGER signature_evidence_no_change BEFORE UPDATE OR DELETE ON signature_evidence
FOR EACH ROW EXECUTE FUNCTION signature_evidence_append_only();
-- postgres:end

-- Files attached to an outgoing e-mail (a new invoice goes to the billing contact as an
-- attachment): their ids, space-separated, read from the file store when the mail is sent.
ALTER TABLE outbox ADD COLUMN attachment_file_ids TEXT NOT NULL DEFAULT '';
