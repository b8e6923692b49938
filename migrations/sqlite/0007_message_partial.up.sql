-- An answer cut short (a model failure after tools ran, or a stop): kept so a retry knows what already happened.
alter table message add column partial integer not null default 0;
