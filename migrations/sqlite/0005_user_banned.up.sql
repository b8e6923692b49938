-- Disabling an account uses the columns of Better Auth's admin plugin, so a database shared with Better Auth
-- keeps one notion of a banned user.
alter table "user" add column "banned" integer default 0;
alter table "user" add column "banReason" text;
alter table "user" add column "banExpires" date;
