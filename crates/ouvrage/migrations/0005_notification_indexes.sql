-- Indexes of the notification store's hot paths.

-- The unread count shown in every page's navigation: proportional to the user's unread
-- notifications, however many they have read.
CREATE INDEX notifications_unread ON notifications (user_id, tenant_id) WHERE read_at IS NULL;

-- Digests left 'composing' by a worker that died between claiming and queuing, found by the
-- next run without scanning every digest ever sent.
CREATE INDEX digests_composing ON digests (id) WHERE status = 'composing';
