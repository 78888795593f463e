-- Interventions: what a client asks for (intervention_requests, from the extranet) and what the
-- firm plans (interventions, shown on the back office's planning and on the site).
--
-- Codes stored (labels are French in the UI):
--   intervention_requests.status  pending (en attente) | accepted (planifiée) | proposed (autre date
--                                 proposée) | refused (refusée) | cancelled (annulée)
--   interventions.status          planned (planifiée) | done (réalisée) | cancelled (annulée)
--   interventions.outcome         '' for now; technicians' reports will record absent, done…
-- Days are calendar days in Europe/Paris, TEXT 'YYYY-MM-DD'; window bounds are TEXT 'HH:MM' (both
-- sortable and comparable as text on both engines).

CREATE TABLE intervention_requests (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT NOT NULL REFERENCES sites(id),
    service_id BIGINT NOT NULL REFERENCES services(id),
    -- One to three preferred days, in the order the client gave them.
    preferred_day_1 TEXT NOT NULL,
    preferred_day_2 TEXT,
    preferred_day_3 TEXT,
    comment TEXT NOT NULL DEFAULT '',
    contact_name TEXT NOT NULL DEFAULT '',
    -- E.164, or '' when not given.
    contact_phone TEXT NOT NULL DEFAULT '',
    -- The "Demande d'intervention" thread the request opened, where the firm answers.
    thread_id BIGINT NOT NULL REFERENCES threads(id),
    status TEXT NOT NULL DEFAULT 'pending',
    proposed_day TEXT,
    proposed_start TEXT,
    proposed_end TEXT,
    refusal_reason TEXT NOT NULL DEFAULT '',
    -- The intervention planned for it (no foreign key: interventions refer back to their request).
    intervention_id BIGINT,
    answered_by BIGINT REFERENCES users(id),
    answered_at BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The back office's list: by status (pending first), newest first.
CREATE INDEX intervention_requests_status ON intervention_requests (tenant_id, status, created_at);
-- A site's requests (its page), a client's requests (Mes actions), the request of a thread.
CREATE INDEX intervention_requests_site ON intervention_requests (tenant_id, site_id, created_at);
CREATE INDEX intervention_requests_client ON intervention_requests (tenant_id, client_id, created_at);
CREATE INDEX intervention_requests_thread ON intervention_requests (tenant_id, thread_id);

CREATE TABLE interventions (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT NOT NULL REFERENCES sites(id),
    service_id BIGINT REFERENCES services(id),
    request_id BIGINT REFERENCES intervention_requests(id),
    status TEXT NOT NULL DEFAULT 'planned',
    day TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    technician_id BIGINT REFERENCES users(id),
    -- The passage number: an absence is a failed attempt, the next passage another one.
    attempt BIGINT NOT NULL DEFAULT 1,
    outcome TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    -- When it was marked done or cancelled, and by whom.
    closed_by BIGINT REFERENCES users(id),
    closed_at BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The planning: a range of days, optionally one technician's.
CREATE INDEX interventions_planning ON interventions (tenant_id, day, technician_id);
CREATE INDEX interventions_technician ON interventions (tenant_id, technician_id, day);
-- A site's interventions (its page); a client's interventions by day (the dashboard).
CREATE INDEX interventions_site ON interventions (tenant_id, site_id, day);
CREATE INDEX interventions_client_day ON interventions (tenant_id, client_id, day);
-- One passage of each number per request: two staff scheduling the same request at once
-- cannot both create its first passage.
CREATE UNIQUE INDEX interventions_request_attempt ON interventions (tenant_id, request_id, attempt)
    WHERE request_id IS NOT NULL;
