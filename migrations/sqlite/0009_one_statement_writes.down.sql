drop trigger task_takes_number;
drop trigger message_takes_seq;
