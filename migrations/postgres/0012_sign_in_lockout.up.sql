-- Failed sign-ins in a row per account (the key is a hash of the normalized email), shared by every copy of
-- taskchat on this database so an attacker spreading guesses over copies and addresses meets one count.
create table sign_in_lockout (
  key text not null primary key,
  failures integer not null,
  last_failure timestamptz not null,
  locked_until timestamptz
);
create index sign_in_lockout_last_failure_idx on sign_in_lockout (last_failure);
