-- Disabling an account uses the columns of Better Auth's admin plugin, so a database shared with Better Auth
-- keeps one notion of a banned user.
alter table "user" add column if not exists "banned" boolean default false;
alter table "user" add column if not exists "banReason" text;
alter table "user" add column if not exists "banExpires" timestamptz;
