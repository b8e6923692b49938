-- Back to title-and-tick tasks: due dates, priorities and labels are dropped.
drop table task_label;
drop table label;
drop table task_fts;
create table task_plain (
  id text not null primary key,
  user_id text not null references "user" ("id") on delete cascade,
  number integer not null,
  title text not null,
  description text,
  completed integer not null default 0,
  created_at date not null,
  updated_at date not null,
  completed_at date,
  unique (user_id, number)
);
insert into task_plain (id, user_id, number, title, description, completed, created_at, updated_at, completed_at)
  select id, user_id, number, title, description, completed, created_at, updated_at, completed_at
  from task order by pk;
drop table task;
alter table task_plain rename to task;
create index task_user_completed_idx on task (user_id, completed, number);
alter table task_counter drop column pending;
alter table task_counter drop column done;
create trigger task_takes_number after insert on task begin
  insert into task_counter (user_id, last_number) values (new.user_id, new.number)
  on conflict (user_id) do update set last_number = max(last_number, excluded.last_number);
end;
