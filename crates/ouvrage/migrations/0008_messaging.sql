-- Messaging: threads between a client's users and the firm, about one site or general, with
-- their messages, attached files and each user's read state.
--
-- Codes stored (labels are French in the UI):
--   status   open (ouvert) | answered (répondu) | closed (clos)
-- subject_key is the folded subject (domain::text::search_key), to filter without case or accents.
-- last_message_id is the newest message of the thread: a thread is unread for a user while it is
-- greater than the last message that user has read (thread_reads), so a user's own messages,
-- which mark the thread read for them, never count.

CREATE TABLE threads (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    client_id BIGINT NOT NULL REFERENCES clients(id),
    site_id BIGINT REFERENCES sites(id),
    subject TEXT NOT NULL,
    subject_key TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open',
    assigned_to BIGINT REFERENCES users(id),
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    last_message_id BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT NOT NULL
);
-- A company's threads (extranet list), newest first; one site's threads.
CREATE INDEX threads_client_recent ON threads (tenant_id, client_id, last_message_at);
-- The unread count of every extranet page, answered from the index alone.
CREATE INDEX threads_client_unread ON threads (tenant_id, client_id, last_message_id);
CREATE INDEX threads_site ON threads (tenant_id, site_id, last_message_at) WHERE site_id IS NOT NULL;
-- The firm's shared inbox, by status and by assignee.
CREATE INDEX threads_tenant_recent ON threads (tenant_id, last_message_at);
CREATE INDEX threads_tenant_status ON threads (tenant_id, status, last_message_at);
-- The staff's unread count (open threads, theirs or nobody's), answered from the index alone.
CREATE INDEX threads_tenant_unread ON threads (tenant_id, status, assigned_to, last_message_id);
CREATE INDEX threads_assigned ON threads (tenant_id, assigned_to, last_message_at) WHERE assigned_to IS NOT NULL;

CREATE TABLE messages (
    id {{id_pk}},
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    thread_id BIGINT NOT NULL REFERENCES threads(id),
    author_id BIGINT REFERENCES users(id),
    from_staff BOOLEAN NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_thread ON messages (tenant_id, thread_id, id);

CREATE TABLE message_files (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    message_id BIGINT NOT NULL REFERENCES messages(id),
    file_id BIGINT NOT NULL REFERENCES files(id),
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX message_files_file ON message_files (tenant_id, file_id);

-- The last message each user has read in a thread.
CREATE TABLE thread_reads (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    thread_id BIGINT NOT NULL REFERENCES threads(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    last_message_id BIGINT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
CREATE INDEX thread_reads_user ON thread_reads (tenant_id, user_id);
