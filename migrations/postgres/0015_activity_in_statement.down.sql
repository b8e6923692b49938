drop trigger task_log on task;
drop function task_log();
alter table task drop column change_door;
alter table task drop column change_batch;
