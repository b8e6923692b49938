alter table "user" drop column "banExpires";
alter table "user" drop column "banReason";
alter table "user" drop column "banned";
