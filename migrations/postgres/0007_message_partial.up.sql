-- An answer cut short (a model failure after tools ran, or a stop): kept so a retry knows what already happened.
alter table message add column partial boolean not null default false;
