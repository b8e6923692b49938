alter table "user" drop column "timezone";
