-- Rate-limit windows shared by every copy of taskchat on one database. SQLite runs as one process, which counts
-- in memory; the table keeps both schemas alike.
create table rate_limit (
  key text not null primary key,
  window_start date not null,
  count integer not null
);
create index rate_limit_window_idx on rate_limit (window_start);
