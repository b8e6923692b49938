-- The activity log of adding a task and changing one, written by the database inside the write's own
-- statement (see the SQLite migration of the same number for why): the statement names the request's batch and
-- door in the row, and the trigger turns the row before and after into the entry, in the API's JSON.
alter table task add column change_batch text;
alter table task add column change_door text;

create function task_log() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into task_activity (user_id, batch, door, action, task_id, number, before, after, created_at)
    values (new.user_id, new.change_batch, new.change_door, 'created', new.id, new.number, null,
      json_build_object('id', new.id, 'number', new.number, 'title', new.title, 'description', new.description,
    'completed', new.completed,
    'priority', case new.priority when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'urgent' else 'none' end,
    'due', case when new.due_date is null then null else json_build_object('date', new.due_date, 'time', new.due_time,
      'at', to_char(new.due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'timezone', coalesce(new.due_tz, 'UTC'),
      'string', coalesce(new.due_string, new.due_date)) end,
    'labels', new.labels::json, 'created_at', to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updated_at', to_char(new.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'completed_at', to_char(new.completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text, new.updated_at);
  elsif (old.title is distinct from new.title or old.description is distinct from new.description
    or old.completed is distinct from new.completed or old.priority is distinct from new.priority or old.due_date is distinct from new.due_date
    or old.due_time is distinct from new.due_time or old.due_tz is distinct from new.due_tz or old.due_string is distinct from new.due_string
    or old.labels is distinct from new.labels) then
    insert into task_activity (user_id, batch, door, action, task_id, number, before, after, created_at)
    values (new.user_id, new.change_batch, new.change_door,
      case when old.completed is distinct from new.completed and old.title is not distinct from new.title and old.description is not distinct from new.description
        and old.priority is not distinct from new.priority and old.due_date is not distinct from new.due_date and old.due_time is not distinct from new.due_time
        and old.due_tz is not distinct from new.due_tz and old.due_string is not distinct from new.due_string and old.labels is not distinct from new.labels
        then case when new.completed then 'completed' else 'reopened' end
        else 'updated' end,
      new.id, new.number,
      json_build_object('id', old.id, 'number', old.number, 'title', old.title, 'description', old.description,
    'completed', old.completed,
    'priority', case old.priority when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'urgent' else 'none' end,
    'due', case when old.due_date is null then null else json_build_object('date', old.due_date, 'time', old.due_time,
      'at', to_char(old.due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'timezone', coalesce(old.due_tz, 'UTC'),
      'string', coalesce(old.due_string, old.due_date)) end,
    'labels', old.labels::json, 'created_at', to_char(old.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updated_at', to_char(old.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'completed_at', to_char(old.completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
      json_build_object('id', new.id, 'number', new.number, 'title', new.title, 'description', new.description,
    'completed', new.completed,
    'priority', case new.priority when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'urgent' else 'none' end,
    'due', case when new.due_date is null then null else json_build_object('date', new.due_date, 'time', new.due_time,
      'at', to_char(new.due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'timezone', coalesce(new.due_tz, 'UTC'),
      'string', coalesce(new.due_string, new.due_date)) end,
    'labels', new.labels::json, 'created_at', to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updated_at', to_char(new.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'completed_at', to_char(new.completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
      new.updated_at);
  end if;
  return null;
end $$;
create trigger task_log after insert or update on task
  for each row when (new.change_batch is not null) execute function task_log();
