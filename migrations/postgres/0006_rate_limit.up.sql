-- Rate-limit windows shared by every copy of taskchat on this database (sign-in attempts must be counted
-- wherever the load balancer sends them).
create table rate_limit (
  key text not null primary key,
  window_start timestamptz not null,
  count integer not null
);
create index rate_limit_window_idx on rate_limit (window_start);
