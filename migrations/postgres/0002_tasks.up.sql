-- Tasks carry a per-user number (what the person sees and says: "mark 3 done") besides their id. The counter
-- lives in its own row so numbers are never reused, even after deletes.
create table task_counter (
  user_id text not null primary key references "user" ("id") on delete cascade,
  last_number bigint not null
);
create table task (
  id text not null primary key,
  user_id text not null references "user" ("id") on delete cascade,
  number bigint not null,
  title text not null,
  description text,
  completed boolean not null default false,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  completed_at timestamptz,
  unique (user_id, number)
);
-- Listing by status reads this index in number order.
create index task_user_completed_idx on task (user_id, completed, number);
