-- Failed sign-ins in a row per account, shared by every copy of taskchat on one database. SQLite runs as one
-- process, which counts in memory; the table keeps both schemas alike.
create table sign_in_lockout (
  key text not null primary key,
  failures integer not null,
  last_failure date not null,
  locked_until date
);
create index sign_in_lockout_last_failure_idx on sign_in_lockout (last_failure);
