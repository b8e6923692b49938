-- Every change to a task, from every door, written in the change's own transaction: what the activity page
-- shows and what undo reverses. The operations of one request (a bulk change, or an undo) share a batch.
-- before / after are the task as the API shows it (JSON); null before a creation and after a deletion.
create table task_activity (
  id integer primary key autoincrement,
  user_id text not null references "user" ("id") on delete cascade,
  batch text not null,
  door text not null,
  action text not null,
  task_id text not null,
  number integer not null,
  before text,
  after text,
  created_at date not null,
  -- The batch of the undo that reversed this change; null while it stands.
  undone_by text,
  -- For an undo's own changes: the batch it reversed (an undo is not itself undone).
  undo_of text
);
create index task_activity_user_idx on task_activity (user_id, id);
create index task_activity_batch_idx on task_activity (user_id, batch);
-- "Undo" reads the newest change that still stands from here, however many undos came before.
create index task_activity_undoable_idx on task_activity (user_id, id) where undone_by is null and undo_of is null;
