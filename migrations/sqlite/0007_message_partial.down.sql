alter table message drop column partial;
