alter table message drop column feedback;
