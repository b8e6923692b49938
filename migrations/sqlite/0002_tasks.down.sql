drop table if exists task;
drop table if exists task_counter;
