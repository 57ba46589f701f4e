-- Scopes split (issue 10): `admin` is now a workspace admin (its own workspace only) and the fleet
-- belongs to the new `operator` scope. Every key that held `admin` before this migration acted on
-- the fleet, so it gets `operator` too: existing deployments keep working. Revoke it key by key
-- (mint a new `admin` key without it) to narrow a workspace's administrator.
UPDATE api_keys SET scopes = array_append(scopes, 'operator')
WHERE 'admin' = ANY(scopes) AND NOT ('operator' = ANY(scopes));
