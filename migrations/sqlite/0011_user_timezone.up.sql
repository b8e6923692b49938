-- The person's time zone (an IANA name), in which "today", "tomorrow 5pm" and "overdue" are reckoned. A column
-- of Better Auth's user table, as Better Auth stores an additional user field; a user created by a Better
-- Auth server that shares the database gets the default.
alter table "user" add column "timezone" text not null default 'UTC';
