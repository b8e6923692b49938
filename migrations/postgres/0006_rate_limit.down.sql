drop table if exists rate_limit;
