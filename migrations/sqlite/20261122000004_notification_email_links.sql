-- The address a notification-address link confirms.
ALTER TABLE account_tokens ADD COLUMN new_email TEXT;
