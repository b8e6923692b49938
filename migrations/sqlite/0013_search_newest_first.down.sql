-- Back to the search index of 0010: external content, rowid = the task's pk.
drop trigger task_fts_insert;
drop trigger task_fts_delete;
drop trigger task_fts_update;
drop table task_fts;
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
