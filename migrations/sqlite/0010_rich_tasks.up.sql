-- Rich tasks: a due date (in the person's zone), a priority and labels, and what it takes to find them at a
-- cost that does not grow with the list: an index per sort, a full-text index, label rows, and counters.
--
-- The table is rebuilt to get an INTEGER PRIMARY KEY: the full-text index refers to rows by rowid, and VACUUM
-- may renumber the implicit rowid of a table without one. Rows are copied in (user, number) order, so a
-- person's rows stay in number order by key.
create table task_rich (
  pk integer primary key,
  id text not null unique,
  user_id text not null references "user" ("id") on delete cascade,
  number integer not null,
  title text not null,
  description text,
  completed integer not null default 0,
  created_at date not null,
  updated_at date not null,
  completed_at date,
  -- 0 none, 1 low, 2 medium, 3 high, 4 urgent.
  priority integer not null default 0 check (priority between 0 and 4),
  -- The date and wall-clock time in the zone the due was set in (text: 'YYYY-MM-DD', 'HH:MM'), the instant
  -- when there is a time, the zone, and the words it came from.
  due_date text,
  due_time text,
  due_at date,
  due_tz text,
  due_string text,
  -- The labels as shown (a JSON array); task_label below is what filters and counts read.
  labels text not null default '[]',
  -- Sort keys: a due without a time sorts after the timed ones of its day ('~' follows the digits), and no
  -- due after every date; urgent first.
  due_sort text generated always as (coalesce(due_date || ' ' || coalesce(due_time, '~'), '~')) virtual,
  priority_order integer generated always as (4 - priority) virtual,
  unique (user_id, number)
);
insert into task_rich (id, user_id, number, title, description, completed, created_at, updated_at, completed_at)
  select id, user_id, number, title, description, completed, created_at, updated_at, completed_at
  from task order by user_id, number;
drop table task;
alter table task_rich rename to task;

-- One index per way of listing, with and without the status: every page is read in index order.
create index task_user_completed_idx on task (user_id, completed, number);
create index task_user_due_idx on task (user_id, due_sort, number);
create index task_user_completed_due_idx on task (user_id, completed, due_sort, number);
create index task_user_priority_idx on task (user_id, priority_order, due_sort, number);
create index task_user_completed_priority_idx on task (user_id, completed, priority_order, due_sort, number);
create index task_user_updated_idx on task (user_id, updated_at, number);
create index task_user_completed_updated_idx on task (user_id, completed, updated_at, number);

-- Counters kept by triggers, so "and 4,980 more" costs one row, not a count.
alter table task_counter add column pending integer not null default 0;
alter table task_counter add column done integer not null default 0;
update task_counter set
  pending = (select count(*) from task where task.user_id = task_counter.user_id and not completed),
  done = (select count(*) from task where task.user_id = task_counter.user_id and completed);

-- Replaces migration 0009's trigger of the same name (dropped with the old table).
create trigger task_takes_number after insert on task begin
  insert into task_counter (user_id, last_number, pending, done)
  values (new.user_id, new.number, new.completed = 0, new.completed <> 0)
  on conflict (user_id) do update set
    last_number = max(last_number, excluded.last_number),
    pending = pending + excluded.pending,
    done = done + excluded.done;
end;
create trigger task_counts_on_delete after delete on task begin
  update task_counter set pending = pending - (old.completed = 0), done = done - (old.completed <> 0)
  where user_id = old.user_id;
end;
create trigger task_counts_on_complete after update of completed on task
when (old.completed <> 0) <> (new.completed <> 0) begin
  update task_counter set
    pending = pending + (new.completed = 0) - (old.completed = 0),
    done = done + (new.completed <> 0) - (old.completed <> 0)
  where user_id = new.user_id;
  update task_label set completed = new.completed where task_id = new.id;
end;

-- Full-text search over titles and descriptions. The owner is an indexed column too, so a search is
-- restricted to one person inside the index instead of filtering everyone's matches afterwards.
create virtual table task_fts using fts5(
  title, description, user_id,
  content = 'task', content_rowid = 'pk',
  tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
insert into task_fts (task_fts) values ('rebuild');
create trigger task_fts_insert after insert on task begin
  insert into task_fts (rowid, title, description, user_id) values (new.pk, new.title, new.description, new.user_id);
end;
create trigger task_fts_delete after delete on task begin
  insert into task_fts (task_fts, rowid, title, description, user_id)
  values ('delete', old.pk, old.title, old.description, old.user_id);
end;
create trigger task_fts_update after update of title, description on task begin
  insert into task_fts (task_fts, rowid, title, description, user_id)
  values ('delete', old.pk, old.title, old.description, old.user_id);
  insert into task_fts (rowid, title, description, user_id) values (new.pk, new.title, new.description, new.user_id);
end;

-- A person's labels: the name as first written, found by its case-folded key, with counts kept by triggers.
create table label (
  user_id text not null references "user" ("id") on delete cascade,
  key text not null,
  name text not null,
  tasks integer not null default 0,
  pending integer not null default 0,
  primary key (user_id, key)
);
-- One row per label on a task; number and completed are copied so that a label's tasks are read in number
-- order from one index.
create table task_label (
  task_id text not null references task ("id") on delete cascade,
  user_id text not null,
  key text not null,
  number integer not null,
  completed integer not null,
  primary key (task_id, key)
);
create index task_label_user_key_idx on task_label (user_id, key, number);
create trigger task_label_counts_on_insert after insert on task_label begin
  update label set tasks = tasks + 1, pending = pending + (new.completed = 0)
  where user_id = new.user_id and key = new.key;
end;
create trigger task_label_counts_on_delete after delete on task_label begin
  update label set tasks = tasks - 1, pending = pending - (old.completed = 0)
  where user_id = old.user_id and key = old.key;
  delete from label where user_id = old.user_id and key = old.key and tasks <= 0;
end;
create trigger task_label_counts_on_complete after update of completed on task_label begin
  update label set pending = pending + (new.completed = 0) - (old.completed = 0)
  where user_id = new.user_id and key = new.key;
end;
