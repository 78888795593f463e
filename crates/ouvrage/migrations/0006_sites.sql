-- Sites: chantiers (construction), résidences, logements (dwellings of a residence) and locaux
-- (premises), each owned by one client of one firm.
--
-- Codes stored (labels are French in the UI):
--   kind            construction | residence | dwelling | premises
--   operation_type  '' (not given) | individual | collective
--   phase           works (travaux) | handover (réception)
--   status          to_schedule (à planifier) | scheduled (planifié) | done (réalisé) | cancelled (annulé)
-- Dates of intervention are calendar days, TEXT 'YYYY-MM-DD' on both engines (sortable and
-- comparable as text), NULL when unknown.
-- name_key and city_key are the folded name and city (domain::text::search_key), used to sort
-- and filter without case or accents; search_key folds name, address, permit and owner.

CREATE TABLE sites (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    kind TEXT NOT NULL,
    parent_id BIGINT REFERENCES sites(id),
    name TEXT NOT NULL,
    street_number TEXT NOT NULL DEFAULT '',
    street TEXT NOT NULL DEFAULT '',
    postcode TEXT NOT NULL DEFAULT '',
    city_code TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    site_manager_contact_id BIGINT REFERENCES contacts(id),
    operation_type TEXT NOT NULL DEFAULT '',
    phase TEXT NOT NULL DEFAULT 'works',
    status TEXT NOT NULL DEFAULT 'to_schedule',
    expected_date TEXT,
    actual_date TEXT,
    permit_number TEXT NOT NULL DEFAULT '',
    owner_name TEXT NOT NULL DEFAULT '',
    dwellings BIGINT,
    notes TEXT NOT NULL DEFAULT '',
    name_key TEXT NOT NULL DEFAULT '',
    city_key TEXT NOT NULL DEFAULT '',
    search_key TEXT NOT NULL DEFAULT '',
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Mes chantiers (one client): default order by name, postcode prefix as a range, date ranges.
CREATE INDEX sites_client_name ON sites (tenant_id, client_id, archived, name_key);
CREATE INDEX sites_client_postcode ON sites (tenant_id, client_id, archived, postcode);
CREATE INDEX sites_client_expected ON sites (tenant_id, client_id, archived, expected_date);
CREATE INDEX sites_client_actual ON sites (tenant_id, client_id, archived, actual_date);
-- The back office (every client of the firm).
CREATE INDEX sites_tenant_name ON sites (tenant_id, archived, name_key);
CREATE INDEX sites_tenant_postcode ON sites (tenant_id, archived, postcode);
CREATE INDEX sites_tenant_expected ON sites (tenant_id, archived, expected_date);
-- Dwellings of a residence, sites of a site manager.
CREATE INDEX sites_parent ON sites (tenant_id, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX sites_manager ON sites (tenant_id, site_manager_contact_id) WHERE site_manager_contact_id IS NOT NULL;

-- The history of one object (a site's page shows its own), without scanning the firm's log.
CREATE INDEX audit_log_entity ON audit_log (tenant_id, entity, entity_id);
