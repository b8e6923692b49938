-- The activity log of the two writes every chat turn makes (adding a task, changing one) written by the
-- database itself, inside the write's own statement: one statement each, as before the log existed (an explicit
-- transaction of four or five statements cut the writer's throughput by a quarter). The statements name the
-- request's batch and door in the row (change_batch, change_door); the triggers turn the row before and after
-- into the entry, in the JSON the API shows (tasks::Task). A write that names no batch (an undo, which logs
-- its own) is not logged here; one that changes nothing visible is not logged at all. Deletions stay logged
-- by the statement after them, in their transaction.
alter table task add column change_batch text;
alter table task add column change_door text;

create trigger task_log_insert after insert on task when new.change_batch is not null begin
  insert into task_activity (user_id, batch, door, action, task_id, number, before, after, created_at)
  values (new.user_id, new.change_batch, new.change_door, 'created', new.id, new.number, null,
    json_object('id', new.id, 'number', new.number, 'title', new.title, 'description', new.description,
      'completed', json(case when new.completed then 'true' else 'false' end),
      'priority', case new.priority when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'urgent' else 'none' end,
      'due', json(case when new.due_date is null then null else json_object('date', new.due_date, 'time', new.due_time,
        'at', new.due_at, 'timezone', coalesce(new.due_tz, 'UTC'), 'string', coalesce(new.due_string, new.due_date)) end),
      'labels', json(new.labels), 'created_at', new.created_at, 'updated_at', new.updated_at,
      'completed_at', new.completed_at),
    new.updated_at);
end;

create trigger task_log_update after update on task when new.change_batch is not null and (old.title is not new.title or old.description is not new.description
    or old.completed is not new.completed or old.priority is not new.priority or old.due_date is not new.due_date
    or old.due_time is not new.due_time or old.due_tz is not new.due_tz or old.due_string is not new.due_string
    or old.labels is not new.labels) begin
  insert into task_activity (user_id, batch, door, action, task_id, number, before, after, created_at)
  values (new.user_id, new.change_batch, new.change_door,
    case when old.completed is not new.completed and old.title is new.title and old.description is new.description
        and old.priority is new.priority and old.due_date is new.due_date and old.due_time is new.due_time
        and old.due_tz is new.due_tz and old.due_string is new.due_string and old.labels is new.labels
      then case when new.completed then 'completed' else 'reopened' end
      else 'updated' end,
    new.id, new.number,
    json_object('id', old.id, 'number', old.number, 'title', old.title, 'description', old.description,
      'completed', json(case when old.completed then 'true' else 'false' end),
      'priority', case old.priority when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'urgent' else 'none' end,
      'due', json(case when old.due_date is null then null else json_object('date', old.due_date, 'time', old.due_time,
        'at', old.due_at, 'timezone', coalesce(old.due_tz, 'UTC'), 'string', coalesce(old.due_string, old.due_date)) end),
      'labels', json(old.labels), 'created_at', old.created_at, 'updated_at', old.updated_at,
      'completed_at', old.completed_at),
    json_object('id', new.id, 'number', new.number, 'title', new.title, 'description', new.description,
      'completed', json(case when new.completed then 'true' else 'false' end),
      'priority', case new.priority when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'urgent' else 'none' end,
      'due', json(case when new.due_date is null then null else json_object('date', new.due_date, 'time', new.due_time,
        'at', new.due_at, 'timezone', coalesce(new.due_tz, 'UTC'), 'string', coalesce(new.due_string, new.due_date)) end),
      'labels', json(new.labels), 'created_at', new.created_at, 'updated_at', new.updated_at,
      'completed_at', new.completed_at),
    new.updated_at);
end;
