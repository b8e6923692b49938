drop table if exists "jwks";
drop table if exists "verification";
drop table if exists "account";
drop table if exists "session";
drop table if exists "user";
