-- Rich tasks: a due date (in the person's zone), a priority and labels, and what it takes to find them at a
-- cost that does not grow with the list: an index per sort, a full-text index, label rows, and counters.

-- 0 none, 1 low, 2 medium, 3 high, 4 urgent.
alter table task add column priority smallint not null default 0 check (priority between 0 and 4);
-- The date and wall-clock time in the zone the due was set in (text, 'YYYY-MM-DD' and 'HH:MM', as on SQLite),
-- the instant when there is a time, the zone, and the words it came from.
alter table task add column due_date text;
alter table task add column due_time text;
alter table task add column due_at timestamptz;
alter table task add column due_tz text;
alter table task add column due_string text;
-- The labels as shown (a JSON array); task_label below is what filters and counts read.
alter table task add column labels text not null default '[]';
-- Sort keys: a due without a time sorts after the timed ones of its day ('~' follows the digits), and no due
-- after every date; urgent first.
alter table task add column due_sort text collate "C" generated always as
  (coalesce(due_date || ' ' || coalesce(due_time, '~'), '~')) stored;
alter table task add column priority_order smallint generated always as (4 - priority) stored;
-- Full-text search: 'simple' (no stemming, no stop words) serves every language alike.
alter table task add column search tsvector generated always as
  (to_tsvector('simple', title || ' ' || coalesce(description, ''))) stored;

-- One index per way of listing, with and without the status: every page is read in index order.
create index task_user_due_idx on task (user_id, due_sort, number);
create index task_user_completed_due_idx on task (user_id, completed, due_sort, number);
create index task_user_priority_idx on task (user_id, priority_order, due_sort, number);
create index task_user_completed_priority_idx on task (user_id, completed, priority_order, due_sort, number);
create index task_user_updated_idx on task (user_id, updated_at, number);
create index task_user_completed_updated_idx on task (user_id, completed, updated_at, number);
-- btree_gin puts the owner into the full-text index, so a search reads one person's matches only. It is a
-- trusted extension (PostgreSQL 13+): a database owner may create it.
create extension if not exists btree_gin;
create index task_user_search_idx on task using gin (user_id, search);

-- Counters kept by triggers, so "and 4,980 more" costs one row, not a count.
alter table task_counter add column pending bigint not null default 0;
alter table task_counter add column done bigint not null default 0;
update task_counter set
  pending = (select count(*) from task where task.user_id = task_counter.user_id and not completed),
  done = (select count(*) from task where task.user_id = task_counter.user_id and completed);

-- A person's labels: the name as first written, found by its case-folded key, with counts kept by triggers.
create table label (
  user_id text not null references "user" ("id") on delete cascade,
  key text not null,
  name text not null,
  tasks bigint not null default 0,
  pending bigint not null default 0,
  primary key (user_id, key)
);
-- One row per label on a task; number and completed are copied so that a label's tasks are read in number
-- order from one index.
create table task_label (
  task_id text not null references task ("id") on delete cascade,
  user_id text not null,
  key text not null,
  number bigint not null,
  completed boolean not null,
  primary key (task_id, key)
);
create index task_label_user_key_idx on task_label (user_id, key, number);

create function task_counts() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    -- The row exists: the insert's own WITH created or bumped it.
    update task_counter set pending = pending + (not new.completed)::int, done = done + new.completed::int
    where user_id = new.user_id;
  elsif tg_op = 'DELETE' then
    update task_counter set pending = pending - (not old.completed)::int, done = done - old.completed::int
    where user_id = old.user_id;
  elsif old.completed <> new.completed then
    update task_counter set
      pending = pending + (not new.completed)::int - (not old.completed)::int,
      done = done + new.completed::int - old.completed::int
    where user_id = new.user_id;
    update task_label set completed = new.completed where task_id = new.id;
  end if;
  return null;
end $$;
create trigger task_counts after insert or delete or update of completed on task
  for each row execute function task_counts();

create function task_label_counts() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    update label set tasks = tasks + 1, pending = pending + (not new.completed)::int
    where user_id = new.user_id and key = new.key;
  elsif tg_op = 'DELETE' then
    update label set tasks = tasks - 1, pending = pending - (not old.completed)::int
    where user_id = old.user_id and key = old.key;
    delete from label where user_id = old.user_id and key = old.key and tasks <= 0;
  elsif old.completed <> new.completed then
    update label set pending = pending + (not new.completed)::int - (not old.completed)::int
    where user_id = new.user_id and key = new.key;
  end if;
  return null;
end $$;
create trigger task_label_counts after insert or delete or update of completed on task_label
  for each row execute function task_label_counts();
