drop table task_activity;
