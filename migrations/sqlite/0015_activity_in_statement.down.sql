drop trigger task_log_update;
drop trigger task_log_insert;
alter table task drop column change_door;
alter table task drop column change_batch;
